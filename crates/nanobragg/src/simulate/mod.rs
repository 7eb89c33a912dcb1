//! The renderer: pixel tiles through detector, beam, crystal, lattice and structure factors,
//! reduced with the C program's normalisation and "first/last value" rules.
//!
//! Shapes for a tile of P pixels, T sensor layers, O = oversample² sub-pixels, S sources,
//! K = Φ·M (φ steps × mosaic domains): positions `[P,T,O,3]`, scattering vectors
//! `[P,T,O,S,3]` flattened to `[E,3]` with E = P·T·O·S evaluations, Miller indices `[E,K]`,
//! intensities `[E,K]` → `[P]`. The tile size keeps the largest intermediate inside a memory
//! budget ([`RenderOptions`]).

use burn::tensor::{backend::Backend, Bool, Int, Tensor, TensorData};

use crate::crystal::{mosaic_cells, phi_rotated_cells, CrystalGeometry};
use crate::detector::DetectorGeometry;
use crate::error::Result;
use crate::kernel::{Engine, Pixels, RenderBackend};
use crate::lattice::{grating, nearest_index, sinc3_of_square};
use crate::linalg::{dot, float_options, norm, outer_dot3, scalar, tensor, to_f64};
use crate::params::Params;
use crate::phi::{EvaluationContext, FreshPhiRotation, PhiRotation};
use crate::polarization::{kahn_factor, source_frames};
use crate::scattering::scattering_vector;
use crate::scene::LatticeShape;
use crate::setup::Setup;
use crate::structure_factors::{nearest, tricubic, GridExtent};
use burn::tensor::ElementConversion;
use crate::trace::probe::TileDims;
use crate::trace::{NoObserver, ProbeSelection, RenderObserver, SceneProbe, SceneValues, TileProbe};
use crate::units::{AVOGADRO, RTD, R_E_SQR, WATER_F, WATER_MW};
use std::sync::Arc;

mod fused;
mod route;

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

/// Everything derived from the parameters once per render (not per tile).
struct Model<B: Backend> {
    det: DetectorGeometry<B>,
    crystal: CrystalGeometry<B>,
    /// Cells per φ step `[Φ, 3, 3]` before mosaic.
    phi_cells: Tensor<B, 3>,
    umats: Tensor<B, 3>,
    /// Incident unit vectors `[1,1,1,S,3]`.
    inc: Tensor<B, 5>,
    inc_host: Vec<[f64; 3]>,
    /// Wavelengths `[1,1,1,S,1]` (m).
    lambda: Tensor<B, 5>,
    /// `r_e²·fluence/steps` `[1]`.
    scale: Tensor<B, 1>,
    /// Water background I_bg `[1]`.
    i_bg: Tensor<B, 1>,
    n_cells: [Tensor<B, 1>; 3],
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

