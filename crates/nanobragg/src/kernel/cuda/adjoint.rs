//! The backward pass of the CUDA forward kernel: one GPU thread per pixel recomputes its pixel
//! and accumulates `∂(g·value)/∂θ` for the pixel's upstream gradient g in registers; each entry
//! is summed over the warp and added into the warp's row of a zeroed `[warps, len θ]`
//! buffer; the launcher sums the rows. A cell's nine matrix entries are summed together by one
//! reduce-scatter ([`emit_nine`]), the other entries by plane sums.
//!
//! The math is the CPU adjoint's ([`crate::kernel::cpu::adjoint`]) for the scenes the forward
//! kernel covers (SQUARE lattice, F from `default_F` or the nearest grid entry, factors once
//! per pixel):
//! - terms `F²·F_latt²` with `F_latt = g_a·g_b·g_c`, `g = sin(Nπh)/sin(πh)` (series near the
//!   peak centre); `h = A_k·q`: `Ā_k += h̄ qᵀ`, `q̄ += A_kᵀ h̄`;
//! - `F̄ = G·2F·F_latt²` of each term goes to its grid entry, added atomically into a `[G]`
//!   buffer (the entries a warp's pixels reach differ, so no plane sum; the order of the adds
//!   varies from run to run, so grid gradients on CUDA may differ in their last bits), or to
//!   `default_F` outside the grid;
//! - `q = (d − i)/λ`: `λ̄ −= q̄·q/λ`, `d̄ += q̄/λ`; `d = p/r`: `p̄ += (d̄ − d(d·d̄))/r + r̄·d`;
//! - `p = pix0 + f·fdet + s·sdet + o·odet` with f, s proportional to the pixel size;
//! - the factors applied once per pixel (solid angle of the first sub-pixel, capture of the
//!   last layer, Kahn factor of the first evaluation that runs) through their own adjoints.
//!
//! Loop order: per source, the scattering vector of every (layer, sub-pixel) once (kept in
//! a local array), then the cells — a cell's nine accumulators stay in registers — over those
//! vectors, summing `q̄` per sub-pixel; `d̄ = q̄/λ` is summed over sources and goes back through
//! the geometry once per sub-pixel, with the per-pixel factors' adjoints. Only F_latt² reaches
//! the image, so the grating's signs (the whole part's and the reduced sine's) are dropped, as in
//! the forward kernel.

