//! Vectorised backward pass for the scenes [`super::batch`] covers (SQUARE lattice, F from
//! `default_F` or the nearest grid entry, factors once per pixel), in f64.
//!
//! Per chunk of pixels: the scalar geometry of every evaluation is recomputed and its scattering
//! vector stored in lanes with its upstream weight `G = ∂L/∂value·factor`; then, cell by cell, a
//! branch-free block loop evaluates F_latt with its derivatives in h, k, l and N and accumulates
//! `∂L/∂(cell)`, `∂L/∂N`, `∂L/∂default_F` and each evaluation's `q̄`; finally `q̄` and the
//! per-pixel factors go back through the scalar adjoints of [`super::adjoint`].

use super::adjoint::{first_active, scatter_adjoint, subpixel_adjoint};
use super::batch::LANES;
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

/// Adjoint of the pixels `pixels` (upstream gradients `grad`) added into `acc`.
pub fn chunk(pixels: &[usize], grad: &[f64], x: &Inputs<f64>, spec: &TileSpec, acc: &mut [f64]) {
    let layout = spec.layout();
    let no = spec.oversample * spec.oversample;
    let per_pixel_subs = spec.layers * no;
    let mut subs: Vec<SubPixel<f64>> = Vec::with_capacity(pixels.len() * per_pixel_subs);
    let mut evals: Vec<Evaluation> = Vec::new();
    let mut parts = Vec::with_capacity(pixels.len());
    let mut firsts = Vec::with_capacity(pixels.len());
    for (i, &p) in pixels.iter().enumerate() {
        for t in 0..spec.layers {
            for o in 0..no {
                let g = subpixel(p, t, o, x, spec);
                let sub = subs.len();
                subs.push(g);
                for s in 0..x.lambda.len() {
                    let sc = scatter(&g, s, x, spec);
                    if sc.active {
                        evals.push(Evaluation { pixel: i, sub, source: s, scatter: sc });
                    }
                }
            }
        }
        let base = i * per_pixel_subs;
        let first = first_active(p, x, spec);
        let capture_last = subs[base + (spec.layers - 1) * no].capture;
        let polar = if spec.nopolar { 1.0 } else { first.map(|f| f.3.polar).unwrap_or(0.0) };
        parts.push([capture_last, polar, subs[base].omega]);
        firsts.push(first);
    }
    let n = evals.len();
    let blocks = n.div_ceil(LANES);
    let mut q = [vec![[0.0; LANES]; blocks], vec![[0.0; LANES]; blocks], vec![[0.0; LANES]; blocks]];
    let mut weight = vec![[0.0; LANES]; blocks];
    for (e, ev) in evals.iter().enumerate() {
        for axis in 0..3 {
            q[axis][e / LANES][e % LANES] = ev.scatter.q[axis];
        }
        let [c, pol, om] = parts[ev.pixel];
        weight[e / LANES][e % LANES] = grad[ev.pixel] * x.scale * c * pol * om;
    }
    let mut dq = [vec![[0.0; LANES]; blocks], vec![[0.0; LANES]; blocks], vec![[0.0; LANES]; blocks]];
    let mut terms = vec![[0.0; LANES]; blocks];
    let nearest = spec.grid.is_some();
    for (k, cell) in x.cells.iter().enumerate() {
        let mut sums = Sums::default();
        let mut grid_adj: Vec<(usize, f64)> = Vec::new();
        cell_blocks(cell, &q, &weight, &mut dq, &mut terms, &mut sums, x, spec, nearest.then_some(&mut grid_adj));
        let cells_at = layout.cells_at() + 9 * k;
        for row in 0..3 {
            for c in 0..3 {
                acc[cells_at + 3 * row + c] += sums.d_cell[row][c].iter().sum::<f64>();
            }
            acc[Layout::N + row] += sums.d_n[row].iter().sum::<f64>();
        }
        acc[Layout::DEFAULT_F] += sums.d_default.iter().sum::<f64>();
        for (i, v) in grid_adj {
            acc[layout.grid_at() + i] += v;
        }
    }

    // q̄ back to λ and the geometry; intensities for the factor adjoints.
    let mut dd = vec![[0.0; 3]; subs.len()];
    let mut intensity = vec![x.i_bg; pixels.len()];
    for (e, ev) in evals.iter().enumerate() {
        let dqe = [0, 1, 2].map(|a| dq[a][e / LANES][e % LANES]);
        intensity[ev.pixel] += terms[e / LANES][e % LANES];
        scatter_adjoint(&subs[ev.sub], ev.source, &ev.scatter, dqe, 0.0, &mut dd[ev.sub], x, acc);
    }
    for (i, &p) in pixels.iter().enumerate() {
        for t in 0..spec.layers {
            for o in 0..no {
                let sub = i * per_pixel_subs + t * no + o;
                if dd[sub] != [0.0; 3] {
                    subpixel_adjoint(p, t, o, &subs[sub], dd[sub], 0.0, 0.0, x, spec, acc);
                }
            }
        }
        // value = intensity·scale·capture·polar·omega
        let [c, pol, om] = parts[i];
        let d_factor = grad[i] * intensity[i];
        acc[Layout::SCALE] += d_factor * c * pol * om;
        acc[Layout::I_BG] += grad[i] * x.scale * c * pol * om;
        let base = i * per_pixel_subs;
        if spec.thick {
            let last = base + (spec.layers - 1) * no;
            let d = d_factor * x.scale * pol * om;
            subpixel_adjoint(p, spec.layers - 1, 0, &subs[last], [0.0; 3], 0.0, d, x, spec, acc);
        }
        if !spec.nopolar {
            if let Some((t, o, s, sc)) = firsts[i] {
                let sub = base + t * no + o;
                let mut d = [0.0; 3];
                let dpolar = d_factor * x.scale * c * om;
                scatter_adjoint(&subs[sub], s, &sc, [0.0; 3], dpolar, &mut d, x, acc);
                subpixel_adjoint(p, t, o, &subs[sub], d, 0.0, 0.0, x, spec, acc);
            }
        }
        let d_omega = d_factor * x.scale * c * pol;
        subpixel_adjoint(p, 0, 0, &subs[base], [0.0; 3], d_omega, 0.0, x, spec, acc);
    }
}

