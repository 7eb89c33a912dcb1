//! The fused CPU kernel: one pass per pixel, pixels spread over rayon's thread pool.
//!
//! [`forward`] renders a tile in the backend's float type `T`; [`backward`] returns the
//! vector–Jacobian product with respect to θ ([`crate::kernel::Layout`]). The backward pass
//! recomputes each pixel's forward quantities in f64 and applies the hand-derived adjoint of
//! every step (documented where it is coded); gradients are accumulated in f64 per thread.

mod adjoint;
pub mod batch;
mod batch_adjoint;
mod batch_geometry;
pub mod factors;
mod pixel;
pub mod simd;
mod theta_grad;

pub use batch::BATCH;
pub use pixel::PIXEL;
pub use simd::{limit_simd, simd, Simd};

use super::real::Real;
use crate::physics::lattice::grating::{series_radius, slope_radius};
use super::{KernelId, Layout, PixelLoss, TileLossGrad, TileSpec};
use batch_adjoint::Upstream;
use rayon::prelude::*;

pub use batch_adjoint::bytes_per_evaluation as gradient_bytes_per_evaluation;

/// Most pixels per parallel work item.
const CHUNK: usize = 256;

/// Bytes the vectorised forward ([`batch::render_chunk`]) keeps per evaluation of a chunk: `q`
/// (3) and the running sum in the render's float type (counted at f64) and the owning pixel.
pub const FORWARD_BYTES_PER_EVALUATION: usize = 4 * 8 + 4;

/// Bytes of per-evaluation buffers one chunk (forward or gradient) may hold; a chunk shrinks
/// (down to one pixel) so that its evaluations fit.
const CHUNK_MEMORY_BUDGET: usize = 64 << 20;

/// Pixels per forward chunk for `spec`: at most [`CHUNK`], fewer where a pixel has many
/// evaluations (layers × sub-pixels × sources), so that memory stays bounded.
fn forward_chunk(spec: &TileSpec) -> usize {
    let per_pixel = spec.evaluations_per_pixel().saturating_mul(FORWARD_BYTES_PER_EVALUATION).max(1);
    (CHUNK_MEMORY_BUDGET / per_pixel).clamp(1, CHUNK)
}

/// θ unpacked into the kernel's float type, with per-render constants.
#[derive(Debug, Clone)]
pub struct Inputs<T> {
    pub(crate) pix0: [T; 3],
    pub(crate) fdet: [T; 3],
    pub(crate) sdet: [T; 3],
    pub(crate) odet: [T; 3],
    pub(crate) close: T,
    pub(crate) pixel: T,
    pub(crate) layer: T,
    pub(crate) mu: T,
    pub(crate) polar_k: T,
    pub(crate) n: [T; 3],
    pub(crate) default_f: T,
    pub(crate) scale: T,
    pub(crate) i_bg: T,
    pub(crate) recip: [[T; 3]; 3],
    pub(crate) lambda: Vec<T>,
    pub(crate) cells: Vec<[[T; 3]; 3]>,
    pub(crate) grid: Vec<T>,
    pub(crate) incident: Vec<[T; 3]>,
    pub(crate) e_in: Vec<[T; 3]>,
    pub(crate) b_in: Vec<[T; 3]>,
    /// `round(N) − 1` per axis (the grating's sign rule).
    pub(crate) sign_m: [f64; 3],
    /// |N·x| below which the grating uses its series.
    pub(crate) radius: T,
    /// |N·x| below which the vectorised backward takes the grating's slopes from its series
    /// ([`slope_radius`]).
    pub(crate) slope_radius: T,
}