use super::forward::lattice_sum;
use super::geometry::{
    capture_adjoint, direction, kahn_adjoint, omega_adjoint, pixel_at, pixel_of, position, scattering, tile_scalars, vec3,
};
use super::plane::{emit, emit_nine, PartialRows};
use super::grating::grating_grad;
use super::structure_factor::structure_factor;
use super::{KernelVariant, C_SLOPE_RADIUS};
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// `∂(Σ g·value)/∂θ` of the tile's pixels `offset + ABSOLUTE_POS` ([`pixel_at`]: listed in
/// `pixels` with `v.indexed`, else from `first`) for their upstream gradients
/// `g = grad[offset + ABSOLUTE_POS]` (the first `count` units; the others add zero), summed
/// over each warp into the warp's row of `partial` ([`PartialRows`]: θ's entries before the
/// grid, a row for every warp launched; the launcher sums the rows), the grid entries' into `grid_grad` (atomic adds; unused
/// without a grid). `value` is the forward kernel's (photons per pixel), θ's entries in
/// [`Layout`]'s units.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn adjoint_kernel<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    grad: &Array<F>,
    partial: &mut Array<F>,
    grid_grad: &mut Array<Atomic<F>>,
    pixels: &Array<u32>,
    first: u32,
    offset: u32,
    count: u32,
    #[comptime] rows: PartialRows,
    #[comptime] v: KernelVariant,
) {
    // Every unit runs to the end (the plane sums need the whole plane); units past the last
    // pixel repeat it with a zero upstream gradient.
    let i = ABSOLUTE_POS;
    let warp = i / 32;
    let count = usize::cast_from(count);
    let offset = usize::cast_from(offset);
    let mut at = i;
    if i >= count {
        at = count - 1;
    }
    let g = select(i < count, grad[offset + at], F::new(0.0));
    let (fast, slow) = pixel_of(pixel_at(pixels, first, offset + at, v.indexed), v.fpixels);
    let default_f = theta[Layout::DEFAULT_F];
    let scale = theta[Layout::SCALE];
    let f2 = default_f * default_f;

    let (omega_first, capture_last, polar_part) =
        pixel_factors::<F>(theta, consts, fast, slow, v);
    let big_g = g * scale * capture_last * omega_first * polar_part;

    // d̄ per sub-pixel, summed over sources, from the lattice terms.
    let subs = comptime!(v.layers * v.oversample * v.oversample);
    let mut sdx = Array::<F>::new(subs);
    let mut sdy = Array::<F>::new(subs);
    let mut sdz = Array::<F>::new(subs);
    for j in 0..subs {
        sdx[j] = F::new(0.0);
        sdy[j] = F::new(0.0);
        sdz[j] = F::new(0.0);
    }
    // ∂(g·value)/∂F_latt = G·2F²·F_latt; ∂/∂default_F = G·2F·Σ F_latt² over the terms that
    // take it (after the loop).
    let (intensity, default_sum, a_nx, a_ny, a_nz) = lattice_adjoint::<F>(
        theta, consts, partial, grid_grad, &mut sdx, &mut sdy, &mut sdz, big_g * F::new(2.0), f2, fast, slow,
        warp, rows, v,
    );
    emit::<F>(partial, Layout::N, a_nx, warp, rows);
    emit::<F>(partial, Layout::N + 1, a_ny, warp, rows);
    emit::<F>(partial, Layout::N + 2, a_nz, warp, rows);
    emit::<F>(partial, Layout::DEFAULT_F, big_g * F::new(2.0) * default_f * default_sum, warp, rows);
    emit::<F>(partial, Layout::I_BG, big_g, warp, rows);

    // The per-pixel factors: value = (Σ F²·F_latt² + I_bg)·scale·capture·polar·omega.
    let d_factor = g * (intensity + theta[Layout::I_BG]);
    emit::<F>(partial, Layout::SCALE, d_factor * capture_last * polar_part * omega_first, warp, rows);
    let d_capture = d_factor * scale * polar_part * omega_first;
    let d_polar = d_factor * scale * capture_last * omega_first;
    let d_omega = d_factor * scale * capture_last * polar_part;
    geometry_adjoint::<F>(
        theta, consts, partial, &sdx, &sdy, &sdz, d_capture, d_polar, d_omega, omega_first, fast, slow, warp,
        rows, v,
    );
}

/// The factors the forward kernel applies once per pixel (solid angle, capture fraction, Kahn
/// factor, [`lattice_sum`]), recomputed by the forward loop with no cells: `(omega, capture,
/// polar)`, polar 1 with `nopolar`.
#[cube]
fn pixel_factors<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    fast: usize,
    slow: usize,
    #[comptime] v: KernelVariant,
) -> (F, F, F) {
    let tile = tile_scalars::<F>(theta, consts, v.oversample);
    let (_sum, omega_first, capture_last, first_polar) =
        lattice_sum::<F>(theta, consts, &tile, fast, slow, comptime!(v.without_cells()));
    let mut polar_part = first_polar;
    if v.nopolar {
        polar_part = F::new(1.0);
    }
    (omega_first, capture_last, polar_part)
}

