//! Tiles rendered and differentiated with no gradient graph on the device, for callers that
//! weigh the values themselves (a refinement objective on CUDA): θ is built on the host,
//! uploaded untracked with the F grid appended, rendered by the fused kernel; the caller's
//! per-pixel weights go straight to the kernel's backward ([`RenderBackend::fused_tile_backward`]),
//! and `θ̄` comes back in one read, its head pulled back through the host graph (built again,
//! [`PullbackGraph::Rebuilt`]) and its grid part the F grid's gradient.
//!
//! Against the graph route ([`Simulator::tile_values_pullback_host`]) this saves the device
//! graph's operations (the weighted sum, its backward, the gradients' bookkeeping: about thirty
//! launches and allocations a tile on CUDA, each a round trip through the device's queue) and
//! burn-autodiff's scan of live nodes after each backward pass. The results are the same
//! numbers: the same kernels, the same host pull-back.

use std::sync::Arc;

use burn::tensor::{backend::AutodiffBackend, Tensor, TensorPrimitive};
use burn_ndarray::NdArray;

use super::fused::with_grid;
use super::host_pullback::packed_on_host;
use super::{PullbackGraph, ScanState, Simulator, ThetaPullback};
use crate::error::{NanobraggError, Result};
use crate::gradients::ParamName;
use crate::kernel::{RenderBackend, TileSpec};
use crate::linalg::{tensor, to_vec};
use crate::params::Params;

/// A tile rendered by [`Simulator::tile_values_direct`]: its values, and what its backward
/// pass and pull-back need.
pub struct DirectTile<B: AutodiffBackend> {
    /// Rendered intensities of the tile's pixels (photons, scan order; untracked).
    pub values: Tensor<B, 1>,
    /// θ as the kernel read it (head, then the F grid where the tile reads one).
    theta: Tensor<B, 1>,
    spec: Arc<TileSpec>,
    pullback: ThetaPullback<B>,
}

/// The gradients of one tile: the named parameters' (user units) and the F grid's (one per
/// grid entry; empty without a grid).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectGradients {
    /// `∂/∂name` per user unit, in the order of the names asked for.
    pub params: Vec<f64>,
    /// `∂/∂F` per grid entry, flattened like the grid.
    pub grid: Vec<f64>,
}

impl<B: AutodiffBackend + RenderBackend> Simulator<B> {
    /// A tile's values from the small parameters on the host (`host`, laid out like
    /// [`Params::to_host`]'s) and the F grid `grid` (untracked), with no graph on the device;
    /// `None` when no kernel takes the tile. See the module's documentation.
    pub fn tile_values_direct(
        &self,
        host: &Params<NdArray<f64>>,
        grid: Option<&Tensor<B, 1>>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Result<Option<DirectTile<B>>> {
        let Some(kernel) = self.fused_kernel() else {
            return Ok(None);
        };
        let grid = grid.map(|g| g.clone().detach());
        let (spec, pullback) =
            self.host_theta_pullback(packed_on_host(host), grid.is_some(), tile, state, kernel, PullbackGraph::Rebuilt)?;
        let theta = with_grid(pullback.head().clone(), grid.as_ref(), &spec);
        let spec = Arc::new(spec);
        let Some(out) = B::fused_tile(theta.clone().into_primitive().tensor(), &spec) else {
            return Ok(None);
        };
        state.any_before |= out.any_active;
        let values = Tensor::from_primitive(TensorPrimitive::Float(out.values));
        Ok(Some(DirectTile { values, theta, spec, pullback }))
    }
}

impl<B: AutodiffBackend + RenderBackend> DirectTile<B> {
    /// Launch the backward pass for the per-pixel weights `w` (`∂loss/∂value`, one per pixel
    /// of the tile): `θ̄ = ∂(Σ w·value)/∂θ` on the device, read by [`DirectTile::gradients`].
    pub fn backward(&self, w: Vec<f64>) -> Result<Tensor<B, 1>> {
        let n = self.values.dims()[0];
        if w.len() != n {
            return Err(NanobraggError::Scene(format!("{} weights for a tile of {n} pixels", w.len())));
        }
        let w = tensor::<B, 1>(w, [n], &self.values.device());
        let theta_bar = B::fused_tile_backward(
            self.theta.clone().into_primitive().tensor(),
            &self.spec,
            w.into_primitive().tensor(),
        );
        Ok(Tensor::from_primitive(TensorPrimitive::Float(theta_bar)))
    }

    /// The gradients of `names` and of the F grid from `theta_bar` ([`DirectTile::backward`]'s
    /// result), read in one transfer.
    pub fn gradients(&self, sim: &Simulator<B>, theta_bar: &Tensor<B, 1>, names: &[ParamName]) -> Result<DirectGradients> {
        let mut all = to_vec(theta_bar);
        let head_len = self.pullback.head().dims()[0];
        if all.len() < head_len {
            return Err(NanobraggError::Scene(format!("θ̄ has {} entries for a head of {head_len}", all.len())));
        }
        let grid = all.split_off(head_len);
        let internal = self.pullback.gradients_from(sim, all)?;
        let params = sim.pulled_user_gradients(&self.pullback, internal, names)?;
        Ok(DirectGradients { params, grid })
    }
}
