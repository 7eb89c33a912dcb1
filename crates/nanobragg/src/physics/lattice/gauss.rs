//! GAUSS: `F = n3·exp(−fudge·Δr*²/GAUSS_WIDTH2)`, the radius scaled so that volume and FWHM
//! are close to the SQUARE crystal's spots.

use burn::tensor::{backend::Backend, Tensor};

use super::{LatticeGrad, LatticeScalars, LatticeTensors};

/// The squared width that divides `fudge·Δr*²` in the exponent.
pub const GAUSS_WIDTH2: f64 = 0.63;

/// The exponent `fudge·Δr*²/GAUSS_WIDTH2` (tensor form).
pub fn exponent<B: Backend>(x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    x.reciprocal_radius2() * (x.fudge / GAUSS_WIDTH2)
}

/// Tensor form.
pub fn tensor<B: Backend>(x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    exponent(x).neg().exp() * x.n3()
}

/// The exponent of one evaluation (scalar form).
pub fn exponent_value(x: &LatticeScalars) -> f64 {
    let n3 = x.n3();
    x.reciprocal_offset().1 * n3 * n3 * (x.fudge / GAUSS_WIDTH2)
}

/// Scalar form with its derivatives.
pub fn value_grad(x: &LatticeScalars) -> LatticeGrad {
    let (_, c2) = x.reciprocal_offset();
    let n3 = x.n3();
    let e = (-exponent_value(x)).exp();
    let value = e * n3;
    let df_dr2 = value * (-x.fudge / GAUSS_WIDTH2);
    let (d_hkl, d_recip) = x.pull_back_radius2(df_dr2);
    let dn3 = e + df_dr2 * 2.0 * c2 * n3;
    LatticeGrad { value, d_hkl, d_n: x.dn3().map(|o| dn3 * o), d_recip }
}
