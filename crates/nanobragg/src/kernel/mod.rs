//! Fused tile kernels behind a Burn backend extension.
//!
//! The tensor-op renderer in [`crate::simulate`] is the reference: it runs on every backend and
//! every scene. A backend may also offer a *fused* kernel for a tile — one pass per pixel over
//! layers, sub-pixels, sources and (φ, mosaic) cells with no materialised intermediates — by
//! implementing [`RenderBackend`]. The renderer packs every continuous input of a tile into one
//! flat tensor `θ` (see [`Layout`]), built with tensor ops from the parameters so gradients
//! still reach them, and calls [`RenderBackend::fused_tile`]. Under [`burn_autodiff::Autodiff`]
//! the fused op registers its own backward step (Burn's custom backward op), which calls
//! [`RenderBackend::fused_tile_backward`] for the vector–Jacobian product with respect to `θ`;
//! autodiff carries it on to the parameters through the packing.
//!
//! For a loss that is a sum over pixels ([`PixelLoss`]), a backend may also offer the loss and
//! `∂loss/∂θ` of a tile from one pass ([`RenderBackend::fused_tile_loss_grad`]): each pixel's
//! gradient terms are computed with its value and weighted by the loss's slope once the value
//! is known, instead of a render followed by the vector–Jacobian product, which evaluates every
//! grating twice. [`crate::Simulator::loss_and_gradients`] takes it where offered and carries
//! `θ̄` on to the parameters through the packing.
//!
//! Which kernel renders a scene is decided by [`capability`]: the scene's required
//! [`Capability`] set against each kernel's declared [`Coverage`] ([`RenderBackend::kernels`],
//! in order of preference). The renderer offers tiles only to a kernel that implements every
//! required capability (named in [`TileSpec::kernel`]); traced pixels always run the tensor
//! path. A kernel may still decline a tile at run time (return `None`): the CPU kernel does when
//! tricubic interpolation leaves the HKL grid inside the tile (the C program's one-time fallback
//! is a scan-order rule the tensor path implements).
//!
//! Backends: NdArray (f32, f64) and Flex run the CPU kernel; CUDA runs CubeCL forward and
//! adjoint kernels where they cover the scene (the tensor path otherwise), with θ built on the
//! host ([`host_theta`]); any other backend opts in with an empty
//! `impl RenderBackend for MyBackend {}`.

mod autodiff;
mod backends;
pub mod capability;
pub mod cpu;
#[cfg(feature = "cuda")]
mod cuda;
#[cfg(feature = "cuda")]
pub use cuda::{allocator_usage, AllocatorUsage};
pub mod host_theta;
pub mod real;

pub use capability::{Capability, Coverage, KernelId};
use crate::scene::LatticeShape;
use crate::physics::structure_factor::GridExtent;
use burn::tensor::{backend::Backend, ops::FloatTensor};
use std::sync::Arc;

/// Which implementation renders tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The backend's fused kernel where it has one and the scene is covered; tensor ops otherwise.
    #[default]
    Auto,
    /// Always the tensor-op reference path.
    Tensor,
    /// Only this fused kernel: a render is refused when the backend does not have it or it
    /// does not implement a capability the scene requires (for tests and debugging).
    Kernel(KernelId),
}

