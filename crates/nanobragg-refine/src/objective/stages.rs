//! The stages of one loss-and-gradient evaluation, and several objectives evaluated stage by
//! stage together.
//!
//! An evaluation is, per tile: render (`tile_graph`), read the values and weigh them by the
//! loss's slope ([`Objective::weigh`]), a backward pass ([`TileGraph::backward`]), and a read of
//! the gradients ([`Objective::add_tile_gradient`]). On a GPU each read waits for the device's
//! queue to drain, so an ensemble rank evaluating its shots one after the other waits twice a
//! shot. [`values_and_gradients`] runs each stage for every objective of a group before the
//! next stage: the first read of a stage waits for the whole group's launches, the others find
//! their data ready. The results are those of [`Objective::value_and_gradient`].
//!
//! Where the parameters are kept on the host (a GPU) and a fused kernel takes the tile, a
//! staged evaluation has no device graph ([`DirectTile`]): the loss's per-pixel weights go
//! straight to the kernel's backward, `θ̄` is read in one transfer and pulled back on the host.

use burn::tensor::backend::AutodiffBackend;
use nanobragg::kernel::RenderBackend;
use nanobragg::linalg::{tensor, to_vec};
use burn::tensor::Tensor;
use nanobragg::simulate::{DirectTile, PullbackGraph};

use super::tile_graph::TileGraph;
use super::Objective;
use crate::error::{RefineError, Result};
use crate::spec::Variable;

/// An evaluation's running sums.
pub(super) struct Sums {
    /// Data loss so far.
    pub(super) loss: f64,
    /// Gradient so far (user units, one entry per spec).
    pub(super) grad: Vec<f64>,
    /// The overall scale `s`.
    scale: f64,
    /// Where the scale is among the specs, when refined.
    scale_index: Option<usize>,
    /// Whether any variable other than the scale is refined (a backward pass is needed).
    any_param: bool,
}

impl Sums {
    /// The result of a value vector outside a variable's domain, or of an infinite loss.
    pub(super) fn inadmissible(n: usize) -> (f64, Vec<f64>) {
        (f64::INFINITY, vec![f64::NAN; n])
    }
}

impl<B: AutodiffBackend> TileGraph<B> {
    /// `∂(Σ_p w_p·I_p)/∂(leaves)` for the per-pixel weights `w` (one backward pass).
    pub(super) fn backward(&self, weights: Vec<f64>) -> B::Gradients {
        let n = weights.len();
        let weights = tensor::<B, 1>(weights, [n], &self.values.device());
        (self.values.clone() * weights).sum().backward()
    }
}

impl<B: AutodiffBackend + RenderBackend> Objective<B> {
    /// Empty sums at `x`, or `None` where a value is outside its variable's domain.
    pub(super) fn sums_at(&self, x: &[f64]) -> Option<Sums> {
        if self.specs.iter().zip(x).any(|(spec, &v)| !spec.variable.admits(v)) {
            return None;
        }
        let scale_index = self.specs.iter().position(|p| p.variable == Variable::Scale);
        Some(Sums {
            loss: 0.0,
            grad: vec![0.0; self.specs.len()],
            scale: self.scale_of(x),
            scale_index,
            any_param: scale_index.is_none() || self.specs.len() > 1,
        })
    }

    /// Add the loss of a tile's rendered `values` (pixels `tile`) and the scale's slope to
    /// `sums`; the per-pixel weights `w_p = s·∂ℓ/∂μ_p` of its backward pass, or `None` where
    /// none is needed (only the scale is refined) or the loss is no longer finite.
    pub(super) fn weigh(&self, tile: &[usize], values: &[f64], sums: &mut Sums) -> Option<Vec<f64>> {
        let s = sums.scale;
        let mut w = Vec::with_capacity(tile.len());
        for (&idx, &i) in tile.iter().zip(values) {
            let b = self.observation.background.as_ref().map_or(0.0, |b| b[idx]);
            let (l, d) = self.loss.pixel(s * i + b, self.observation.counts[idx]);
            sums.loss += l;
            w.push(d * s);
            if let Some(k) = sums.scale_index {
                sums.grad[k] += d * i;
            }
        }
        (sums.loss.is_finite() && sums.any_param).then_some(w)
    }

