//! The geometry's part of the adjoint kernel ([`super::adjoint`]), once per sub-pixel: `d̄`
//! from the lattice terms plus the once-per-pixel factors' adjoints (solid angle, capture
//! fraction, Kahn factor), through `d = p/r` and `p = pix0 + f·fdet + s·sdet + o·odet` into
//! θ's detector entries.
//!
//! The entries are accumulated in one local array indexed by their [`Layout`] slots
//! (`pix0, fdet, sdet, odet, close, pixel, layer, μ, polar_k` = slots `0..GEOMETRY`), whose
//! every index is a constant, so it lives in registers; it is emitted at the end.

use super::geometry::{capture_adjoint, direction, kahn_adjoint, omega_adjoint, position, scattering};
use super::plane::emit;
use super::C_DMIN;
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// θ's geometry entries: slots `0..GEOMETRY` of [`Layout`] (pix0 through polar_k).
const GEOMETRY: usize = Layout::POLAR_K + 1;

/// The geometry's adjoint: for every (layer, sub-pixel), `d̄` = `sd*` (the lattice terms'
/// part) plus the factors' parts ([`factor_adjoints`], from their upstream gradients
/// `d_omega`, `d_capture`, `d_polar`), then back through the position
/// ([`position_adjoint`]); each entry summed over the warp and emitted.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn geometry_adjoint<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    partial: &mut Array<F>,
    sdx: &Array<F>,
    sdy: &Array<F>,
    sdz: &Array<F>,
    d_capture: F,
    d_polar: F,
    d_omega: F,
    omega_first: F,
    fast: usize,
    slow: usize,
    warp: usize,
    #[comptime] rows: usize,
    #[comptime] warps: usize,
    #[comptime] oversample: usize,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] thick: bool,
    #[comptime] point_pixel: bool,
    #[comptime] nopolar: bool,
) {
    let sub = theta[Layout::PIXEL] / F::cast_from(oversample);
    let half = sub * F::new(0.5);
    let layer = theta[Layout::LAYER];
    let per_layer = comptime!(oversample * oversample);
    let mut acc = Array::<F>::new(comptime!(GEOMETRY));
    #[unroll]
    for e in 0..comptime!(GEOMETRY) {
        acc[e] = F::new(0.0);
    }
    let mut polar_done = false;
    for t in 0..layers {
        for o in 0..per_layer {
            let (fc, sc, oc, px, py, pz) = position::<F>(theta, fast, slow, t, o, sub, half, layer, oversample);
            let (r, dx, dy, dz) = direction::<F>(px, py, pz);
            let j = t * per_layer + o;
            let (ddx, ddy, ddz, dr, done) = factor_adjoints::<F>(
                theta, consts, &mut acc, t, o, px, py, pz, r, dx, dy, dz, sdx[j], sdy[j], sdz[j], d_capture, d_polar,
                d_omega, omega_first, polar_done, layers, sources, thick, point_pixel, nopolar,
            );
            polar_done = done;
            position_adjoint::<F>(theta, &mut acc, fc, sc, oc, t, r, dx, dy, dz, ddx, ddy, ddz, dr);
        }
    }
    #[unroll]
    for e in 0..comptime!(GEOMETRY) {
        emit::<F>(partial, e, acc[e], warp, rows, warps);
    }
}