/// A backend that may render tiles with a fused kernel.
///
/// Both methods default to `None` (no fused kernel: the tensor path runs).
pub trait RenderBackend: Backend {
    /// The fused kernels of this backend in order of preference, each with the capabilities
    /// it implements; empty (the default): the tensor path renders everything.
    fn kernels() -> &'static [&'static Coverage] {
        &[]
    }

    /// Whether [`RenderBackend::fused_tile`] may render tiles (the renderer then sizes tiles for
    /// it: one value per pixel instead of the tensor path's per-evaluation intermediates).
    fn has_fused_kernel() -> bool {
        !Self::kernels().is_empty()
    }

    /// Whether [`RenderBackend::fused_tile_backward`] is implemented (otherwise tiles that need
    /// a gradient run on the tensor path).
    fn has_fused_backward() -> bool {
        Self::has_fused_kernel()
    }

    /// Whether [`RenderBackend::fused_tile_loss_grad`] is implemented.
    fn has_fused_loss_grad() -> bool {
        false
    }

    /// Pixels per tile when the fused kernel renders (it keeps one value per pixel).
    fn fused_tile_pixels() -> usize {
        1 << 20
    }

    /// Whether the renderer should build θ on the host (the same generic tensor code on the
    /// CPU, in f64) and upload it in one transfer, instead of running it on this backend's
    /// device. Worth it where every small tensor op is a kernel launch (CUDA): the model behind
    /// θ is about a hundred ops on tensors of a few elements. Only for backends without a
    /// gradient graph (autodiff needs θ's graph: see [`RenderBackend::pullback_on_host`]), so
    /// the default is `false`.
    fn inputs_on_host() -> bool {
        false
    }

    /// Whether [`crate::Simulator::loss_and_gradients`] should build θ on the host and pull
    /// `θ̄` back through the host graph after each tile's backward pass ([`host_theta`]), for
    /// autodiff over a backend whose [`RenderBackend::inputs_on_host`] is true. Other uses of
    /// the autodiff backend build θ with its own tensor ops.
    fn pullback_on_host() -> bool {
        false
    }

    /// Whether `tensor` is part of a gradient graph (a leaf that requires grad or a result of
    /// one). Always `false` off autodiff. Lets an untracked render on an autodiff backend take
    /// the host path of [`RenderBackend::inputs_on_host`] without losing a gradient.
    fn is_tracked(tensor: &FloatTensor<Self>) -> bool {
        let _ = tensor;
        false
    }

    /// Render the tile described by `spec` from the packed inputs `theta` ([`Layout`]).
    /// Returns `None` to decline the tile.
    fn fused_tile(theta: FloatTensor<Self>, spec: &Arc<TileSpec>) -> Option<FusedTile<Self>> {
        let _ = (theta, spec);
        None
    }

    /// `∂(Σ grad·values)/∂θ` `[len θ]` for a tile this backend rendered (`grad` `[P]`). Must
    /// be implemented by every backend whose [`RenderBackend::fused_tile`] returns tiles.
    fn fused_tile_backward(
        theta: FloatTensor<Self>,
        spec: &Arc<TileSpec>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let _ = (theta, spec, grad);
        unimplemented!("a backend that renders fused tiles must implement their backward")
    }

    /// The tile's loss `Σ_i loss(i, value_i)` and `∂loss/∂θ` from one pass (see
    /// [`PixelLoss`]), for backends whose kernel can weight each pixel's gradient terms by the
    /// loss's slope once it has the pixel's value. `None` (the default): not offered, or the
    /// tile declined — the caller renders the tile and differentiates it through autodiff.
    fn fused_tile_loss_grad(
        theta: FloatTensor<Self>,
        spec: &Arc<TileSpec>,
        loss: &PixelLoss<'_>,
    ) -> Option<TileLossGrad> {
        let _ = (theta, spec, loss);
        None
    }

    /// Whether [`RenderBackend::counter_poisson`] draws on the device (else callers holding
    /// host values draw them on the host, with no tensor round trip).
    fn has_counter_poisson() -> bool {
        false
    }

    /// Poisson deviates of `means` (`[N]`, the detector pixels `pixels` in order) under `key`,
    /// drawn on this backend's device by the counter-based generator of
    /// [`crate::random::counter`] (the same values as its scalar form). `None` (the default):
    /// the caller draws them on the host. Not differentiable: an untracked result.
    fn counter_poisson(
        means: FloatTensor<Self>,
        pixels: &crate::random::counter::CounterPixels,
        key: crate::random::counter::CounterKey,
    ) -> Option<FloatTensor<Self>> {
        let _ = (means, pixels, key);
        None
    }
}

/// A tile's loss as a sum over its pixels: `loss(i, value)` is the share of the pixel at
/// position `i` of the tile, whose rendered value is `value` (photons), and its slope
/// `∂/∂value`.
pub type PixelLoss<'a> = dyn Fn(usize, f64) -> (f64, f64) + Sync + 'a;

/// A tile's loss and its gradient with respect to θ from one fused pass
/// ([`RenderBackend::fused_tile_loss_grad`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TileLossGrad {
    /// `Σ_i loss(i, value_i)` over the tile's pixels.
    pub loss: f64,
    /// `∂loss/∂θ` `[len θ]`.
    pub theta_grad: Vec<f64>,
    /// Whether any evaluation of the tile ran the φ loop (not culled by d_min).
    pub any_active: bool,
}

/// A rendered tile.
#[derive(Debug, Clone)]
pub struct FusedTile<B: Backend> {
    /// Photons per pixel `[P]`.
    pub values: FloatTensor<B>,
    /// Whether any evaluation of the tile ran the φ loop (not culled by d_min).
    pub any_active: bool,
}

