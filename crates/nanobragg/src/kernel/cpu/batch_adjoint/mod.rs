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

mod sweeps;

use super::batch::LANES;
use super::batch_geometry::Geometry;
use super::factors::{capture, capture_adjoint, kahn, kahn_adjoint, solid_angle, solid_angle_adjoint};
use super::theta_grad::ThetaGrad;
use super::Inputs;
use crate::kernel::real::Real;
use crate::kernel::{Layout, PixelLoss, TileSpec};
use sweeps::{cell_adjoint, cell_gratings, Slopes};

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
    acc: &mut ThetaGrad,
    scratch: &mut Scratch<T>,
) -> ChunkOutcome {
    let geo = Geometry::new(pixels, x, spec);
    let factors = PixelFactors::new(pixels.len(), &geo, x, spec);
    let evaluations = x.lambda.len() * geo.n;
    let blocks = scratch.load(&geo, evaluations);
    scratch.sweep_gratings(blocks, xt, spec);

    // Each pixel's intensity (for its value and the factor adjoints) and upstream gradient;
    // value = intensity·factor.
    let mut intensity = vec![x.i_bg; pixels.len()];
    let terms = &scratch.terms;
    for_active(&geo.active, factors.per_pixel, geo.n, |i, e| intensity[i] += terms[e / LANES][e % LANES].to_f64());
    let mut outcome = ChunkOutcome { loss: 0.0, any_active: geo.active.iter().any(|&a| a) };
    let grad = upstream.gradient(&intensity, &factors.factor, &mut outcome.loss);

    let weight = &mut scratch.weight;
    let factor = &factors.factor;
    for_active(&geo.active, factors.per_pixel, geo.n, |i, e| weight[e / LANES][e % LANES] = T::of(grad[i] * factor[i]));
    scratch.sweep_adjoint(blocks, xt, spec, acc);

    let (dd, dr) = factors.adjoint(&geo, &grad, &intensity, x, spec, &mut acc.dense);
    let dq = &scratch.dq;
    let dq = [0, 1, 2].map(|a| (0..evaluations).map(|e| dq[a][e / LANES][e % LANES].to_f64()).collect());
    geo.adjoint(&dq, dd, &dr, x, &mut acc.dense);
    outcome
}

impl Upstream<'_> {
    /// `∂L/∂value` of each pixel of the chunk, whose values are `intensity·factor`; a loss's
    /// terms are added to `loss_sum`.
    fn gradient(self, intensity: &[f64], factor: &[f64], loss_sum: &mut f64) -> Vec<f64> {
        match self {
            Upstream::Given(grad) => grad.to_vec(),
            Upstream::Loss { loss, first } => (0..intensity.len())
                .map(|i| {
                    let (term, slope) = loss(first + i, intensity[i] * factor[i]);
                    *loss_sum += term;
                    slope
                })
                .collect(),
        }
    }
}

impl<T: Real> Scratch<T> {
    /// Zeroes the lane arrays for `evaluations` and loads each evaluation's `q` into its lane;
    /// returns the number of blocks.
    fn load(&mut self, geo: &Geometry, evaluations: usize) -> usize {
        let blocks = evaluations.div_ceil(LANES);
        let Scratch { q, terms, weight, dq, .. } = self;
        for v in q.iter_mut().chain(dq.iter_mut()).chain([&mut *terms, &mut *weight]) {
            zeroed(v, blocks);
        }
        for e in 0..evaluations {
            for (axis, q) in q.iter_mut().enumerate() {
                q[e / LANES][e % LANES] = T::of(geo.q(axis, e));
            }
        }
        blocks
    }

    /// Sweep 1: intensities and unweighted slopes, cell by cell.
    fn sweep_gratings(&mut self, blocks: usize, xt: &Inputs<T>, spec: &TileSpec) {
        let Scratch { slopes, entries, q, terms, .. } = self;
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
    }

