//! The function a refinement minimises: data loss of the model image against the measured one,
//! plus restraints, as a function of the refined variables in their user units.
//!
//! The model of pixel `p` is `μ_p = s·I_p(θ) + b_p`: the rendered intensity `I` (photons, water
//! background included), the overall scale `s` (1 unless refined) and the known background `b`.
//! The gradient is exact (autodiff): the image is rendered tile by tile under `Autodiff<B>`; for
//! every tile the per-pixel derivatives `w_p = s·∂ℓ/∂μ_p` are computed on the host and one
//! backward pass of `Σ_p w_p·I_p` gives that tile's share of `∂L/∂θ`, so peak memory is one
//! tile's graph. `∂L/∂s = Σ_p (∂ℓ/∂μ_p)·I_p` is summed on the host.

use std::sync::Arc;

use nanobragg::io::hkl::HklGrid;
use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

use crate::data::{LossKind, Observation};
use crate::spec::{ParamSpec, Variable};
use crate::error::{RefineError, Result};
use nanobragg::linalg::{scalar, tensor, to_vec};
use nanobragg::params::Params;
use nanobragg::simulate::{PullbackGraph, Simulator};
use burn_ndarray::{NdArray, NdArrayDevice};

mod render;
mod stages;
mod tile_graph;

pub use stages::{values_and_gradients, Staged, STAGE_GROUP};
use stages::Sums;

/// A rendered model over the full detector (fast-major); pixels not used are 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelImage {
    /// Rendered intensity `I` (photons, before the scale).
    pub intensity: Vec<f64>,
    /// Expected counts `μ = s·I + b`.
    pub mu: Vec<f64>,
}

/// Loss of a simulator's model against an observation, as a function of refined variables.
pub struct Objective<B: AutodiffBackend + RenderBackend> {
    sim: Simulator<B>,
    specs: Vec<ParamSpec>,
    observation: Observation,
    loss: LossKind,
    pixels: Vec<usize>,
    start: Vec<f64>,
    /// F grid values when structure factors are refined, and each spec's grid index.
    grid: Option<(GridValues, Vec<Option<usize>>)>,
    /// The scene parameters on the host (no F grid), where the backend builds θ there
    /// ([`RenderBackend::pullback_on_host`]): each evaluation sets the refined ones in a copy.
    host_base: Option<Params<NdArray<f64>>>,
    evaluations: usize,
    renders: usize,
}

/// The values of an F grid's entries that are not refined, into which each evaluation sets
/// the refined ones: the setup's grid itself where the simulator's grid holds its values (the
/// shots of an ensemble, cloned from one setup, then share one grid), else a copy.
#[derive(Debug)]
enum GridValues {
    /// The setup's grid.
    Setup(Arc<HklGrid>),
    /// Values of the simulator's grid that differ from the setup's.
    Own(Vec<f64>),
}

impl std::ops::Deref for GridValues {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        match self {
            GridValues::Setup(grid) => &grid.values,
            GridValues::Own(values) => values,
        }
    }
}

/// Refined parameter tensors: the `[1]` leaf of each scene parameter (`None` for the scale
/// and structure factors) and the F-grid leaf when structure factors are refined.
type Leaves<B> = (Vec<Option<Tensor<B, 1>>>, Option<Tensor<B, 1>>);

impl<B: AutodiffBackend + RenderBackend> std::fmt::Debug for Objective<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objective")
            .field("specs", &self.specs)
            .field("loss", &self.loss)
            .field("pixels", &self.pixels.len())
            .finish_non_exhaustive()
    }
}

