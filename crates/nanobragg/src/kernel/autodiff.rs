//! The fused tile under [`Autodiff`]: forward on the inner backend, backward through Burn's
//! custom backward op calling [`RenderBackend::fused_tile_backward`]; the one-pass loss and
//! gradient on the inner backend.

use super::{Coverage, FusedTile, PixelLoss, RenderBackend, TileLossGrad, TileSpec};
use burn::tensor::ops::FloatTensor;
use burn_autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::tensor::backend::AutodiffBackend;
use burn_autodiff::Autodiff;
use std::sync::Arc;

/// Backward step of a fused tile: θ and the tile's spec are its state.
#[derive(Debug)]
struct FusedTileBackward;

impl<B: RenderBackend> Backward<B, 1> for FusedTileBackward {
    type State = (FloatTensor<B>, Arc<TileSpec>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (theta, spec) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::fused_tile_backward(theta, &spec, grad)
        });
    }
}

impl<B: RenderBackend, C: CheckpointStrategy> RenderBackend for Autodiff<B, C> {
    fn kernels() -> &'static [&'static Coverage] {
        if B::has_fused_backward() {
            B::kernels()
        } else {
            &[]
        }
    }

    fn has_fused_loss_grad() -> bool {
        B::has_fused_loss_grad() && B::has_fused_backward()
    }

    fn fused_tile_pixels() -> usize {
        B::fused_tile_pixels()
    }

    fn pullback_on_host() -> bool {
        B::inputs_on_host() && B::has_fused_backward()
    }

    fn is_tracked(tensor: &FloatTensor<Self>) -> bool {
        !tensor.node.requirement.is_none()
    }

    fn fused_tile(theta: FloatTensor<Self>, spec: &Arc<TileSpec>) -> Option<FusedTile<Self>> {
        let prep = FusedTileBackward
            .prepare::<C>([theta.node.clone()])
            .compute_bound()
            .stateful();
        if matches!(prep, OpsKind::Tracked(_)) && !B::has_fused_backward() {
            return None;
        }
        let inner = B::fused_tile(theta.primitive.clone(), spec)?;
        let values = match prep {
            OpsKind::Tracked(prep) => prep.finish((theta.primitive, spec.clone()), inner.values),
            OpsKind::UnTracked(prep) => prep.finish(inner.values),
        };
        Some(FusedTile {
            values,
            any_active: inner.any_active,
        })
    }

    /// The inner backend's backward of an untracked render, as an untracked tensor: for
    /// callers that pull `θ̄` back themselves (no graph on the device,
    /// [`crate::simulate::DirectTile`]). A tracked render's backward runs in the graph.
    fn fused_tile_backward(
        theta: FloatTensor<Self>,
        spec: &Arc<TileSpec>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        <Self as AutodiffBackend>::from_inner(B::fused_tile_backward(theta.primitive, spec, grad.primitive))
    }

    /// The inner backend's pass on θ's values (θ's graph is the caller's to follow).
    fn fused_tile_loss_grad(
        theta: FloatTensor<Self>,
        spec: &Arc<TileSpec>,
        loss: &PixelLoss<'_>,
    ) -> Option<TileLossGrad> {
        if !Self::has_fused_loss_grad() {
            return None;
        }
        B::fused_tile_loss_grad(theta.primitive, spec, loss)
    }

    fn has_counter_poisson() -> bool {
        B::has_counter_poisson()
    }

    /// The inner backend's draw, untracked (noise has no gradient).
    fn counter_poisson(
        means: FloatTensor<Self>,
        pixels: &crate::random::counter::CounterPixels,
        key: crate::random::counter::CounterKey,
    ) -> Option<FloatTensor<Self>> {
        B::counter_poisson(means.primitive, pixels, key).map(<Self as AutodiffBackend>::from_inner)
    }
}