    /// Sweep 2: the slopes weighted by each evaluation's upstream weight, into θ's cells, N and
    /// F, and each evaluation's `q̄`.
    fn sweep_adjoint(&mut self, blocks: usize, xt: &Inputs<T>, spec: &TileSpec, acc: &mut ThetaGrad) {
        let layout = spec.layout();
        let nearest = spec.grid.is_some();
        let Scratch { slopes, entries, q, weight, dq, .. } = self;
        for (k, cell) in xt.cells.iter().enumerate() {
            let at = k * blocks..(k + 1) * blocks;
            let mut grid_adj: Vec<(usize, f64)> = Vec::new();
            let entries = if nearest { Some((&entries[at.clone()], &mut grid_adj)) } else { None };
            let sums = cell_adjoint(cell, q, weight, &slopes[at], entries, dq);
            let cells_at = layout.cells_at() + 9 * k;
            for row in 0..3 {
                for c in 0..3 {
                    acc.dense[cells_at + 3 * row + c] += sums.d_cell[row][c];
                }
                acc.dense[Layout::N + row] += sums.d_n[row];
            }
            acc.dense[Layout::DEFAULT_F] += sums.d_default;
            for (i, v) in grid_adj {
                acc.add_grid(i, v);
            }
        }
    }
}

/// Per pixel of a chunk: the factors applied once (capture of the last layer, Kahn factor of
/// the first evaluation that runs, solid angle of the first sub-pixel), their product with the
/// scale, and that first evaluation.
struct PixelFactors {
    /// Sub-pixels per pixel (layers × sub-pixels) and per layer.
    per_pixel: usize,
    per_layer: usize,
    /// Capture, Kahn factor and solid angle.
    parts: Vec<[f64; 3]>,
    /// `scale·capture·polar·omega`.
    factor: Vec<f64>,
    /// The first (sub-pixel, source) d_min keeps.
    firsts: Vec<Option<(usize, usize)>>,
}

impl PixelFactors {
    fn new(pixels: usize, geo: &Geometry, x: &Inputs<f64>, spec: &TileSpec) -> Self {
        let (n, sources) = (geo.n, x.lambda.len());
        let per_layer = spec.oversample * spec.oversample;
        let per_pixel = spec.layers * per_layer;
        let mut parts = Vec::with_capacity(pixels);
        let mut firsts = Vec::with_capacity(pixels);
        for i in 0..pixels {
            let base = i * per_pixel;
            let first = (base..base + per_pixel)
                .flat_map(|j| (0..sources).map(move |s| (j, s)))
                .find(|&(j, s)| geo.active[s * n + j]);
            let last = base + (spec.layers - 1) * per_layer;
            let capture_last = if spec.thick { capture(spec.layers - 1, geo.d(last), x) } else { 1.0 };
            let polar = match (spec.nopolar, first) {
                (true, _) => 1.0,
                (false, Some((j, s))) => kahn(geo.d(j), s, x),
                (false, None) => 0.0,
            };
            parts.push([capture_last, polar, solid_angle(geo.r[base], x, spec)]);
            firsts.push(first);
        }
        let factor = parts.iter().map(|[c, pol, om]| x.scale * c * pol * om).collect();
        PixelFactors { per_pixel, per_layer, parts, factor, firsts }
    }

    /// Adjoint of `value = intensity·scale·capture·polar·omega` for the pixels' upstream
    /// gradients `grad`: into the scale, I_bg and the factors' θ entries, and per sub-pixel the
    /// `d̄` and `r̄` the factors contribute (returned).
    fn adjoint(
        &self,
        geo: &Geometry,
        grad: &[f64],
        intensity: &[f64],
        x: &Inputs<f64>,
        spec: &TileSpec,
        acc: &mut [f64],
    ) -> ([Vec<f64>; 3], Vec<f64>) {
        let n = geo.n;
        let mut dd = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        let mut dr = vec![0.0; n];
        let mut add_dd = |j: usize, v: [f64; 3]| (0..3).for_each(|a| dd[a][j] += v[a]);
        // θ's entries before the wavelengths, summed over the chunk here (registers, not memory).
        let mut head = [0.0; Layout::LAMBDA];
        for (i, first) in self.firsts.iter().enumerate() {
            let [c, pol, om] = self.parts[i];
            let d_factor = grad[i] * intensity[i];
            head[Layout::SCALE] += d_factor * c * pol * om;
            head[Layout::I_BG] += grad[i] * self.factor[i];
            let base = i * self.per_pixel;
            if spec.thick {
                let last = base + (spec.layers - 1) * self.per_layer;
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
        (dd, dr)
    }
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

#[cfg(test)]
mod tests {
    use super::for_active;

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
