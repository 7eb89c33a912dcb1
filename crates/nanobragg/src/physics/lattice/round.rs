//! ROUND (spherical crystal): `F = n3·ROUND_SCALE·sinc3(π·sqrt(fudge·Σ(Δh·N)²))`.

use burn::tensor::{backend::Backend, Tensor};
use std::f64::consts::PI;

use super::{LatticeGrad, LatticeScalars, LatticeTensors};

/// Scale that gives the sphere the volume of the parallelepiped of the same N.
pub const ROUND_SCALE: f64 = 0.723601254558268;

/// Below this x² `sinc3` takes its series `1 − x²/10`.
pub const SINC3_SERIES_BELOW: f64 = 1e-10;

/// `sinc3(x) = 3(sin x/x − cos x)/x²` given `x²` (value 1 at 0, series `1 − x²/10` near 0), so
/// that the square root of a zero radius never reaches a gradient.
pub fn sinc3_of_square<B: Backend, const D: usize>(x2: Tensor<B, D>) -> Tensor<B, D> {
    let small = x2.clone().lower_elem(SINC3_SERIES_BELOW);
    let x = x2.clone().mask_fill(small.clone(), 1.0).sqrt();
    let regular = (x.clone().sin() / x.clone() - x.clone().cos()) * 3.0 / x.powi_scalar(2);
    let series = x2 * (-0.1) + 1.0;
    regular.mask_where(small, series)
}

/// `sinc3` from `x²` with `d sinc3/d(x²)` (scalar form).
pub fn sinc3_of_square_grad(x2: f64) -> (f64, f64) {
    if x2 < SINC3_SERIES_BELOW {
        return (1.0 - 0.1 * x2, -0.1);
    }
    let x = x2.sqrt();
    let (s, c) = x.sin_cos();
    let v = (s / x - c) * 3.0 / x2;
    let dv_dx = 3.0 * ((c / x - s / x2 + s) / x2 - 2.0 * (s / x - c) / (x2 * x));
    (v, dv_dx / (2.0 * x))
}

/// Tensor form.
pub fn tensor<B: Backend>(x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    let [dh, dk, dl] = x.offsets();
    let sq = |f: Tensor<B, 2>, n: &Tensor<B, 1>| f.powi_scalar(2) * n.clone().powi_scalar(2).reshape([1, 1]);
    let hrad2 = sq(dh, &x.n[0]) + sq(dk, &x.n[1]) + sq(dl, &x.n[2]);
    sinc3_of_square(hrad2 * (x.fudge * PI * PI)) * x.n3() * ROUND_SCALE
}

/// Scalar form with its derivatives.
pub fn value_grad(x: &LatticeScalars) -> LatticeGrad {
    let (f, n, n3) = (x.offsets(), x.n, x.n3());
    let hrad2: f64 = (0..3).map(|i| f[i] * f[i] * n[i] * n[i]).sum();
    let k = x.fudge * PI * PI;
    let (s, ds) = sinc3_of_square_grad(hrad2 * k);
    let slope = ROUND_SCALE * n3 * ds * k * 2.0;
    LatticeGrad {
        value: s * n3 * ROUND_SCALE,
        d_hkl: [0, 1, 2].map(|i| slope * f[i] * n[i] * n[i]),
        d_n: [0, 1, 2].map(|i| ROUND_SCALE * x.dn3()[i] * s + slope * f[i] * f[i] * n[i]),
        d_recip: [[0.0; 3]; 3],
    }
}
