//! SQUARE (parallelepiped crystal): `F = g(h, Na)·g(k, Nb)·g(l, Nc)` with g the
//! [`super::grating`] of each axis.

use burn::tensor::{backend::Backend, Tensor};

use super::grating::{self, grating};
use super::{LatticeGrad, LatticeScalars, LatticeTensors};

/// Tensor form.
pub fn tensor<B: Backend>(x: &LatticeTensors<'_, B>) -> Tensor<B, 2> {
    let g = |i: usize| grating(x.hkl[i].clone(), &x.n[i], x.n_value[i]);
    g(0) * g(1) * g(2)
}

/// Scalar form with its derivatives (the product rule over the three gratings).
pub fn value_grad(x: &LatticeScalars) -> LatticeGrad {
    let g = [0, 1, 2].map(|i| grating::value_grad(x.hkl[i], x.n[i], x.sign_m[i], x.radius));
    let others = [g[1].0 * g[2].0, g[0].0 * g[2].0, g[0].0 * g[1].0];
    LatticeGrad {
        value: g[0].0 * g[1].0 * g[2].0,
        d_hkl: [0, 1, 2].map(|i| others[i] * g[i].1),
        d_n: [0, 1, 2].map(|i| others[i] * g[i].2),
        d_recip: [[0.0; 3]; 3],
    }
}
