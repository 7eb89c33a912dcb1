//! [`RenderBackend`] for the backends this crate knows: the CPU kernel on NdArray and Flex, the
//! tensor path on CUDA.

use super::cpu;
use super::real::Real;
use super::{Coverage, FusedTile, PixelLoss, RenderBackend, TileLossGrad, TileSpec};
use crate::linalg::float_options;
use burn::tensor::{backend::Backend, ops::FloatTensor, Element, Tensor, TensorData, TensorPrimitive};
use burn_ndarray::NdArray;
use std::sync::Arc;

fn to_host<B: Backend, T: Element>(t: FloatTensor<B>) -> Vec<T> {
    if let Some(values) = crate::linalg::ndarray_values::<T>(&t) {
        return values;
    }
    Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(t))
        .into_data()
        .convert::<T>()
        .into_vec::<T>()
        .expect("converted tensor data")
}

fn from_host<B: Backend, T: Element>(values: Vec<T>, device: &B::Device) -> FloatTensor<B> {
    let n = values.len();
    Tensor::<B, 1>::from_data(TensorData::new(values, [n]), float_options::<B>(device))
        .into_primitive()
        .tensor()
}

/// The CPU kernel in the host float type `T` (the backend's float element).
fn cpu_forward<B: Backend, T: Real + Element>(
    theta: FloatTensor<B>,
    spec: &TileSpec,
) -> Option<FusedTile<B>> {
    let device = B::float_device(&theta);
    let tile = cpu::forward(&to_host::<B, T>(theta), spec)?;
    Some(FusedTile {
        values: from_host::<B, T>(tile.values, &device),
        any_active: tile.any_active,
    })
}

fn cpu_backward<B: Backend, T: Real>(theta: FloatTensor<B>, spec: &TileSpec, grad: FloatTensor<B>) -> FloatTensor<B> {
    let device = B::float_device(&theta);
    let dtheta = cpu::backward::<T>(&to_host::<B, f64>(theta), spec, &to_host::<B, f64>(grad));
    from_host::<B, f64>(dtheta, &device)
}

fn cpu_loss_grad<B: Backend, T: Real>(
    theta: FloatTensor<B>,
    spec: &TileSpec,
    loss: &PixelLoss<'_>,
) -> Option<TileLossGrad> {
    cpu::loss_grad::<T>(&to_host::<B, f64>(theta), spec, loss)
}

/// The CPU kernel for a backend whose float element is `$elem`.
macro_rules! cpu_kernel {
    ($backend:ty, $elem:ty) => {
        impl RenderBackend for $backend {
            fn kernels() -> &'static [&'static Coverage] {
                &[&cpu::BATCH, &cpu::PIXEL]
            }

            fn has_fused_loss_grad() -> bool {
                true
            }

            fn fused_tile(theta: FloatTensor<Self>, spec: &Arc<TileSpec>) -> Option<FusedTile<Self>> {
                cpu_forward::<Self, $elem>(theta, spec)
            }

            fn fused_tile_backward(
                theta: FloatTensor<Self>,
                spec: &Arc<TileSpec>,
                grad: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                cpu_backward::<Self, $elem>(theta, spec, grad)
            }

            fn fused_tile_loss_grad(
                theta: FloatTensor<Self>,
                spec: &Arc<TileSpec>,
                loss: &PixelLoss<'_>,
            ) -> Option<TileLossGrad> {
                cpu_loss_grad::<Self, $elem>(theta, spec, loss)
            }
        }
    };
}

cpu_kernel!(NdArray<f32>, f32);
cpu_kernel!(NdArray<f64>, f64);
cpu_kernel!(burn_flex::Flex, f32);

// CUDA: see `super::cuda`.
