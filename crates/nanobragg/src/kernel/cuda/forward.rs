//! The forward kernel: one GPU thread per pixel, looping over sensor layers, sub-pixels,
//! sources and (φ, mosaic) cells as the CPU kernel does ([`lattice_sum`]), then applying the
//! factors taken once per pixel. The adjoint kernel recomputes those factors with the same
//! loop and no cells.
//!
//! Only F_latt² reaches the image, so the kernel drops the grating's `(−1)^k` signs; both
//! sines take reduced arguments (|x| ≤ π/2) and use the CPU kernel's polynomial. With an HKL
//! grid each term takes F² of its nearest entry ([`structure_factor`]); without one, F² (one
//! `default_F` for every term) multiplies the pixel's sum once.

use super::geometry::{
    capture, direction, kahn, pixel_at, pixel_of, position, scattering, solid_angle, tile_scalars, TileScalars,
};
use super::grating::{grating_abs, series_coefficients};
use super::structure_factor::structure_factor;
use super::KernelVariant;
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The intensity of the tile's pixel `ABSOLUTE_POS` ([`pixel_at`]: `pixels[ABSOLUTE_POS]` with
/// `v.indexed`, else `first + ABSOLUTE_POS`) into `output[ABSOLUTE_POS]` for the first `count`
/// units: `(Σ F²·F_latt² + I_bg)·scale·capture·polar·omega`, F from the grid or
/// `default_F`, the factors once per pixel (polar = 1 with `nopolar`), in θ's units (photons
/// per pixel).
#[cube(launch)]
pub(super) fn render_kernel<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    pixels: &Array<u32>,
    output: &mut Array<F>,
    first: u32,
    count: u32,
    #[comptime] v: KernelVariant,
) {
    let i = ABSOLUTE_POS;
    if i >= usize::cast_from(count) {
        terminate!();
    }
    let (fast, slow) = pixel_of(pixel_at(pixels, first, i, v.indexed), v.fpixels);
    let tile = tile_scalars::<F>(theta, consts, v.oversample);
    let (sum, omega_first, capture_last, first_polar) = lattice_sum::<F>(theta, consts, &tile, fast, slow, v);
    let mut factor = theta[Layout::SCALE] * capture_last * omega_first;
    if !v.nopolar {
        factor *= first_polar;
    }
    let mut intensity = sum;
    if !v.grid {
        intensity = tile.default_f * tile.default_f * sum;
    }
    output[i] = (intensity + theta[Layout::I_BG]) * factor;
}

/// `Σ F_latt²` of pixel (`fast`, `slow`) over its layers, sub-pixels, sources and `v.cells`
/// cells (|F_latt| from [`grating_abs`]; `Σ F²·F_latt²` with a grid, `v.grid`), with the factors the forward kernel takes once per
/// pixel: `(Σ F_latt², omega, capture, polar)` — the solid angle of the first sub-pixel (sr,
/// or m⁻² for point pixels), the capture fraction of the last layer's first sub-pixel (1 unless
/// `thick`), and the Kahn factor of the first evaluation d_min keeps (0 if none does). With no
/// cells (`v.cells = 0`) it is the factors alone, which the adjoint kernel recomputes with it.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn lattice_sum<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    tile: &TileScalars<F>,
    fast: usize,
    slow: usize,
    #[comptime] v: KernelVariant,
) -> (F, F, F, F) {
    let cells_at = Layout::LAMBDA + v.sources;
    let grid_at = comptime!(v.grid_at());
    let coef_a = series_coefficients::<F>(tile.na);
    let coef_b = series_coefficients::<F>(tile.nb);
    let coef_c = series_coefficients::<F>(tile.nc);

    let mut sum = F::new(0.0);
    let mut first_polar = F::new(0.0);
    let mut have_polar = false;
    let mut omega_first = F::new(0.0);
    let mut capture_last = F::new(1.0);
    for t in 0..v.layers {
        for o in 0..v.oversample * v.oversample {
            let (_fc, _sc, _oc, px, py, pz) =
                position::<F>(theta, fast, slow, t, o, tile.sub, tile.half, tile.layer, v.oversample);
            let (r, dx, dy, dz) = direction::<F>(px, py, pz);
            if t == 0 && o == 0 {
                omega_first = solid_angle::<F>(r, tile.pixel, tile.close, v.point_pixel);
            }
            if v.thick {
                if t + 1 == v.layers && o == 0 {
                    capture_last = capture::<F>(theta, t, dx, dy, dz, tile.layer * tile.mu);
                }
            }
            for s in 0..v.sources {
                let (qx, qy, qz, active) =
                    scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], tile.dmin, s);
                if active {
                    if !have_polar {
                        first_polar = kahn::<F>(consts, s, dx, dy, dz, tile.polar_k);
                        have_polar = true;
                    }
                    for c in 0..v.cells {
                        let m = cells_at + 9 * c;
                        let h = qx * theta[m] + qy * theta[m + 1] + qz * theta[m + 2];
                        let kk = qx * theta[m + 3] + qy * theta[m + 4] + qz * theta[m + 5];
                        let l = qx * theta[m + 6] + qy * theta[m + 7] + qz * theta[m + 8];
                        let f_latt = grating_abs::<F>(h, tile.na, &coef_a, tile.radius, v.double)
                            * grating_abs::<F>(kk, tile.nb, &coef_b, tile.radius, v.double)
                            * grating_abs::<F>(l, tile.nc, &coef_c, tile.radius, v.double);
                        if v.grid {
                            let (f, _inside, _flat) =
                                structure_factor::<F>(theta, consts, h, kk, l, tile.default_f, grid_at);
                            sum += f * f * (f_latt * f_latt);
                        } else {
                            sum += f_latt * f_latt;
                        }
                    }
                }
            }
        }
    }
    (sum, omega_first, capture_last, first_polar)
}