/// The once-per-pixel factors' adjoints at sub-pixel `o` of layer `t` (lab position `p`),
/// starting from the lattice terms' `d̄` (`ddx0..`): the solid angle's (first sub-pixel) into
/// pixel and close, the capture fraction's (last layer's first sub-pixel, when `thick`) into
/// layer, μ, odet and `d̄`, the Kahn factor's (the first evaluation d_min keeps; `polar_done`
/// after it) into polar_k and `d̄`. Returns `(d̄, r̄, polar_done)`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn factor_adjoints<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    acc: &mut Array<F>,
    t: usize,
    o: usize,
    px: F,
    py: F,
    pz: F,
    r: F,
    dx: F,
    dy: F,
    dz: F,
    ddx0: F,
    ddy0: F,
    ddz0: F,
    d_capture: F,
    d_polar: F,
    d_omega: F,
    omega_first: F,
    polar_done: bool,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] thick: bool,
    #[comptime] point_pixel: bool,
    #[comptime] nopolar: bool,
) -> (F, F, F, F, bool) {
    let mut ddx = ddx0;
    let mut ddy = ddy0;
    let mut ddz = ddz0;
    let mut dr = F::new(0.0);
    let mut done = polar_done;
    if t == 0 && o == 0 {
        let (d_pixel, d_close, d_r) =
            omega_adjoint::<F>(r, theta[Layout::PIXEL], theta[Layout::CLOSE], omega_first, d_omega, point_pixel);
        acc[Layout::PIXEL] += d_pixel;
        acc[Layout::CLOSE] += d_close;
        dr = d_r;
    }
    if thick {
        if t + 1 == layers && o == 0 {
            let ox = theta[Layout::ODET];
            let oy = theta[Layout::ODET + 1];
            let oz = theta[Layout::ODET + 2];
            let (d_layer, d_mu, drho) =
                capture_adjoint::<F>(t, dx * ox + dy * oy + dz * oz, theta[Layout::LAYER], theta[Layout::MU], d_capture);
            acc[Layout::LAYER] += d_layer;
            acc[Layout::MU] += d_mu;
            ddx += drho * ox;
            ddy += drho * oy;
            ddz += drho * oz;
            acc[Layout::ODET] += drho * dx;
            acc[Layout::ODET + 1] += drho * dy;
            acc[Layout::ODET + 2] += drho * dz;
        }
    }
    for s in 0..sources {
        if !nopolar {
            if !done {
                let (_qx, _qy, _qz, active) =
                    scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], consts[C_DMIN], s);
                if active {
                    let (d_k, kx, ky, kz) = kahn_adjoint::<F>(consts, s, dx, dy, dz, theta[Layout::POLAR_K], d_polar);
                    acc[Layout::POLAR_K] += d_k;
                    ddx += kx;
                    ddy += ky;
                    ddz += kz;
                    done = true;
                }
            }
        }
    }
    (ddx, ddy, ddz, dr, done)
}

/// `d = p/r` and `p = pix0 + f·fdet + s·sdet + o·odet` backwards for one sub-pixel (detector
/// coordinates `fc, sc` proportional to the pixel size, `oc` = t·layer; distance `r`, unit
/// vector `d`): from `d̄` and `r̄` into `acc`'s pix0, fdet, sdet, odet, pixel and layer entries.
#[cube]
#[allow(clippy::too_many_arguments)]
fn position_adjoint<F: Float>(
    theta: &Array<F>,
    acc: &mut Array<F>,
    fc: F,
    sc: F,
    oc: F,
    t: usize,
    r: F,
    dx: F,
    dy: F,
    dz: F,
    ddx: F,
    ddy: F,
    ddz: F,
    dr: F,
) {
    // p̄ = (d̄ − d(d·d̄))/r + r̄·d.
    let along = dx * ddx + dy * ddy + dz * ddz;
    let dpx = (ddx - dx * along) / r + dr * dx;
    let dpy = (ddy - dy * along) / r + dr * dy;
    let dpz = (ddz - dz * along) / r + dr * dz;
    acc[Layout::PIX0] += dpx;
    acc[Layout::PIX0 + 1] += dpy;
    acc[Layout::PIX0 + 2] += dpz;
    acc[Layout::FDET] += fc * dpx;
    acc[Layout::FDET + 1] += fc * dpy;
    acc[Layout::FDET + 2] += fc * dpz;
    acc[Layout::SDET] += sc * dpx;
    acc[Layout::SDET + 1] += sc * dpy;
    acc[Layout::SDET + 2] += sc * dpz;
    acc[Layout::ODET] += oc * dpx;
    acc[Layout::ODET + 1] += oc * dpy;
    acc[Layout::ODET + 2] += oc * dpz;
    let pixel = theta[Layout::PIXEL];
    let along_f = theta[Layout::FDET] * dpx + theta[Layout::FDET + 1] * dpy + theta[Layout::FDET + 2] * dpz;
    let along_s = theta[Layout::SDET] * dpx + theta[Layout::SDET + 1] * dpy + theta[Layout::SDET + 2] * dpz;
    acc[Layout::PIXEL] += along_f * (fc / pixel) + along_s * (sc / pixel);
    let along_o = theta[Layout::ODET] * dpx + theta[Layout::ODET + 1] * dpy + theta[Layout::ODET + 2] * dpz;
    acc[Layout::LAYER] += along_o * F::cast_from(t);
}