impl<T: Real> Inputs<T> {
    /// Unpack θ (any float type) for `spec`.
    pub fn new(theta: &[T], spec: &TileSpec) -> Self {
        let layout = spec.layout();
        assert_eq!(theta.len(), layout.len(), "θ does not match the tile spec");
        let v3 = |at: usize| [theta[at], theta[at + 1], theta[at + 2]];
        let to_t = |v: &[f64; 3]| v.map(T::of);
        let cells_at = layout.cells_at();
        Inputs {
            pix0: v3(Layout::PIX0),
            fdet: v3(Layout::FDET),
            sdet: v3(Layout::SDET),
            odet: v3(Layout::ODET),
            close: theta[Layout::CLOSE],
            pixel: theta[Layout::PIXEL],
            layer: theta[Layout::LAYER],
            mu: theta[Layout::MU],
            polar_k: theta[Layout::POLAR_K],
            n: v3(Layout::N),
            default_f: theta[Layout::DEFAULT_F],
            scale: theta[Layout::SCALE],
            i_bg: theta[Layout::I_BG],
            recip: [0, 1, 2].map(|i| v3(Layout::RECIP + 3 * i)),
            lambda: theta[Layout::LAMBDA..Layout::LAMBDA + layout.sources].to_vec(),
            cells: (0..layout.cells)
                .map(|k| [0, 1, 2].map(|row| v3(cells_at + 9 * k + 3 * row)))
                .collect(),
            grid: theta[layout.grid_at()..].to_vec(),
            incident: spec.incident.iter().map(to_t).collect(),
            e_in: spec.e_in.iter().map(to_t).collect(),
            b_in: spec.b_in.iter().map(to_t).collect(),
            sign_m: spec.n_value.map(|n| n.round() - 1.0),
            radius: T::of(series_radius(T::EPSILON)),
            slope_radius: T::of(slope_radius()),
        }
    }
}

/// A rendered tile on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTile<T> {
    /// Photons per pixel.
    pub values: Vec<T>,
    /// Whether any evaluation ran the φ loop.
    pub any_active: bool,
}

/// Render the tile `spec` from θ with the kernel `spec.kernel` names ([`BATCH`] or [`PIXEL`]);
/// `None` for another kernel, or when interpolation left the grid (see [`crate::physics::structure_factor::LeftGrid`]).
pub fn forward<T: Real>(theta: &[T], spec: &TileSpec) -> Option<HostTile<T>> {
    let fast = match spec.kernel {
        KernelId::CpuBatch => true,
        KernelId::CpuPixel => false,
        KernelId::Cuda => return None,
    };
    let x = Inputs::new(theta, spec);
    let n = spec.pixels.len();
    let mut values = vec![T::ZERO; n];
    let chunk = forward_chunk(spec);
    let results: Vec<Option<bool>> = values
        .par_chunks_mut(chunk)
        .enumerate()
        .map_init(batch::Scratch::default, |scratch, (c, out)| {
            let pixels = &*spec.pixels.slice(c * chunk..c * chunk + out.len());
            if fast {
                return Some(batch::render_chunk(pixels, &x, spec, out, scratch));
            }
            let mut any = false;
            for (i, &p) in pixels.iter().enumerate() {
                let r = pixel::render(p, &x, spec).ok()?;
                out[i] = T::of(r.intensity * r.factor);
                any |= r.any_active;
            }
            Some(any)
        })
        .collect();
    let mut any_active = false;
    for r in results {
        any_active |= r?;
    }
    Some(HostTile { values, any_active })
}

/// `∂(Σ grad·values)/∂θ` (f64) for a tile rendered by [`forward`]; the vectorised part runs in
/// the render's float type `T`, everything else in f64.
pub fn backward<T: Real>(theta: &[f64], spec: &TileSpec, grad: &[f64]) -> Vec<f64> {
    if spec.kernel == KernelId::CpuBatch {
        return batch_pass::<T>(theta, spec, |range| Upstream::Given(&grad[range])).theta_grad;
    }
    let x = Inputs::new(theta, spec);
    let blocks = in_blocks(grad.len().div_ceil(CHUNK), || vec![0.0f64; theta.len()], |acc, c| {
        let range = c * CHUNK..((c + 1) * CHUNK).min(grad.len());
        let pixels = &*spec.pixels.slice(range.clone());
        for (&p, &g) in pixels.iter().zip(&grad[range]) {
            if g != 0.0 {
                adjoint::pixel(p, &x, spec, g, acc);
            }
        }
    });
    blocks.into_iter().fold(vec![0.0f64; theta.len()], add)
}

