//! Device functions both CUDA kernels share ([`super::render_kernel`] and the adjoint kernel of
//! [`super::adjoint`]): a sub-pixel's position, its scattering vector, the per-pixel factors and
//! the grating series' coefficients — one definition, so the backward pass recomputes exactly
//! what the forward pass computed.

use super::C_SOURCES;
use crate::kernel::Layout;
use crate::physics::lattice::grating::{SERIES_DENOMINATORS, SERIES_NUMERATORS};
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// Position of (layer `t`, sub-pixel `o`) of pixel (`fast`, `slow`): detector-plane coordinates `(fc, sc, oc)` and the lab position.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn position<F: Float>(
    theta: &Array<F>,
    fast: usize,
    slow: usize,
    t: usize,
    o: usize,
    sub: F,
    half: F,
    layer: F,
    #[comptime] oversample: usize,
) -> (F, F, F, F, F, F) {
    let fc = F::cast_from(fast * oversample + o % oversample) * sub + half;
    let sc = F::cast_from(slow * oversample + o / oversample) * sub + half;
    let oc = F::cast_from(t) * layer;
    let px = theta[Layout::PIX0]
        + fc * theta[Layout::FDET]
        + sc * theta[Layout::SDET]
        + oc * theta[Layout::ODET];
    let py = theta[Layout::PIX0 + 1]
        + fc * theta[Layout::FDET + 1]
        + sc * theta[Layout::SDET + 1]
        + oc * theta[Layout::ODET + 1];
    let pz = theta[Layout::PIX0 + 2]
        + fc * theta[Layout::FDET + 2]
        + sc * theta[Layout::SDET + 2]
        + oc * theta[Layout::ODET + 2];
    (fc, sc, oc, px, py, pz)
}

/// `q = (d − i)/λ` of source `s` in the split form of [`crate::physics::scattering`], and whether d_min keeps it.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn scattering<F: Float>(
    consts: &Array<F>,
    px: F,
    py: F,
    pz: F,
    r: F,
    lambda: F,
    dmin: F,
    s: usize,
) -> (F, F, F, bool) {
    let at = C_SOURCES + 9 * s;
    let ix = consts[at];
    let iy = consts[at + 1];
    let iz = consts[at + 2];
    let a = px * ix + py * iy + pz * iz;
    let qx0 = px - a * ix;
    let qy0 = py - a * iy;
    let qz0 = pz - a * iz;
    let perp2 = qx0 * qx0 + qy0 * qy0 + qz0 * qz0;
    let denom = r + a;
    let split = denom >= r * F::new(0.5);
    let along = perp2 / (r * select(split, denom, r));
    let qx = select(split, qx0 / r - ix * along, px / r - ix) / lambda;
    let qy = select(split, qy0 / r - iy * along, py / r - iy) / lambda;
    let qz = select(split, qz0 / r - iz * along, pz / r - iz) / lambda;
    let stol = F::sqrt(qx * qx + qy * qy + qz * qz) * F::new(0.5);
    let active = dmin <= F::new(0.0) || stol * dmin <= F::new(0.5);
    (qx, qy, qz, active)
}

/// Solid angle of a pixel at distance `r` (`pixel²·close/r³`, or `1/r²` for point pixels).
#[cube]
pub(super) fn solid_angle<F: Float>(r: F, pixel: F, close: F, #[comptime] point_pixel: bool) -> F {
    let mut omega = F::new(1.0) / (r * r);
    if !point_pixel {
        omega = pixel * pixel * close / (r * r * r);
    }
    omega
}

/// Fraction of the beam captured by sensor layer `t` along the unit vector `(dx, dy, dz)`
/// (`mu_step` = layer step · μ).
#[cube]
pub(super) fn capture<F: Float>(theta: &Array<F>, t: usize, dx: F, dy: F, dz: F, mu_step: F) -> F {
    let rho = dx * theta[Layout::ODET] + dy * theta[Layout::ODET + 1] + dz * theta[Layout::ODET + 2];
    let ti = F::cast_from(t);
    F::exp(-(ti * mu_step / rho)) - F::exp(-((ti + F::new(1.0)) * mu_step / rho))
}

/// Kahn polarization factor of the unit vector `(dx, dy, dz)` for source `s`.
#[cube]
pub(super) fn kahn<F: Float>(consts: &Array<F>, s: usize, dx: F, dy: F, dz: F, polar_k: F) -> F {
    let at = C_SOURCES + 9 * s;
    let cos2t = consts[at] * dx + consts[at + 1] * dy + consts[at + 2] * dz;
    let e = dx * consts[at + 3] + dy * consts[at + 4] + dz * consts[at + 5];
    let b = dx * consts[at + 6] + dy * consts[at + 7] + dz * consts[at + 8];
    (cos2t * cos2t + F::new(1.0) - polar_k * (e * e - b * b)) * F::new(0.5)
}

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
