//! Vectorised backward pass for the scenes [`super::batch`] covers (SQUARE lattice, F from
//! `default_F` or the nearest grid entry, factors once per pixel), in f64.
//!
//! Per chunk of pixels: the geometry of every sub-pixel and evaluation is recomputed as
//! structure-of-arrays ([`Geometry`]) and each evaluation's scattering vector stored in lanes.
//! Then two sweeps over the cells:
//!
//! 1. *Gratings* ([`cell_gratings`]): a branch-free block loop evaluates F_latt with its
//!    derivatives in h, k, l and N, adds `F_cell²·F_latt²` to each evaluation's intensity and
//!    stores each evaluation's unweighted slopes ([`Slopes`]: `∂I/∂(h, k, l)`, `∂I/∂N`,
//!    `∂I/∂F_cell`).
//! 2. *Adjoint* ([`cell_adjoint`]): with every pixel's upstream weight `G = ∂L/∂value·factor`
//!    known, the slopes are weighted and accumulated into `∂L/∂(cell)`, `∂L/∂N`,
//!    `∂L/∂default_F` (or the grid entries) and each evaluation's `q̄`.
//!
//! The weights need each pixel's value only through its upstream gradient, so a pixelwise
//! loss ([`Upstream::Loss`]) gets its slopes from the intensities of sweep 1: value, loss and
//! gradient come out of one pass, with no separate forward render. The per-pixel factors go
//! back through their scalar adjoints ([`super::adjoint`]) and `q̄`, `d̄`, `r̄` through the
//! geometry's. A chunk's slopes stay within [`SLOPES_BUDGET`] bytes ([`chunk_pixels`]) so
//! that sweep 2 reads them from the core's cache.

use super::batch::LANES;
use super::batch_geometry::Geometry;
use crate::physics::lattice::grating::{series_coefficient_slopes, series_coefficients, series_grad};
use crate::physics::structure_factor::grid_entry;
use super::factors::{capture, capture_adjoint, kahn, kahn_adjoint, solid_angle, solid_angle_adjoint};
use super::simd::{simd, simd_dispatch, Simd};
use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::{Layout, PixelLoss, TileSpec};
use std::f64::consts::PI;

/// Bytes of [`Slopes`] one chunk may keep between its two sweeps (a quarter of a 1 MiB L2).
pub const SLOPES_BUDGET: usize = 256 * 1024;

/// Most pixels in a chunk.
const MAX_CHUNK: usize = 256;

/// Where a chunk's upstream gradient `∂L/∂value` comes from.
#[derive(Clone, Copy)]
pub enum Upstream<'a> {
    /// Given per pixel of the chunk (autodiff's backward step).
    Given(&'a [f64]),
    /// A pixelwise loss: `loss(first + i, value)` is pixel i's loss term and its slope, from
    /// the value this pass computes.
    Loss {
        /// The loss term of a pixel (position in the tile) and value.
        loss: &'a PixelLoss<'a>,
        /// Tile position of the chunk's first pixel.
        first: usize,
    },
}

/// What a chunk returns besides its gradient.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ChunkOutcome {
    /// Sum of the chunk's loss terms ([`Upstream::Loss`]; 0 otherwise).
    pub loss: f64,
    /// Whether any evaluation ran (not culled by d_min).
    pub any_active: bool,
}

/// Most bytes the one-pass gradient keeps per evaluation of a chunk with `cells` φ·mosaic
/// cells, counted at f64: the sub-pixel geometry (14 values), `q` and the per-source terms (4),
/// and each cell's slopes and grid entry.
pub fn bytes_per_evaluation(cells: usize) -> usize {
    18 * 8 + cells * (std::mem::size_of::<Slopes<f64>>() / LANES + std::mem::size_of::<u32>())
}