    /// The loss and gradient at `x` from the data's `sums`: restraints added, `+∞` with a NaN
    /// gradient where the data loss is infinite.
    pub(super) fn finish(&self, x: &[f64], mut sums: Sums) -> (f64, Vec<f64>) {
        if !sums.loss.is_finite() {
            return Sums::inadmissible(self.specs.len());
        }
        let loss = sums.loss + self.restraints(x, Some(&mut sums.grad));
        (loss, sums.grad)
    }

    /// Whether an evaluation is one tile, so that its stages can run beside other objectives'.
    fn one_tile(&self) -> bool {
        self.pixels.len() <= self.sim.tile_pixels()
    }
}

/// One objective's evaluation between its stages.
pub struct Staged<B: AutodiffBackend> {
    x: Vec<f64>,
    /// `None`: `x` is outside a variable's domain.
    sums: Option<Sums>,
    /// The rendered tile; `None` once no backward pass follows.
    tile: Option<StagedTile<B>>,
    /// The backward pass's per-pixel weights, once the values are read.
    weights: Option<Vec<f64>>,
    gradients: Option<StagedGradients<B>>,
}

/// A staged evaluation's tile: with no device graph where the parameters are kept on the host
/// and a fused kernel takes it ([`DirectTile`]), else in a gradient graph.
enum StagedTile<B: AutodiffBackend> {
    Direct(DirectTile<B>),
    Graph(TileGraph<B>),
}

/// What a staged backward pass left on the device.
enum StagedGradients<B: AutodiffBackend> {
    /// `θ̄` of a [`DirectTile`].
    Direct(Tensor<B, 1>),
    Graph(B::Gradients),
}

impl<B: AutodiffBackend> StagedTile<B> {
    fn values(&self) -> Tensor<B, 1> {
        match self {
            StagedTile::Direct(t) => t.values.clone(),
            StagedTile::Graph(g) => g.values.clone(),
        }
    }
}

/// Objectives evaluated together per stage; more would hold more graphs at once.
pub const STAGE_GROUP: usize = 64;

/// [`Objective::value_and_gradient`] of each `objectives[i]` at `xs[i]`, in groups of
/// [`STAGE_GROUP`] whose stages run together where the backend builds its inputs on the host
/// ([`RenderBackend::pullback_on_host`]: a GPU) and each evaluation is one tile; one by one
/// otherwise. One result per objective, in order; an error when `xs` does not hold one value
/// vector per objective.
pub fn values_and_gradients<B: AutodiffBackend + RenderBackend>(
    objectives: &mut [&mut Objective<B>],
    xs: &[Vec<f64>],
) -> Result<Vec<Result<(f64, Vec<f64>)>>> {
    if objectives.len() != xs.len() {
        return Err(RefineError::Refinement(format!(
            "{} value vectors for {} objectives",
            xs.len(),
            objectives.len()
        )));
    }
    let together = B::pullback_on_host() && objectives.iter().all(|o| o.one_tile());
    if !together {
        return Ok(objectives.iter_mut().zip(xs).map(|(o, x)| o.value_and_gradient(x)).collect());
    }
    let mut results = Vec::with_capacity(xs.len());
    for (group, xs) in objectives.chunks_mut(STAGE_GROUP).zip(xs.chunks(STAGE_GROUP)) {
        results.extend(group_values_and_gradients(group, xs));
    }
    Ok(results)
}

/// One group's stages, each over every objective of the group that has not failed.
fn group_values_and_gradients<B: AutodiffBackend + RenderBackend>(
    group: &mut [&mut Objective<B>],
    xs: &[Vec<f64>],
) -> Vec<Result<(f64, Vec<f64>)>> {
    let mut staged: Vec<Result<Staged<B>>> = group.iter_mut().zip(xs).map(|(o, x)| o.stage_render(x)).collect();
    for stage in [Objective::stage_weigh, Objective::stage_backward] {
        for (o, s) in group.iter().zip(staged.iter_mut()) {
            if let Ok(st) = s {
                if let Err(e) = stage(o, st) {
                    *s = Err(e);
                }
            }
        }
    }
    group.iter().zip(staged).map(|(o, s)| s.and_then(|s| o.stage_finish(s))).collect()
}

