//! Standard errors and correlations at an optimum from the Fisher information.
//!
//! For the Poisson likelihood the Fisher information of the refined variables θ is
//! `F = Jᵀ·diag(1/μ)·J`, with `J_pi = ∂μ_p/∂θ_i` the Jacobian of the expected counts (for the
//! Gaussian loss the weights are `1/σ²`); Gaussian restraints add `1/σ_r²` to the diagonal. The
//! covariance is `F⁻¹`, the standard errors its square-rooted diagonal and the correlations
//! `C_ij/√(C_ii·C_jj)`.
//!
//! `J` is built from central finite differences of forward renders, one pair per variable:
//! `J_·i = (μ(θ + h_i e_i) − μ(θ − h_i e_i)) / 2h_i` with `h_i` the variable's typical step
//! ([`crate::ParamSpec::typical_step`]: 1e-3° for angles, 1e-3 mm for lengths on the detector,
//! 1e-4 relative for cell lengths), small against spot widths and large against f64 rounding.
//! The scale's column is exact: `∂μ/∂s = I`; so are the structure factors' (`μ` is quadratic
//! in each F with nearest-neighbour lookup: `∂μ/∂F = 2(μ − μ|F=0)/F`), m of them from about
//! `2·log₂ m` renders with sets of them set to 0 (see `structure_factor_columns`); with
//! tricubic interpolation central differences are used. Forward renders cost a fraction of a
//! backward pass, so the whole Jacobian costs at most `2n + 2·log₂ n + 1` forward renders
//! whatever the detector size, and `2·(other variables) + 2·log₂ m + 1` when the pixels hold
//! at most two reflections each.

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use crate::objective::Objective;
use crate::spec::Variable;
use crate::structure_factor_columns::structure_factor_columns;
use crate::error::{RefineError, Result};

/// Jacobian of the expected counts over the used pixels (in [`Objective::pixels`] order).
#[derive(Debug, Clone, PartialEq)]
pub struct Jacobian {
    /// `μ` at the point, per used pixel.
    pub mu: Vec<f64>,
    /// One column per variable: `∂μ_p/∂θ_i` per used pixel (per user unit).
    pub columns: Vec<Vec<f64>>,
    /// Finite-difference step per variable (user unit; 0 for the exact scale column, F itself
    /// for a structure factor's).
    pub steps: Vec<f64>,
}

/// Uncertainties of the refined variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncertainties {
    /// Fisher information (per user units), `n × n`, row-major.
    pub fisher: Vec<Vec<f64>>,
    /// Covariance `F⁻¹`, `n × n`.
    pub covariance: Vec<Vec<f64>>,
    /// Standard errors `√C_ii` (user units).
    pub std_errors: Vec<f64>,
    /// Correlation matrix.
    pub correlation: Vec<Vec<f64>>,
}

/// The Jacobian of `μ` at `x` by central differences (see the module documentation).
pub fn jacobian<B: AutodiffBackend + RenderBackend>(objective: &mut Objective<B>, x: &[f64]) -> Result<Jacobian> {
    let n = objective.specs().len();
    jacobian_leading(objective, x, n)
}