/// Pixels per chunk for `spec`: as many as keep the chunk's slopes within [`SLOPES_BUDGET`], at
/// most [`MAX_CHUNK`], and at least one block of lanes unless that would hold more than
/// [`super::CHUNK_MEMORY_BUDGET`] of buffers (then down to one pixel).
pub fn chunk_pixels<T>(spec: &TileSpec) -> usize {
    let evaluations = spec.evaluations_per_pixel();
    let entry = if spec.grid.is_some() { std::mem::size_of::<u32>() } else { 0 };
    let per_evaluation = spec.cells * (std::mem::size_of::<Slopes<T>>() / LANES + entry);
    let per_pixel = evaluations.saturating_mul(bytes_per_evaluation(spec.cells)).max(1);
    let least = (super::CHUNK_MEMORY_BUDGET / per_pixel).clamp(1, LANES);
    (SLOPES_BUDGET / (evaluations * per_evaluation).max(1)).clamp(least, MAX_CHUNK)
}

/// The buffers a thread's chunks reuse: the slopes and grid entries of sweep 1, which sweep 1
/// overwrites in full (no zeroing between chunks), and the lane arrays of `q`, the
/// intensities, the weights and `q̄`, zeroed per chunk.
#[derive(Default)]
pub struct Scratch<T> {
    slopes: Vec<Slopes<T>>,
    entries: Vec<[u32; LANES]>,
    q: [Vec<[T; LANES]>; 3],
    terms: Vec<[T; LANES]>,
    weight: Vec<[T; LANES]>,
    dq: [Vec<[T; LANES]>; 3],
}

/// `v` as `blocks` zero blocks (keeping its allocation).
fn zeroed<T: Real>(v: &mut Vec<[T; LANES]>, blocks: usize) {
    v.clear();
    v.resize(blocks, [T::ZERO; LANES]);
}

/// The first `len` elements of `v`, grown with `fill` where it is shorter; the elements kept
/// from earlier use are stale.
fn stale_prefix<E: Copy>(v: &mut Vec<E>, len: usize, fill: E) -> &mut [E] {
    if v.len() < len {
        v.resize(len, fill);
    }
    &mut v[..len]
}

