//! Tiles whose θ is built on the host and pulled back there after the device's backward pass
//! ([`RenderBackend::pullback_on_host`], CUDA): θ's head is uploaded as a leaf of the tile's
//! device graph, and `θ̄` goes back to the small parameters through the host graph of
//! [`Simulator::host_theta`].
//!
//! That host graph is either kept from the render to the pull-back ([`PullbackGraph::Kept`]),
//! or θ is built with no graph for the render and the graph is built again, from the same
//! packed values, when the gradient is asked for ([`PullbackGraph::Rebuilt`]). burn-autodiff
//! 0.21 scans every live graph node after each backward pass (its orphan clean-up), so an
//! ensemble rank that holds the graphs of many shots between its stages would pay for all of
//! them at every backward pass: rebuilt graphs keep one alive at a time.

use burn::tensor::{backend::AutodiffBackend, Tensor};
use burn_ndarray::NdArray;

use super::fused::{packed_on_device, upload, with_grid};
use super::{ScanState, Simulator};
use crate::error::Result;
use crate::kernel::host_theta::{self, Host, HostAd};
use crate::kernel::{KernelId, RenderBackend, TileSpec};
use crate::linalg::to_vec;
use crate::params::Params;

/// Whether the host graph from the small parameters to θ is kept from a tile's render to its
/// pull-back, or built again for the pull-back (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullbackGraph {
    /// Built once, with the render, and held until the pull-back: one θ build.
    #[default]
    Kept,
    /// No graph held between render and pull-back; θ built twice (once without a graph).
    /// For callers that hold many tiles between their render and their pull-back.
    Rebuilt,
}

/// What a tile rendered with θ built on the host needs to turn `θ̄` into parameter gradients
/// after its backward pass ([`Simulator::tile_values_pullback`],
/// [`Simulator::pulled_gradients`]).
pub struct ThetaPullback<B: AutodiffBackend> {
    /// θ's head on the device: a leaf of the tile's graph.
    on_device: Tensor<B, 1>,
    /// The packed small parameters θ was built from.
    packed: Vec<f64>,
    /// The host graph, or what builds it again.
    graph: HostGraph,
}

/// The host graph of a [`ThetaPullback`].
enum HostGraph {
    /// The host leaf of the packed small parameters and θ's head with its graph from it.
    Kept { leaf: Tensor<HostAd, 1>, on_host: Tensor<HostAd, 1> },
    /// The tile as rendered: the graph is built again from the packed values.
    Rebuilt { tile: Vec<usize>, state: ScanState, has_grid: bool, kernel: KernelId },
}

impl<B: AutodiffBackend + RenderBackend> ThetaPullback<B> {
    /// The gradient of every small parameter (shaped like `sim`'s) from the tile's gradients.
    pub(crate) fn gradients(&self, sim: &Simulator<B>, grads: &B::Gradients) -> Result<Params<NdArray<f64>>> {
        let n = self.on_device.dims()[0];
        let theta_grad = match self.on_device.grad(grads) {
            Some(g) => to_vec(&g),
            None => vec![0.0; n],
        };
        self.gradients_from(sim, theta_grad)
    }

    /// The gradient of every small parameter (shaped like `sim`'s) from `θ̄` of θ's head.
    pub(crate) fn gradients_from(&self, sim: &Simulator<B>, theta_grad: Vec<f64>) -> Result<Params<NdArray<f64>>> {
        let pulled = match &self.graph {
            HostGraph::Kept { leaf, on_host } => host_theta::pullback(leaf, on_host, theta_grad),
            HostGraph::Rebuilt { tile, state, has_grid, kernel } => {
                let leaf = host_theta::leaf::<HostAd>(&self.packed).require_grad();
                let (on_host, _) = sim.host_theta(leaf.clone(), *has_grid, tile, state, *kernel)?;
                host_theta::pullback(&leaf, &on_host, theta_grad)
            }
        };
        Ok(sim.params.unpack(pulled))
    }

    /// The small parameters θ was built from (shaped like `p`'s), on the host.
    pub(crate) fn values(&self, p: &Params<B>) -> Params<NdArray<f64>> {
        p.unpack(host_theta::leaf::<Host>(&self.packed))
    }
}

