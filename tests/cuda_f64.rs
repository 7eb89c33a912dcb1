//! The CUDA suite at f64 (`--features cuda`; run on a machine with an NVIDIA driver, see
//! `../shared/docs/gpu.md` and `docs/parity.md`): the golden corpus on `Cuda<f64>` against the
//! C images, the φ = 0 carry-over cases on the GPU and the CPU, and the c-parity gradcheck on
//! the GPU compared with the CPU's gradients (the suite, `tests/backends/mod.rs`), plus the CUDA
//! kernel's capability checks (f64 only). Only f64 tensors are made in this process.
#![cfg(feature = "cuda")]

mod backends;
mod capabilities;
mod fused_kernel;
mod golden;
mod gradient_scenes;
mod objective_routes;

use burn_cuda::{Cuda, CudaDevice};

type G = Cuda<f64>;

backends::backend_suite! {
    backend: G,
    device: CudaDevice::default(),
    precision: F64,
    reference: burn_ndarray::NdArray<f64>,
    reference_device: burn_ndarray::NdArrayDevice::Cpu,
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
    capabilities::kernels_differentiate_structure_factors_like_the_tensor_path::<burn_autodiff::Autodiff<G>, G>(
        &gpu, 1e-10,
    );
}

/// A refinement objective on CUDA (θ̄ pulled back on the host, the model rendered from θ built
/// on the host) gives the CPU tensor path's loss, gradient and model image.
#[test]
fn objective_on_cuda_matches_the_cpu_tensor_path() {
    let gpu = CudaDevice::default();
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    objective_routes::objective_matches_the_cpu_tensor_path::<burn_autodiff::Autodiff<G>>(&gpu, 1e-10, true);
}

/// Objectives on CUDA evaluated stage by stage together (an ensemble rank's shots, with no
/// device graph) give each one's own result (through the device graph); the grid gradient's
/// atomic sums may differ in the last bits.
#[test]
fn staged_objectives_on_cuda_match_one_by_one() {
    let gpu = CudaDevice::default();
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    objective_routes::staged_evaluations_match_one_by_one::<burn_autodiff::Autodiff<G>>(&gpu, true, 1e-12);
}

/// The counter-based noise drawn by the CUDA kernel equals the host's scalar form pixel for
/// pixel (the same Philox stream; a count may differ only where the device's `exp`/`ln` round
/// differently at an acceptance boundary), for a run of pixels and a sparse list, over means
/// from 0 to 10⁸ (inversion, rejection and normal regimes).
#[test]
fn counter_noise_on_cuda_matches_the_host_form() {
    use nanobragg::random::counter::{poisson_deviate, poisson_deviates, CounterKey, CounterPixels};
    let gpu = CudaDevice::default();
    nanobragg_parity::assert_default_dtype::<G>(&gpu);
    let n = 200_000usize;
    let means: Vec<f64> = (0..n).map(|i| if i % 50 == 0 { 0.0 } else { 10f64.powf(-3.0 + 11.0 * (i as f64 / n as f64)) }).collect();
    let key = CounterKey { seed: 0xDEAD_BEEF_0123, stream: 7 };
    let list: Vec<usize> = (0..n).map(|i| (i * 7919) % 4_000_000).collect();
    for pixels in [CounterPixels::Run { first: 1000 }, CounterPixels::of(&list).unwrap()] {
        let t = nanobragg::linalg::tensor::<G, 1>(means.clone(), [n], &gpu);
        let drawn = nanobragg::linalg::to_vec(&poisson_deviates(t, &pixels, key).unwrap());
        let differ = (0..n).filter(|&i| drawn[i] != poisson_deviate(means[i], key, pixels.at(i))).count();
        println!("{pixels:?}: {differ} of {n} counts differ from the host form", pixels = std::mem::discriminant(&pixels));
        assert!(differ <= n / 10_000, "{differ} of {n} counts differ from the host form");
        assert!(drawn.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}