/// Adjoint of the pixels `pixels` added into `acc`, with the upstream gradient from `upstream`.
/// The geometry and its adjoints run in f64 (`x`); the per-cell lane loops run in the render's
/// float type (`xt`), their partial sums collected in f64 per chunk.
pub fn chunk<T: Real>(
    pixels: &[usize],
    upstream: Upstream<'_>,
    x: &Inputs<f64>,
    xt: &Inputs<T>,
    spec: &TileSpec,
    acc: &mut [f64],
    scratch: &mut Scratch<T>,
) -> ChunkOutcome {
    let layout = spec.layout();
    let no = spec.oversample * spec.oversample;
    let per_pixel = spec.layers * no;
    let sources = x.lambda.len();
    let geo = Geometry::new(pixels, x, spec);
    let n = geo.n;

    // Per pixel: the factors applied once (capture of the last layer, Kahn factor of the first
    // evaluation that runs, solid angle of the first sub-pixel) and that first evaluation.
    let mut parts = Vec::with_capacity(pixels.len());
    let mut firsts = Vec::with_capacity(pixels.len());
    for i in 0..pixels.len() {
        let base = i * per_pixel;
        let first = (base..base + per_pixel)
            .flat_map(|j| (0..sources).map(move |s| (j, s)))
            .find(|&(j, s)| geo.active[s * n + j]);
        let last = base + (spec.layers - 1) * no;
        let capture_last = if spec.thick { capture(spec.layers - 1, geo.d(last), x) } else { 1.0 };
        let polar = match (spec.nopolar, first) {
            (true, _) => 1.0,
            (false, Some((j, s))) => kahn(geo.d(j), s, x),
            (false, None) => 0.0,
        };
        parts.push([capture_last, polar, solid_angle(geo.r[base], x, spec)]);
        firsts.push(first);
    }

    let evaluations = sources * n;
    let blocks = evaluations.div_ceil(LANES);
    let Scratch { slopes, entries, q, terms, weight, dq } = scratch;
    for v in q.iter_mut().chain(dq.iter_mut()).chain([&mut *terms, &mut *weight]) {
        zeroed(v, blocks);
    }
    for e in 0..evaluations {
        for (axis, q) in q.iter_mut().enumerate() {
            q[e / LANES][e % LANES] = T::of(geo.q(axis, e));
        }
    }

    // Sweep 1: intensities and unweighted slopes, cell by cell.
    let nearest = spec.grid.is_some();
    // Every block of every cell is written by sweep 1 before sweep 2 reads it.
    let slopes = stale_prefix(slopes, xt.cells.len() * blocks, Slopes::default());
    let entries_len = if nearest { xt.cells.len() * blocks } else { 0 };
    let entries = stale_prefix(entries, entries_len, [u32::MAX; LANES]);
    for (k, cell) in xt.cells.iter().enumerate() {
        let at = k * blocks..(k + 1) * blocks;
        let entries = if nearest { Some(&mut entries[at.clone()]) } else { None };
        cell_gratings(cell, q, terms, &mut slopes[at], entries, xt, spec);
    }

    // Each pixel's intensity (for its value and the factor adjoints) and upstream gradient;
    // value = intensity·factor.
    let factor: Vec<f64> = parts.iter().map(|[c, pol, om]| x.scale * c * pol * om).collect();
    let mut intensity = vec![x.i_bg; pixels.len()];
    for_active(&geo.active, per_pixel, n, |i, e| intensity[i] += terms[e / LANES][e % LANES].to_f64());
    let mut outcome = ChunkOutcome { loss: 0.0, any_active: geo.active.iter().any(|&a| a) };
    let grad: Vec<f64> = match upstream {
        Upstream::Given(grad) => grad.to_vec(),
        Upstream::Loss { loss, first } => (0..pixels.len())
            .map(|i| {
                let (term, slope) = loss(first + i, intensity[i] * factor[i]);
                outcome.loss += term;
                slope
            })
            .collect(),
    };

    // Sweep 2: the slopes weighted by each evaluation's upstream weight.
    for_active(&geo.active, per_pixel, n, |i, e| weight[e / LANES][e % LANES] = T::of(grad[i] * factor[i]));
    for (k, cell) in xt.cells.iter().enumerate() {
        let at = k * blocks..(k + 1) * blocks;
        let mut grid_adj: Vec<(usize, f64)> = Vec::new();
        let entries = if nearest { Some((&entries[at.clone()], &mut grid_adj)) } else { None };
        let sums = cell_adjoint(cell, q, weight, &slopes[at], entries, dq);
        let cells_at = layout.cells_at() + 9 * k;
        for row in 0..3 {
            for c in 0..3 {
                acc[cells_at + 3 * row + c] += sums.d_cell[row][c];
            }
            acc[Layout::N + row] += sums.d_n[row];
        }
        acc[Layout::DEFAULT_F] += sums.d_default;
        for (i, v) in grid_adj {
            acc[layout.grid_at() + i] += v;
        }
    }

    // The factors' adjoints into d̄ and r̄ per sub-pixel.
    let mut dd = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
    let mut dr = vec![0.0; n];
    let mut add_dd = |j: usize, v: [f64; 3]| (0..3).for_each(|a| dd[a][j] += v[a]);
    // θ's entries before the wavelengths, summed over the chunk here (registers, not memory).
    let mut head = [0.0; Layout::LAMBDA];
    for (i, first) in firsts.iter().enumerate() {
        // value = intensity·scale·capture·polar·omega
        let [c, pol, om] = parts[i];
        let d_factor = grad[i] * intensity[i];
        head[Layout::SCALE] += d_factor * c * pol * om;
        head[Layout::I_BG] += grad[i] * factor[i];
        let base = i * per_pixel;
        if spec.thick {
            let last = base + (spec.layers - 1) * no;
            let mut v = [0.0; 3];
            capture_adjoint(spec.layers - 1, geo.d(last), d_factor * x.scale * pol * om, &mut v, x, &mut head);
            add_dd(last, v);
        }
        dr[base] += solid_angle_adjoint(geo.r[base], om, d_factor * x.scale * c * pol, x, spec, &mut head);
        if let (false, Some((j, s))) = (spec.nopolar, first) {
            let mut v = [0.0; 3];
            kahn_adjoint(geo.d(*j), *s, d_factor * x.scale * c * om, &mut v, x, &mut head);
            add_dd(*j, v);
        }
    }
    acc.iter_mut().zip(head).for_each(|(a, h)| *a += h);
    let dq = [0, 1, 2].map(|a| (0..evaluations).map(|e| dq[a][e / LANES][e % LANES].to_f64()).collect());
    geo.adjoint(&dq, dd, &dr, x, acc);
    outcome
}