impl<B: AutodiffBackend + RenderBackend> Simulator<B> {
    /// A tile's values from `p` with θ built on the host and uploaded as a leaf of the tile's
    /// graph, for backends that pull `θ̄` back on the host ([`RenderBackend::pullback_on_host`]):
    /// after the backward pass, [`Simulator::pulled_gradients`] gives the small parameters'
    /// gradients, and the F grid (`p.f_grid`, appended on the device) has its own. The small
    /// parameters' own graphs are not followed. `None` when the backend does not pull back on
    /// the host, the scene is not eligible, or the kernel declines the tile (render it with
    /// [`Simulator::tile_values_with`] then).
    pub fn tile_values_pullback(
        &self,
        p: &Params<B>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Result<Option<(Tensor<B, 1>, ThetaPullback<B>)>> {
        let Some(kernel) = self.fused_kernel().filter(|_| B::pullback_on_host()) else {
            return Ok(None);
        };
        let packed = packed_on_device(p);
        let (theta, spec, pullback) =
            self.tracked_host_theta(packed, p.f_grid.as_ref(), tile, state, kernel, PullbackGraph::Kept)?;
        Ok(self.run_fused(theta, spec, state).map(|values| (values, pullback)))
    }

    /// As [`Simulator::tile_values_pullback`], with the small parameters given on the host
    /// (`host`, laid out like [`Params::to_host`]'s; its `f_grid` is not read) and the F grid
    /// `grid` on the device: nothing is read back from the device to build θ. For callers that
    /// keep the parameters on the host (the refinement objective on CUDA). `graph`: whether the
    /// host graph is held until the pull-back. It works on any autodiff backend whose fused
    /// kernel takes the tile, and pays where [`RenderBackend::pullback_on_host`]; `None` when
    /// no kernel takes it.
    pub fn tile_values_pullback_host(
        &self,
        host: &Params<NdArray<f64>>,
        grid: Option<&Tensor<B, 1>>,
        tile: &[usize],
        state: &mut ScanState,
        graph: PullbackGraph,
    ) -> Result<Option<(Tensor<B, 1>, ThetaPullback<B>)>> {
        let Some(kernel) = self.fused_kernel() else {
            return Ok(None);
        };
        let (theta, spec, pullback) = self.tracked_host_theta(packed_on_host(host), grid, tile, state, kernel, graph)?;
        Ok(self.run_fused(theta, spec, state).map(|values| (values, pullback)))
    }

    /// A tile's values from the small parameters on the host (`host`, as in
    /// [`Simulator::tile_values_pullback_host`]) and the F grid `grid` on the device, with no
    /// gradient through the small parameters (θ built with no graph); `None` when no kernel
    /// takes the tile.
    pub fn tile_values_host(
        &self,
        host: &Params<NdArray<f64>>,
        grid: Option<&Tensor<B, 1>>,
        tile: &[usize],
        state: &mut ScanState,
    ) -> Result<Option<Tensor<B, 1>>> {
        let Some(kernel) = self.fused_kernel() else {
            return Ok(None);
        };
        self.untracked_host_tile(&packed_on_host(host), grid, tile, state, kernel)
    }

    /// θ of a tile built on the host from the packed small parameters and uploaded as a leaf
    /// of the device graph (the F grid `grid` appended on the device), the tile's description,
    /// and what pulls `θ̄` back to the parameters.
    pub(super) fn tracked_host_theta(
        &self,
        packed: Vec<f64>,
        grid: Option<&Tensor<B, 1>>,
        tile: &[usize],
        state: &ScanState,
        kernel: KernelId,
        graph: PullbackGraph,
    ) -> Result<(Tensor<B, 1>, TileSpec, ThetaPullback<B>)> {
        let (spec, mut pullback) = self.host_theta_pullback(packed, grid.is_some(), tile, state, kernel, graph)?;
        pullback.on_device = pullback.on_device.require_grad();
        let theta = with_grid(pullback.on_device.clone(), grid, &spec);
        Ok((theta, spec, pullback))
    }

    /// θ's head built on the host from the packed small parameters and uploaded untracked
    /// ([`ThetaPullback::head`]), the tile's description for `kernel`, and what pulls `θ̄`
    /// back (the host graph kept or built again: `graph`). `has_grid`: whether an F grid
    /// follows θ's head.
    pub(super) fn host_theta_pullback(
        &self,
        packed: Vec<f64>,
        has_grid: bool,
        tile: &[usize],
        state: &ScanState,
        kernel: KernelId,
        graph: PullbackGraph,
    ) -> Result<(TileSpec, ThetaPullback<B>)> {
        let (head, spec, graph) = match graph {
            PullbackGraph::Kept => {
                let leaf = host_theta::leaf::<HostAd>(&packed).require_grad();
                let (on_host, spec) = self.host_theta(leaf.clone(), has_grid, tile, state, kernel)?;
                (on_host.clone().inner(), spec, HostGraph::Kept { leaf, on_host })
            }
            PullbackGraph::Rebuilt => {
                let (head, spec) = self.host_theta(host_theta::leaf::<Host>(&packed), has_grid, tile, state, kernel)?;
                (head, spec, HostGraph::Rebuilt { tile: tile.to_vec(), state: state.clone(), has_grid, kernel })
            }
        };
        let on_device = upload::<B>(&head, &self.params.pixel.device())?;
        Ok((spec, ThetaPullback { on_device, packed, graph }))
    }
}

impl<B: AutodiffBackend> ThetaPullback<B> {
    /// θ's head on the device (before the F grid).
    pub(super) fn head(&self) -> &Tensor<B, 1> {
        &self.on_device
    }
}

/// `host`'s small parameters packed in [`Params::small_tensors`] order.
pub(super) fn packed_on_host(host: &Params<NdArray<f64>>) -> Vec<f64> {
    to_vec(&Tensor::cat(host.small_tensors(), 0))
}