/// Everything about a tile that is discrete or constant (no gradient flows to it).
#[derive(Debug, Clone, PartialEq)]
pub struct TileSpec {
    /// The kernel the renderer chose for the scene (it implements every required capability).
    pub kernel: KernelId,
    /// Pixel indices `slow·fpixels + fast`, in scan order.
    pub pixels: Pixels,
    /// Fast pixels of the detector.
    pub fpixels: usize,
    /// Sub-pixels per axis.
    pub oversample: usize,
    /// Sensor layers.
    pub layers: usize,
    /// Whether the sensor has a thickness (capture fraction computed; else 1).
    pub thick: bool,
    /// Solid angle `1/r²` instead of `pixel²·close/r³`.
    pub point_pixel: bool,
    /// Incident unit vectors per source.
    pub incident: Vec<[f64; 3]>,
    /// Polarization frames `E_in`, `B_in` per source.
    pub e_in: Vec<[f64; 3]>,
    /// See `e_in`.
    pub b_in: Vec<[f64; 3]>,
    /// Number of (φ, mosaic) cells K.
    pub cells: usize,
    /// Lattice transform.
    pub shape: LatticeShape,
    /// Fudge factor of the ROUND/GAUSS/TOPHAT transforms.
    pub fudge: f64,
    /// Host values of N (the grating's sign rule).
    pub n_value: [f64; 3],
    /// Resolution cut d_min (m), 0 for none.
    pub dmin_m: f64,
    /// No water background: evaluations with F_latt = 0 are skipped (C `continue`).
    pub water_zero: bool,
    /// Capture fraction, polarization, solid angle applied per sub-pixel (true) or once.
    pub per_subpixel: [bool; 3],
    /// No polarization factor (when not per sub-pixel).
    pub nopolar: bool,
    /// HKL grid extent, when a grid is loaded.
    pub grid: Option<GridExtent>,
    /// Tricubic interpolation of F.
    pub interpolate: bool,
}

impl TileSpec {
    /// Evaluations of one pixel before the φ·mosaic cells: layers × sub-pixels × sources.
    pub fn evaluations_per_pixel(&self) -> usize {
        self.layers * self.oversample * self.oversample * self.incident.len()
    }

    /// Offsets of the packed inputs.
    pub fn layout(&self) -> Layout {
        let grid = self
            .grid
            .map(|g| g.counts().iter().product::<i64>() as usize)
            .unwrap_or(0);
        Layout {
            sources: self.incident.len(),
            cells: self.cells,
            grid,
        }
    }
}

/// The pixels of a tile: a run of consecutive indices (no ROI or mask cuts it), or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pixels {
    /// Indices `first..first + len`.
    Run {
        /// First pixel index.
        first: usize,
        /// Number of pixels.
        len: usize,
    },
    /// Explicit indices in scan order.
    List(Vec<usize>),
}

impl Pixels {
    /// The pixels of `tile` (strictly increasing indices), as a run when they are consecutive.
    pub fn of(tile: &[usize]) -> Self {
        match (tile.first(), tile.last()) {
            (Some(&first), Some(&last)) if last - first + 1 == tile.len() => Pixels::Run {
                first,
                len: tile.len(),
            },
            _ => Pixels::List(tile.to_vec()),
        }
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        match self {
            Pixels::Run { len, .. } => *len,
            Pixels::List(v) => v.len(),
        }
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixel indices of positions `range` of the tile.
    pub fn slice(&self, range: std::ops::Range<usize>) -> std::borrow::Cow<'_, [usize]> {
        match self {
            Pixels::Run { first, .. } => (first + range.start..first + range.end).collect(),
            Pixels::List(v) => std::borrow::Cow::Borrowed(&v[range]),
        }
    }
}

/// Offsets into the packed input vector θ.
///
/// `θ = [pix0 (3), fdet (3), sdet (3), odet (3), close_distance, pixel, layer_step, μ,
/// K_polar, N_a, N_b, N_c, default_F, scale, I_bg, a* (3), b* (3), c* (3), λ (S),
/// cells (K·9, rows a, b, c of each cell), F grid (G)]`, lengths in metres (a* in Å⁻¹),
/// `scale = r_e²·fluence/steps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Sources S.
    pub sources: usize,
    /// Cells K.
    pub cells: usize,
    /// Grid entries G.
    pub grid: usize,
}

impl Layout {
    /// pix0.
    pub const PIX0: usize = 0;
    /// Fast axis.
    pub const FDET: usize = 3;
    /// Slow axis.
    pub const SDET: usize = 6;
    /// Normal axis.
    pub const ODET: usize = 9;
    /// Close distance.
    pub const CLOSE: usize = 12;
    /// Pixel size.
    pub const PIXEL: usize = 13;
    /// Sensor layer step.
    pub const LAYER: usize = 14;
    /// Attenuation μ.
    pub const MU: usize = 15;
    /// Kahn factor.
    pub const POLAR_K: usize = 16;
    /// N_a, N_b, N_c.
    pub const N: usize = 17;
    /// default_F.
    pub const DEFAULT_F: usize = 20;
    /// Intensity scale.
    pub const SCALE: usize = 21;
    /// Water background.
    pub const I_BG: usize = 22;
    /// Reciprocal vectors.
    pub const RECIP: usize = 23;
    /// Wavelengths.
    pub const LAMBDA: usize = 32;

    /// First cell entry.
    pub fn cells_at(&self) -> usize {
        Self::LAMBDA + self.sources
    }

    /// First grid entry.
    pub fn grid_at(&self) -> usize {
        self.cells_at() + 9 * self.cells
    }

    /// Length of θ.
    pub fn len(&self) -> usize {
        self.grid_at() + self.grid
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }
}
