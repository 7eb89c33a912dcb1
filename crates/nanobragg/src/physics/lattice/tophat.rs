//! TOPHAT: `F = n3` where `fudge·Δr*² < TOPHAT_RADIUS2`, else 0 (a sphere of uniform spots).

use burn::tensor::{backend::Backend, Tensor};

use super::{LatticeGrad, LatticeScalars, LatticeTensors};

/// The squared radius in `fudge·Δr*²` inside which F_latt is `n3`.
pub const TOPHAT_RADIUS2: f64 = 0.3969;

/// Tensor form.
pub fn tensor<B: Backend>(x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    x.reciprocal_radius2().mul_scalar(x.fudge).lower_elem(TOPHAT_RADIUS2).float() * x.n3()
}

/// Scalar form with its derivatives (a step: no slope in h or the cell, `∂F/∂N` from `n3`).
pub fn value_grad(x: &LatticeScalars) -> LatticeGrad {
    let n3 = x.n3();
    let r2 = x.reciprocal_offset().1 * n3 * n3;
    let inside = if r2 * x.fudge < TOPHAT_RADIUS2 { 1.0 } else { 0.0 };
    LatticeGrad { value: inside * n3, d_n: x.dn3().map(|o| inside * o), ..LatticeGrad::default() }
}