/// Calls `f(pixel, evaluation)` for every evaluation that d_min keeps, evaluation `e = s·n +
/// i·per_pixel + k` (source s, pixel i, sub-pixel k of `per_pixel`, n sub-pixels per source).
#[inline]
fn for_active(active: &[bool], per_pixel: usize, n: usize, mut f: impl FnMut(usize, usize)) {
    for first in (0..active.len()).step_by(n.max(1)) {
        for i in 0..n / per_pixel {
            for e in first + i * per_pixel..first + (i + 1) * per_pixel {
                if active[e] {
                    f(i, e);
                }
            }
        }
    }
}

/// One block's unweighted slopes of `I = F_cell²·F_latt²` for one cell.
#[derive(Clone, Copy)]
struct Slopes<T> {
    /// `∂I/∂h`, `∂I/∂k`, `∂I/∂l`.
    dh: [[T; LANES]; 3],
    /// `∂I/∂N` per axis.
    dn: [[T; LANES]; 3],
    /// `∂I/∂F_cell`.
    df: [T; LANES],
}

impl<T: Real> Default for Slopes<T> {
    fn default() -> Self {
        Slopes { dh: [[T::ZERO; LANES]; 3], dn: [[T::ZERO; LANES]; 3], df: [T::ZERO; LANES] }
    }
}

/// One cell's adjoint sums over a chunk (f64).
struct Sums {
    d_cell: [[f64; 3]; 3],
    d_n: [f64; 3],
    d_default: f64,
}

/// Sum of a block's lanes in f64, pairwise (a fixed tree of vector additions, where a running
/// sum would take one scalar addition per lane).
#[inline(always)]
fn lane_total<T: Real>(v: &[T; LANES]) -> f64 {
    const HALF: usize = LANES / 2;
    let mut w = [0.0; HALF];
    for j in 0..HALF {
        w[j] = v[j].to_f64() + v[j + HALF].to_f64();
    }
    let mut width = HALF;
    while width > 1 {
        width /= 2;
        for j in 0..width {
            w[j] += w[j + width];
        }
    }
    w[0]
}

simd_dispatch! {
    /// Sweep 1 for one cell: adds `F_cell²·F_latt²` of every lane to `terms` and stores its
    /// slopes (and, with a grid, the nearest entry per lane, `u32::MAX` for `default_F`).
    fn cell_gratings<T: Real>(
        cell: &[[T; 3]; 3],
        q: &[Vec<[T; LANES]>; 3],
        terms: &mut [[T; LANES]],
        slopes: &mut [Slopes<T>],
        entries: Option<&mut [[u32; LANES]]>,
        x: &Inputs<T>,
        spec: &TileSpec,
    ) => cell_gratings_body
}

