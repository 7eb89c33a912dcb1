//! Second-order information by finite differences of autodiff gradients.
//!
//! Burn's autodiff is first order: a gradient is not itself differentiable, so there is no
//! `gradgradcheck`. What *is* available is the exact (autodiff) gradient at any point, and
//! central differences of it give the Hessian:
//!
//! `H[:, j] ≈ (∇f(x + h e_j) - ∇f(x - h e_j)) / 2h`,
//!
//! Richardson-extrapolated over `h` and `h/2` exactly like first-order checks (one-sided near a
//! bound). Asymmetry `|H_ij - H_ji|` is a cheap consistency test of the gradient itself: an
//! autodiff gradient that is not the gradient of *any* function (a wrong custom backward)
//! typically yields an asymmetric "Hessian".

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::{
    base_point::{BasePoint, ComponentPlan},
    engine::CheckFn,
    params::ParamSet,
    GradcheckConfig, GradcheckError,
};

/// A Hessian estimated by finite differences of autodiff gradients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hessian {
    /// Component labels (rows and columns).
    pub labels: Vec<String>,
    /// `matrix[i][j] ≈ ∂²f / ∂x_i ∂x_j` (column `j` from differences along `x_j`).
    pub matrix: Vec<Vec<f64>>,
    /// Richardson error estimate of each entry (`|D(h/2) - D(h)| / 3`).
    pub error: Vec<Vec<f64>>,
}

impl Hessian {
    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.matrix[i][j]
    }

    /// `max_ij |H_ij - H_ji|`.
    pub fn max_asymmetry(&self) -> f64 {
        let n = self.matrix.len();
        let mut m: f64 = 0.0;
        for i in 0..n {
            for j in 0..i {
                m = m.max((self.matrix[i][j] - self.matrix[j][i]).abs());
            }
        }
        m
    }
}

/// Estimate the Hessian of `f` (projected like in [`check`](crate::check)) at `params` by
/// Richardson-extrapolated finite differences of autodiff gradients (`4n` gradient
/// evaluations for `n` components).
pub fn hessian_fd<B, const D: usize, F>(
    device: &B::Device,
    params: &ParamSet,
    config: &GradcheckConfig,
    f: F,
) -> Result<Hessian, GradcheckError>
where
    B: Backend,
    F: CheckFn<B, D>,
{
    let base = BasePoint::<B, D, F>::new(device, params, config, &f)?;
    let (engine, x0) = (&base.engine, &base.x0);
    let g0 = engine.gradient(x0)?;
    let n = g0.len();
    let labels = x0.labels();
    let mut matrix = vec![vec![0.0; n]; n];
    let mut error = vec![vec![0.0; n]; n];
    for j in 0..n {
        let ComponentPlan { x, plan, .. } = base.plan(j, &labels[j])?;
        let mut levels = [vec![0.0; n], vec![0.0; n]];
        for (level, scale) in [1.0, 0.5].into_iter().enumerate() {
            let s = plan.step * scale;
            for &(o, w) in plan.scheme.stencil() {
                let g = if o == 0.0 {
                    g0.clone()
                } else {
                    let mut point = x0.clone();
                    point.set_component(j, engine.round(x + o * s));
                    engine.gradient(&point)?
                };
                for (acc, gi) in levels[level].iter_mut().zip(g) {
                    *acc += w / s * gi;
                }
            }
        }
        for i in 0..n {
            let (coarse, fine) = (levels[0][i], levels[1][i]);
            matrix[i][j] = (4.0 * fine - coarse) / 3.0;
            error[i][j] = (fine - coarse).abs() / 3.0;
        }
    }
    Ok(Hessian {
        labels,
        matrix,
        error,
    })
}
