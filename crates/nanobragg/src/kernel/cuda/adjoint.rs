//! The backward pass of the CUDA forward kernel: one GPU thread per pixel recomputes its pixel
//! and accumulates `∂(g·value)/∂θ` for the pixel's upstream gradient g in registers; each entry
//! is summed over the warp and added into the warp's row of a zeroed `[warps, len θ]`
//! buffer; the launcher sums the rows. A cell's nine matrix entries are summed together by one
//! reduce-scatter ([`emit_nine`]), the other entries by plane sums.
//!
//! The math is the CPU adjoint's ([`crate::kernel::cpu::adjoint`]) for the scenes the forward
//! kernel covers (SQUARE lattice, `default_F`, factors once per pixel):
//! - terms `F²·F_latt²` with `F_latt = g_a·g_b·g_c`, `g = sin(Nπh)/sin(πh)` (series near the
//!   peak centre); `h = A_k·q`: `Ā_k += h̄ qᵀ`, `q̄ += A_kᵀ h̄`;
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

use super::geometry::{
    capture, capture_adjoint, kahn, kahn_adjoint, omega_adjoint, position, scattering, solid_angle,
};
use super::plane::{emit, emit_nine};
use super::grating::grating_grad;
use super::{C_DMIN, C_SLOPE_RADIUS};
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub(super) fn adjoint_kernel<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    grad: &Array<F>,
    partial: &mut Array<F>,
    #[comptime] first: usize,
    #[comptime] offset: usize,
    #[comptime] count: usize,
    #[comptime] rows: usize,
    #[comptime] warps: usize,
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
    // Every unit runs to the end (the plane sums need the whole plane); units past the last
    // pixel repeat it with a zero upstream gradient.
    let i = ABSOLUTE_POS;
    let warp = i / 32;
    let mut at = i;
    if i >= count {
        at = count - 1;
    }
    let g = select(i < count, grad[offset + at], F::new(0.0));
    let p = first + offset + at;
    let fast = p % fpixels;
    let slow = p / fpixels;
    let default_f = theta[Layout::DEFAULT_F];
    let scale = theta[Layout::SCALE];
    let f2 = default_f * default_f;

    let (omega_first, capture_last, polar_part) =
        pixel_factors::<F>(theta, consts, fast, slow, oversample, layers, sources, thick, point_pixel, nopolar);
    let big_g = g * scale * capture_last * omega_first * polar_part;

    // d̄ per sub-pixel, summed over sources, from the lattice terms.
    let subs = comptime!(layers * oversample * oversample);
    let mut sdx = Array::<F>::new(subs);
    let mut sdy = Array::<F>::new(subs);
    let mut sdz = Array::<F>::new(subs);
    for j in 0..subs {
        sdx[j] = F::new(0.0);
        sdy[j] = F::new(0.0);
        sdz[j] = F::new(0.0);
    }
    // ∂(g·value)/∂F_latt = G·2F²·F_latt (and ∂/∂default_F = G·2F·Σ F_latt², after the loop).
    let (lattice_sum, a_nx, a_ny, a_nz) = lattice_adjoint::<F>(
        theta, consts, partial, &mut sdx, &mut sdy, &mut sdz, big_g * F::new(2.0) * f2, fast, slow, warp,
        rows, warps, oversample, layers, sources, cells, double,
    );
    emit::<F>(partial, Layout::N, a_nx, warp, rows, warps);
    emit::<F>(partial, Layout::N + 1, a_ny, warp, rows, warps);
    emit::<F>(partial, Layout::N + 2, a_nz, warp, rows, warps);
    emit::<F>(partial, Layout::DEFAULT_F, big_g * F::new(2.0) * default_f * lattice_sum, warp, rows, warps);
    emit::<F>(partial, Layout::I_BG, big_g, warp, rows, warps);

    // The per-pixel factors: value = (F²·Σ F_latt² + I_bg)·scale·capture·polar·omega.
    let d_factor = g * (f2 * lattice_sum + theta[Layout::I_BG]);
    emit::<F>(partial, Layout::SCALE, d_factor * capture_last * polar_part * omega_first, warp, rows, warps);
    let d_capture = d_factor * scale * polar_part * omega_first;
    let d_polar = d_factor * scale * capture_last * omega_first;
    let d_omega = d_factor * scale * capture_last * polar_part;
    geometry_adjoint::<F>(
        theta, consts, partial, &sdx, &sdy, &sdz, d_capture, d_polar, d_omega, omega_first, fast, slow, warp,
        rows, warps, oversample, layers, sources, thick, point_pixel, nopolar,
    );
}

