//! Solid angle Ω of a (sub-)pixel seen from the sample, with its obliquity.
//!
//! A pixel of side `p` at distance `r` from the sample, on a detector whose plane lies at
//! `close` along its normal, subtends `Ω = (p²/r²)·(close/r) = p²·close/r³`: the flat solid angle
//! `p²/r²` times the obliquity factor `close/r`, the cosine between the ray and the normal. A
//! point pixel (`-point_pixel`) takes `Ω = 1/r²`, without pixel area or obliquity.
//!
//! Derivatives (used by the fused kernels' adjoints): `∂Ω/∂p = 2p·close/r³`, `∂Ω/∂close =
//! p²/r³`, `∂Ω/∂r = −3Ω/r` (point pixel: `−2/r³`, nothing else).

use burn::tensor::{backend::Backend, Tensor};

use crate::kernel::real::Real;

/// Ω of samples at distances `r` `[P,T,O,1]` (m), for the pixel size and close distance (`[1]`
/// each, m) → `[P,T,O,1]` (sr).
pub fn tensor<B: Backend>(r: &Tensor<B, 4>, pixel: &Tensor<B, 1>, close: &Tensor<B, 1>, point_pixel: bool) -> Tensor<B, 4> {
    if point_pixel {
        r.clone().powi_scalar(2).recip()
    } else {
        let pix2 = pixel.clone().powi_scalar(2).reshape([1, 1, 1, 1]);
        pix2 * close.clone().reshape([1, 1, 1, 1]) / r.clone().powi_scalar(3)
    }
}

/// Ω at distance `r` (scalar form).
#[inline(always)]
pub fn value<T: Real>(r: T, pixel: T, close: T, point_pixel: bool) -> T {
    if point_pixel {
        T::ONE / (r * r)
    } else {
        pixel * pixel * close / (r * r * r)
    }
}

/// `Ω̄ = ∂L/∂Ω` taken back to the inputs of [`value`].
#[derive(Debug, Clone, Copy)]
pub struct SolidAngleGrad<T> {
    /// `∂L/∂pixel` (0 for a point pixel).
    pub pixel: T,
    /// `∂L/∂close` (0 for a point pixel).
    pub close: T,
    /// `∂L/∂r`.
    pub r: T,
}

/// Adjoint of [`value`] at distance `r`, where it took the value `omega`, for `d_omega = Ω̄`.
#[inline(always)]
pub fn adjoint<T: Real>(r: T, omega: T, d_omega: T, pixel: T, close: T, point_pixel: bool) -> SolidAngleGrad<T> {
    // One division: the three quotients by r and r³ as products with 1/r.
    let inv_r = T::ONE / r;
    let per_r3 = d_omega * (inv_r * inv_r * inv_r);
    if point_pixel {
        return SolidAngleGrad { pixel: T::ZERO, close: T::ZERO, r: T::of(-2.0) * per_r3 };
    }
    SolidAngleGrad {
        pixel: per_r3 * T::of(2.0) * pixel * close,
        close: per_r3 * pixel * pixel,
        r: d_omega * T::of(-3.0) * omega * inv_r,
    }
}
