//! Device functions both CUDA kernels share ([`super::forward`] and [`super::adjoint`]): the
//! values a thread reads before its loops, a sub-pixel's position, its scattering vector and the
//! per-pixel factors — one definition, so the backward pass recomputes exactly what the forward
//! pass computed — and the per-pixel factors' adjoints next to their forward forms. Units are
//! θ's ([`Layout`]: lengths in metres); CubeCL inlines every one of these functions.

use super::{C_DMIN, C_RADIUS, C_SOURCES};
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The θ entries and per-tile constants a kernel step reads before its loops (the same for
/// every pixel of the tile). A step reads them all ([`tile_scalars`]) and uses what it needs; the
/// compiler drops the reads of the others.
#[derive(CubeType)]
pub(super) struct TileScalars<F: Float> {
    /// Pixel size (m).
    pub pixel: F,
    /// Sub-pixel size `pixel / oversample` (m).
    pub sub: F,
    /// Half a sub-pixel (m): the offset of the first sub-pixel's centre.
    pub half: F,
    /// Close distance (m).
    pub close: F,
    /// Sensor layer step (m).
    pub layer: F,
    /// Attenuation μ (m⁻¹).
    pub mu: F,
    /// Kahn factor.
    pub polar_k: F,
    /// N_a, N_b, N_c.
    pub na: F,
    /// See `na`.
    pub nb: F,
    /// See `na`.
    pub nc: F,
    /// `default_F`.
    pub default_f: F,
    /// Series radius of the grating's value (the forward's; the adjoint reads the slopes').
    pub radius: F,
    /// Resolution cut d_min (m), 0 for none.
    pub dmin: F,
}

/// Read [`TileScalars`] in the forward kernel's order (θ, then the constants).
#[cube]
pub(super) fn tile_scalars<F: Float>(theta: &Array<F>, consts: &Array<F>, #[comptime] oversample: usize) -> TileScalars<F> {
    let pixel = theta[Layout::PIXEL];
    let sub = pixel / F::cast_from(oversample);
    let half = sub * F::new(0.5);
    let close = theta[Layout::CLOSE];
    let layer = theta[Layout::LAYER];
    let mu = theta[Layout::MU];
    let polar_k = theta[Layout::POLAR_K];
    let na = theta[Layout::N];
    let nb = theta[Layout::N + 1];
    let nc = theta[Layout::N + 2];
    let default_f = theta[Layout::DEFAULT_F];
    let radius = consts[C_RADIUS];
    let dmin = consts[C_DMIN];
    TileScalars::<F> { pixel, sub, half, close, layer, mu, polar_k, na, nb, nc, default_f, radius, dmin }
}

/// The detector pixel `(fast, slow)` of scan index `p` (`p = slow·fpixels + fast`).
#[cube]
pub(super) fn pixel_of(p: usize, #[comptime] fpixels: usize) -> (usize, usize) {
    (p % fpixels, p / fpixels)
}

/// The scan index of a tile's pixel `i`: `pixels[i]` for a tile of listed pixels (`indexed`),
/// else `first + i` (a run; `pixels` unread).
#[cube]
pub(super) fn pixel_at(pixels: &Array<u32>, first: u32, i: usize, #[comptime] indexed: bool) -> usize {
    let mut p = usize::cast_from(first) + i;
    if indexed {
        p = usize::cast_from(pixels[i]);
    }
    p
}

/// Entries `at`, `at + 1`, `at + 2` of `array` (a 3-vector of θ or of the constants), in that
/// order.
#[cube]
pub(super) fn vec3<F: Float>(array: &Array<F>, at: usize) -> (F, F, F) {
    (array[at], array[at + 1], array[at + 2])
}

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

/// Distance `r = |p|` (m) of the lab position `p` and the unit vector `d = p/r`:
/// `(r, dx, dy, dz)`.
#[cube]
pub(super) fn direction<F: Float>(px: F, py: F, pz: F) -> (F, F, F, F) {
    let r = F::sqrt(px * px + py * py + pz * pz);
    (r, px / r, py / r, pz / r)
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
    let (ix, iy, iz) = vec3::<F>(consts, C_SOURCES + 9 * s);
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

/// Adjoint of the solid angle `pixel²·close/r³` (or `1/r²` for point pixels) for its upstream
/// gradient `d_omega`: `(∂/∂pixel, ∂/∂close, ∂/∂r)`.
#[cube]
pub(super) fn omega_adjoint<F: Float>(r: F, pixel: F, close: F, omega: F, d_omega: F, #[comptime] point_pixel: bool) -> (F, F, F) {
    let r3 = r * r * r;
    let mut d_pixel = F::new(0.0);
    let mut d_close = F::new(0.0);
    let mut d_r = d_omega * F::new(-2.0) / r3;
    if !point_pixel {
        d_pixel = d_omega * F::new(2.0) * pixel * close / r3;
        d_close = d_omega * pixel * pixel / r3;
        d_r = d_omega * F::new(-3.0) * omega / r;
    }
    (d_pixel, d_close, d_r)
}

/// Adjoint of layer `t`'s capture fraction `e^(−t·ms/ρ) − e^(−(t+1)·ms/ρ)` (`ms` = layer·μ, `rho`
/// = d·odet) for its upstream gradient: `(∂/∂layer, ∂/∂μ, ∂/∂ρ)`.
#[cube]
pub(super) fn capture_adjoint<F: Float>(t: usize, rho: F, layer: F, mu: F, d_capture: F) -> (F, F, F) {
    let ms = layer * mu;
    let ti = F::cast_from(t);
    let ea = F::exp(-(ti * ms / rho));
    let eb = F::exp(-((ti + F::new(1.0)) * ms / rho));
    let dms = d_capture * ((ti + F::new(1.0)) / rho * eb - ti / rho * ea);
    let drho = d_capture * ms / (rho * rho) * (ti * ea - (ti + F::new(1.0)) * eb);
    (dms * mu, dms * layer, drho)
}

/// Adjoint of source `s`'s Kahn factor at the unit vector `d` for its upstream gradient:
/// `(∂/∂polar_k, ∂/∂d)`.
#[cube]
pub(super) fn kahn_adjoint<F: Float>(consts: &Array<F>, s: usize, dx: F, dy: F, dz: F, polar_k: F, d_polar: F) -> (F, F, F, F) {
    let at = C_SOURCES + 9 * s;
    let (ix, iy, iz) = vec3::<F>(consts, at);
    let (ex, ey, ez) = vec3::<F>(consts, at + 3);
    let (bx, by, bz) = vec3::<F>(consts, at + 6);
    let c2 = ix * dx + iy * dy + iz * dz;
    let e = dx * ex + dy * ey + dz * ez;
    let b = dx * bx + dy * by + dz * bz;
    (
        -(F::new(0.5) * d_polar * (e * e - b * b)),
        d_polar * (c2 * ix - polar_k * (e * ex - b * bx)),
        d_polar * (c2 * iy - polar_k * (e * ey - b * by)),
        d_polar * (c2 * iz - polar_k * (e * ez - b * bz)),
    )
}
