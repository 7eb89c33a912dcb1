//! GAUSS_ARGCHK: the [`super::gauss`] transform where its exponent is below
//! [`ARGCHK_LIMIT`], exactly 0 beyond. cctbx's simtbx offers it (`shapetype.Gauss_argchk`, used
//! by its serial-crystallography pipelines) to skip `exp` far from every reflection; beyond the
//! limit GAUSS is below `e⁻³⁵ ≈ 6·10⁻¹⁶` of its peak. Flag `-gauss_argchk_xtal`.

use burn::tensor::{backend::Backend, Tensor};

use super::gauss;
use super::{LatticeGrad, LatticeScalars, LatticeTensors};

/// The exponent at and beyond which F_latt is 0.
pub const ARGCHK_LIMIT: f64 = 35.0;

/// Tensor form.
pub fn tensor<B: Backend>(x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    let arg = gauss::exponent(x);
    let beyond = arg.clone().greater_equal_elem(ARGCHK_LIMIT);
    // The exponent is clamped where F is 0, so no exp(−huge) underflow reaches a gradient.
    let value = arg.mask_fill(beyond.clone(), 0.0).neg().exp() * x.n3();
    value.mask_fill(beyond, 0.0)
}

/// Scalar form with its derivatives (all zero beyond the limit).
pub fn value_grad(x: &LatticeScalars) -> LatticeGrad {
    if gauss::exponent_value(x) >= ARGCHK_LIMIT {
        return LatticeGrad::default();
    }
    gauss::value_grad(x)
}