#[inline(always)]
fn cell_gratings_body<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    terms: &mut [[T; LANES]],
    slopes: &mut [Slopes<T>],
    mut entries: Option<&mut [[u32; LANES]]>,
    x: &Inputs<T>,
    spec: &TileSpec,
) {
    let two = T::of(2.0);
    let two_pi = T::of(2.0 * PI);
    let series = x.n.map(SeriesCoefficients::new);
    // At f64 on AVX2 a register holds four lanes and the polynomials are long: one axis per
    // pass over the lanes leaves each pass a few long dependency chains, so the three axes go
    // into the same pass (sweep 1 about 13 % faster on an AVX2 EPYC). Elsewhere each axis has
    // its own pass: at f32 the three axes' chains together spill registers, and with AVX-512's
    // eight f64 lanes and 32 registers one pass per axis was faster (docs/benchmarks-history.md,
    // session 10).
    let axes_per_pass = std::mem::size_of::<T>() == 8 && simd() == Simd::Avx2;
    for (b, (t_b, out)) in terms.iter_mut().zip(slopes.iter_mut()).enumerate() {
        let mut hkl = [[T::ZERO; LANES]; 3];
        let mut g = [[T::ZERO; LANES]; 3];
        let mut dg_dh = [[T::ZERO; LANES]; 3];
        let mut dg_dn = [[T::ZERO; LANES]; 3];
        // Per axis and lane 1 where the series must replace the quotient, and per lane whether
        // any axis needs it (counted as integers: a reduction that vectorises, taken once per
        // block rather than once per axis).
        let mut near = [[0u32; LANES]; 3];
        let mut any_near = [0u32; LANES];
        // (A macro, not a closure: a closure is not compiled with the enclosing function's
        // target features, and its multiply-adds become library calls.)
        macro_rules! quotient {
            ($axis:expr, $j:expr) => {{
                let (axis, j) = ($axis, $j);
                let row = cell[axis];
                let h = q[0][b][j] * row[0] + q[1][b][j] * row[1] + q[2][b][j] * row[2];
                hkl[axis][j] = h;
                let close;
                (g[axis][j], dg_dh[axis][j], dg_dn[axis][j], close) =
                    grating_quotient_lane(h, x.n[axis], x.slope_radius);
                near[axis][j] = close as u32;
                any_near[j] |= close as u32;
            }};
        }
        if axes_per_pass {
            for j in 0..LANES {
                for axis in 0..3 {
                    quotient!(axis, j);
                }
            }
        } else {
            for axis in 0..3 {
                for j in 0..LANES {
                    quotient!(axis, j);
                }
            }
        }
        // The series near a peak's centre is rare (|Nπf| below the slopes' radius, 0.044):
        // only blocks with such a lane pay for it.
        if any_near.iter().sum::<u32>() != 0 {
            for axis in 0..3 {
                for j in 0..LANES {
                    let (v, dh, dn) = grating_series_lane(hkl[axis][j], x.n[axis], &series[axis]);
                    let near = near[axis][j] != 0;
                    g[axis][j] = g[axis][j].pick(v, near);
                    dg_dh[axis][j] = dg_dh[axis][j].pick(dh, near);
                    dg_dn[axis][j] = dg_dn[axis][j].pick(dn, near);
                }
            }
        }
        let mut f_cell = [x.default_f; LANES];
        if let Some(entries) = entries.as_deref_mut() {
            for j in 0..LANES {
                let (f, entry) = nearest_entry([hkl[0][j], hkl[1][j], hkl[2][j]], x, spec);
                f_cell[j] = f;
                entries[b][j] = entry;
            }
        }
        for j in 0..LANES {
            let f_latt = g[0][j] * g[1][j] * g[2][j];
            let f2 = f_cell[j] * f_cell[j];
            let latt2 = f_latt * f_latt;
            t_b[j] += f2 * latt2;
            // 2π·F²·F_latt: the slopes in x = πf taken to h (the π of ∂x/∂h and the 1/π of
            // the ∂/∂N slopes written in f, see `grating_quotient_lane`). With default_F the
            // constant factors are hoisted out of the loop.
            let d_latt = f_latt * (two_pi * f2);
            out.df[j] = (two * f_cell[j]) * latt2;
            let others = [g[1][j] * g[2][j], g[0][j] * g[2][j], g[0][j] * g[1][j]];
            for a in 0..3 {
                let d = d_latt * others[a];
                out.dh[a][j] = d * dg_dh[a][j];
                out.dn[a][j] = d * dg_dn[a][j];
            }
        }
    }
}

