//! Vectorised backward pass for the scenes [`super::batch`] covers (SQUARE lattice, F from
//! `default_F` or the nearest grid entry, factors once per pixel), in f64.
//!
//! Per chunk of pixels: the scalar geometry of every evaluation is recomputed and its scattering
//! vector stored in lanes with its upstream weight `G = ∂L/∂value·factor`; then, cell by cell, a
//! branch-free block loop evaluates F_latt with its derivatives in h, k, l and N and accumulates
//! `∂L/∂(cell)`, `∂L/∂N`, `∂L/∂default_F` and each evaluation's `q̄`; finally `q̄` and the
//! per-pixel factors go back through the scalar adjoints of [`super::adjoint`].

use super::adjoint::{scatter_adjoint, subpixel_adjoint};
use super::batch::LANES;
use super::factors::{grid_entry, parity_sign, series_coefficient_slopes, series_coefficients};
use super::pixel::{scatter, subpixel, Scatter, SubPixel};
use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::{Layout, TileSpec};
use std::f64::consts::PI;

/// One (pixel, layer, sub-pixel, source) evaluation that ran.
struct Evaluation {
    pixel: usize,
    sub: usize,
    source: usize,
    scatter: Scatter<f64>,
}

/// Adjoint of the pixels `pixels` (upstream gradients `grad`) added into `acc`. The geometry and
/// its adjoints run in f64 (`x`); the per-cell lane loop runs in the render's float type (`xt`),
/// its partial sums collected in f64 per chunk.
pub fn chunk<T: Real>(
    pixels: &[usize],
    grad: &[f64],
    x: &Inputs<f64>,
    xt: &Inputs<T>,
    spec: &TileSpec,
    acc: &mut [f64],
) {
    let layout = spec.layout();
    let no = spec.oversample * spec.oversample;
    let per_pixel_subs = spec.layers * no;
    let mut subs: Vec<SubPixel<f64>> = Vec::with_capacity(pixels.len() * per_pixel_subs);
    let mut evals: Vec<Evaluation> = Vec::new();
    let mut parts = Vec::with_capacity(pixels.len());
    let mut firsts = Vec::with_capacity(pixels.len());
    for (i, &p) in pixels.iter().enumerate() {
        let mut first = None;
        for t in 0..spec.layers {
            for o in 0..no {
                let g = subpixel(p, t, o, x, spec);
                let sub = subs.len();
                subs.push(g);
                for s in 0..x.lambda.len() {
                    let sc = scatter(&g, s, x, spec);
                    if sc.active {
                        first.get_or_insert(evals.len());
                        evals.push(Evaluation { pixel: i, sub, source: s, scatter: sc });
                    }
                }
            }
        }
        let base = i * per_pixel_subs;
        let capture_last = subs[base + (spec.layers - 1) * no].capture;
        let polar = match (spec.nopolar, first) {
            (true, _) => 1.0,
            (false, Some(e)) => evals[e].scatter.polar,
            (false, None) => 0.0,
        };
        parts.push([capture_last, polar, subs[base].omega]);
        firsts.push(first);
    }
    let n = evals.len();
    let blocks = n.div_ceil(LANES);
    let zeros = || vec![[T::ZERO; LANES]; blocks];
    let mut q = [zeros(), zeros(), zeros()];
    let mut weight = zeros();
    for (e, ev) in evals.iter().enumerate() {
        for axis in 0..3 {
            q[axis][e / LANES][e % LANES] = T::of(ev.scatter.q[axis]);
        }
        let [c, pol, om] = parts[ev.pixel];
        weight[e / LANES][e % LANES] = T::of(grad[ev.pixel] * x.scale * c * pol * om);
    }
    let mut dq = [zeros(), zeros(), zeros()];
    let mut terms = zeros();
    let nearest = spec.grid.is_some();
    for (k, cell) in xt.cells.iter().enumerate() {
        let mut sums = Sums::<T>::default();
        let mut grid_adj: Vec<(usize, f64)> = Vec::new();
        cell_blocks(cell, &q, &weight, &mut dq, &mut terms, &mut sums, xt, spec, nearest.then_some(&mut grid_adj));
        let cells_at = layout.cells_at() + 9 * k;
        let total = |v: &[T; LANES]| v.iter().map(|t| t.to_f64()).sum::<f64>();
        for row in 0..3 {
            for c in 0..3 {
                acc[cells_at + 3 * row + c] += total(&sums.d_cell[row][c]);
            }
            acc[Layout::N + row] += total(&sums.d_n[row]);
        }
        acc[Layout::DEFAULT_F] += total(&sums.d_default);
        for (i, v) in grid_adj {
            acc[layout.grid_at() + i] += v;
        }
    }

    // Intensities for the factor adjoints; per sub-pixel adjoints d̄, Ω̄ and capture.
    let mut intensity = vec![x.i_bg; pixels.len()];
    for (e, ev) in evals.iter().enumerate() {
        intensity[ev.pixel] += terms[e / LANES][e % LANES].to_f64();
    }
    let mut dd = vec![[0.0; 3]; subs.len()];
    let mut d_omega = vec![0.0; subs.len()];
    let mut d_capture = vec![0.0; subs.len()];
    let mut d_polar = vec![0.0; n];
    for (i, first) in firsts.iter().enumerate() {
        // value = intensity·scale·capture·polar·omega
        let [c, pol, om] = parts[i];
        let d_factor = grad[i] * intensity[i];
        acc[Layout::SCALE] += d_factor * c * pol * om;
        acc[Layout::I_BG] += grad[i] * x.scale * c * pol * om;
        let base = i * per_pixel_subs;
        d_capture[base + (spec.layers - 1) * no] += d_factor * x.scale * pol * om;
        d_omega[base] += d_factor * x.scale * c * pol;
        if let (false, Some(e)) = (spec.nopolar, first) {
            d_polar[*e] = d_factor * x.scale * c * om;
        }
    }
    for (e, ev) in evals.iter().enumerate() {
        let dqe = [0, 1, 2].map(|a| dq[a][e / LANES][e % LANES].to_f64());
        scatter_adjoint(&subs[ev.sub], ev.source, &ev.scatter, dqe, d_polar[e], &mut dd[ev.sub], x, acc);
    }
    for (i, &p) in pixels.iter().enumerate() {
        for t in 0..spec.layers {
            for o in 0..no {
                let sub = i * per_pixel_subs + t * no + o;
                if dd[sub] != [0.0; 3] || d_omega[sub] != 0.0 || d_capture[sub] != 0.0 {
                    let capture = if spec.thick { d_capture[sub] } else { 0.0 };
                    subpixel_adjoint(p, t, o, &subs[sub], dd[sub], d_omega[sub], capture, x, spec, acc);
                }
            }
        }
    }
}

