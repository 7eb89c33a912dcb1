//! The CUDA suite at f32 (`--features cuda`; see `tests/cuda_f64.rs`): the golden corpus on
//! `Cuda<f32>` against the C images with the f32 bar, the φ = 0 carry-over cases on GPU and CPU,
//! and c-parity gradients on the GPU compared with the CPU's at f32. Only f32 tensors are made
//! in this process.
#![cfg(feature = "cuda")]

mod cuda_common;
mod golden;
mod gradient_scenes;

use burn::tensor::DType;
use burn_cuda::{Cuda, CudaDevice};
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg_parity::GradcheckConfig;

type G = Cuda<f32>;
type C = NdArray<f32>;

#[test]
fn golden_corpus_on_cuda_f32() {
    let device = CudaDevice::default();
    nanobragg_parity::assert_default_dtype::<G>(&device);
    golden::run_parity_suite::<G>("cuda_f32", golden::Bar::F32, DType::F32, &device);
}

#[test]
fn carryover_cases_on_cuda_f32_match_c_and_cpu() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    cuda_common::carryover_cases_agree::<G, C>(&gpu, &cpu, DType::F32, golden::Bar::F32, 1e-3);
}

/// At f32 finite differences cannot judge to 1e-6; the gradcheck runs with f32 settings and
/// the GPU's autodiff gradients must agree with the CPU's f32 autodiff to 1e-3.
#[test]
fn carryover_gradients_on_cuda_f32_match_cpu() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    let config = GradcheckConfig::new();
    let on_gpu = cuda_common::carryover_gradients::<G>(&gpu, &config);
    let on_cpu = cuda_common::carryover_gradients::<C>(&cpu, &config);
    for ((name, a, num, rel, verdict), (_, a_cpu, ..)) in on_gpu.iter().zip(&on_cpu) {
        let vs_cpu = (a - a_cpu).abs() / a_cpu.abs().max(1e-30);
        println!("{name:>12} GPU {a:+.6e} FD {num:+.6e} rel {rel:.2e} {verdict} | vs CPU {vs_cpu:.2e}");
        assert!(a.is_finite(), "{name}: non-finite gradient");
        assert!(vs_cpu <= 1e-3, "{name}: GPU and CPU f32 gradients differ by {vs_cpu:.2e}");
    }
}

#[test]
fn fused_gradients_on_cuda_f32_match_cpu_tensor_path() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    cuda_common::fused_gradients_agree::<G, C>(&gpu, &cpu, DType::F32, 1e-2, 1e-3);
}
