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

use super::geometry::{capture, kahn, position, scattering, series_coefficients, solid_angle};
use super::{sin_cos_small, C_DMIN, C_SLOPE_RADIUS, C_SOURCES};
use crate::kernel::Layout;
use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// `sin(Nπh)/sin(πh)` on reduced arguments with `∂/∂h` and `∂/∂N` (the CPU's lane version),
/// up to a sign that F_latt² and its slopes do not see (`(−1)^round(Nf)` of the reduced sine and
/// the whole part's sign: the value and both slopes carry it alike). The series near a peak's
/// centre runs only for the units that need it (rare: a warp pays for it only when one of its
/// units is there).
#[cube]
#[allow(clippy::too_many_arguments)]
fn grating_grad<F: Float>(h: F, n: F, radius: F, #[comptime] double: bool) -> (F, F, F) {
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

/// Add `value` summed over the plane (warp) into entry `row` of the warp's row of `partial`
/// (`[warps, rows]`); every unit of the plane must call it (uniform control flow).
#[cube]
fn emit<F: Float>(
    partial: &mut Array<F>,
    row: usize,
    value: F,
    warp: usize,
    #[comptime] rows: usize,
    #[comptime] warps: usize,
) {
    let total = plane_sum(value);
    if UNIT_POS_PLANE == 0 && warp < warps {
        partial[warp * rows + row] += total;
    }
}

/// One step of a reduce-scatter over the plane: of each pair of units `mask` apart, the lower
/// keeps `lo` and the upper keeps `hi`, each adding the partner's copy of the value it keeps
/// (one shuffle for both values). `hi` is zero where the upper unit has no value to keep.
#[cube]
fn fold<F: Float>(lo: F, hi: F, #[comptime] mask: u32) -> F {
    let upper = (UNIT_POS_PLANE & mask) != 0u32;
    let keep = select(upper, hi, lo);
    let send = select(upper, lo, hi);
    keep + plane_shuffle_xor(send, mask)
}

/// Add nine values, each summed over the plane, into entries `row..row + 9` of the warp's row
/// of `partial`. A reduce-scatter: halving steps of 16, 8, 4, 2 and 1 units leave value
/// `5·b₄ + 3·b₃ + 2·b₂ + b₁` (b the unit's lane bits) summed in units with b₀ = 0 whose slot
/// existed at every step; 12 shuffles where nine plane sums take 45. Every unit of the plane
/// must call it.
#[cube]
#[allow(clippy::too_many_arguments)]
fn emit_nine<F: Float>(
    partial: &mut Array<F>,
    row: usize,
    a0: F,
    a1: F,
    a2: F,
    a3: F,
    a4: F,
    a5: F,
    a6: F,
    a7: F,
    a8: F,
    warp: usize,
    #[comptime] rows: usize,
    #[comptime] warps: usize,
) {
    let zero = F::new(0.0);
    // Nine slots to five (pairs (j, j + 5)), five to three (j, j + 3), three to two (j, j + 2),
    // two to one, then the last pair's sum.
    let b0 = fold::<F>(a0, a5, 16u32);
    let b1 = fold::<F>(a1, a6, 16u32);
    let b2 = fold::<F>(a2, a7, 16u32);
    let b3 = fold::<F>(a3, a8, 16u32);
    let b4 = fold::<F>(a4, zero, 16u32);
    let c0 = fold::<F>(b0, b3, 8u32);
    let c1 = fold::<F>(b1, b4, 8u32);
    let c2 = fold::<F>(b2, zero, 8u32);
    let d0 = fold::<F>(c0, c2, 4u32);
    let d1 = fold::<F>(c1, zero, 4u32);
    let e0 = fold::<F>(d0, d1, 2u32);
    let total = e0 + plane_shuffle_xor(e0, 1u32);
    // The slot a unit holds, traced back through the steps (3 and 5 slots before the 4- and
    // 8-unit steps, 9 before the first).
    let lane = UNIT_POS_PLANE;
    let at4 = ((lane >> 1u32) & 1u32) + 2u32 * ((lane >> 2u32) & 1u32);
    let at8 = at4 + 3u32 * ((lane >> 3u32) & 1u32);
    let at16 = at8 + 5u32 * ((lane >> 4u32) & 1u32);
    if (lane & 1u32) == 0u32 && at4 < 3u32 && at8 < 5u32 && at16 < 9u32 && warp < warps {
        partial[warp * rows + row + at16 as usize] += total;
    }
}

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
    let scale = theta[Layout::SCALE];
    let radius = consts[C_SLOPE_RADIUS];
    let dmin = consts[C_DMIN];
    let cells_at = Layout::LAMBDA + sources;
    let f2 = default_f * default_f;

    // The factors applied once per pixel (geometry only).
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
                omega_first = solid_angle::<F>(r, pixel, close, point_pixel);
            }
            if thick {
                if t + 1 == layers && o == 0 {
                    capture_last = capture::<F>(theta, t, dx, dy, dz, layer * mu);
                }
            }
            for s in 0..sources {
                let (_qx, _qy, _qz, active) =
                    scattering::<F>(consts, px, py, pz, r, theta[Layout::LAMBDA + s], dmin, s);
                if active && !have_polar {
                    first_polar = kahn::<F>(consts, s, dx, dy, dz, polar_k);
                    have_polar = true;
                }
            }
        }
    }
    let mut polar_part = first_polar;
    if nopolar {
        polar_part = F::new(1.0);
    }
    let big_g = g * scale * capture_last * omega_first * polar_part;

    let mut a_nx = F::new(0.0);
    let mut a_ny = F::new(0.0);
    let mut a_nz = F::new(0.0);
    let mut lattice_sum = F::new(0.0);
    // ∂(g·value)/∂F_latt = G·2F²·F_latt (and ∂/∂default_F = G·2F·Σ F_latt², after the loop).
    let g2f2 = big_g * F::new(2.0) * f2;

    // Per source: the scattering vector of every (layer, sub-pixel) once, then the cells (their
    // nine accumulators in registers) over those, summing q̄ per sub-pixel; then q̄ back
    // through the geometry once per sub-pixel.
    let subs = comptime!(layers * oversample * oversample);
    let per_layer = comptime!(oversample * oversample);
    let mut qx = Array::<F>::new(subs);
    let mut qy = Array::<F>::new(subs);
    let mut qz = Array::<F>::new(subs);
    let mut on = Array::<F>::new(subs);
    let mut gx = Array::<F>::new(subs);
    let mut gy = Array::<F>::new(subs);
    let mut gz = Array::<F>::new(subs);
    // d̄ per sub-pixel, summed over sources.
    let mut sdx = Array::<F>::new(subs);
    let mut sdy = Array::<F>::new(subs);
    let mut sdz = Array::<F>::new(subs);
    for j in 0..subs {
        sdx[j] = F::new(0.0);
        sdy[j] = F::new(0.0);
        sdz[j] = F::new(0.0);
    }
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
            let c = cells_at + 9 * k;
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
                    // The cell's matrix read here rather than held through the loop (18
                    // registers at f64; the reads hit the cache).
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
                    let h = x * m0 + y * m1 + z * m2;
                    let kk = x * m3 + y * m4 + z * m5;
                    let l = x * m6 + y * m7 + z * m8;
                    let (ga, dga_dh, dga_dn) = grating_grad::<F>(h, na, radius, double);
                    let (gb, dgb_dh, dgb_dn) = grating_grad::<F>(kk, nb, radius, double);
                    let (gc, dgc_dh, dgc_dn) = grating_grad::<F>(l, nc, radius, double);
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
                partial, c, a_cell0, a_cell1, a_cell2, a_cell3, a_cell4, a_cell5, a_cell6, a_cell7, a_cell8, warp,
                rows, warps,
            );
        }
        // λ̄ and d̄ = q̄/λ per sub-pixel; d̄ goes on through the geometry below.
        let mut a_lambda = F::new(0.0);
        for j in 0..subs {
            a_lambda -= (gx[j] * qx[j] + gy[j] * qy[j] + gz[j] * qz[j]) / lambda;
            sdx[j] += gx[j] / lambda;
            sdy[j] += gy[j] / lambda;
            sdz[j] += gz[j] / lambda;
        }
        emit::<F>(partial, Layout::LAMBDA + s, a_lambda, warp, rows, warps);
    }

    // Accumulators of θ's geometry entries and the detector vectors, declared after the cell
    // loop so that they hold no registers through it.
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
    let ox = theta[Layout::ODET];
    let oy = theta[Layout::ODET + 1];
    let oz = theta[Layout::ODET + 2];
    let fx = theta[Layout::FDET];
    let fy = theta[Layout::FDET + 1];
    let fz = theta[Layout::FDET + 2];
    let sx = theta[Layout::SDET];
    let sy = theta[Layout::SDET + 1];
    let sz = theta[Layout::SDET + 2];

    let a_default = big_g * F::new(2.0) * default_f * lattice_sum;

    // The per-pixel factors: value = (F²·Σ F_latt² + I_bg)·scale·capture·polar·omega.
    let intensity = f2 * lattice_sum + theta[Layout::I_BG];
    let d_factor = g * intensity;
    let a_scale = d_factor * capture_last * polar_part * omega_first;
    let d_capture = d_factor * scale * polar_part * omega_first;
    let d_polar = d_factor * scale * capture_last * omega_first;
    let d_omega = d_factor * scale * capture_last * polar_part;
    let mut a_close = F::new(0.0);
    let mut a_mu = F::new(0.0);
    let mut a_polar_k = F::new(0.0);
    let mut polar_done = false;
    for t in 0..layers {
        for o in 0..oversample * oversample {
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
                let r3 = r * r * r;
                if point_pixel {
                    dr += d_omega * F::new(-2.0) / r3;
                } else {
                    a_pixel += d_omega * F::new(2.0) * pixel * close / r3;
                    a_close += d_omega * pixel * pixel / r3;
                    dr += d_omega * F::new(-3.0) * omega_first / r;
                }
            }
            if thick {
                if t + 1 == layers && o == 0 {
                    let rho = dx * ox + dy * oy + dz * oz;
                    let ms = layer * mu;
                    let ti = F::cast_from(t);
                    let ea = F::exp(-(ti * ms / rho));
                    let eb = F::exp(-((ti + F::new(1.0)) * ms / rho));
                    let dms = d_capture * ((ti + F::new(1.0)) / rho * eb - ti / rho * ea);
                    let drho = d_capture * ms / (rho * rho) * (ti * ea - (ti + F::new(1.0)) * eb);
                    a_layer += dms * mu;
                    a_mu += dms * layer;
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
                            let at = C_SOURCES + 9 * s;
                            let ix = consts[at];
                            let iy = consts[at + 1];
                            let iz = consts[at + 2];
                            let ex = consts[at + 3];
                            let ey = consts[at + 4];
                            let ez = consts[at + 5];
                            let bx = consts[at + 6];
                            let by = consts[at + 7];
                            let bz = consts[at + 8];
                            let c2 = ix * dx + iy * dy + iz * dz;
                            let e = dx * ex + dy * ey + dz * ez;
                            let b = dx * bx + dy * by + dz * bz;
                            a_polar_k -= F::new(0.5) * d_polar * (e * e - b * b);
                            ddx += d_polar * (c2 * ix - polar_k * (e * ex - b * bx));
                            ddy += d_polar * (c2 * iy - polar_k * (e * ey - b * by));
                            ddz += d_polar * (c2 * iz - polar_k * (e * ez - b * bz));
                            polar_done = true;
                        }
                    }
                }
            }
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
            a_pixel +=
                (fx * dpx + fy * dpy + fz * dpz) * (fc / pixel) + (sx * dpx + sy * dpy + sz * dpz) * (sc / pixel);
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
    emit::<F>(partial, Layout::N, a_nx, warp, rows, warps);
    emit::<F>(partial, Layout::N + 1, a_ny, warp, rows, warps);
    emit::<F>(partial, Layout::N + 2, a_nz, warp, rows, warps);
    emit::<F>(partial, Layout::DEFAULT_F, a_default, warp, rows, warps);
    emit::<F>(partial, Layout::SCALE, a_scale, warp, rows, warps);
    emit::<F>(partial, Layout::I_BG, big_g, warp, rows, warps);
}