impl<B: AutodiffBackend + RenderBackend> Objective<B> {
    /// First stage: the render of `x` launched (no read). Only for one-tile evaluations.
    pub fn stage_render(&mut self, x: &[f64]) -> Result<Staged<B>> {
        self.evaluations += 1;
        let sums = self.sums_at(x);
        let tile = match sums {
            Some(_) => Some(self.staged_tile(x)?),
            None => None,
        };
        Ok(Staged { x: x.to_vec(), sums, tile, weights: None, gradients: None })
    }

    /// The tile at `x`: direct where the parameters are kept on the host and a kernel takes
    /// it, else in a graph (host graph rebuilt for the pull-back). A declined direct tile
    /// leaves the scan state as it was.
    fn staged_tile(&self, x: &[f64]) -> Result<StagedTile<B>> {
        let mut state = self.sim.scan_start();
        if let Some(base) = &self.host_base {
            let host = self.host_params_at(x, base)?;
            let grid = self.grid_leaf_at(x, false);
            if let Some(tile) = self.sim.tile_values_direct(&host, grid.as_ref(), &self.pixels, &mut state)? {
                return Ok(StagedTile::Direct(tile));
            }
        }
        Ok(StagedTile::Graph(self.tile_graph(x, &self.pixels, &mut state, PullbackGraph::Rebuilt)?))
    }

    /// Second stage: the values read and weighed; the tile is dropped where no backward pass
    /// follows.
    pub fn stage_weigh(&self, staged: &mut Staged<B>) -> Result<()> {
        let (Some(sums), Some(tile)) = (staged.sums.as_mut(), staged.tile.as_ref()) else {
            return Ok(());
        };
        let values = to_vec(&tile.values().inner());
        staged.weights = self.weigh(&self.pixels, &values, sums);
        if staged.weights.is_none() {
            staged.tile = None;
        }
        Ok(())
    }

    /// Third stage: the backward pass launched with the weights of [`Self::stage_weigh`].
    pub fn stage_backward(&self, staged: &mut Staged<B>) -> Result<()> {
        if let (Some(tile), Some(w)) = (&staged.tile, staged.weights.take()) {
            staged.gradients = Some(match tile {
                StagedTile::Direct(t) => StagedGradients::Direct(t.backward(w)?),
                StagedTile::Graph(g) => StagedGradients::Graph(g.backward(w)),
            });
        }
        Ok(())
    }

    /// Last stage: the gradients read; the loss and gradient at the staged `x`.
    pub fn stage_finish(&self, staged: Staged<B>) -> Result<(f64, Vec<f64>)> {
        let Some(mut sums) = staged.sums else {
            return Ok(Sums::inadmissible(self.specs.len()));
        };
        match (&staged.tile, &staged.gradients) {
            (Some(StagedTile::Graph(graph)), Some(StagedGradients::Graph(g))) => {
                self.add_tile_gradient(graph, g, &mut sums.grad)?;
            }
            (Some(StagedTile::Direct(tile)), Some(StagedGradients::Direct(theta_bar))) => {
                self.add_direct_gradient(tile, theta_bar, &mut sums.grad)?;
            }
            _ => {}
        }
        Ok(self.finish(&staged.x, sums))
    }

    /// Add to `grad` the gradients of a direct tile from its `θ̄`.
    fn add_direct_gradient(&self, tile: &DirectTile<B>, theta_bar: &Tensor<B, 1>, grad: &mut [f64]) -> Result<()> {
        let (ks, names) = self.param_slots();
        let g = tile.gradients(&self.sim, theta_bar, &names)?;
        ks.into_iter().zip(&g.params).for_each(|(k, d)| grad[k] += d);
        if let Some((values, _)) = &self.grid {
            if g.grid.len() != values.len() {
                return Err(RefineError::Refinement(format!(
                    "the kernel returned {} F-grid gradients for a grid of {}",
                    g.grid.len(),
                    values.len()
                )));
            }
            self.add_grid_gradient(&g.grid, grad);
        }
        Ok(())
    }
}
