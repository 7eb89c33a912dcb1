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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{tensor as make, to_f64};
    use burn_autodiff::Autodiff;
    use burn_ndarray::NdArray;

    type AD = Autodiff<NdArray<f64>>;

    /// The scalar form equals the tensor form, and its adjoint the tensor form's autodiff
    /// gradient, for pixels with and without area.
    #[test]
    fn scalar_form_and_adjoint_match_the_tensor_form() {
        let device = Default::default();
        let (pixel, close) = (1.2e-4, 0.07);
        for point_pixel in [false, true] {
            for r in [0.07, 0.0913] {
                let rt = make::<AD, 4>(vec![r], [1, 1, 1, 1], &device).require_grad();
                let pt = make::<AD, 1>(vec![pixel], [1], &device).require_grad();
                let ct = make::<AD, 1>(vec![close], [1], &device).require_grad();
                let omega_t = tensor(&rt, &pt, &ct, point_pixel);
                let grads = omega_t.backward();
                let omega = value(r, pixel, close, point_pixel);
                approx::assert_relative_eq!(omega, to_f64(&omega_t), max_relative = 1e-15);
                let g = adjoint(r, omega, 1.0, pixel, close, point_pixel);
                let of = |t: Option<Tensor<NdArray<f64>, 1>>| t.map_or(0.0, |t| to_f64(&t));
                approx::assert_relative_eq!(g.r, to_f64(&rt.grad(&grads).unwrap()), max_relative = 1e-14);
                approx::assert_relative_eq!(g.pixel, of(pt.grad(&grads)), max_relative = 1e-14);
                approx::assert_relative_eq!(g.close, of(ct.grad(&grads)), max_relative = 1e-14);
            }
        }
    }
}
