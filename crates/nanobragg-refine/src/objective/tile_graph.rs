//! One tile of an evaluation as a gradient graph, and the way its gradients reach the refined
//! variables.
//!
//! Two routes, one result:
//! - **Leaves** (every backend): each refined scene parameter is a `[1]` leaf and the tile's
//!   inputs θ are built from it with tensor ops on the render's device.
//! - **Host pull-back** (backends with [`RenderBackend::pullback_on_host`], CUDA): θ is built on
//!   the host from the parameters' values (kept on the host: nothing is read back from the
//!   device for it) and uploaded as one leaf; after the backward pass its
//!   gradient θ̄ is pulled back through the host graph ([`Simulator::pulled_gradients`]). On
//!   CUDA this replaces a few hundred launches of tiny ops, forward and backward, per tile.
//!
//! The F grid is a device leaf on both routes.

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;
use nanobragg::gradients::ParamName;
use nanobragg::kernel::RenderBackend;
use nanobragg::simulate::{PullbackGraph, ScanState, ThetaPullback};

use super::Objective;
use crate::error::Result;
use crate::spec::Variable;
use nanobragg::linalg::{to_f64, to_vec};

/// A tile's model values `[P]` in a graph, and the leaves its gradients are read from.
pub(super) struct TileGraph<B: AutodiffBackend> {
    /// Rendered intensities of the tile's pixels (photons, scan order).
    pub(super) values: Tensor<B, 1>,
    route: Route<B>,
    /// The F-grid leaf when structure factors are refined.
    grid_leaf: Option<Tensor<B, 1>>,
}

/// Where the scene parameters' gradients come from.
enum Route<B: AutodiffBackend> {
    /// Each refined scene parameter's own `[1]` leaf (`None` for the scale and F).
    Leaves(Vec<Option<Tensor<B, 1>>>),
    /// θ built on the host, pulled back after the backward pass.
    Host(ThetaPullback<B>),
}

impl<B: AutodiffBackend + RenderBackend> Objective<B> {
    /// The tile's values at `x` in a graph: by the host pull-back where the backend offers it
    /// and the kernel takes the tile (its host graph kept or rebuilt: `host_graph`), else from
    /// `[1]` leaves.
    pub(super) fn tile_graph(
        &self,
        x: &[f64],
        tile: &[usize],
        state: &mut ScanState,
        host_graph: PullbackGraph,
    ) -> Result<TileGraph<B>> {
        if let Some(base) = &self.host_base {
            let host = self.host_params_at(x, base)?;
            let grid_leaf = self.grid_leaf_at(x, true);
            if let Some((values, pullback)) = self.sim.tile_values_pullback_host(&host, grid_leaf.as_ref(), tile, state, host_graph)? {
                return Ok(TileGraph { values, route: Route::Host(pullback), grid_leaf });
            }
        }
        let (params, (leaves, grid_leaf)) = self.params_at(x, true, true)?;
        let values = self.sim.tile_values_with(&params, tile, state)?;
        Ok(TileGraph { values, route: Route::Leaves(leaves), grid_leaf })
    }

    /// Add to `grad` (one entry per spec, user units) the gradients `g` of a backward pass
    /// through `graph`.
    pub(super) fn add_tile_gradient(&self, graph: &TileGraph<B>, g: &B::Gradients, grad: &mut [f64]) -> Result<()> {
        match &graph.route {
            Route::Leaves(leaves) => {
                for (k, leaf) in leaves.iter().enumerate() {
                    if let Some(grad_k) = leaf.as_ref().and_then(|t| t.grad(g)) {
                        grad[k] += to_f64(&grad_k);
                    }
                }
            }
            Route::Host(pullback) => {
                let (ks, names) = self.param_slots();
                let pulled = self.sim.pulled_gradients(pullback, g, &names)?;
                ks.into_iter().zip(pulled).for_each(|(k, d)| grad[k] += d);
            }
        }
        if let Some(gg) = graph.grid_leaf.as_ref().and_then(|leaf| leaf.grad(g)) {
            self.add_grid_gradient(&to_vec(&gg), grad);
        }
        Ok(())
    }

    /// The specs that are scene parameters: their places among the specs, and their names.
    pub(super) fn param_slots(&self) -> (Vec<usize>, Vec<ParamName>) {
        self.specs
            .iter()
            .enumerate()
            .filter_map(|(k, s)| match s.variable {
                Variable::Param(name) => Some((k, name)),
                _ => None,
            })
            .unzip()
    }

    /// Add to `grad` (one entry per spec) the refined structure factors' share of `grid_grad`,
    /// the gradient of every entry of the objective's F grid.
    pub(super) fn add_grid_gradient(&self, grid_grad: &[f64], grad: &mut [f64]) {
        if let Some((_, index)) = &self.grid {
            for (k, i) in index.iter().enumerate() {
                if let Some(i) = i {
                    grad[k] += grid_grad[*i];
                }
            }
        }
    }
}
