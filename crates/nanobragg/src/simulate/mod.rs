//! The renderer: pixel tiles through detector, beam, crystal, lattice and structure factors,
//! reduced with the C program's normalisation and "first/last value" rules.
//!
//! Shapes for a tile of P pixels, T sensor layers, O = oversample² sub-pixels, S sources,
//! K = Φ·M (φ steps × mosaic domains): positions `[P,T,O,3]`, scattering vectors
//! `[P,T,O,S,3]` flattened to `[E,3]` with E = P·T·O·S evaluations, Miller indices `[E,K]`,
//! intensities `[E,K]` → `[P]`. The tile size keeps the largest intermediate inside a memory
//! budget ([`RenderOptions`]).

use burn::tensor::{backend::Backend, Tensor};

use crate::crystal::CrystalGeometry;
use crate::detector::DetectorGeometry;
use crate::error::Result;
use crate::kernel::{Engine, RenderBackend};
use crate::linalg::scalar;
use crate::params::Params;
use crate::phi::{FreshPhiRotation, PhiRotation};
use crate::setup::Setup;
use crate::trace::NoObserver;

mod direct;
mod factors;
mod fused;
mod host_pullback;
mod model;
mod observed;
mod panels;
mod plan;
mod route;
mod tile;

pub use model::phi_angles;
pub use direct::{DirectGradients, DirectTile};
pub use host_pullback::{PullbackGraph, ThetaPullback};
pub use panels::{panel_simulators, panels_as_seen, render_panels};
pub(crate) use tile::Intermediates;
use model::Model;
use plan::plan;

/// Memory and tiling options of a render.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    /// Approximate memory budget for one tile's intermediates, in bytes (default 256 MiB).
    pub tile_budget_bytes: usize,
    /// Fixed number of pixels per tile, overriding the budget.
    pub tile_pixels: Option<usize>,
    /// Also keep the values before rounding to f32 ([`Image::data_f64`], 8 more bytes per
    /// pixel; default off).
    pub keep_f64: bool,
    /// Fused kernel where the backend has one (default), or the tensor-op reference path.
    pub engine: Engine,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            tile_budget_bytes: 256 << 20,
            tile_pixels: None,
            keep_f64: false,
            engine: Engine::Auto,
        }
    }
}

/// Discrete choices fixed once per render (derived from the setup and the unrotated model).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Sub-pixels per axis.
    pub oversample: usize,
    /// Cells per axis after crystal-size overrides and clamping ≥ 1.
    pub n_cells: [f64; 3],
    /// Tricubic interpolation of F (resolved auto mode).
    pub interpolate: bool,
    /// Normalisation: sources × domains × φ steps × oversample².
    pub steps: usize,
    /// Pixel indices (slow·fpixels + fast) rendered, in scan order (ROI and mask applied).
    pub pixels: Vec<usize>,
    /// Messages the C program prints while planning (auto-selections, warnings).
    pub notes: Vec<String>,
    /// The render's work, factor by factor (for the memory model).
    pub work: crate::validate::Work,
}

/// A rendered float image (photons per pixel), fast-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Fast pixels.
    pub fpixels: usize,
    /// Slow pixels.
    pub spixels: usize,
    /// Values as the C program stores them (f32), `slow·fpixels + fast`.
    pub data: Vec<f32>,
    /// The same values before rounding to f32 (in the render's precision) when
    /// [`RenderOptions::keep_f64`] is on; empty otherwise.
    pub data_f64: Vec<f64>,
    /// Warnings raised while rendering (e.g. the one-time interpolation fallback).
    pub notes: Vec<String>,
}

/// State carried from tile to tile in scan order (the C program's loop-carried variables).
#[derive(Debug, Clone)]
pub struct ScanState {
    /// Whether any evaluation of an earlier tile ran the φ loop.
    any_before: bool,
    /// Tricubic interpolation still on (switched off for good at the first out-of-range window).
    interpolate: bool,
    /// Warnings raised so far.
    pub notes: Vec<String>,
}

/// A scene ready to render on one backend: setup, parameter tensors, plan and φ policy.
#[derive(Debug)]
pub struct Simulator<B: Backend> {
    /// Resolved scene.
    pub setup: Setup,
    /// Parameter tensors.
    pub params: Params<B>,
    /// Discrete plan.
    pub plan: Plan,
    /// Tiling options.
    pub options: RenderOptions,
    phi_policy: Box<dyn PhiRotation<B>>,
}

impl<B: RenderBackend> Simulator<B> {
    /// Build tensors and plan for `setup` on `device` with the spec's φ rule.
    pub fn new(setup: Setup, device: &B::Device, options: RenderOptions) -> Result<Self> {
        Self::with_phi_rotation(setup, device, options, Box::new(FreshPhiRotation))
    }

