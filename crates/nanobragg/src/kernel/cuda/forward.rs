//! The forward kernel: one GPU thread per pixel, looping over sensor layers, sub-pixels,
//! sources and (φ, mosaic) cells as the CPU kernel does, then applying the factors taken once
//! per pixel.

use super::geometry::{direction, kahn, once_per_pixel, position, scattering};
use super::grating::{grating_abs, series_coefficients};
use super::{C_DMIN, C_RADIUS};
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The intensity of pixel `first + ABSOLUTE_POS` (of a detector `fpixels` wide) into
/// `output[ABSOLUTE_POS]`: `(F²·Σ F_latt² + I_bg)·scale·capture·polar·omega`, F from
/// `default_F`, the factors once per pixel.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn render_kernel<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    output: &mut Array<F>,
    #[comptime] first: usize,
    #[comptime] count: usize,
    #[comptime] fpixels: usize,
    #[comptime] oversample: usize,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] cells: usize,
    #[comptime] thick: bool,
    #[comptime] point_pixel: bool,
    #[comptime] nopolar: bool,
    #[comptime] double: bool,
) {
    let i = ABSOLUTE_POS;
    if i >= count {
        terminate!();
    }
    let p = first + i;
    let (sum, omega_first, capture_last, first_polar) = lattice_sum::<F>(
        theta, consts, p % fpixels, p / fpixels, oversample, layers, sources, cells, thick, point_pixel, double,
    );
    let default_f = theta[Layout::DEFAULT_F];
    let mut factor = theta[Layout::SCALE] * capture_last * omega_first;
    if !nopolar {
        factor *= first_polar;
    }
    output[i] = (default_f * default_f * sum + theta[Layout::I_BG]) * factor;
}

/// `Σ F_latt²` of pixel (`fast`, `slow`) over its layers, sub-pixels, sources and cells, with
/// the factors taken once per pixel ([`once_per_pixel`]; the Kahn factor of the first
/// evaluation d_min keeps): `(Σ F_latt², omega, capture, polar)`.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn lattice_sum<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    fast: usize,
    slow: usize,
    #[comptime] oversample: usize,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] cells: usize,
    #[comptime] thick: bool,
    #[comptime] point_pixel: bool,
    #[comptime] double: bool,
) -> (F, F, F, F) {
    let pixel = theta[Layout::PIXEL];
    let close = theta[Layout::CLOSE];
    let sub = pixel / F::cast_from(oversample);
    let half = sub * F::new(0.5);
    let layer = theta[Layout::LAYER];
    let mu = theta[Layout::MU];
    let polar_k = theta[Layout::POLAR_K];
    let na = theta[Layout::N];
    let nb = theta[Layout::N + 1];
    let nc = theta[Layout::N + 2];
    let radius = consts[C_RADIUS];
    let dmin = consts[C_DMIN];
    let cells_at = Layout::LAMBDA + sources;

    let coef_a = series_coefficients::<F>(na);
    let coef_b = series_coefficients::<F>(nb);
    let coef_c = series_coefficients::<F>(nc);

    let mut sum = F::new(0.0);
    let mut first_polar = F::new(0.0);
    let mut have_polar = false;
    let mut omega_first = F::new(0.0);
    let mut capture_last = F::new(1.0);
    for t in 0..layers {
        for o in 0..oversample * oversample {
            let (_fc, _sc, _oc, px, py, pz) = position::<F>(theta, fast, slow, t, o, sub, half, layer, oversample);
            let (r, dx, dy, dz) = direction::<F>(px, py, pz);
            let (omega, capture) = once_per_pixel::<F>(
                theta, t, o, r, dx, dy, dz, pixel, close, layer * mu, omega_first, capture_last, layers, thick,
                point_pixel,
            );
            omega_first = omega;
            capture_last = capture;
            for s in 0..sources {
                let (qx, qy, qz, active) = scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], dmin, s);
                if active {
                    if !have_polar {
                        first_polar = kahn::<F>(consts, s, dx, dy, dz, polar_k);
                        have_polar = true;
                    }
                    for k in 0..cells {
                        let c = cells_at + 9 * k;
                        let h = qx * theta[c] + qy * theta[c + 1] + qz * theta[c + 2];
                        let kk = qx * theta[c + 3] + qy * theta[c + 4] + qz * theta[c + 5];
                        let l = qx * theta[c + 6] + qy * theta[c + 7] + qz * theta[c + 8];
                        let f_latt = grating_abs::<F>(h, na, &coef_a, radius, double)
                            * grating_abs::<F>(kk, nb, &coef_b, radius, double)
                            * grating_abs::<F>(l, nc, &coef_c, radius, double);
                        sum += f_latt * f_latt;
                    }
                }
            }
        }
    }
    (sum, omega_first, capture_last, first_polar)
}
