//! The change of variables the optimiser works in: `x = x₀ + T·z` (user units `x`, scaled
//! `z`), so that Å, degrees, mm and pixels move together.
//!
//! * Diagonal `T = diag(step)`: [`Scaling::Typical`], [`Scaling::Steps`] and
//!   [`Scaling::FisherDiagonal`] (`step_i = 1/√F_ii`). Box bounds stay boxes in `z`.
//! * Full `T = L⁻ᵀ` with `F = L·Lᵀ` the Cholesky factor of the Fisher information at the start
//!   ([`Scaling::Fisher`]): the Gauss–Newton Hessian of the scaled problem is about the
//!   identity, correlated variables (cell lengths and distance, say) included, so L-BFGS needs
//!   few iterations. Only without finite bounds (boxes are not boxes in `z`); with bounds, or if
//!   `F` is not positive definite, it falls back to the diagonal.
//!
//! Gradients transform as `∇_z = Tᵀ·∇_x`.

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use crate::objective::Objective;
use crate::options::Scaling;
use crate::uncertainty::{cholesky, fisher_information, invert_lower, jacobian};
use crate::error::{RefineError, Result};

/// `T` of a [`Transform`]: a diagonal, kept as its entries (the ensemble's shared step may
/// have thousands of structure factors), or a full matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Matrix {
    /// `T = diag(steps)`.
    Diagonal(Vec<f64>),
    /// `T`, row-major `n × n`.
    Full(Vec<Vec<f64>>),
}

/// `x = x₀ + T·z`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    /// Origin (user units): the start values.
    pub x0: Vec<f64>,
    /// `T`.
    pub t: Matrix,
}

impl Transform {
    /// A diagonal transform.
    pub fn diagonal(x0: Vec<f64>, steps: &[f64]) -> Self {
        Transform { x0, t: Matrix::Diagonal(steps.to_vec()) }
    }

    /// Whether `T` is diagonal (box bounds map to box bounds).
    pub fn is_diagonal(&self) -> bool {
        matches!(self.t, Matrix::Diagonal(_))
    }

    /// User values of a scaled point.
    pub fn to_x(&self, z: &[f64]) -> Vec<f64> {
        match &self.t {
            Matrix::Diagonal(d) => self.x0.iter().zip(d).zip(z).map(|((x0, t), z)| x0 + t * z).collect(),
            Matrix::Full(t) => self
                .x0
                .iter()
                .zip(t)
                .map(|(x0, row)| x0 + row.iter().zip(z).map(|(a, b)| a * b).sum::<f64>())
                .collect(),
        }
    }

    /// Gradient in `z` from the gradient in `x`: `Tᵀ·g`.
    pub fn grad_z(&self, g: &[f64]) -> Vec<f64> {
        let n = g.len();
        match &self.t {
            Matrix::Diagonal(d) => d.iter().zip(g).map(|(t, g)| t * g).collect(),
            Matrix::Full(t) => (0..n).map(|j| (0..n).map(|i| t[i][j] * g[i]).sum()).collect(),
        }
    }

    /// The user-unit length of one scaled unit along each variable: `√(T·Tᵀ)_ii`.
    pub fn steps(&self) -> Vec<f64> {
        match &self.t {
            Matrix::Diagonal(d) => d.iter().map(|t| t.abs()).collect(),
            Matrix::Full(t) => t.iter().map(|row| row.iter().map(|a| a * a).sum::<f64>().sqrt()).collect(),
        }
    }
}

/// The transform of `scaling` at the objective's start (bounds decide whether a full Fisher
/// transform is allowed).
pub fn transform<B: AutodiffBackend + RenderBackend>(objective: &mut Objective<B>, scaling: &Scaling) -> Result<Transform> {
    let x0 = objective.start().to_vec();
    let n = x0.len();
    let typical: Vec<f64> = objective.specs().iter().zip(&x0).map(|(s, &v)| s.typical_step(v)).collect();
    let bounded = objective.specs().iter().any(|s| s.lower.is_finite() || s.upper.is_finite());
    let out = match scaling {
        Scaling::Typical => Transform::diagonal(x0, &typical),
        Scaling::Steps(s) => {
            if s.len() != n {
                return Err(RefineError::Refinement(format!("{} scaling steps for {n} variables", s.len())));
            }
            Transform::diagonal(x0, s)
        }
        Scaling::FisherDiagonal | Scaling::Fisher => {
            let jac = jacobian(objective, &x0)?;
            let f = fisher_information(objective, &jac);
            let diag: Vec<f64> = (0..n)
                .map(|i| if f[i][i] > 0.0 && f[i][i].is_finite() { 1.0 / f[i][i].sqrt() } else { typical[i] })
                .collect();
            let full = (*scaling == Scaling::Fisher && !bounded)
                .then(|| whitening(&f))
                .flatten();
            match full {
                Some(t) => Transform { x0, t: Matrix::Full(t) },
                None => Transform::diagonal(x0, &diag),
            }
        }
    };
    let steps = out.steps();
    if let Some(i) = steps.iter().position(|s| !(*s > 0.0 && s.is_finite())) {
        return Err(RefineError::Refinement(format!(
            "scaling step of {} is {}: must be positive",
            objective.specs()[i].variable, steps[i]
        )));
    }
    Ok(out)
}

/// `T = L⁻ᵀ` for `F = L·Lᵀ`, computed on the equilibrated matrix `D·F·D` (`D = 1/√diag F`)
/// with a 1e-9 ridge; `None` when `F` is not positive definite.
pub(crate) fn whitening(f: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = f.len();
    if (0..n).any(|i| !(f[i][i] > 0.0 && f[i][i].is_finite())) {
        return None;
    }
    let d: Vec<f64> = (0..n).map(|i| 1.0 / f[i][i].sqrt()).collect();
    let g: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f[i][j] * d[i] * d[j] + if i == j { 1e-9 } else { 0.0 }).collect())
        .collect();
    // Cholesky G = M·Mᵀ; T = D·M⁻ᵀ.
    let minv = invert_lower(&cholesky(&g)?);
    // T = D · (M⁻¹)ᵀ
    Some((0..n).map(|i| (0..n).map(|j| d[i] * minv[j][i]).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uncertainty::assert_identity;

    #[test]
    fn whitening_makes_the_fisher_information_the_identity() {
        let f = vec![vec![4.0, 3.9, 0.1], vec![3.9, 4.0, 0.2], vec![0.1, 0.2, 9.0]];
        let t = whitening(&f).unwrap();
        // Tᵀ F T = I
        assert_identity(3, 1e-6, |a, b| {
            (0..3).flat_map(|i| (0..3).map(move |j| (i, j))).map(|(i, j)| t[i][a] * f[i][j] * t[j][b]).sum()
        });
    }

    #[test]
    fn diagonal_transform_maps_and_pulls_back_gradients() {
        let t = Transform::diagonal(vec![1.0, 2.0], &[0.5, 4.0]);
        assert_eq!(t.to_x(&[2.0, -1.0]), vec![2.0, -2.0]);
        assert_eq!(t.grad_z(&[1.0, 1.0]), vec![0.5, 4.0]);
        assert_eq!(t.steps(), vec![0.5, 4.0]);
    }
}
