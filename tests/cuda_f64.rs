//! The CUDA suite at f64 (`--features cuda`; run on a machine with an NVIDIA driver, see
//! `../shared/docs/gpu.md` and `docs/parity.md`): the golden corpus on `Cuda<f64>` against the
//! C images, the φ = 0 carry-over cases on the GPU and the CPU, and the c-parity gradcheck on
//! the GPU compared with the CPU's gradients. Only f64 tensors are made in this process.
#![cfg(feature = "cuda")]

mod capabilities;
mod cuda_common;
mod fused_kernel;
mod golden;
mod gradient_scenes;

use burn::tensor::DType;
use burn_cuda::{Cuda, CudaDevice};
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg_parity::GradcheckConfig;

type G = Cuda<f64>;
type C = NdArray<f64>;

#[test]
fn golden_corpus_on_cuda_f64() {
    let device = CudaDevice::default();
    nanobragg_parity::assert_default_dtype::<G>(&device);
    golden::run_parity_suite::<G>("cuda_f64", golden::Bar::F64, DType::F64, &device);
}

#[test]
fn carryover_cases_on_cuda_f64_match_c_and_cpu() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    cuda_common::carryover_cases_agree::<G, C>(&gpu, &cpu, DType::F64, golden::Bar::F64, 1e-9);
}

#[test]
fn carryover_gradcheck_on_cuda_f64_matches_cpu() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    let config = GradcheckConfig::new().rel_step(1e-4).abs_step(1e-3).rtol(1e-6).atol(1e-12);
    let on_gpu = cuda_common::carryover_gradients::<G>(&gpu, &config);
    let on_cpu = cuda_common::carryover_gradients::<C>(&cpu, &config);
    for ((name, a, num, rel, verdict), (_, a_cpu, ..)) in on_gpu.iter().zip(&on_cpu) {
        let vs_cpu = (a - a_cpu).abs() / a_cpu.abs().max(1e-300);
        println!("{name:>12} GPU {a:+.12e} FD {num:+.12e} rel {rel:.2e} {verdict} | vs CPU {vs_cpu:.2e}");
        assert!(*rel <= 1e-6, "{name}: GPU gradient off FD by {rel:.2e}");
        assert!(vs_cpu <= 1e-9, "{name}: GPU and CPU gradients differ by {vs_cpu:.2e}");
    }
}

#[test]
fn fused_gradients_on_cuda_f64_match_cpu_tensor_path() {
    let (gpu, cpu) = (CudaDevice::default(), NdArrayDevice::Cpu);
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    cuda_common::fused_gradients_agree::<G, C>(&gpu, &cpu, DType::F64, 1e-8, 1e-11);
}

/// The CUDA kernel's coverage checked on the GPU: each capability's scene rendered and
/// differentiated by the kernel where it implements the scene, against the tensor path on the
/// same device, and refused where it declines (see `tests/capabilities/mod.rs`).
#[test]
fn cuda_kernel_renders_and_differentiates_what_it_implements_like_the_tensor_path() {
    let gpu = CudaDevice::default();
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    capabilities::scenes_require_their_capability::<G>(&gpu);
    capabilities::kernels_render_like_the_tensor_path::<G>(&gpu, 1e-10);
    capabilities::kernels_differentiate_like_the_tensor_path::<burn_autodiff::Autodiff<G>, G>(&gpu, 1e-8);
}