impl<B: AutodiffBackend + RenderBackend> Objective<B> {
    /// Fit `sim`'s model to `observation`, refining `specs` (each variable once; the scale at
    /// most once). The starting values are the simulator's (scale 1).
    pub fn new(
        mut sim: Simulator<B>,
        specs: Vec<ParamSpec>,
        observation: Observation,
        loss: LossKind,
    ) -> Result<Self> {
        let det = &sim.setup.detector;
        observation.check(det.fpixels * det.spixels)?;
        sim.check_memory(true)?;
        if specs.is_empty() {
            return Err(RefineError::Refinement("no variables to refine".into()));
        }
        match loss {
            LossKind::SquaredError { sigma } if !(sigma > 0.0 && sigma.is_finite()) => {
                return Err(RefineError::Refinement(format!("squared-error σ = {sigma}: must be > 0 and finite")));
            }
            LossKind::PoissonHuber { c } if !(c > 0.0 && c.is_finite()) => {
                return Err(RefineError::Refinement(format!("robust Poisson loss's c = {c}: must be > 0 and finite")));
            }
            _ => {}
        }
        let mut start = Vec::with_capacity(specs.len());
        // Repeats: a set of the few scene variables here, and a mark per grid entry for F
        // ([`grid_of`]): an ensemble's shot lists every F of the grid (hundreds of thousands),
        // where a scan of the earlier specs was quadratic.
        let mut seen = std::collections::HashSet::new();
        for spec in &specs {
            let f = matches!(spec.variable, Variable::StructureFactor(_));
            if !f && !seen.insert(spec.variable) {
                return Err(RefineError::Refinement(format!("{} is listed twice", spec.variable)));
            }
            if let Some(r) = spec.restraint {
                if !(r.sigma > 0.0) {
                    return Err(RefineError::Refinement(format!(
                        "{}: restraint σ = {} must be > 0",
                        spec.variable, r.sigma
                    )));
                }
            }
            if !(spec.lower <= spec.upper) {
                return Err(RefineError::Refinement(format!(
                    "{}: lower bound {} above upper bound {}",
                    spec.variable, spec.lower, spec.upper
                )));
            }
            start.push(match spec.variable {
                Variable::Param(name) => sim.param_value(name)?,
                Variable::Scale => 1.0,
                Variable::StructureFactor(_) => 0.0, // set below
                Variable::Scoped(..) => {
                    return Err(RefineError::Refinement(format!(
                        "{}: a variable of some images only belongs to a joint refinement's Layout, not to one image",
                        spec.variable
                    )))
                }
            });
        }
        let grid = grid_of(&sim, &specs)?;
        if let Some((values, index)) = &grid {
            for (s, i) in start.iter_mut().zip(index) {
                if let Some(i) = i {
                    *s = values[*i];
                }
            }
        }
        if grid.is_some() {
            // Every evaluation renders with a grid leaf made from `grid`: the simulator's own
            // tensor would be one more copy of the grid held per objective.
            sim.params.f_grid = None;
        }
        let host_base = match B::pullback_on_host() {
            true => Some(sim.params.to_host::<NdArray<f64>>(&NdArrayDevice::Cpu)?),
            false => None,
        };
        let pixels = match &observation.mask {
            Some(m) => sim.plan.pixels.iter().copied().filter(|&i| m[i]).collect(),
            None => sim.plan.pixels.clone(),
        };
        if pixels.is_empty() {
            return Err(RefineError::Refinement("no pixels left after ROI and mask".into()));
        }
        Ok(Objective {
            sim,
            specs,
            observation,
            loss,
            pixels,
            start,
            grid,
            host_base,
            evaluations: 0,
            renders: 0,
        })
    }

    /// Keep the scene parameters on the host and build θ there, as on a backend that pulls
    /// `θ̄` back on the host (CUDA, where it is the default): renders with no gradient are then
    /// launched in batches and staged evaluations run with no device graph where a fused
    /// kernel takes the tile. On other backends this is the GPU's route on the CPU, to check it
    /// against the device's.
    pub fn keep_parameters_on_host(&mut self) -> Result<()> {
        if self.host_base.is_none() {
            self.host_base = Some(self.sim.params.to_host::<NdArray<f64>>(&NdArrayDevice::Cpu)?);
        }
        Ok(())
    }

    /// The refined variables, in the order of every value vector.
    pub fn specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    /// Starting values (user units): the simulator's values when the objective was built.
    pub fn start(&self) -> &[f64] {
        &self.start
    }

    /// The loss kind.
    pub fn loss_kind(&self) -> LossKind {
        self.loss
    }

    /// The observation.
    pub fn observation(&self) -> &Observation {
        &self.observation
    }

    /// Pixels entering the loss (indices `slow·fpixels + fast`, scan order).
    pub fn pixels(&self) -> &[usize] {
        &self.pixels
    }

