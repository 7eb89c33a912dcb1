//! Kahn polarization factor: tensor form, and scalar form with its derivative.
//!
//! `P = ½(1 + cos²2θ − K·cos 2ψ·sin²2θ)` with `cos 2θ = i·d`, `B_in = unit(p × i)`,
//! `E_in = unit(i × B_in)`, `ψ = −atan2(d·B_in, d·E_in)`. With `E = d·E_in`, `B = d·B_in`
//! (the components of d in the plane normal to i), `sin²2θ = E² + B²` and
//! `cos 2ψ = (E² − B²)/(E² + B²)`, so `cos 2ψ·sin²2θ = E² − B²`: the factor is computed as
//! `½(1 + cos²2θ − K·(E² − B²))`, equal to the C program's (which takes atan2(0, 0) = 0 on the
//! beam, where the term vanishes anyway) but with no atan2, no quotient and no `1 − cos²`
//! cancellation — finite, accurate gradients everywhere, at f32 too.
//!
//! Derivatives (used by the fused kernels' adjoints), with `c = i·d`: `∂P/∂d = c·i −
//! K·(E·E_in − B·B_in)`, `∂P/∂K = −½(E² − B²)`.

use burn::tensor::{backend::Backend, Tensor};

use crate::kernel::real::{dot3, Real};
use crate::linalg::{cross_f64, dot, tensor, unit_f64};

/// Per-source in-plane axes (host, constant): `E_in`, `B_in` for incident directions `inc`.
pub fn source_frames(inc: &[[f64; 3]], polar: [f64; 3]) -> (Vec<f64>, Vec<f64>) {
    let mut e = Vec::with_capacity(inc.len() * 3);
    let mut b = Vec::with_capacity(inc.len() * 3);
    for &i in inc {
        let b_in = unit_f64(cross_f64(polar, i));
        let e_in = unit_f64(cross_f64(i, b_in));
        e.extend(e_in);
        b.extend(b_in);
    }
    (e, b)
}

/// Kahn factor for diffracted unit vectors `d` `[P, T, O, 1, 3]` and incident unit vectors
/// `inc` `[1, 1, 1, S, 3]` → `[P, T, O, S, 1]`.
pub fn kahn_factor<B: Backend>(
    d: &Tensor<B, 5>,
    inc: &Tensor<B, 5>,
    frames: &(Vec<f64>, Vec<f64>),
    k: &Tensor<B, 1>,
) -> Tensor<B, 5> {
    let device = d.device();
    let s = frames.0.len() / 3;
    let e_in = tensor::<B, 5>(frames.0.clone(), [1, 1, 1, s, 3], &device);
    let b_in = tensor::<B, 5>(frames.1.clone(), [1, 1, 1, s, 3], &device);
    let cos2t_sq = dot(inc, d).powi_scalar(2);
    let e2 = dot(d, &e_in).powi_scalar(2);
    let b2 = dot(d, &b_in).powi_scalar(2);
    // E_in and B_in span the plane normal to i, so E² + B² = sin²2θ and
    // cos 2ψ·sin²2θ = E² − B²: no quotient, and no 1 − cos²2θ cancellation at small angles.
    let kk = k.clone().reshape([1, 1, 1, 1, 1]);
    (cos2t_sq + 1.0 - kk * (e2 - b2)) * 0.5
}

/// Kahn factor of the diffracted unit vector `d` for the incident unit vector `inc` with its
/// in-plane axes `e_in`, `b_in` ([`source_frames`]) and Kahn factor `k` (scalar form).
#[inline(always)]
pub fn value<T: Real>(d: [T; 3], inc: [T; 3], e_in: [T; 3], b_in: [T; 3], k: T) -> T {
    let cos2t = dot3(inc, d);
    let e = dot3(d, e_in);
    let b = dot3(d, b_in);
    (cos2t * cos2t + T::ONE - k * (e * e - b * b)) * T::of(0.5)
}

/// `P̄ = ∂L/∂P` taken back to the inputs of [`value`] that vary (the source's axes are
/// constants).
#[derive(Debug, Clone, Copy)]
pub struct KahnGrad<T> {
    /// `∂L/∂d`.
    pub d: [T; 3],
    /// `∂L/∂K`.
    pub k: T,
}

/// Adjoint of [`value`] for `d_polar = P̄`.
#[inline(always)]
pub fn adjoint<T: Real>(d: [T; 3], inc: [T; 3], e_in: [T; 3], b_in: [T; 3], k: T, d_polar: T) -> KahnGrad<T> {
    let c = dot3(inc, d);
    let e = dot3(d, e_in);
    let b = dot3(d, b_in);
    // (A loop, not `array::map`, so that the kernels' lane loops can inline it.)
    let mut dd = [T::ZERO; 3];
    for i in 0..3 {
        dd[i] = d_polar * (c * inc[i] - k * (e * e_in[i] - b * b_in[i]));
    }
    KahnGrad { d: dd, k: -(T::of(0.5) * d_polar * (e * e - b * b)) }
}