/// The lattice terms' adjoint: per source, the scattering vector of every (layer, sub-pixel)
/// once, then the cells (their nine accumulators in registers, [`cell_adjoint`]) over those,
/// summing q̄ per sub-pixel; λ̄ is emitted per source and `d̄ = q̄/λ` added into `sd*`. Returns
/// `Σ F²·F_latt²`, `Σ F_latt²` over the terms that take `default_F`, and the N accumulators.
/// `g2` is `∂(g·value)/∂(F²·F_latt²)·2`, `f2` is `default_F²`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn lattice_adjoint<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    partial: &mut Array<F>,
    grid_grad: &mut Array<Atomic<F>>,
    sdx: &mut Array<F>,
    sdy: &mut Array<F>,
    sdz: &mut Array<F>,
    g2: F,
    f2: F,
    fast: usize,
    slow: usize,
    warp: usize,
    #[comptime] rows: PartialRows,
    #[comptime] v: KernelVariant,
) -> (F, F, F, F, F) {
    let tile = tile_scalars::<F>(theta, consts, v.oversample);
    let radius = consts[C_SLOPE_RADIUS];
    let subs = comptime!(v.layers * v.oversample * v.oversample);
    let per_layer = comptime!(v.oversample * v.oversample);
    let mut qx = Array::<F>::new(subs);
    let mut qy = Array::<F>::new(subs);
    let mut qz = Array::<F>::new(subs);
    let mut on = Array::<F>::new(subs);
    let mut gx = Array::<F>::new(subs);
    let mut gy = Array::<F>::new(subs);
    let mut gz = Array::<F>::new(subs);
    let mut intensity = F::new(0.0);
    let mut default_sum = F::new(0.0);
    let mut a_nx = F::new(0.0);
    let mut a_ny = F::new(0.0);
    let mut a_nz = F::new(0.0);
    for s in 0..v.sources {
        let lambda = theta[Layout::LAMBDA + s];
        for j in 0..subs {
            let (_fc, _sc, _oc, px, py, pz) = position::<F>(
                theta, fast, slow, j / per_layer, j % per_layer, tile.sub, tile.half, tile.layer, v.oversample,
            );
            let r = F::sqrt(px * px + py * py + pz * pz);
            let (x, y, z, active) = scattering::<F>(consts, px, py, pz, r, lambda, tile.dmin, s);
            qx[j] = x;
            qy[j] = y;
            qz[j] = z;
            on[j] = select(active, F::new(1.0), F::new(0.0));
            gx[j] = F::new(0.0);
            gy[j] = F::new(0.0);
            gz[j] = F::new(0.0);
        }
        for k in 0..v.cells {
            let (weighted, unweighted, nx, ny, nz) = cell_adjoint::<F>(
                theta, consts, partial, grid_grad, &qx, &qy, &qz, &on, &mut gx, &mut gy, &mut gz, g2, f2, radius,
                Layout::LAMBDA + v.sources + 9 * k, warp, rows, subs, v,
            );
            intensity += weighted;
            default_sum += unweighted;
            a_nx += nx;
            a_ny += ny;
            a_nz += nz;
        }
        // λ̄ and d̄ = q̄/λ per sub-pixel; d̄ goes on through the geometry.
        let mut a_lambda = F::new(0.0);
        for j in 0..subs {
            a_lambda -= (gx[j] * qx[j] + gy[j] * qy[j] + gz[j] * qz[j]) / lambda;
            sdx[j] += gx[j] / lambda;
            sdy[j] += gy[j] / lambda;
            sdz[j] += gz[j] / lambda;
        }
        emit::<F>(partial, Layout::LAMBDA + s, a_lambda, warp, rows);
    }
    (intensity, default_sum, a_nx, a_ny, a_nz)
}