/// The factors the forward kernel applies once per pixel: the solid angle of the first
/// sub-pixel, the capture fraction of the last layer's first sub-pixel, and the Kahn factor of
/// the first evaluation that runs (1 with `nopolar`).
#[cube]
#[allow(clippy::too_many_arguments)]
fn pixel_factors<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    fast: usize,
    slow: usize,
    #[comptime] oversample: usize,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] thick: bool,
    #[comptime] point_pixel: bool,
    #[comptime] nopolar: bool,
) -> (F, F, F) {
    let pixel = theta[Layout::PIXEL];
    let sub = pixel / F::cast_from(oversample);
    let half = sub * F::new(0.5);
    let layer = theta[Layout::LAYER];
    let dmin = consts[C_DMIN];
    let mut first_polar = F::new(0.0);
    let mut have_polar = false;
    let mut omega_first = F::new(0.0);
    let mut capture_last = F::new(1.0);
    for t in 0..layers {
        for o in 0..oversample * oversample {
            let (_fc, _sc, _oc, px, py, pz) = position::<F>(theta, fast, slow, t, o, sub, half, layer, oversample);
            let r = F::sqrt(px * px + py * py + pz * pz);
            let dx = px / r;
            let dy = py / r;
            let dz = pz / r;
            if t == 0 && o == 0 {
                omega_first = solid_angle::<F>(r, pixel, theta[Layout::CLOSE], point_pixel);
            }
            if thick {
                if t + 1 == layers && o == 0 {
                    capture_last = capture::<F>(theta, t, dx, dy, dz, layer * theta[Layout::MU]);
                }
            }
            for s in 0..sources {
                let (_qx, _qy, _qz, active) =
                    scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], dmin, s);
                if active && !have_polar {
                    first_polar = kahn::<F>(consts, s, dx, dy, dz, theta[Layout::POLAR_K]);
                    have_polar = true;
                }
            }
        }
    }
    let mut polar_part = first_polar;
    if nopolar {
        polar_part = F::new(1.0);
    }
    (omega_first, capture_last, polar_part)
}