    /// As [`Simulator::new`], with a custom φ-rotation policy (see [`crate::phi`]).
    pub fn with_phi_rotation(
        setup: Setup,
        device: &B::Device,
        options: RenderOptions,
        phi_policy: Box<dyn PhiRotation<B>>,
    ) -> Result<Self> {
        crate::validate::check_setup(&setup)?;
        let mut params = Params::<B>::from_setup(&setup, device)?;
        // Discrete choices (N from crystal size, auto oversampling) are made at f64 on the CPU
        // whatever the render dtype, so an f32 render takes the same decisions as the C program.
        let plan = {
            type Planner = burn_ndarray::NdArray<f64>;
            let mut host = Params::<Planner>::from_setup(&setup, &burn_ndarray::NdArrayDevice::Cpu)?;
            plan(&setup, &mut host)?
        };
        let device_n = params.pixel.device();
        params.n_cells = plan.n_cells.map(|x| scalar::<B>(x, &device_n));
        Ok(Simulator {
            setup,
            params,
            plan,
            options,
            phi_policy,
        })
    }

    /// The detector geometry of the current parameters.
    pub fn detector(&self) -> Result<DetectorGeometry<B>> {
        DetectorGeometry::new(&self.setup.detector, &self.params)
    }

    /// The unrotated crystal of the current parameters.
    pub fn crystal(&self) -> CrystalGeometry<B> {
        CrystalGeometry::new(&self.params)
    }

    /// Refuse the render (or, with `gradient`, the loss and gradient pass) when even its
    /// smallest tile would not fit the tile budget ([`crate::validate::check_memory`]), or when
    /// it is pinned to a kernel ([`Engine::Kernel`]) that cannot render the scene.
    pub fn check_memory(&self, gradient: bool) -> Result<()> {
        use crate::validate::MemoryPath;
        self.check_engine()?;
        let path = match (self.fused_kernel().is_some(), gradient) {
            (true, false) => MemoryPath::FusedForward,
            (true, true) => MemoryPath::FusedGradient,
            (false, _) => MemoryPath::Tensor,
        };
        crate::validate::check_memory(&self.plan.work, path, self.options.tile_budget_bytes)
    }

    /// Number of pixels per tile under the options.
    pub fn tile_pixels(&self) -> usize {
        if let Some(n) = self.options.tile_pixels {
            return n.max(1);
        }
        if self.fused_kernel().is_some() {
            // The fused kernel keeps nothing per evaluation (one output value per pixel), so a
            // tile is large: fewer per-tile setups (model, packing, autodiff graph).
            return B::fused_tile_pixels();
        }
        // Bounded by `validate::check_work` when the plan was made.
        let per_pixel = self.plan.work.per_pixel().unwrap_or(usize::MAX);
        let live = crate::validate::TENSOR_LIVE_INTERMEDIATES;
        let bytes = per_pixel.max(1).saturating_mul(live * std::mem::size_of::<B::FloatElem>());
        (self.options.tile_budget_bytes / bytes).clamp(1, 1 << 16)
    }

    /// Render the whole image (ROI and mask applied; other pixels are 0).
    pub fn render(&self) -> Result<Image> {
        self.render_observed(&mut NoObserver)
    }

    /// The rendered pixels `[N]` (scan order, [`Plan::pixels`]; with no ROI or mask, the whole
    /// image fast-major) left on the backend's device: no host copy, for pipelines that keep
    /// working on the device. The same values as [`Simulator::render`] before its rounding to
    /// f32.
    pub fn render_tensor(&self) -> Result<Tensor<B, 1>> {
        self.check_memory(false)?;
        let mut state = self.scan_start();
        let mut parts = Vec::new();
        for tile in self.plan.pixels.chunks(self.tile_pixels()) {
            parts.push(self.tile_values(tile, &mut state)?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one tile") } else { Tensor::cat(parts, 0) })
    }

    /// The scan state at the start of a render.
    pub fn scan_start(&self) -> ScanState {
        ScanState {
            any_before: false,
            interpolate: self.plan.interpolate,
            notes: Vec::new(),
        }
    }

    /// Intensities `[P]` (photons) of the pixels `tile` (indices `slow·fpixels + fast`, in scan
    /// order), as one differentiable graph from the parameter tensors: the derived geometry is
    /// rebuilt for every tile, so each tile's graph can be consumed by its own backward pass.
    pub fn tile_values(&self, tile: &[usize], state: &mut ScanState) -> Result<Tensor<B, 1>> {
        self.tile_values_with(&self.params, tile, state)
    }

    /// As [`Simulator::tile_values`] with other parameter tensors (same setup and plan).
    pub fn tile_values_with(
        &self,
        params: &Params<B>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Result<Tensor<B, 1>> {
        if let Some(values) = self.fused_tile_from_host(params, tile, state)? {
            return Ok(values);
        }
        let model = self.model(params)?;
        Ok(self.tile_intensity(params, &model, tile, state))
    }

    /// All rendered pixels `[N]` (scan order, `plan.pixels`) as one graph from `params` — for
    /// small detectors (gradchecks); use tiles for large ones.
    pub fn image_tensor_with(&self, params: &Params<B>) -> Result<Tensor<B, 1>> {
        let mut state = self.scan_start();
        self.tile_values_with(params, &self.plan.pixels, &mut state)
    }
}