/// One cell's lattice terms over the sub-pixels of one source (`on`: whether d_min keeps each):
/// the cell's nine matrix accumulators in registers, emitted at the end ([`emit_nine`]); q̄
/// added into `g*`, grid entries' F̄ into `grid_grad`. `c` is the cell's offset in θ. Returns
/// `Σ F²·F_latt²`, `Σ F_latt²` over the terms that take `default_F` (`f2 = default_F²`), and
/// the N accumulators.
#[cube]
#[allow(clippy::too_many_arguments)]
fn cell_adjoint<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    partial: &mut Array<F>,
    grid_grad: &mut Array<Atomic<F>>,
    qx: &Array<F>,
    qy: &Array<F>,
    qz: &Array<F>,
    on: &Array<F>,
    gx: &mut Array<F>,
    gy: &mut Array<F>,
    gz: &mut Array<F>,
    g2: F,
    f2: F,
    radius: F,
    c: usize,
    warp: usize,
    #[comptime] rows: PartialRows,
    #[comptime] subs: usize,
    #[comptime] v: KernelVariant,
) -> (F, F, F, F, F) {
    let na = theta[Layout::N];
    let nb = theta[Layout::N + 1];
    let nc = theta[Layout::N + 2];
    let grid_at = comptime!(v.grid_at());
    let mut weighted_sum = F::new(0.0);
    let mut default_sum = F::new(0.0);
    let mut a_nx = F::new(0.0);
    let mut a_ny = F::new(0.0);
    let mut a_nz = F::new(0.0);
    let mut a_cell0 = F::new(0.0);
    let mut a_cell1 = F::new(0.0);
    let mut a_cell2 = F::new(0.0);
    let mut a_cell3 = F::new(0.0);
    let mut a_cell4 = F::new(0.0);
    let mut a_cell5 = F::new(0.0);
    let mut a_cell6 = F::new(0.0);
    let mut a_cell7 = F::new(0.0);
    let mut a_cell8 = F::new(0.0);
    for j in 0..subs {
        if on[j] > F::new(0.0) {
            // The cell's matrix read here rather than held through the loop (18 registers at
            // f64; the reads hit the cache).
            let (m0, m1, m2) = vec3::<F>(theta, c);
            let (m3, m4, m5) = vec3::<F>(theta, c + 3);
            let (m6, m7, m8) = vec3::<F>(theta, c + 6);
            let x = qx[j];
            let y = qy[j];
            let z = qz[j];
            let h = x * m0 + y * m1 + z * m2;
            let k = x * m3 + y * m4 + z * m5;
            let l = x * m6 + y * m7 + z * m8;
            let (ga, dga_dh, dga_dn) = grating_grad::<F>(h, na, radius, v.double);
            let (gb, dgb_dh, dgb_dn) = grating_grad::<F>(k, nb, radius, v.double);
            let (gc, dgc_dh, dgc_dn) = grating_grad::<F>(l, nc, radius, v.double);
            let f_latt = ga * gb * gc;
            let latt2 = f_latt * f_latt;
            let mut f2_term = f2;
            if v.grid {
                let (f, inside, flat) = structure_factor::<F>(theta, consts, h, k, l, theta[Layout::DEFAULT_F], grid_at);
                f2_term = f * f;
                weighted_sum += f2_term * latt2;
                if inside {
                    grid_grad[flat].fetch_add(g2 * f * latt2);
                } else {
                    default_sum += latt2;
                }
            } else {
                default_sum += latt2;
            }
            let d_latt = g2 * f2_term * f_latt;
            let oa = gb * gc;
            let ob = ga * gc;
            let oc2 = ga * gb;
            a_nx += d_latt * oa * dga_dn;
            a_ny += d_latt * ob * dgb_dn;
            a_nz += d_latt * oc2 * dgc_dn;
            let dh0 = d_latt * oa * dga_dh;
            let dh1 = d_latt * ob * dgb_dh;
            let dh2 = d_latt * oc2 * dgc_dh;
            a_cell0 += dh0 * x;
            a_cell1 += dh0 * y;
            a_cell2 += dh0 * z;
            a_cell3 += dh1 * x;
            a_cell4 += dh1 * y;
            a_cell5 += dh1 * z;
            a_cell6 += dh2 * x;
            a_cell7 += dh2 * y;
            a_cell8 += dh2 * z;
            gx[j] += dh0 * m0 + dh1 * m3 + dh2 * m6;
            gy[j] += dh0 * m1 + dh1 * m4 + dh2 * m7;
            gz[j] += dh0 * m2 + dh1 * m5 + dh2 * m8;
        }
    }
    emit_nine::<F>(
        partial, c, a_cell0, a_cell1, a_cell2, a_cell3, a_cell4, a_cell5, a_cell6, a_cell7, a_cell8, warp, rows,
    );
    if !v.grid {
        weighted_sum = f2 * default_sum;
    }
    (weighted_sum, default_sum, a_nx, a_ny, a_nz)
}