/// The lattice terms' adjoint: per source, the scattering vector of every (layer, sub-pixel)
/// once, then the cells (their nine accumulators in registers, [`cell_adjoint`]) over those,
/// summing q̄ per sub-pixel; λ̄ is emitted per source and `d̄ = q̄/λ` added into `sd*`. Returns
/// `Σ F_latt²` and the N accumulators. `g2f2` is `∂(g·value)/∂F_latt / F_latt`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn lattice_adjoint<F: Float>(
    theta: &Array<F>,
    consts: &Array<F>,
    partial: &mut Array<F>,
    sdx: &mut Array<F>,
    sdy: &mut Array<F>,
    sdz: &mut Array<F>,
    g2f2: F,
    fast: usize,
    slow: usize,
    warp: usize,
    #[comptime] rows: usize,
    #[comptime] warps: usize,
    #[comptime] oversample: usize,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] cells: usize,
    #[comptime] double: bool,
) -> (F, F, F, F) {
    let sub = theta[Layout::PIXEL] / F::cast_from(oversample);
    let half = sub * F::new(0.5);
    let layer = theta[Layout::LAYER];
    let dmin = consts[C_DMIN];
    let radius = consts[C_SLOPE_RADIUS];
    let subs = comptime!(layers * oversample * oversample);
    let per_layer = comptime!(oversample * oversample);
    let mut qx = Array::<F>::new(subs);
    let mut qy = Array::<F>::new(subs);
    let mut qz = Array::<F>::new(subs);
    let mut on = Array::<F>::new(subs);
    let mut gx = Array::<F>::new(subs);
    let mut gy = Array::<F>::new(subs);
    let mut gz = Array::<F>::new(subs);
    let mut lattice_sum = F::new(0.0);
    let mut a_nx = F::new(0.0);
    let mut a_ny = F::new(0.0);
    let mut a_nz = F::new(0.0);
    for s in 0..sources {
        let lambda = theta[Layout::LAMBDA + s];
        for j in 0..subs {
            let (_fc, _sc, _oc, px, py, pz) =
                position::<F>(theta, fast, slow, j / per_layer, j % per_layer, sub, half, layer, oversample);
            let r = F::sqrt(px * px + py * py + pz * pz);
            let (x, y, z, active) = scattering::<F>(consts, px, py, pz, r, lambda, dmin, s);
            qx[j] = x;
            qy[j] = y;
            qz[j] = z;
            on[j] = select(active, F::new(1.0), F::new(0.0));
            gx[j] = F::new(0.0);
            gy[j] = F::new(0.0);
            gz[j] = F::new(0.0);
        }
        for k in 0..cells {
            let (sum, nx, ny, nz) = cell_adjoint::<F>(
                theta, partial, &qx, &qy, &qz, &on, &mut gx, &mut gy, &mut gz, g2f2, radius, Layout::LAMBDA + sources + 9 * k,
                warp, rows, warps, subs, double,
            );
            lattice_sum += sum;
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
        emit::<F>(partial, Layout::LAMBDA + s, a_lambda, warp, rows, warps);
    }
    (lattice_sum, a_nx, a_ny, a_nz)
}

/// One cell's lattice terms over the sub-pixels of one source (`on`: whether d_min keeps each):
/// the cell's nine matrix accumulators in registers, emitted at the end ([`emit_nine`]); q̄
/// added into `g*`. `c` is the cell's offset in θ. Returns `Σ F_latt²` and the N accumulators.
#[cube]
#[allow(clippy::too_many_arguments)]
fn cell_adjoint<F: Float>(
    theta: &Array<F>,
    partial: &mut Array<F>,
    qx: &Array<F>,
    qy: &Array<F>,
    qz: &Array<F>,
    on: &Array<F>,
    gx: &mut Array<F>,
    gy: &mut Array<F>,
    gz: &mut Array<F>,
    g2f2: F,
    radius: F,
    c: usize,
    warp: usize,
    #[comptime] rows: usize,
    #[comptime] warps: usize,
    #[comptime] subs: usize,
    #[comptime] double: bool,
) -> (F, F, F, F) {
    let na = theta[Layout::N];
    let nb = theta[Layout::N + 1];
    let nc = theta[Layout::N + 2];
    let mut lattice_sum = F::new(0.0);
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
            let m0 = theta[c];
            let m1 = theta[c + 1];
            let m2 = theta[c + 2];
            let m3 = theta[c + 3];
            let m4 = theta[c + 4];
            let m5 = theta[c + 5];
            let m6 = theta[c + 6];
            let m7 = theta[c + 7];
            let m8 = theta[c + 8];
            let x = qx[j];
            let y = qy[j];
            let z = qz[j];
            let (ga, dga_dh, dga_dn) = grating_grad::<F>(x * m0 + y * m1 + z * m2, na, radius, double);
            let (gb, dgb_dh, dgb_dn) = grating_grad::<F>(x * m3 + y * m4 + z * m5, nb, radius, double);
            let (gc, dgc_dh, dgc_dn) = grating_grad::<F>(x * m6 + y * m7 + z * m8, nc, radius, double);
            let f_latt = ga * gb * gc;
            lattice_sum += f_latt * f_latt;
            let d_latt = g2f2 * f_latt;
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
        warps,
    );
    (lattice_sum, a_nx, a_ny, a_nz)
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
    #[comptime] rows: usize,
    #[comptime] warps: usize,
    #[comptime] oversample: usize,
    #[comptime] layers: usize,
    #[comptime] sources: usize,
    #[comptime] thick: bool,
    #[comptime] point_pixel: bool,
    #[comptime] nopolar: bool,
) {
    let pixel = theta[Layout::PIXEL];
    let close = theta[Layout::CLOSE];
    let sub = pixel / F::cast_from(oversample);
    let half = sub * F::new(0.5);
    let layer = theta[Layout::LAYER];
    let mu = theta[Layout::MU];
    let dmin = consts[C_DMIN];
    let polar_k = theta[Layout::POLAR_K];
    let per_layer = comptime!(oversample * oversample);
    let ox = theta[Layout::ODET];
    let oy = theta[Layout::ODET + 1];
    let oz = theta[Layout::ODET + 2];
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
    for t in 0..layers {
        for o in 0..per_layer {
            let (fc, sc, oc, px, py, pz) = position::<F>(theta, fast, slow, t, o, sub, half, layer, oversample);
            let r = F::sqrt(px * px + py * py + pz * pz);
            let dx = px / r;
            let dy = py / r;
            let dz = pz / r;
            let mut ddx = sdx[t * per_layer + o];
            let mut ddy = sdy[t * per_layer + o];
            let mut ddz = sdz[t * per_layer + o];
            let mut dr = F::new(0.0);
            if t == 0 && o == 0 {
                let (d_pixel, d_close, d_r) = omega_adjoint::<F>(r, pixel, close, omega_first, d_omega, point_pixel);
                a_pixel += d_pixel;
                a_close += d_close;
                dr = d_r;
            }
            if thick {
                if t + 1 == layers && o == 0 {
                    let (d_layer, d_mu, drho) = capture_adjoint::<F>(t, dx * ox + dy * oy + dz * oz, layer, mu, d_capture);
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
            for s in 0..sources {
                if !nopolar {
                    if !polar_done {
                        let (_qx, _qy, _qz, active) =
                            scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], dmin, s);
                        if active {
                            let (d_k, kx, ky, kz) = kahn_adjoint::<F>(consts, s, dx, dy, dz, polar_k, d_polar);
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
    emit::<F>(partial, Layout::PIX0, a_pix0x, warp, rows, warps);
    emit::<F>(partial, Layout::PIX0 + 1, a_pix0y, warp, rows, warps);
    emit::<F>(partial, Layout::PIX0 + 2, a_pix0z, warp, rows, warps);
    emit::<F>(partial, Layout::FDET, a_fdetx, warp, rows, warps);
    emit::<F>(partial, Layout::FDET + 1, a_fdety, warp, rows, warps);
    emit::<F>(partial, Layout::FDET + 2, a_fdetz, warp, rows, warps);
    emit::<F>(partial, Layout::SDET, a_sdetx, warp, rows, warps);
    emit::<F>(partial, Layout::SDET + 1, a_sdety, warp, rows, warps);
    emit::<F>(partial, Layout::SDET + 2, a_sdetz, warp, rows, warps);
    emit::<F>(partial, Layout::ODET, a_odetx, warp, rows, warps);
    emit::<F>(partial, Layout::ODET + 1, a_odety, warp, rows, warps);
    emit::<F>(partial, Layout::ODET + 2, a_odetz, warp, rows, warps);
    emit::<F>(partial, Layout::CLOSE, a_close, warp, rows, warps);
    emit::<F>(partial, Layout::PIXEL, a_pixel, warp, rows, warps);
    emit::<F>(partial, Layout::LAYER, a_layer, warp, rows, warps);
    emit::<F>(partial, Layout::MU, a_mu, warp, rows, warps);
    emit::<F>(partial, Layout::POLAR_K, a_polar_k, warp, rows, warps);
}
