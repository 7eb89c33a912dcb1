//! Kahn polarization factor as tensor ops.
//!
//! `P = ½(1 + cos²2θ − K·cos 2ψ·sin²2θ)` with `cos 2θ = i·d`, `B_in = unit(p × i)`,
//! `E_in = unit(i × B_in)`, `ψ = −atan2(d·B_in, d·E_in)`; here `cos 2ψ` is computed as
//! `(E² − B²)/(E² + B²)`, equal to the C program's but free of atan2 (finite gradient).

use burn::tensor::{backend::Backend, Tensor};

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
    let cos2t = dot(inc, d);
    let cos2t_sq = cos2t.powi_scalar(2);
    let sin2t_sq = cos2t_sq.clone().neg() + 1.0;
    let e_out = dot(d, &e_in);
    let b_out = dot(d, &b_in);
    let (e2, b2) = (e_out.powi_scalar(2), b_out.powi_scalar(2));
    let r2 = e2.clone() + b2.clone();
    // 1e-30 is representable in f32 too (an f64-only threshold would underflow to 0 there).
    let tiny = r2.clone().lower_elem(1e-30);
    let cos2psi = ((e2 - b2) / r2.mask_fill(tiny.clone(), 1.0)).mask_fill(tiny, 1.0);
    let kk = k.clone().reshape([1, 1, 1, 1, 1]);
    (cos2t_sq + 1.0 - kk * cos2psi * sin2t_sq) * 0.5
}