/// The columns of [`jacobian`] for the objective's first `n` variables only (e.g. a shot's
/// own variables before the shared ones): the others cost no render.
pub fn jacobian_leading<B: AutodiffBackend + RenderBackend>(objective: &mut Objective<B>, x: &[f64], n: usize) -> Result<Jacobian> {
    let specs = objective.specs()[..n.min(objective.specs().len())].to_vec();
    let pixels = objective.pixels().to_vec();
    let pick = |v: &[f64]| pixels.iter().map(|&p| v[p]).collect::<Vec<f64>>();
    let center = objective.model(x)?;
    let nearest = !objective.simulator().plan.interpolate;
    // μ = c + s·F_i²·A_i with nearest-neighbour F: ∂μ/∂F_i = 2(μ − μ|F_i=0)/F_i exactly.
    let exact_f: Vec<usize> = (0..specs.len())
        .filter(|&i| nearest && matches!(specs[i].variable, Variable::StructureFactor(_)) && x[i] != 0.0)
        .collect();
    let mut f_columns = structure_factor_columns(objective, x, &center.mu, &pixels, &exact_f)?.into_iter();
    // The other variables' central differences, rendered as one batch (`Objective::models`).
    let differenced: Vec<usize> = (0..specs.len())
        .filter(|&i| match specs[i].variable {
            Variable::Scale => false,
            Variable::StructureFactor(_) => !nearest,
            _ => true,
        })
        .collect();
    let mut shifted = Vec::with_capacity(2 * differenced.len());
    for &i in &differenced {
        let h = specs[i].typical_step(x[i]);
        for sign in [1.0, -1.0] {
            let mut xs = x.to_vec();
            xs[i] += sign * h;
            shifted.push(xs);
        }
    }
    // Each difference over the used pixels, `μ(x + h) − μ(x − h)` as the pair arrives.
    let mut differences = Vec::with_capacity(differenced.len());
    let mut plus: Option<Vec<f64>> = None;
    objective.models_each(&shifted, |image| {
        match plus.take() {
            None => plus = Some(pick(&image.mu)),
            Some(p) => differences.push(p.iter().zip(pick(&image.mu)).map(|(a, b)| a - b).collect::<Vec<f64>>()),
        }
        Ok(())
    })?;
    let mut differences = differences.into_iter();
    let mut columns = Vec::with_capacity(specs.len());
    let mut steps = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        if spec.variable == Variable::Scale {
            columns.push(pick(&center.intensity));
            steps.push(0.0);
            continue;
        }
        if let (Variable::StructureFactor(_), true) = (spec.variable, nearest) {
            columns.push(if x[i] == 0.0 { vec![0.0; pixels.len()] } else { f_columns.next().expect("one per factor") });
            steps.push(x[i]);
            continue;
        }
        let h = spec.typical_step(x[i]);
        let difference = differences.next().expect("one difference per differenced variable");
        columns.push(difference.into_iter().map(|d| d / (2.0 * h)).collect());
        steps.push(h);
    }
    Ok(Jacobian { mu: pick(&center.mu), columns, steps })
}

/// Standard errors `√C_ii` from a covariance matrix `C`.
pub fn standard_errors(covariance: &[Vec<f64>]) -> Vec<f64> {
    (0..covariance.len()).map(|i| covariance[i][i].sqrt()).collect()
}

/// The Fisher information `Σ_p w_p J_pi J_pj` (plus restraints) from a Jacobian.
pub fn fisher_information<B: AutodiffBackend + RenderBackend>(objective: &Objective<B>, jac: &Jacobian) -> Vec<Vec<f64>> {
    let n = jac.columns.len();
    let loss = objective.loss_kind();
    let w: Vec<f64> = jac.mu.iter().map(|&m| loss.fisher_weight(m)).collect();
    let mut f = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let v: f64 = (0..w.len()).map(|p| w[p] * jac.columns[i][p] * jac.columns[j][p]).sum();
            f[i][j] = v;
            f[j][i] = v;
        }
        if let Some(r) = objective.specs()[i].restraint {
            f[i][i] += 1.0 / (r.sigma * r.sigma);
        }
    }
    f
}

/// Standard errors and correlations at `x` (Jacobian, Fisher information, inverse).
pub fn uncertainties<B: AutodiffBackend + RenderBackend>(objective: &mut Objective<B>, x: &[f64]) -> Result<Uncertainties> {
    let jac = jacobian(objective, x)?;
    let fisher = fisher_information(objective, &jac);
    let names: Vec<String> = objective.specs().iter().map(|s| s.variable.to_string()).collect();
    from_fisher(fisher, &names)
}

