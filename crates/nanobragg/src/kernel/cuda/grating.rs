//! The SQUARE grating `sin(Nπh)/sin(πh)` in the CUDA kernels: the series' coefficients from
//! the constants of [`crate::physics::lattice::grating`], the forward kernel's `|value|`
//! ([`grating_abs`]) and the adjoint kernel's value with both slopes ([`grating_grad`]). Only
//! F_latt² reaches the image, so both drop the grating's signs.

use super::{sin_cos_small, sin_small};
use crate::physics::lattice::grating::{SERIES_DENOMINATORS, SERIES_NUMERATORS};
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// `(c₀ + c₁·n2 + c₂·n2² + c₃·n2³)/d` for row `i` of the grating series' constants
/// ([`SERIES_NUMERATORS`], [`SERIES_DENOMINATORS`]), entered into the kernel source as f64
/// values cast to the kernel's float (`F::new` takes an f32).
#[cube]
fn series_row<F: Float>(n2: F, #[comptime] i: usize) -> F {
    let c0 = F::cast_from(comptime!(SERIES_NUMERATORS[i][0]));
    let c1 = F::cast_from(comptime!(SERIES_NUMERATORS[i][1]));
    let c2 = F::cast_from(comptime!(SERIES_NUMERATORS[i][2]));
    let c3 = F::cast_from(comptime!(SERIES_NUMERATORS[i][3]));
    (((c3 * n2 + c2) * n2 + c1) * n2 + c0) / F::cast_from(comptime!(SERIES_DENOMINATORS[i]))
}

/// `d/d(n2)` of [`series_row`].
#[cube]
fn series_row_slope<F: Float>(n2: F, #[comptime] i: usize) -> F {
    let d0 = F::cast_from(comptime!(SERIES_NUMERATORS[i][1]));
    let d1 = F::cast_from(comptime!(2.0 * SERIES_NUMERATORS[i][2]));
    let d2 = F::cast_from(comptime!(3.0 * SERIES_NUMERATORS[i][3]));
    ((d2 * n2 + d1) * n2 + d0) / F::cast_from(comptime!(SERIES_DENOMINATORS[i]))
}

/// The grating series' coefficients for N (a₂, a₄, a₆ of sin(Nx)/sin(x) = N(1 + a₂x² + a₄x⁴ +
/// a₆x⁶), [`crate::physics::lattice::grating`]) and their slopes in N², once per axis and thread
/// instead of per evaluation.
#[cube]
pub(super) fn series_coefficients<F: Float>(n: F) -> Array<F> {
    let n2 = n * n;
    let mut c = Array::<F>::new(6usize);
    c[0usize] = series_row::<F>(n2, 0usize);
    c[1usize] = series_row::<F>(n2, 1usize);
    c[2usize] = series_row::<F>(n2, 2usize);
    c[3usize] = series_row_slope::<F>(n2, 0usize);
    c[4usize] = series_row_slope::<F>(n2, 1usize);
    c[5usize] = series_row_slope::<F>(n2, 2usize);
    c
}

/// `|sin(Nπh)/sin(πh)|` on reduced arguments, with the Taylor series near the peak centre
/// (coefficients from [`series_coefficients`]).
#[cube]
pub(super) fn grating_abs<F: Float>(h: F, n: F, series_coefficients: &Array<F>, radius: F, #[comptime] double: bool) -> F {
    // π as a constant of the kernel source (no register).
    let pi = F::cast_from(3.141592653589793_f64);
    let f = h - F::floor(h + F::new(0.5));
    let x = f * pi;
    let y = f * n;
    let ry = y - F::floor(y + F::new(0.5));
    let quotient = sin_small::<F>(ry * pi, double) / sin_small::<F>(x, double);
    let x2 = x * x;
    let a2 = series_coefficients[0usize];
    let a4 = series_coefficients[1usize];
    let a6 = series_coefficients[2usize];
    let series = (x2 * (x2 * (x2 * a6 + a4) + a2) + F::new(1.0)) * n;
    F::abs(select(F::abs(x * n) < radius, series, quotient))
}

/// `sin(Nπh)/sin(πh)` on reduced arguments with `∂/∂h` and `∂/∂N` (the CPU's lane version),
/// up to a sign that F_latt² and its slopes do not see (`(−1)^round(Nf)` of the reduced sine and
/// the whole part's sign: the value and both slopes carry it alike). The series near a peak's
/// centre runs only for the units that need it (rare: a warp pays for it only when one of its
/// units is there).
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn grating_grad<F: Float>(h: F, n: F, radius: F, #[comptime] double: bool) -> (F, F, F) {
    // π as a constant of the kernel source (no register).
    let pi = F::cast_from(3.141592653589793_f64);
    let f = h - F::floor(h + F::new(0.5));
    let x = f * pi;
    let y = f * n;
    let r = (y - F::floor(y + F::new(0.5))) * pi;
    let (sn, cn) = sin_cos_small::<F>(r, double);
    let (s, co) = sin_cos_small::<F>(x, double);
    // One reciprocal of sin x for the quotient and both its slopes:
    // d(sn/s)/dx = (N·cn·s − sn·co)/s², d(sn/s)/dN = x·cn/s.
    let inv = F::new(1.0) / s;
    let mut v = sn * inv;
    let mut dx = (n * cn - v * co) * inv;
    let mut dn = x * cn * inv;
    if F::abs(x * n) < radius {
        // The coefficients here, not once per thread: they would hold six registers per axis
        // through the whole cell loop for a branch that rarely runs.
        let c = series_coefficients::<F>(n);
        let a2 = c[0usize];
        let a4 = c[1usize];
        let a6 = c[2usize];
        let da2 = c[3usize];
        let da4 = c[4usize];
        let da6 = c[5usize];
        let x2 = x * x;
        let n2 = n * n;
        let poly = x2 * (x2 * (x2 * a6 + a4) + a2) + F::new(1.0);
        let dpoly_dx = F::new(2.0) * x * (a2 + x2 * (F::new(2.0) * a4 + F::new(3.0) * a6 * x2));
        let dpoly_dn2 = x2 * (da2 + x2 * (da4 + x2 * da6));
        v = n * poly;
        dx = n * dpoly_dx;
        dn = poly + F::new(2.0) * n2 * dpoly_dn2;
    }
    (v, dx * pi, dn)
}

