//! The CUDA suite at f32 (`--features cuda`; see `tests/cuda_f64.rs`): the golden corpus on
//! `Cuda<f32>` against the C images with the f32 bar, the φ = 0 carry-over cases on GPU and CPU,
//! and c-parity gradients on the GPU compared with the CPU's at f32 (finite differences cannot
//! judge to 1e-6 at f32: the GPU's autodiff gradients must agree with the CPU's to 1e-3). Only
//! f32 tensors are made in this process. The suite is `tests/backends/mod.rs`.
#![cfg(feature = "cuda")]

mod backends;
mod golden;
mod gradient_scenes;

backends::backend_suite! {
    backend: burn_cuda::Cuda<f32>,
    device: burn_cuda::CudaDevice::default(),
    precision: F32,
    reference: burn_ndarray::NdArray<f32>,
    reference_device: burn_ndarray::NdArrayDevice::Cpu,
}