simd_dispatch! {
    /// Sweep 2 for one cell: every lane's slopes times its upstream weight, into `q̄` and the
    /// cell's sums (returned; `default_F`'s, or with `entries` the grid entries' adjoints).
    fn cell_adjoint<T: Real>(
        cell: &[[T; 3]; 3],
        q: &[Vec<[T; LANES]>; 3],
        weight: &[[T; LANES]],
        slopes: &[Slopes<T>],
        entries: Option<(&[[u32; LANES]], &mut Vec<(usize, f64)>)>,
        dq: &mut [Vec<[T; LANES]>; 3],
    ) -> Sums => cell_adjoint_body
}

#[inline(always)]
fn cell_adjoint_body<T: Real>(
    cell: &[[T; 3]; 3],
    q: &[Vec<[T; LANES]>; 3],
    weight: &[[T; LANES]],
    slopes: &[Slopes<T>],
    mut entries: Option<(&[[u32; LANES]], &mut Vec<(usize, f64)>)>,
    dq: &mut [Vec<[T; LANES]>; 3],
) -> Sums {
    // The compiler keeps these sums on the stack (the lane loop is too large to be unrolled and
    // its arrays split into registers; see docs/benchmarks-history.md, session 8).
    let (mut d_cell, mut d_n, mut d_default) = ([[[T::ZERO; LANES]; 3]; 3], [[T::ZERO; LANES]; 3], [T::ZERO; LANES]);
    let [dq0, dq1, dq2] = dq;
    for (b, (w_b, s_b)) in weight.iter().zip(slopes).enumerate() {
        // This block's rows, borrowed once: the lane loop below then indexes fixed-size arrays
        // only (no bounds checks), so it vectorises.
        let q_b = [&q[0][b], &q[1][b], &q[2][b]];
        let dq_b = [&mut dq0[b], &mut dq1[b], &mut dq2[b]];
        let mut d_f = [T::ZERO; LANES];
        for j in 0..LANES {
            let w = w_b[j];
            d_f[j] = w * s_b.df[j];
            let dh = [0, 1, 2].map(|a| w * s_b.dh[a][j]);
            for a in 0..3 {
                d_n[a][j] = w.mul_add(s_b.dn[a][j], d_n[a][j]);
                for c in 0..3 {
                    d_cell[a][c][j] = dh[a].mul_add(q_b[c][j], d_cell[a][c][j]);
                }
            }
            for c in 0..3 {
                dq_b[c][j] =
                    dh[0].mul_add(cell[0][c], dh[1].mul_add(cell[1][c], dh[2].mul_add(cell[2][c], dq_b[c][j])));
            }
        }
        match entries.as_mut() {
            None => {
                for j in 0..LANES {
                    d_default[j] += d_f[j];
                }
            }
            Some((entries, adj)) => {
                for j in 0..LANES {
                    if entries[b][j] == u32::MAX {
                        d_default[j] += d_f[j];
                    } else if d_f[j] != T::ZERO {
                        adj.push((entries[b][j] as usize, d_f[j].to_f64()));
                    }
                }
            }
        }
    }
    // (Loops, not `array::map`: that is not inlined into this function's target features.)
    let mut sums = Sums { d_cell: [[0.0; 3]; 3], d_n: [0.0; 3], d_default: lane_total(&d_default) };
    for a in 0..3 {
        for c in 0..3 {
            sums.d_cell[a][c] = lane_total(&d_cell[a][c]);
        }
        sums.d_n[a] = lane_total(&d_n[a]);
    }
    sums
}