/// Per-lane partial sums of one cell's adjoints.
#[derive(Default)]
struct Sums {
    d_cell: [[[f64; LANES]; 3]; 3],
    d_n: [[f64; LANES]; 3],
    d_default: [f64; LANES],
}

#[allow(clippy::too_many_arguments)]
fn cell_blocks(
    cell: &[[f64; 3]; 3],
    q: &[Vec<[f64; LANES]>; 3],
    weight: &[[f64; LANES]],
    dq: &mut [Vec<[f64; LANES]>; 3],
    terms: &mut [[f64; LANES]],
    sums: &mut Sums,
    x: &Inputs<f64>,
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
unsafe fn cell_blocks_avx2(
    cell: &[[f64; 3]; 3],
    q: &[Vec<[f64; LANES]>; 3],
    weight: &[[f64; LANES]],
    dq: &mut [Vec<[f64; LANES]>; 3],
    terms: &mut [[f64; LANES]],
    sums: &mut Sums,
    x: &Inputs<f64>,
    spec: &TileSpec,
    grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    cell_blocks_body(cell, q, weight, dq, terms, sums, x, spec, grid_adj);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_blocks_body(
    cell: &[[f64; 3]; 3],
    q: &[Vec<[f64; LANES]>; 3],
    weight: &[[f64; LANES]],
    dq: &mut [Vec<[f64; LANES]>; 3],
    terms: &mut [[f64; LANES]],
    sums: &mut Sums,
    x: &Inputs<f64>,
    spec: &TileSpec,
    mut grid_adj: Option<&mut Vec<(usize, f64)>>,
) {
    for b in 0..weight.len() {
        let mut hkl = [[0.0; LANES]; 3];
        let mut g = [[0.0; LANES]; 3];
        let mut dg_dh = [[0.0; LANES]; 3];
        let mut dg_dn = [[0.0; LANES]; 3];
        for axis in 0..3 {
            let row = cell[axis];
            for j in 0..LANES {
                let h = q[0][b][j] * row[0] + q[1][b][j] * row[1] + q[2][b][j] * row[2];
                hkl[axis][j] = h;
                (g[axis][j], dg_dh[axis][j], dg_dn[axis][j]) =
                    grating_grad_lane(h, x.n[axis], x.sign_m[axis], x.radius);
            }
        }
        let mut f_cell = [x.default_f; LANES];
        let mut entry = [usize::MAX; LANES];
        if grid_adj.is_some() {
            for j in 0..LANES {
                (f_cell[j], entry[j]) = nearest_entry([hkl[0][j], hkl[1][j], hkl[2][j]], x, spec);
            }
        }
        for j in 0..LANES {
            let f_latt = g[0][j] * g[1][j] * g[2][j];
            let f2 = f_cell[j] * f_cell[j];
            terms[b][j] += f2 * (f_latt * f_latt);
            let w = weight[b][j];
            let d_latt = w * 2.0 * f_latt * f2;
            let d_cell = w * 2.0 * f_cell[j] * f_latt * f_latt;
            let others = [g[1][j] * g[2][j], g[0][j] * g[2][j], g[0][j] * g[1][j]];
            let dh = [0, 1, 2].map(|a| d_latt * others[a] * dg_dh[a][j]);
            for a in 0..3 {
                sums.d_n[a][j] += d_latt * others[a] * dg_dn[a][j];
                for c in 0..3 {
                    sums.d_cell[a][c][j] += dh[a] * q[c][b][j];
                }
            }
            for c in 0..3 {
                dq[c][b][j] += dh[0] * cell[0][c] + dh[1] * cell[1][c] + dh[2] * cell[2][c];
            }
            if entry[j] == usize::MAX {
                sums.d_default[j] += d_cell;
            }
            if let Some(adj) = grid_adj.as_deref_mut() {
                if entry[j] != usize::MAX && d_cell != 0.0 {
                    adj.push((entry[j], d_cell));
                }
            }
        }
    }
}

/// `(−1)^k` for integral `k`.
#[inline(always)]
fn parity_sign(k: f64) -> f64 {
    let half = k * 0.5;
    1.0 - 4.0 * (half - half.round_fast()).abs()
}

/// Branch-free grating value with `∂/∂h` and `∂/∂N` (same values as
/// [`super::factors::grating_grad`] to a few ulp).
#[inline(always)]
fn grating_grad_lane(h: f64, n: f64, sign_m: f64, radius: f64) -> (f64, f64, f64) {
    let whole = h.round_fast();
    let f = h - whole;
    let x = f * PI;
    let y = f * n;
    let ky = y.round_fast();
    let r = (y - ky) * PI;
    let sy = parity_sign(ky);
    let (sn, cn) = (r.sin_small() * sy, (PI / 2.0 - r.abs()).sin_small() * sy);
    let (s, c) = (x.sin_small(), (PI / 2.0 - x.abs()).sin_small());
    let q_val = sn / s;
    let q_dx = (n * cn * s - sn * c) / (s * s);
    let q_dn = x * cn / s;
    let x2 = x * x;
    let n2 = n * n;
    let a2 = (1.0 - n2) / 6.0;
    let a4 = (3.0 * n2 - 7.0) * (n2 - 1.0) / 360.0;
    let a6 = (n2 * (n2 * (-3.0 * n2 + 21.0) - 49.0) + 31.0) / 15120.0;
    let poly = x2 * (x2 * (x2 * a6 + a4) + a2) + 1.0;
    let dpoly_dx = 2.0 * x * (a2 + x2 * (2.0 * a4 + 3.0 * a6 * x2));
    let dpoly_dn2 = x2 * (-1.0 / 6.0 + x2 * ((6.0 * n2 - 10.0) / 360.0 + x2 * (-9.0 * n2 * n2 + 42.0 * n2 - 49.0) / 15120.0));
    let series = (x * n).abs() < radius;
    let (v, dx, dn) = if series {
        (n * poly, n * dpoly_dx, poly + 2.0 * n2 * dpoly_dn2)
    } else {
        (q_val, q_dx, q_dn)
    };
    let sign = parity_sign(whole * sign_m);
    (sign * v, sign * dx * PI, sign * dn)
}

/// F at the nearest grid entry and that entry (`usize::MAX` for `default_F`).
#[inline(always)]
fn nearest_entry(hkl: [f64; 3], x: &Inputs<f64>, spec: &TileSpec) -> (f64, usize) {
    let Some(extent) = spec.grid else {
        return (x.default_f, usize::MAX);
    };
    let counts = extent.counts();
    let mut flat = 0i64;
    for axis in 0..3 {
        let idx = (hkl[axis] - 0.5).ceil() as i64 - extent.min[axis];
        if idx < 0 || idx >= counts[axis] {
            return (x.default_f, usize::MAX);
        }
        flat = flat * counts[axis] + idx;
    }
    (x.grid[flat as usize], flat as usize)
}