/// Invert a Fisher information matrix into covariance, standard errors and correlations.
/// `names` label the variables in the error raised when the matrix is singular.
pub fn from_fisher(fisher: Vec<Vec<f64>>, names: &[String]) -> Result<Uncertainties> {
    let n = fisher.len();
    // Equilibrate: G = D F D with D = diag(1/√F_ii), invert G, undo.
    let mut d = vec![0.0; n];
    for i in 0..n {
        if !fisher[i][i].is_finite() {
            return Err(RefineError::Refinement(format!(
                "the Fisher information of {} is not finite ({}): the model or its gradient is not finite here",
                names[i], fisher[i][i]
            )));
        }
        if !(fisher[i][i] > 0.0) {
            return Err(RefineError::Refinement(format!(
                "{} does not change the model (zero Fisher information): it cannot be determined",
                names[i]
            )));
        }
        d[i] = 1.0 / fisher[i][i].sqrt();
    }
    let g: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| fisher[i][j] * d[i] * d[j]).collect()).collect();
    let ginv = invert_spd(&g).ok_or_else(|| {
        RefineError::Refinement(format!(
            "the Fisher information of {} is singular: some combination of them is not determined by the data",
            names.join(", ")
        ))
    })?;
    let covariance: Vec<Vec<f64>> =
        (0..n).map(|i| (0..n).map(|j| ginv[i][j] * d[i] * d[j]).collect()).collect();
    let std_errors = standard_errors(&covariance);
    let correlation = (0..n)
        .map(|i| (0..n).map(|j| covariance[i][j] / (std_errors[i] * std_errors[j])).collect())
        .collect();
    Ok(Uncertainties { fisher, covariance, std_errors, correlation })
}

/// Cholesky factor `L` (lower triangular, `A = L·Lᵀ`) of a symmetric matrix; `None` when a pivot
/// is not above `1e-14·|a_ii|` (`A` not numerically positive definite).
pub(crate) fn cholesky(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if !(s > 1e-14 * a[i][i].abs()) {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    Some(l)
}

/// Inverse of a lower-triangular matrix with a nonzero diagonal (itself lower triangular), by
/// forward substitution.
pub(crate) fn invert_lower(l: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = l.len();
    let mut li = vec![vec![0.0; n]; n];
    for i in 0..n {
        li[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            let s: f64 = (j..i).map(|k| l[i][k] * li[k][j]).sum();
            li[i][j] = -s / l[i][i];
        }
    }
    li
}

/// Inverse of a symmetric positive-definite matrix by Cholesky; `None` when it is not
/// (numerically) positive definite.
pub fn invert_spd(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    // inv(A) = inv(L)ᵀ inv(L).
    let li = invert_lower(&cholesky(a)?);
    Some(
        (0..n)
            .map(|i| (0..n).map(|j| (i.max(j)..n).map(|k| li[k][i] * li[k][j]).sum()).collect())
            .collect(),
    )
}

/// Test helper: `entry(i, j)` is the `n×n` identity matrix within `tol`.
#[cfg(test)]
pub(crate) fn assert_identity(n: usize, tol: f64, entry: impl Fn(usize, usize) -> f64) {
    for i in 0..n {
        for j in 0..n {
            let v = entry(i, j);
            assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < tol, "({i}, {j}): {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_of_a_spd_matrix_times_itself_is_the_identity() {
        let a = vec![vec![4.0, 1.0, 0.5], vec![1.0, 3.0, 0.2], vec![0.5, 0.2, 2.0]];
        let inv = invert_spd(&a).unwrap();
        assert_identity(3, 1e-12, |i, j| (0..3).map(|k| a[i][k] * inv[k][j]).sum());
    }

    #[test]
    fn singular_fisher_information_is_an_error_naming_the_variables() {
        let f = vec![vec![1.0, 1.0], vec![1.0, 1.0]];
        let e = from_fisher(f, &["a".into(), "b".into()]).unwrap_err().to_string();
        assert!(e.contains("a, b"), "{e}");
    }

    #[test]
    fn correlation_of_a_two_by_two_covariance() {
        // F = [[2, 1], [1, 2]] → C = [[2, −1], [−1, 2]]/3, ρ = −1/2.
        let u = from_fisher(vec![vec![2.0, 1.0], vec![1.0, 2.0]], &["a".into(), "b".into()]).unwrap();
        assert!((u.std_errors[0] - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((u.correlation[0][1] + 0.5).abs() < 1e-12);
    }
}