/// The grating's Taylor coefficients in x and their slopes in N² for one axis's N.
struct SeriesCoefficients<T> {
    a: [T; 3],
    da: [T; 3],
}

impl<T: Real> SeriesCoefficients<T> {
    fn new(n: T) -> Self {
        SeriesCoefficients { a: series_coefficients(n * n), da: series_coefficient_slopes(n * n) }
    }
}

/// Branch-free grating `±sin(Nπh)/sin(πh)` from the quotient of sines, with `∂/∂x` (x = πf,
/// f = h − round h), `∂/∂N / π` and whether h is near enough to a peak's centre that the series
/// must replace the quotient ([`grating_series_lane`]); the caller multiplies both slopes by π
/// once per lane (`∂/∂h = π·∂/∂x`). Up to one sign per lane (`(−1)^round(Nf)` of the reduced
/// sine and the `(−1)^(h·(N−1))` of the whole part, dropped): the value and both slopes carry
/// the same sign, and `I = F²·F_latt²` and its slopes (`F_latt·∂F_latt`) do not see it. Up to
/// that sign and the factor π they are [`crate::physics::lattice::grating::value_grad`]'s values to a few ulp.
#[inline(always)]
fn grating_quotient_lane<T: Real>(h: T, n: T, radius: T) -> (T, T, T, bool) {
    let pi = T::of(PI);
    let f = h - h.round_fast();
    let x = f * pi;
    let y = f * n;
    let r = (y - y.round_fast()) * pi;
    let (sn, cn) = r.sin_cos_small();
    let (s, co) = x.sin_cos_small();
    // One reciprocal of sin x for the quotient and both its slopes:
    // d(sn/s)/dx = (N·cn·s − sn·co)/s², d(sn/s)/dN = x·cn/s = π·(f·cn/s).
    let inv = T::ONE / s;
    let v = sn * inv;
    let dx = (n * cn - v * co) * inv;
    let dn = f * cn * inv;
    (v, dx, dn, (x * n).abs() < radius)
}

/// The grating's series `N·(1 + a₂x² + a₄x⁴ + a₆x⁶)` near a peak's centre, with its slopes
/// scaled as [`grating_quotient_lane`]'s, up to the sign that drops.
#[inline(always)]
fn grating_series_lane<T: Real>(h: T, n: T, coefficients: &SeriesCoefficients<T>) -> (T, T, T) {
    let x = (h - h.round_fast()) * T::of(PI);
    let (v, dx, dn) = series_grad(x, n, coefficients.a, coefficients.da);
    (v, dx, dn * T::of(1.0 / PI))
}

/// F at the nearest grid entry and that entry (`u32::MAX` for `default_F`; a grid of 2³²
/// entries would not fit in memory).
#[inline(always)]
fn nearest_entry<T: Real>(hkl: [T; 3], x: &Inputs<T>, spec: &TileSpec) -> (T, u32) {
    match spec.grid.and_then(|extent| grid_entry(hkl, extent)) {
        Some(i) => (x.grid[i], i as u32),
        None => (x.default_f, u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::{for_active, lane_total, LANES};

    #[test]
    fn lane_total_adds_every_lane_once() {
        let v: [f32; LANES] = std::array::from_fn(|j| (1u32 << j) as f32);
        assert_eq!(lane_total(&v), ((1u64 << LANES) - 1) as f64);
    }

    #[test]
    fn for_active_pairs_each_kept_evaluation_with_its_pixel() {
        // Two sources, three pixels of two sub-pixels each: n = 6 sub-pixels per source.
        let (per_pixel, n) = (2, 6);
        let active: Vec<bool> = (0..2 * n).map(|e| e % 5 != 3).collect();
        let mut seen = Vec::new();
        for_active(&active, per_pixel, n, |i, e| seen.push((i, e)));
        let expected: Vec<_> = (0..2 * n).filter(|&e| active[e]).map(|e| ((e % n) / per_pixel, e)).collect();
        assert_eq!(seen, expected);
    }
}