    /// The simulator (its parameters stay at the start values; see [`Objective::params`] and
    /// [`Objective::into_simulator_at`]).
    pub fn simulator(&self) -> &Simulator<B> {
        &self.sim
    }

    /// Loss-and-gradient evaluations so far.
    pub fn evaluations(&self) -> usize {
        self.evaluations
    }

    /// Forward-only renders so far (model images, finite differences).
    pub fn renders(&self) -> usize {
        self.renders
    }

    fn scale_of(&self, x: &[f64]) -> f64 {
        self.specs
            .iter()
            .zip(x)
            .find(|(s, _)| s.variable == Variable::Scale)
            .map(|(_, &v)| v)
            .unwrap_or(1.0)
    }

    /// Parameter tensors with the refined variables set to `x`. With `track_params`, each
    /// refined scene parameter is a fresh `[1]` leaf that requires grad; with `track_grid`, so
    /// is the F grid when structure factors are refined.
    fn params_at(&self, x: &[f64], track_params: bool, track_grid: bool) -> Result<(Params<B>, Leaves<B>)> {
        self.check_len(x)?;
        let device = self.sim.params.pixel.device();
        let mut params = self.sim.params.clone();
        let mut leaves = Vec::with_capacity(x.len());
        for (spec, &v) in self.specs.iter().zip(x) {
            let Variable::Param(name) = spec.variable else {
                leaves.push(None);
                continue;
            };
            let t = scalar::<B>(v, &device);
            let t = if track_params { t.require_grad() } else { t };
            self.sim.set_param(&mut params, name, t.clone())?;
            leaves.push(Some(t));
        }
        let grid_leaf = self.grid_leaf_at(x, track_grid);
        if let Some(t) = &grid_leaf {
            params.f_grid = Some(t.clone());
        }
        Ok((params, (leaves, grid_leaf)))
    }

    /// The scene parameters at `x` on the host (from [`Objective::host_base`]; no F grid), for
    /// backends that build θ there.
    fn host_params_at(&self, x: &[f64], base: &Params<NdArray<f64>>) -> Result<Params<NdArray<f64>>> {
        self.check_len(x)?;
        let mut params = base.clone();
        for (spec, &v) in self.specs.iter().zip(x) {
            if let Variable::Param(name) = spec.variable {
                self.sim.set_param(&mut params, name, scalar::<NdArray<f64>>(v, &NdArrayDevice::Cpu))?;
            }
        }
        Ok(params)
    }

    /// The F grid at `x` (the grid's values with the refined entries set), a leaf that requires
    /// grad when `track`; `None` when no structure factor is refined.
    fn grid_leaf_at(&self, x: &[f64], track: bool) -> Option<Tensor<B, 1>> {
        let device = self.sim.params.pixel.device();
        self.grid.as_ref().map(|(values, index)| {
            let mut values = values.to_vec();
            for (i, &v) in index.iter().zip(x) {
                if let Some(i) = i {
                    values[*i] = v;
                }
            }
            let n = values.len();
            let t = tensor::<B, 1>(values, [n], &device);
            if track { t.require_grad() } else { t }
        })
    }

    fn check_len(&self, x: &[f64]) -> Result<()> {
        if x.len() != self.specs.len() {
            return Err(RefineError::Refinement(format!("{} values for {} variables", x.len(), self.specs.len())));
        }
        Ok(())
    }

    /// The restraints' share of the loss at `x`, their gradient added to `grad` where given.
    pub(crate) fn restraints(&self, x: &[f64], grad: Option<&mut [f64]>) -> f64 {
        crate::spec::restraint_sum(&self.specs, x, grad)
    }