/// Blocks of chunks that a reduction adds up in a fixed order, so that its sums have the same
/// bits whatever the number of threads and however rayon shares the work (a fold per rayon
/// split would add in the split's order). Few enough that their partial sums (each as long as
/// θ, the F grid included) stay small, many enough to keep every thread busy.
const REDUCTION_BLOCKS: usize = 64;

/// `each(acc, c)` over chunks `0..chunks`, in [`REDUCTION_BLOCKS`] contiguous blocks run in
/// parallel, each block's chunks in order into its own `start()`; the blocks' sums in order.
fn in_blocks<A: Send>(chunks: usize, start: impl Fn() -> A + Sync, each: impl Fn(&mut A, usize) + Sync) -> Vec<A> {
    let per_block = chunks.div_ceil(REDUCTION_BLOCKS).max(1);
    (0..chunks.div_ceil(per_block))
        .into_par_iter()
        .map(|b| {
            let mut acc = start();
            for c in b * per_block..((b + 1) * per_block).min(chunks) {
                each(&mut acc, c);
            }
            acc
        })
        .collect()
}

/// The tile's loss `Σ_i loss(i, value_i)` and its gradient with respect to θ (f64). Where the
/// vectorised pass covers the tile, values and gradient come from one pass
/// (the vectorised adjoint with the loss as its upstream); otherwise the tile is rendered by [`forward`] and
/// differentiated by [`backward`] with each pixel's slope. `None` where [`forward`] declines.
pub fn loss_grad<T: Real>(theta: &[f64], spec: &TileSpec, loss: &PixelLoss<'_>) -> Option<TileLossGrad> {
    if spec.kernel == KernelId::CpuBatch {
        return Some(batch_pass::<T>(theta, spec, |range| Upstream::Loss { loss, first: range.start }));
    }
    let theta_t: Vec<T> = theta.iter().map(|&v| T::of(v)).collect();
    let tile = forward(&theta_t, spec)?;
    let (mut total, mut slopes) = (0.0, Vec::with_capacity(tile.values.len()));
    for (i, v) in tile.values.iter().enumerate() {
        let (term, slope) = loss(i, v.to_f64());
        total += term;
        slopes.push(slope);
    }
    Some(TileLossGrad { loss: total, theta_grad: backward::<T>(theta, spec, &slopes), any_active: tile.any_active })
}

/// The vectorised backward pass over the tile in chunks of [`batch_adjoint::chunk_pixels`]
/// pixels, each chunk's upstream gradient from `upstream(tile positions of the chunk)`: `θ̄`, the
/// summed loss terms (0 for [`Upstream::Given`]) and whether any evaluation ran.
fn batch_pass<'a, T: Real>(
    theta: &[f64],
    spec: &TileSpec,
    upstream: impl Fn(std::ops::Range<usize>) -> Upstream<'a> + Sync,
) -> TileLossGrad {
    let x = Inputs::new(theta, spec);
    let theta_t: Vec<T> = theta.iter().map(|&v| T::of(v)).collect();
    let xt = Inputs::new(&theta_t, spec);
    let count = spec.pixels.len();
    let per_chunk = batch_adjoint::chunk_pixels::<T>(spec);
    let layout = spec.layout();
    let start = || (0.0, false, theta_grad::ThetaGrad::zeros(layout), batch_adjoint::Scratch::default());
    let blocks = in_blocks(count.div_ceil(per_chunk), start, |(loss, any_active, acc, scratch), c| {
        let range = c * per_chunk..((c + 1) * per_chunk).min(count);
        let pixels = &*spec.pixels.slice(range.clone());
        let out = batch_adjoint::chunk(pixels, upstream(range), &x, &xt, spec, acc, scratch);
        *loss += out.loss;
        *any_active |= out.any_active;
    });
    let loss = blocks.iter().fold(0.0, |sum, b| sum + b.0);
    let any_active = blocks.iter().any(|b| b.1);
    let theta_grad = theta_grad::ThetaGrad::sum_in_order(blocks.into_iter().map(|b| b.2), layout);
    TileLossGrad { loss, theta_grad, any_active }
}

/// Element-wise sum of two gradients.
fn add(mut a: Vec<f64>, b: Vec<f64>) -> Vec<f64> {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
    a
}
