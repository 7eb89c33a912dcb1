//! θ built on the host for backends where every small tensor op is a device launch
//! ([`super::RenderBackend::inputs_on_host`], CUDA): the small parameters are read back in one
//! transfer, the detector/crystal model and θ are built with the same generic tensor code on
//! [`HostAd`] (f64 on the CPU), and θ is uploaded in one transfer.
//!
//! For gradients ([`super::RenderBackend::pullback_on_host`]) the host graph from the packed
//! parameters to θ is kept, the uploaded θ becomes a leaf of the device graph, and after the
//! tile's backward pass `θ̄` is read back and pulled through the host graph ([`pullback`]) —
//! about a hundred ops on a few values each, instead of that many device launches forward and
//! backward.

use crate::error::Result;
use crate::linalg::{check_float_dtype, float_options};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};

/// The host backend θ is built on where no gradient follows it: f64 on the CPU.
pub type Host = NdArray<f64>;

/// The host backend θ is built on for the pull-back: [`Host`] with autodiff.
pub type HostAd = Autodiff<Host>;

/// θ built by `builder` from `leaf` (the packed small parameters on a host backend), its float
/// dtype checked.
pub fn build<C: Backend>(
    leaf: Tensor<C, 1>,
    builder: impl FnOnce(Tensor<C, 1>) -> Result<Tensor<C, 1>>,
) -> Result<Tensor<C, 1>> {
    let theta = builder(leaf)?;
    check_float_dtype(&theta, "θ built on the host")?;
    Ok(theta)
}

/// `∂(θ̄·θ)/∂packed` through the host graph from `leaf` to `theta` (zeros where θ does not
/// depend on an entry).
pub fn pullback(leaf: &Tensor<HostAd, 1>, theta: &Tensor<HostAd, 1>, theta_grad: Vec<f64>) -> Tensor<NdArray<f64>, 1> {
    let grads = (theta.clone() * self::leaf::<HostAd>(&theta_grad)).sum().backward();
    leaf.grad(&grads)
        .unwrap_or_else(|| Tensor::zeros(leaf.dims(), &NdArrayDevice::Cpu))
}

/// `packed` as a tensor on the host backend `C` (untracked).
pub fn leaf<C: Backend<Device = NdArrayDevice>>(packed: &[f64]) -> Tensor<C, 1> {
    let n = packed.len();
    Tensor::from_data(TensorData::new(packed.to_vec(), [n]), float_options::<C>(&NdArrayDevice::Cpu))
}