    /// Loss and its gradient (per user unit of each variable) at `x`. An infinite loss (a
    /// non-positive `μ` under a positive count) is returned as `+∞` with a NaN gradient.
    pub fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.evaluations += 1;
        let Some(mut sums) = self.sums_at(x) else {
            return Ok(Sums::inadmissible(self.specs.len()));
        };
        let mut state = self.sim.scan_start();
        let pixels = std::mem::take(&mut self.pixels);
        let tiles = self.sim.tile_pixels();
        let run = (|| -> Result<()> {
            for tile in pixels.chunks(tiles) {
                let graph = self.tile_graph(x, tile, &mut state, PullbackGraph::Kept)?;
                let values = to_vec(&graph.values.clone().inner());
                let Some(weights) = self.weigh(tile, &values, &mut sums) else {
                    if sums.loss.is_finite() {
                        continue;
                    }
                    return Ok(());
                };
                let g = graph.backward(weights);
                self.add_tile_gradient(&graph, &g, &mut sums.grad)?;
            }
            Ok(())
        })();
        self.pixels = pixels;
        run?;
        Ok(self.finish(x, sums))
    }

    /// The loss at `x` without its gradient (one forward render).
    pub fn value(&mut self, x: &[f64]) -> Result<f64> {
        let model = self.model(x)?;
        let mut loss = 0.0;
        for &idx in &self.pixels {
            loss += self.loss.pixel(model.mu[idx], self.observation.counts[idx]).0;
        }
        Ok(loss + self.restraints(x, None))
    }

    /// The parameter tensors at `x` (no gradient tracking); the scale is not among them.
    pub fn params(&mut self, x: &[f64]) -> Result<Params<B>> {
        Ok(self.params_at(x, false, false)?.0)
    }

    /// The overall scale at `x` (1 when it is not refined).
    pub fn scale(&self, x: &[f64]) -> f64 {
        self.scale_of(x)
    }

    /// Give the simulator back, its parameters set to `x` (the scale is not applied).
    pub fn into_simulator_at(mut self, x: &[f64]) -> Result<Simulator<B>> {
        let params = self.params(x)?;
        self.sim.params = params;
        Ok(self.sim)
    }

    /// Refined parameter values `(name, value)` at `x` (scale and structure factors left out).
    pub fn param_values(&self, x: &[f64]) -> Vec<(nanobragg::gradients::ParamName, f64)> {
        self.specs
            .iter()
            .zip(x)
            .filter_map(|(s, &v)| match s.variable {
                Variable::Param(p) => Some((p, v)),
                Variable::Scale | Variable::StructureFactor(_) | Variable::Scoped(..) => None,
            })
            .collect()
    }
}

/// The F grid's values ([`GridValues`]) and each spec's grid index, when any spec is a
/// structure factor.
fn grid_of<B: AutodiffBackend + RenderBackend>(
    sim: &Simulator<B>,
    specs: &[ParamSpec],
) -> Result<Option<(GridValues, Vec<Option<usize>>)>> {
    if !specs.iter().any(|s| matches!(s.variable, Variable::StructureFactor(_))) {
        return Ok(None);
    }
    let (Some(grid), Some(values)) = (sim.setup.structure.grid.as_ref(), sim.params.f_grid.as_ref()) else {
        return Err(RefineError::Refinement(
            "structure factors are refined but the scene has no HKL grid (-hkl)".into(),
        ));
    };
    let mut taken = vec![false; grid.values.len()];
    let index = specs
        .iter()
        .map(|s| match s.variable {
            Variable::StructureFactor([h, k, l]) => {
                let i = grid.index(h, k, l).ok_or_else(|| {
                    RefineError::Refinement(format!("{}: outside the HKL grid", s.variable))
                })?;
                if std::mem::replace(&mut taken[i], true) {
                    return Err(RefineError::Refinement(format!("{} is listed twice", s.variable)));
                }
                Ok(Some(i))
            }
            _ => Ok(None),
        })
        .collect::<Result<Vec<_>>>()?;
    let values = to_vec(&values.clone().inner());
    let values = if values == grid.values { GridValues::Setup(grid.clone()) } else { GridValues::Own(values) };
    Ok(Some((values, index)))
}

/// Free what burn-autodiff 0.21 keeps of a forward pass that no gradient followed.
///
/// Its graph registry records every operation, untracked ones included (about 0.5 kB each),
/// and drops the entries of dropped tensors only when a backward pass runs. Forward-only
/// renders on an `Autodiff` backend (a Jacobian's hundreds of them) would otherwise hold
/// memory until the next gradient: tens of MB per shot of an ensemble. An empty backward pass
/// (one scalar) runs that clean-up.
fn release_forward_graphs<B: AutodiffBackend>(device: &B::Device) {
    let _ = scalar::<B>(0.0, device).require_grad().sum().backward();
}
