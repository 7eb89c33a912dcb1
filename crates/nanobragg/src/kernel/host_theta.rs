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
use burn::tensor::{Tensor, TensorData};
use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};

/// The host backend θ is built on: f64 on the CPU, with autodiff for the pull-back.
pub type HostAd = Autodiff<NdArray<f64>>;

/// The packed values as a host leaf (tracked when `track`) and θ built from it by `builder`.
pub fn build(
    packed: &[f64],
    track: bool,
    builder: impl FnOnce(Tensor<HostAd, 1>) -> Result<Tensor<HostAd, 1>>,
) -> Result<(Tensor<HostAd, 1>, Tensor<HostAd, 1>)> {
    let leaf = host_tensor(packed.to_vec());
    let leaf = if track { leaf.require_grad() } else { leaf };
    let theta = builder(leaf.clone())?;
    check_float_dtype(&theta, "θ built on the host")?;
    Ok((leaf, theta))
}

/// `∂(θ̄·θ)/∂packed` through the host graph from `leaf` to `theta` (zeros where θ does not
/// depend on an entry).
pub fn pullback(leaf: &Tensor<HostAd, 1>, theta: &Tensor<HostAd, 1>, theta_grad: Vec<f64>) -> Tensor<NdArray<f64>, 1> {
    let grads = (theta.clone() * host_tensor(theta_grad)).sum().backward();
    leaf.grad(&grads)
        .unwrap_or_else(|| Tensor::zeros(leaf.dims(), &NdArrayDevice::Cpu))
}

fn host_tensor(values: Vec<f64>) -> Tensor<HostAd, 1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), float_options::<HostAd>(&NdArrayDevice::Cpu))
}