    fn model<C: Backend>(&self, p: &Params<C>) -> Result<Model<C>> {
        let device = p.pixel.device();
        let det = DetectorGeometry::new(&self.setup.detector, p)?;
        let crystal = CrystalGeometry::new(p);
        let c = &self.setup.crystal;
        let phi_cells = phi_rotated_cells(
            &crystal.cell_matrix(),
            self.setup.detector.axes.spindle,
            &p.phi_start,
            &p.phi_step,
            c.phi_steps,
        );
        let umats = mosaic_matrices(&c.mosaic_axes, &p.mosaic_spread);
        let sources = &self.setup.beam.sources;
        let s = sources.len();
        let inc_host: Vec<[f64; 3]> = sources
            .iter()
            .map(|src| src.direction.map(|x| -x))
            .collect();
        let inc = tensor::<C, 5>(
            inc_host.iter().flat_map(|v| v.iter().copied()).collect(),
            [1, 1, 1, s, 3],
            &device,
        );
        let fixed = tensor::<C, 1>(sources.iter().map(|x| x.fixed_m).collect(), [s], &device);
        let scale_l = tensor::<C, 1>(sources.iter().map(|x| x.scale).collect(), [s], &device);
        let coeff = tensor::<C, 1>(sources.iter().map(|x| x.disp_coeff).collect(), [s], &device);
        let lambda = fixed
            + scale_l * p.wavelength.clone() * (coeff * p.dispersion.clone() + 1.0);
        let lambda = lambda.reshape([1, 1, 1, s, 1]);
        let scale = p.fluence.clone() * (R_E_SQR / self.plan.steps as f64);
        let i_bg = p.fluence.clone()
            * p.water.clone().powi_scalar(3)
            * (WATER_F * WATER_F * R_E_SQR * 1e6 * AVOGADRO / WATER_MW);
        Ok(Model {
            det,
            crystal,
            phi_cells,
            umats,
            inc,
            inc_host,
            lambda,
            scale,
            i_bg,
            n_cells: p.n_cells.clone(),
        })
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

    /// Render the whole image, reporting progress and the pixels the observer selects (see
    /// [`crate::trace`]). Each selected pixel is rendered as a tile of its own; the scan
    /// state still flows through it in order, so the image is the same as [`Simulator::render`].
    pub fn render_observed(&self, observer: &mut dyn RenderObserver) -> Result<Image> {
        self.check_memory(false)?;
        let det = &self.setup.detector;
        let mut data = vec![0f32; det.fpixels * det.spixels];
        let mut data_f64 = vec![0f64; if self.options.keep_f64 { data.len() } else { 0 }];
        let mut state = self.scan_start();
        let pixels = &self.plan.pixels;
        let selection = observer.selection();
        let mut tiles: Vec<(&[usize], bool)> = Vec::new();
        let chunk = self.tile_pixels();
        fn plain<'a>(range: &'a [usize], tiles: &mut Vec<(&'a [usize], bool)>, chunk: usize, probe: bool) {
            tiles.extend(range.chunks(chunk).map(|t| (t, probe)));
        }
        match selection {
            ProbeSelection::None => plain(pixels, &mut tiles, chunk, false),
            ProbeSelection::All => plain(pixels, &mut tiles, chunk, true),
            ProbeSelection::Pixels(selected) => {
                let mut start = 0;
                for (at, p) in pixels.iter().enumerate() {
                    if selected.contains(p) {
                        plain(&pixels[start..at], &mut tiles, chunk, false);
                        tiles.push((&pixels[at..at + 1], true));
                        start = at + 1;
                    }
                }
                plain(&pixels[start..], &mut tiles, chunk, false);
            }
        }
        let mut scene: Option<Arc<SceneValues>> = None;
        let mut done = 0;
        for (tile, probed) in tiles {
            let mut probe = None;
            let values = if probed {
                let model = self.model(&self.params)?;
                if scene.is_none() {
                    scene = Some(Arc::new(self.scene_probe(&model).values()));
                }
                self.tile_intensity(&self.params, &model, tile, &mut state, Some(&mut probe))?
            } else {
                self.tile_values(tile, &mut state)?
            };
            let host = values.into_data();
            if self.options.keep_f64 {
                let host = host.convert::<f64>().into_vec::<f64>().expect("converted to f64");
                let stored: Vec<f32> = host.iter().map(|&v| v as f32).collect();
                crate::validate::check_rendered(&stored, tile, det.fpixels)?;
                for ((&idx, v), v32) in tile.iter().zip(host).zip(stored) {
                    data[idx] = v32;
                    data_f64[idx] = v;
                }
            } else {
                let host = host.convert::<f32>().into_vec::<f32>().expect("converted to f32");
                crate::validate::check_rendered(&host, tile, det.fpixels)?;
                match Pixels::of(tile) {
                    Pixels::Run { first, len } => data[first..first + len].copy_from_slice(&host),
                    Pixels::List(_) => {
                        for (&idx, v) in tile.iter().zip(host) {
                            data[idx] = v;
                        }
                    }
                }
            }
            if let (Some(probe), Some(scene)) = (probe, &scene) {
                for report in probe.reports(tile, det.fpixels, self.tile_dims(), scene) {
                    observer.pixel(&report);
                }
            }
            done += tile.len();
            observer.progress(done, pixels.len());
        }
        Ok(Image {
            fpixels: det.fpixels,
            spixels: det.spixels,
            data,
            data_f64,
            notes: state.notes,
        })
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

    fn tile_dims(&self) -> TileDims {
        let os = self.plan.oversample;
        TileDims {
            layers: self.setup.detector.thick_steps,
            subpixels: os * os,
            sources: self.setup.beam.sources.len(),
            steps: self.setup.crystal.phi_steps * self.setup.crystal.mosaic_axes.len().max(1),
        }
    }

    fn scene_probe(&self, m: &Model<B>) -> SceneProbe<B> {
        let s = m.inc_host.len();
        let samp = &self.setup.sampling;
        SceneProbe {
            pix0: m.det.pix0.clone(),
            fdet: m.det.fdet.clone(),
            sdet: m.det.sdet.clone(),
            odet: m.det.odet.clone(),
            close_distance: m.det.close_distance.clone(),
            reciprocal: m.crystal.reciprocal.clone(),
            incident: m.inc.clone().reshape([s, 3]),
            lambda: m.lambda.clone().reshape([s]),
            fluence: self.params.fluence.clone(),
            wavelength: self.params.wavelength.clone(),
            phi_deg: phi_angles(&self.params, self.setup.crystal.phi_steps)
                .into_iter()
                .map(|x| x * RTD)
                .collect(),
            domains: self.setup.crystal.mosaic_axes.len().max(1),
            steps: self.plan.steps,
            oversample_flags: [samp.oversample_thick, samp.oversample_polar, samp.oversample_omega],
            square_lattice: self.setup.crystal.shape == LatticeShape::Square,
            water_m: samp.water_m,
        }
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
        self.tile_intensity(params, &model, tile, state, None)
    }

    /// All rendered pixels `[N]` (scan order, `plan.pixels`) as one graph from `params` — for
    /// small detectors (gradchecks); use tiles for large ones.
    pub fn image_tensor_with(&self, params: &Params<B>) -> Result<Tensor<B, 1>> {
        let mut state = self.scan_start();
        self.tile_values_with(params, &self.plan.pixels, &mut state)
    }

    /// Intensities `[P]` of the pixels `tile` (indices `slow·fpixels + fast`), updating the
    /// scan state carried to the next tile.
    fn tile_intensity(
        &self,
        p: &Params<B>,
        m: &Model<B>,
        tile: &[usize],
        state: &mut ScanState,
        probe: Option<&mut Option<TileProbe<B>>>,
    ) -> Result<Tensor<B, 1>> {
        let any_before = state.any_before;
        if probe.is_none() {
            if let Some(values) = self.fused_tile_on_device(p, m, tile, state) {
                return Ok(values);
            }
        }
        let setup = &self.setup;
        let ds = &setup.detector;
        let samp = &setup.sampling;
        let device = p.pixel.device();
        let np = tile.len();
        let os = self.plan.oversample;
        let (nt, no, ns) = (ds.thick_steps, os * os, setup.beam.sources.len());

        // Sub-pixel centres on the detector plane (m): [P, 1, O, 1].
        let fast: Vec<f64> = tile.iter().map(|&i| (i % ds.fpixels) as f64).collect();
        let slow: Vec<f64> = tile.iter().map(|&i| (i / ds.fpixels) as f64).collect();
        let sub_f: Vec<f64> = (0..no).map(|o| (o % os) as f64).collect();
        let sub_s: Vec<f64> = (0..no).map(|o| (o / os) as f64).collect();
        let subpixel = crate::linalg::div_exact(p.pixel.clone(), os as f64);
        let coord = |pix: Vec<f64>, sub: Vec<f64>| {
            let pix = tensor::<B, 4>(pix, [np, 1, 1, 1], &device) * os as f64;
            let sub = tensor::<B, 4>(sub, [1, 1, no, 1], &device);
            let half = subpixel.clone().reshape([1, 1, 1, 1]) / 2.0;
            (pix + sub) * subpixel.clone().reshape([1, 1, 1, 1]) + half
        };
        let fdet = coord(fast, sub_f);
        let sdet = coord(slow, sub_s);
        let thick_coeff = if ds.thick_m > 0.0 { ds.thick_step_m / ds.thick_m } else { 0.0 };
        let layer_step = p.thickness.clone() * thick_coeff;
        let layers = tensor::<B, 4>((0..nt).map(|t| t as f64).collect(), [1, nt, 1, 1], &device);
        let odet = layers.clone() * layer_step.clone().reshape([1, 1, 1, 1]);
        let v4 = |v: &Tensor<B, 1>| v.clone().reshape([1, 1, 1, 3]);
        let mut pos = v4(&m.det.pix0)
            + fdet * v4(&m.det.fdet)
            + sdet * v4(&m.det.sdet)
            + odet * v4(&m.det.odet);
        if ds.curved {
            pos = curved_position(pos, &m.det);
        }
        let pos = pos.expand([np, nt, no, 3]);
        let r = norm(&pos); // [P,T,O,1]
        let probing = probe.is_some();
        let kept_pos = probing.then(|| (pos.clone(), r.clone()));
        let d = pos.clone() / r.clone();
        let omega = if ds.point_pixel {
            r.clone().powi_scalar(2).recip()
        } else {
            let pix2 = p.pixel.clone().powi_scalar(2).reshape([1, 1, 1, 1]);
            pix2 * m.det.close_distance.clone().reshape([1, 1, 1, 1]) / r.clone().powi_scalar(3)
        };
        let capture = if ds.thick_m > 0.0 {
            let rho = dot(&d, &v4(&m.det.odet));
            let mu_step = (layer_step * p.mu.clone()).reshape([1, 1, 1, 1]);
            let a = (layers.clone() * mu_step.clone() / rho.clone()).neg().exp();
            let b = ((layers + 1.0) * mu_step / rho).neg().exp();
            a - b
        } else {
            Tensor::ones([np, nt, no, 1], float_options::<B>(&device))
        };

        // Scattering vectors [P,T,O,S,3] and d_min culling.
        let d5 = d.clone().unsqueeze_dim::<5>(3); // [P,T,O,1,3]
        let q = scattering_vector(&pos, &r, &m.inc, &m.lambda);
        let ne = np * nt * no * ns;
        let q = q.reshape([ne, 3]);
        let active: Tensor<B, 1, Bool> = if samp.dmin_m > 0.0 {
            let stol = norm(&q).reshape([ne]) * 0.5;
            // culled when stol > 0 and dmin > 0.5/stol, i.e. stol·dmin > 0.5
            stol.mul_scalar(samp.dmin_m).lower_equal_elem(0.5)
        } else {
            Tensor::<B, 1, Int>::ones([ne], &device).equal_elem(1)
        };
        let polar = kahn_factor(
            &d5,
            &m.inc,
            &source_frames(&m.inc_host, ds.axes.polar),
            &p.polarization_k,
        ); // [P,T,O,S,1]

        // Cells per (φ, domain): evaluate the φ policy for this tile.
        let context = EvaluationContext {
            active: active.clone().reshape([np, nt * no * ns]),
            any_before,
        };
        let phi_rad = phi_angles(p, self.setup.crystal.phi_steps);
        let cells = self.phi_policy.cells(
            m.phi_cells.clone(),
            m.crystal.cell_matrix(),
            &phi_rad,
            &context,
        );
        let miller = |table: &Tensor<B, 3>| -> [Tensor<B, 2>; 3] {
            let k = table.dims()[0];
            [0, 1, 2].map(|row| {
                let axis = table.clone().narrow(1, row, 1).reshape([k, 3]);
                outer_dot3(&q, &axis) // [E, K]
            })
        };
        let base_table = mosaic_cells(cells.base, &m.umats); // [K,3,3]
        let mut hkl = miller(&base_table);
        let mut kept_overrides = Vec::new();
        for over in cells.overrides {
            let sel = over.evaluations.reshape([np * nt * no, 1]);
            let sel = sel.expand([np * nt * no, ns]).reshape([ne, 1]);
            let table = mosaic_cells(over.cells, &m.umats);
            let alt = miller(&table);
            hkl = [0, 1, 2].map(|i| {
                let k = hkl[i].dims()[1];
                hkl[i].clone().mask_where(sel.clone().expand([ne, k]), alt[i].clone())
            });
            if probing {
                kept_overrides.push((sel.reshape([ne]), table));
            }
        }
        let [h, k, l] = hkl;
        let kk = h.dims()[1];

        let f_latt = self.lattice_factor(m, &h, &k, &l);
        let f_latt_axes = (probing && self.setup.crystal.shape == LatticeShape::Square).then(|| {
            let [na, nb, nc] = &m.n_cells;
            let nv = self.plan.n_cells;
            [grating(h.clone(), na, nv[0]), grating(k.clone(), nb, nv[1]), grating(l.clone(), nc, nv[2])]
        });
        let runs_f_latt = if samp.water_m == 0.0 {
            Some(f_latt.clone().not_equal_elem(0.0))
        } else {
            None
        };
        let f_cell = self.structure_factor(p, [&h, &k, &l], &active, runs_f_latt, state);
        let kept_f = probing.then(|| (f_cell.clone(), f_latt.clone(), [h.clone(), k.clone(), l.clone()]));
        let term = f_cell.powi_scalar(2) * f_latt.clone().powi_scalar(2); // [E,K]
        let active_f = active.clone().float().reshape([ne, 1]);

        let sum_order = nt * no * ns;
        let flags = (samp.oversample_thick, samp.oversample_polar, samp.oversample_omega);
        let i_bg = m.i_bg.clone().reshape([1]);
        let intensity = if flags == (false, false, false) {
            let per_eval = (term * active_f).sum_dim(1).reshape([np, sum_order]);
            per_eval.sum_dim(1).reshape([np]) + i_bg
        } else {
            // Running sum: I ← (I + term)·c after every term that is not skipped.
            let mut c5 = Tensor::<B, 5>::ones([np, nt, no, ns, 1], float_options::<B>(&device));
            if flags.0 {
                c5 = c5 * capture.clone().unsqueeze_dim::<5>(3);
            }
            if flags.1 {
                c5 = c5 * polar.clone();
            }
            if flags.2 {
                c5 = c5 * omega.clone().unsqueeze_dim::<5>(3);
            }
            let c = c5.reshape([ne, 1]).expand([ne, kk]);
            let mut runs = active.clone().reshape([ne, 1]).expand([ne, kk]);
            if samp.water_m == 0.0 {
                runs = runs.bool_and(f_latt.not_equal_elem(0.0));
            }
            let c = c.mask_fill(runs.clone().bool_not(), 1.0);
            let term = term.mask_fill(runs.bool_not(), 0.0);
            let len = sum_order * kk;
            let c = c.reshape([np, len]);
            let term = term.reshape([np, len]);
            let suffix = c.flip([1]).cumprod(1).flip([1]); // Π_{m ≥ n} c_m
            let first = suffix.clone().narrow(1, 0, 1).reshape([np]);
            (term * suffix).sum_dim(1).reshape([np]) + first * i_bg
        };

        // Factors applied once per pixel (C: values of the first sub-pixel / evaluation).
        let mut factor = m.scale.clone().reshape([1]).expand([np]);
        let mut applied: [Option<Tensor<B, 1>>; 3] = [None, None, None];
        if !flags.0 {
            let last_layer = capture.clone().narrow(1, nt - 1, 1).narrow(2, 0, 1).reshape([np]);
            factor = factor * last_layer.clone();
            applied[0] = Some(last_layer);
        }
        if !flags.1 {
            let pol = if setup.beam.nopolar {
                None
            } else {
                Some(first_active(polar.clone().reshape([np, sum_order]), &context.active))
            };
            if let Some(pol) = pol {
                factor = factor * pol.clone();
                applied[1] = Some(pol);
            }
        }
        if !flags.2 {
            let first = omega.clone().narrow(1, 0, 1).narrow(2, 0, 1).reshape([np]);
            factor = factor * first.clone();
            applied[2] = Some(first);
        }
        if !any_before {
            state.any_before = to_f64(&active.clone().float().sum()) > 0.0;
        }
        let value = intensity.clone() * factor;
        if let (Some(slot), Some((position, airpath)), Some((f_cell, f_latt, hkl))) =
            (probe, kept_pos, kept_f)
        {
            *slot = Some(TileProbe {
                position,
                airpath,
                omega,
                diffracted: d,
                capture,
                scattering: q,
                active,
                polar,
                cells: base_table,
                cell_overrides: kept_overrides,
                hkl,
                f_latt_axes,
                f_latt,
                f_cell,
                intensity,
                factors: applied,
                value: value.clone(),
            });
        }
        Ok(value)
    }

    fn lattice_factor(
        &self,
        m: &Model<B>,
        h: &Tensor<B, 2>,
        k: &Tensor<B, 2>,
        l: &Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        let pi = std::f64::consts::PI;
        let [na, nb, nc] = &m.n_cells;
        let fudge = self.setup.crystal.fudge;
        let n3 = || (na.clone() * nb.clone() * nc.clone()).reshape([1, 1]);
        let frac = |x: &Tensor<B, 2>| x.clone() - nearest_index(x.clone());
        match self.setup.crystal.shape {
            LatticeShape::Square => {
                let nv = self.plan.n_cells;
                grating(h.clone(), na, nv[0]) * grating(k.clone(), nb, nv[1]) * grating(l.clone(), nc, nv[2])
            }
            LatticeShape::Round => {
                let sq = |x: &Tensor<B, 2>, n: &Tensor<B, 1>| {
                    frac(x).powi_scalar(2) * n.clone().powi_scalar(2).reshape([1, 1])
                };
                let hrad2 = sq(h, na) + sq(k, nb) + sq(l, nc);
                sinc3_of_square(hrad2 * (fudge * pi * pi)) * n3() * 0.723601254558268
            }
            LatticeShape::Gauss | LatticeShape::Tophat => {
                let [a, b, c] = m.crystal.reciprocal.clone();
                let (dh, dk, dl) = (frac(h), frac(k), frac(l));
                let comp = |i: usize| {
                    let pick = |v: &Tensor<B, 1>| v.clone().narrow(0, i, 1).reshape([1, 1]);
                    dh.clone() * pick(&a) + dk.clone() * pick(&b) + dl.clone() * pick(&c)
                };
                let r2 = (comp(0).powi_scalar(2) + comp(1).powi_scalar(2) + comp(2).powi_scalar(2))
                    * n3().powi_scalar(2);
                if self.setup.crystal.shape == LatticeShape::Gauss {
                    (r2 * (-fudge / 0.63)).exp() * n3()
                } else {
                    r2.mul_scalar(fudge).lower_elem(0.3969).float() * n3()
                }
            }
        }
    }

    /// F_cell for every evaluation: nearest neighbour, or tricubic while the scan state still
    /// allows it. The first evaluation (in loop order, among those that run) whose 4×4×4 window
    /// leaves the grid takes default_F and switches interpolation off for the rest of the scan.
    fn structure_factor(
        &self,
        p: &Params<B>,
        hkl: [&Tensor<B, 2>; 3],
        active: &Tensor<B, 1, Bool>,
        runs_f_latt: Option<Tensor<B, 2, Bool>>,
        state: &mut ScanState,
    ) -> Tensor<B, 2> {
        let grid = self.setup.structure.grid.as_ref();
        let extent = grid.map(|g| GridExtent {
            min: [g.h_min as i64, g.k_min as i64, g.l_min as i64],
            max: [g.h_max as i64, g.k_max as i64, g.l_max as i64],
        });
        let lookup = match (p.f_grid.as_ref(), extent) {
            (Some(v), Some(e)) => Some((v, e)),
            _ => None,
        };
        let hkl0 = hkl.map(|x| nearest_index(x.clone()));
        let near = nearest(hkl0.clone(), lookup, &p.default_f);
        let (Some((values, extent)), true) = (lookup, state.interpolate) else {
            return near;
        };
        let (interp, outside) = tricubic(hkl, values, extent);
        let [e, k] = near.dims();
        let device = near.device();
        let mut runs = active.clone().reshape([e, 1]).expand([e, k]);
        if let Some(r) = runs_f_latt {
            runs = runs.bool_and(r);
        }
        let hits = outside.bool_and(runs);
        let order = Tensor::<B, 1, Int>::arange(0..(e * k) as i64, &device).reshape([e, k]);
        let big = (e * k) as i64;
        let first = order.clone().mask_fill(hits.bool_not(), big).min().into_scalar().elem::<i64>();
        if first >= big {
            return interp;
        }
        state.interpolate = false;
        let at = |t: &Tensor<B, 2>| {
            let v = t.clone().reshape([e * k]).narrow(0, first as usize, 1);
            crate::linalg::to_f64(&v)
        };
        let (hf, kf, lf) = (at(hkl[0]), at(hkl[1]), at(hkl[2]));
        let (h0, k0, l0) = (at(&hkl0[0]), at(&hkl0[1]), at(&hkl0[2]));
        use crate::io::cfmt::format_g;
        state.notes.push(format!(
            "WARNING: out of range for three point interpolation: h,k,l,h0,k0,l0: {},{},{},{},{},{} ",
            format_g(hf, 6), format_g(kf, 6), format_g(lf, 6), h0 as i64, k0 as i64, l0 as i64
        ));
        state.notes.push("WARNING: further warnings will not be printed! ".into());
        let before = order.clone().lower_elem(first);
        let at_first = order.equal_elem(first);
        let default = p.default_f.clone().reshape([1, 1]).expand([e, k]);
        near.mask_where(before, interp).mask_where(at_first, default)
    }
}

/// φ of each step (rad), as the C program computes it: `φ0 + i·Δφ`.
pub fn phi_angles<B: Backend>(p: &Params<B>, steps: usize) -> Vec<f64> {
    let phi0 = to_f64(&p.phi_start);
    let step = to_f64(&p.phi_step);
    (0..steps).map(|i| phi0 + step * i as f64).collect()
}

/// Mosaic domain matrices `[M, 3, 3]` (new = U·v): rotations by `spread·ratio` about fixed axes.
fn mosaic_matrices<B: Backend>(axes: &[([f64; 3], f64)], spread: &Tensor<B, 1>) -> Tensor<B, 3> {
    let device = spread.device();
    let m = axes.len();
    let mut outer = Vec::with_capacity(9 * m);
    let mut skew = Vec::with_capacity(9 * m);
    let mut eye = Vec::with_capacity(9 * m);
    for (u, _) in axes {
        for i in 0..3 {
            for j in 0..3 {
                outer.push(u[i] * u[j]);
                eye.push(if i == j { 1.0 } else { 0.0 });
            }
        }
        skew.extend([0.0, -u[2], u[1], u[2], 0.0, -u[0], -u[1], u[0], 0.0]);
    }
    let ratio = tensor::<B, 1>(axes.iter().map(|a| a.1).collect(), [m], &device);
    let angle = (ratio * spread.clone()).reshape([m, 1, 1]);
    let (s, c) = (angle.clone().sin(), angle.cos());
    tensor::<B, 3>(eye, [m, 3, 3], &device) * c.clone()
        + tensor::<B, 3>(outer, [m, 3, 3], &device) * (c.neg() + 1.0)
        + tensor::<B, 3>(skew, [m, 3, 3], &device) * s
}

/// The C program's curved detector: the planar position's lab y and z components, divided by
/// the distance, are used as angles to swing `distance·b` about the slow then the fast axis.
fn curved_position<B: Backend>(pos: Tensor<B, 4>, det: &DetectorGeometry<B>) -> Tensor<B, 4> {
    let dist = det.distance.clone().reshape([1, 1, 1, 1]);
    let ang1 = pos.clone().narrow(3, 1, 1) / dist.clone();
    let ang2 = pos.narrow(3, 2, 1) / dist.clone();
    let v = det.beam.clone().reshape([1, 1, 1, 3]) * dist;
    let v = rotate_batched(v, &det.sdet, ang1);
    rotate_batched(v, &det.fdet, ang2)
}

/// Rodrigues rotation of vectors `v` `[..,3]` about a fixed unit axis by per-element angles `[..,1]`.
fn rotate_batched<B: Backend>(v: Tensor<B, 4>, axis: &Tensor<B, 1>, angle: Tensor<B, 4>) -> Tensor<B, 4> {
    let u = axis.clone().reshape([1, 1, 1, 3]);
    let dims = angle.dims();
    let v = v.expand([dims[0], dims[1], dims[2], 3]);
    let (s, c) = (angle.clone().sin(), angle.cos());
    let along = u.clone() * dot(&u.clone().expand([dims[0], dims[1], dims[2], 3]), &v) * (c.clone().neg() + 1.0);
    along + v.clone() * c + crate::linalg::cross(&u.expand([dims[0], dims[1], dims[2], 3]), &v) * s
}

/// Value of `x` `[P, N]` at the first `true` of `active` `[P, N]` per row; 0 where none is.
fn first_active<B: Backend>(x: Tensor<B, 2>, active: &Tensor<B, 2, Bool>) -> Tensor<B, 1> {
    let [p, n] = x.dims();
    let device = x.device();
    let rank = Tensor::<B, 2>::from_data(
        TensorData::new((0..n).map(|j| (n - j) as f64).collect::<Vec<_>>(), [1, n]),
        float_options::<B>(&device),
    );
    let score = active.clone().float() * rank;
    let idx = score.clone().argmax(1); // [P,1]
    let any = score.max_dim(1).greater_elem(0.0).reshape([p]);
    let picked = x.gather(1, idx).reshape([p]);
    picked.mask_fill(any.bool_not(), 0.0)
}

/// The C program's auto-selected oversampling from `3·xtalsize_max/reciprocal_pixel_size`:
/// `ceil` converted to a C `int`, and 1 where that is ≤ 0. A NaN or a value beyond the `int`
/// range converts to `INT_MIN` on x86 (e.g. `-twotheta 90`, where the recomputed distance is
/// ~1e-17 m), which the C program then turns into 1; so do we.
fn c_auto_oversample(ratio: f64) -> usize {
    let r = ratio.ceil();
    if r.is_nan() || r > i32::MAX as f64 || r < 1.0 {
        1
    } else {
        r as usize
    }
}

/// Resolve the discrete plan: N from crystal size and clamping, oversample auto-selection,
/// interpolation auto mode, steps, and the pixel list.
fn plan<B: Backend>(setup: &Setup, params: &mut Params<B>) -> Result<Plan> {
    let mut notes = Vec::new();
    let device = params.pixel.device();
    let crystal = CrystalGeometry::new(params);
    let lengths = crystal.lengths_m();
    let mut n = setup.crystal.n_cells;
    for i in 0..3 {
        let size = setup.crystal.sample_size_m[i];
        if size > 0.0 {
            n[i] = (size / lengths[i]).ceil();
        }
        if n[i] <= 1.0 {
            n[i] = 1.0;
        }
    }
    params.n_cells = n.map(|x| scalar::<B>(x, &device));
    let det = DetectorGeometry::new(&setup.detector, params)?;
    let xtal_max = (0..3).map(|i| lengths[i] * n[i]).fold(0.0, f64::max);
    let reciprocal_pixel = setup.beam.wavelength_m * to_f64(&det.distance) / setup.detector.pixel_m;
    let recommended = c_auto_oversample(3.0 * xtal_max / reciprocal_pixel);
    let oversample = match setup.sampling.oversample {
        Some(o) => o,
        None => {
            notes.push(format!("auto-selected {recommended}-fold oversampling"));
            recommended
        }
    };
    let hkls = setup.structure.reflections;
    let interpolate = hkls > 0
        && setup
            .structure
            .interpolate
            .unwrap_or(n.iter().any(|&x| x <= 2.0));
    let det_s = &setup.detector;
    let roi = setup.sampling.roi;
    let mut pixels = Vec::new();
    for s in 0..det_s.spixels {
        for f in 0..det_s.fpixels {
            let (fi, si) = (f as i64, s as i64);
            if fi < roi[0] || fi > roi[1] || si < roi[2] || si > roi[3] {
                continue;
            }
            let idx = s * det_s.fpixels + f;
            if let Some(mask) = &setup.sampling.mask {
                if !mask[idx] {
                    continue;
                }
            }
            pixels.push(idx);
        }
    }
    let work = crate::validate::Work {
        pixels: pixels.len(),
        oversample,
        layers: setup.detector.thick_steps,
        sources: setup.beam.sources.len(),
        phi_steps: setup.crystal.phi_steps,
        domains: setup.crystal.mosaic_umats.len(),
    };
    crate::validate::check_work(&work, setup.sampling.oversample.is_none())?;
    let steps = setup.steps(oversample);
    Ok(Plan {
        work,
        oversample,
        n_cells: n,
        interpolate,
        steps,
        pixels,
        notes,
    })
}

#[cfg(test)]
mod auto_oversample_tests {
    use super::c_auto_oversample;

    #[test]
    fn values_beyond_a_c_int_select_one_fold_like_the_c_program() {
        assert_eq!(c_auto_oversample(1.2), 2);
        assert_eq!(c_auto_oversample(0.0), 1);
        assert_eq!(c_auto_oversample(3.0e8), 300_000_000);
        assert_eq!(c_auto_oversample(2.4e16), 1);
        assert_eq!(c_auto_oversample(f64::INFINITY), 1);
        assert_eq!(c_auto_oversample(f64::NAN), 1);
    }
}