/// Per-lane partial sums of one cell's adjoints.
struct Sums<T> {
    d_cell: [[[T; LANES]; 3]; 3],
    d_n: [[T; LANES]; 3],
    d_default: [T; LANES],
}

impl<T: Real> Default for Sums<T> {
    fn default() -> Self {
        Sums {
            d_cell: [[[T::ZERO; LANES]; 3]; 3],
            d_n: [[T::ZERO; LANES]; 3],
            d_default: [T::ZERO; LANES],
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn cell_blocks<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    dq: &mut [Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    sums: &mut Sums<T>,
    x: &Inputs<T>,
    spec: &TileSpec,
    grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        unsafe { cell_blocks_avx2(cell, q, weight, dq, terms, sums, x, spec, grid_adj) };
        return;
    }
    cell_blocks_body(cell, q, weight, dq, terms, sums, x, spec, grid_adj);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn cell_blocks_avx2<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    dq: &mut [Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    sums: &mut Sums<T>,
    x: &Inputs<T>,
    spec: &TileSpec,
    grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    cell_blocks_body(cell, q, weight, dq, terms, sums, x, spec, grid_adj);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_blocks_body<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    dq: &mut [Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    sums: &mut Sums<T>,
    x: &Inputs<T>,
    spec: &TileSpec,
    mut grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    let m = x.sign_m.map(T::of);
    let two = T::of(2.0);
    for b in 0..weight.len() {
        let mut hkl = [[T::ZERO; LANES]; 3];
        let mut g = [[T::ZERO; LANES]; 3];
        let mut dg_dh = [[T::ZERO; LANES]; 3];
        let mut dg_dn = [[T::ZERO; LANES]; 3];
        for axis in 0..3 {
            let row = cell[axis];
            for j in 0..LANES {
                let h = q[0][b][j] * row[0] + q[1][b][j] * row[1] + q[2][b][j] * row[2];
                hkl[axis][j] = h;
                (g[axis][j], dg_dh[axis][j], dg_dn[axis][j]) =
                    grating_grad_lane(h, x.n[axis], m[axis], x.radius);
            }
        }
        let mut f_cell = [x.default_f; LANES];
        let mut entry = [usize::MAX; LANES];
        if grid_adj.is_some() {
            for j in 0..LANES {
                (f_cell[j], entry[j]) = nearest_entry([hkl[0][j], hkl[1][j], hkl[2][j]], x, spec);
            }
        }
        // This block's rows, borrowed once: the lane loop below then indexes fixed-size arrays
        // only (no bounds checks), so it vectorises.
        let (w_b, t_b) = (&weight[b], &mut terms[b]);
        let q_b = [&q[0][b], &q[1][b], &q[2][b]];
        let [dq0, dq1, dq2] = &mut *dq;
        let dq_b = [&mut dq0[b], &mut dq1[b], &mut dq2[b]];
        let mut d_cell = [T::ZERO; LANES];
        for j in 0..LANES {
            let f_latt = g[0][j] * g[1][j] * g[2][j];
            let f2 = f_cell[j] * f_cell[j];
            t_b[j] += f2 * (f_latt * f_latt);
            let w = w_b[j];
            let d_latt = w * two * f_latt * f2;
            d_cell[j] = w * two * f_cell[j] * (f_latt * f_latt);
            let others = [g[1][j] * g[2][j], g[0][j] * g[2][j], g[0][j] * g[1][j]];
            let dh = [0, 1, 2].map(|a| d_latt * others[a] * dg_dh[a][j]);
            for a in 0..3 {
                sums.d_n[a][j] += d_latt * others[a] * dg_dn[a][j];
                for c in 0..3 {
                    sums.d_cell[a][c][j] += dh[a] * q_b[c][j];
                }
            }
            for c in 0..3 {
                dq_b[c][j] += dh[0] * cell[0][c] + dh[1] * cell[1][c] + dh[2] * cell[2][c];
            }
        }
        match grid_adj.as_deref_mut() {
            None => {
                for j in 0..LANES {
                    sums.d_default[j] += d_cell[j];
                }
            }
            Some(adj) => {
                for j in 0..LANES {
                    if entry[j] == usize::MAX {
                        sums.d_default[j] += d_cell[j];
                    } else if d_cell[j] != T::ZERO {
                        adj.push((entry[j], d_cell[j].to_f64()));
                    }
                }
            }
        }
    }
}

/// Branch-free grating value with `∂/∂h` and `∂/∂N` (same values as
/// [`super::factors::grating_grad`] to a few ulp).
#[inline(always)]
fn grating_grad_lane<T: Real>(h: T, n: T, sign_m: T, radius: T) -> (T, T, T) {
    let pi = T::of(PI);
    let half_pi = T::of(PI / 2.0);
    let c = |v: f64| T::of(v);
    let whole = h.round_fast();
    let f = h - whole;
    let x = f * pi;
    let y = f * n;
    let ky = y.round_fast();
    let r = (y - ky) * pi;
    let sy = parity_sign(ky);
    let (sn, cn) = (r.sin_small() * sy, (half_pi - r.abs()).sin_small() * sy);
    let (s, co) = (x.sin_small(), (half_pi - x.abs()).sin_small());
    // One reciprocal of sin x for the quotient and both its slopes:
    // d(sn/s)/dx = (N·cn·s − sn·co)/s², d(sn/s)/dN = x·cn/s.
    let inv = T::ONE / s;
    let q_val = sn * inv;
    let q_dx = (n * cn - q_val * co) * inv;
    let q_dn = x * cn * inv;
    let x2 = x * x;
    let n2 = n * n;
    let [a2, a4, a6] = series_coefficients(n2);
    let poly = x2 * (x2 * (x2 * a6 + a4) + a2) + T::ONE;
    let dpoly_dx = c(2.0) * x * (a2 + x2 * (c(2.0) * a4 + c(3.0) * a6 * x2));
    let [da2, da4, da6] = series_coefficient_slopes(n2);
    let dpoly_dn2 = x2 * (da2 + x2 * (da4 + x2 * da6));
    let series = (x * n).abs() < radius;
    let v = if series { n * poly } else { q_val };
    let dx = if series { n * dpoly_dx } else { q_dx };
    let dn = if series { poly + c(2.0) * n2 * dpoly_dn2 } else { q_dn };
    let sign = parity_sign(whole * sign_m);
    (sign * v, sign * dx * pi, sign * dn)
}

/// F at the nearest grid entry and that entry (`usize::MAX` for `default_F`).
#[inline(always)]
fn nearest_entry<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> (T, usize) {
    match spec.grid.and_then(|extent| grid_entry(hkl, extent)) {
        Some(i) => (x.grid[i], i),
        None => (x.default_f, usize::MAX),
    }
}