/// The geometry's adjoint, once per sub-pixel: `d̄` from the lattice terms (`sd*`) plus the
/// once-per-pixel factors' adjoints (solid angle, capture fraction, Kahn factor, from their
/// upstream gradients `d_omega`, `d_capture`, `d_polar`), through `d = p/r` and
/// `p = pix0 + f·fdet + s·sdet + o·odet` into θ's detector entries, emitted at the end.
#[cube]
#[allow(clippy::too_many_arguments)]
fn geometry_adjoint<F: Float>(
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
    #[comptime] rows: PartialRows,
    #[comptime] v: KernelVariant,
) {
    let tile = tile_scalars::<F>(theta, consts, v.oversample);
    let pixel = tile.pixel;
    let layer = tile.layer;
    let per_layer = comptime!(v.oversample * v.oversample);
    let (ox, oy, oz) = vec3::<F>(theta, Layout::ODET);
    let mut a_pix0x = F::new(0.0);
    let mut a_pix0y = F::new(0.0);
    let mut a_pix0z = F::new(0.0);
    let mut a_fdetx = F::new(0.0);
    let mut a_fdety = F::new(0.0);
    let mut a_fdetz = F::new(0.0);
    let mut a_sdetx = F::new(0.0);
    let mut a_sdety = F::new(0.0);
    let mut a_sdetz = F::new(0.0);
    let mut a_odetx = F::new(0.0);
    let mut a_odety = F::new(0.0);
    let mut a_odetz = F::new(0.0);
    let mut a_pixel = F::new(0.0);
    let mut a_layer = F::new(0.0);
    let mut a_close = F::new(0.0);
    let mut a_mu = F::new(0.0);
    let mut a_polar_k = F::new(0.0);
    let mut polar_done = false;
    for t in 0..v.layers {
        for o in 0..per_layer {
            let (fc, sc, oc, px, py, pz) =
                position::<F>(theta, fast, slow, t, o, tile.sub, tile.half, layer, v.oversample);
            let (r, dx, dy, dz) = direction::<F>(px, py, pz);
            let mut ddx = sdx[t * per_layer + o];
            let mut ddy = sdy[t * per_layer + o];
            let mut ddz = sdz[t * per_layer + o];
            let mut dr = F::new(0.0);
            if t == 0 && o == 0 {
                let (d_pixel, d_close, d_r) = omega_adjoint::<F>(r, pixel, tile.close, omega_first, d_omega, v.point_pixel);
                a_pixel += d_pixel;
                a_close += d_close;
                dr = d_r;
            }
            if v.thick {
                if t + 1 == v.layers && o == 0 {
                    let rho = dx * ox + dy * oy + dz * oz;
                    let (d_layer, d_mu, drho) = capture_adjoint::<F>(t, rho, layer, tile.mu, d_capture);
                    a_layer += d_layer;
                    a_mu += d_mu;
                    ddx += drho * ox;
                    ddy += drho * oy;
                    ddz += drho * oz;
                    a_odetx += drho * dx;
                    a_odety += drho * dy;
                    a_odetz += drho * dz;
                }
            }
            for s in 0..v.sources {
                if !v.nopolar {
                    if !polar_done {
                        let (_qx, _qy, _qz, active) =
                            scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], tile.dmin, s);
                        if active {
                            let (d_k, kx, ky, kz) = kahn_adjoint::<F>(consts, s, dx, dy, dz, tile.polar_k, d_polar);
                            a_polar_k += d_k;
                            ddx += kx;
                            ddy += ky;
                            ddz += kz;
                            polar_done = true;
                        }
                    }
                }
            }
            // d = p/r: p̄ = (d̄ − d(d·d̄))/r + r̄·d; then p = pix0 + f·fdet + s·sdet + o·odet.
            let along = dx * ddx + dy * ddy + dz * ddz;
            let dpx = (ddx - dx * along) / r + dr * dx;
            let dpy = (ddy - dy * along) / r + dr * dy;
            let dpz = (ddz - dz * along) / r + dr * dz;
            a_pix0x += dpx;
            a_pix0y += dpy;
            a_pix0z += dpz;
            a_fdetx += fc * dpx;
            a_fdety += fc * dpy;
            a_fdetz += fc * dpz;
            a_sdetx += sc * dpx;
            a_sdety += sc * dpy;
            a_sdetz += sc * dpz;
            a_odetx += oc * dpx;
            a_odety += oc * dpy;
            a_odetz += oc * dpz;
            let along_f = theta[Layout::FDET] * dpx + theta[Layout::FDET + 1] * dpy + theta[Layout::FDET + 2] * dpz;
            let along_s = theta[Layout::SDET] * dpx + theta[Layout::SDET + 1] * dpy + theta[Layout::SDET + 2] * dpz;
            a_pixel += along_f * (fc / pixel) + along_s * (sc / pixel);
            a_layer += (ox * dpx + oy * dpy + oz * dpz) * F::cast_from(t);
        }
    }
    emit::<F>(partial, Layout::PIX0, a_pix0x, warp, rows);
    emit::<F>(partial, Layout::PIX0 + 1, a_pix0y, warp, rows);
    emit::<F>(partial, Layout::PIX0 + 2, a_pix0z, warp, rows);
    emit::<F>(partial, Layout::FDET, a_fdetx, warp, rows);
    emit::<F>(partial, Layout::FDET + 1, a_fdety, warp, rows);
    emit::<F>(partial, Layout::FDET + 2, a_fdetz, warp, rows);
    emit::<F>(partial, Layout::SDET, a_sdetx, warp, rows);
    emit::<F>(partial, Layout::SDET + 1, a_sdety, warp, rows);
    emit::<F>(partial, Layout::SDET + 2, a_sdetz, warp, rows);
    emit::<F>(partial, Layout::ODET, a_odetx, warp, rows);
    emit::<F>(partial, Layout::ODET + 1, a_odety, warp, rows);
    emit::<F>(partial, Layout::ODET + 2, a_odetz, warp, rows);
    emit::<F>(partial, Layout::CLOSE, a_close, warp, rows);
    emit::<F>(partial, Layout::PIXEL, a_pixel, warp, rows);
    emit::<F>(partial, Layout::LAYER, a_layer, warp, rows);
    emit::<F>(partial, Layout::MU, a_mu, warp, rows);
    emit::<F>(partial, Layout::POLAR_K, a_polar_k, warp, rows);
}
