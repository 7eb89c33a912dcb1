//! Kernel coverage fails closed, on the CPU backends' kernels at f64 (the same checks run on
//! CUDA in `tests/cuda_f64.rs`; bodies in `tests/capabilities/mod.rs`). A capability added to
//! the enum without a decision in every kernel's `Coverage` fails
//! `every_kernel_decides_every_capability`; one added without a scene does not compile.

mod capabilities;
mod fused_kernel;
mod gradient_scenes;
mod objective_routes;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::kernel::capability::{all_kernels, describe};
use nanobragg::kernel::RenderBackend;

type B = NdArray<f64>;
type AD = Autodiff<NdArray<f64>>;

#[test]
fn every_kernel_decides_every_capability() {
    let mut problems = Vec::new();
    for k in all_kernels() {
        if !k.undeclared().is_empty() {
            problems.push(format!("{}: neither implements nor declines {}", k.kernel.name(), describe(k.undeclared())));
        }
        if !k.contradictions().is_empty() {
            problems.push(format!("{}: both implements and declines {}", k.kernel.name(), describe(k.contradictions())));
        }
    }
    assert!(problems.is_empty(), "kernel coverage is incomplete:\n{}", problems.join("\n"));
    for k in B::kernels() {
        assert!(all_kernels().contains(k), "{} is not listed in all_kernels()", k.kernel.name());
    }
}

#[test]
fn each_capability_scene_requires_its_capability() {
    capabilities::scenes_require_their_capability::<B>(&NdArrayDevice::Cpu);
}

#[test]
fn kernels_render_what_they_implement_like_the_tensor_path_and_refuse_the_rest() {
    capabilities::kernels_render_like_the_tensor_path::<B>(&NdArrayDevice::Cpu, 1e-12);
}

#[test]
fn kernels_differentiate_what_they_implement_like_the_tensor_path() {
    capabilities::kernels_differentiate_like_the_tensor_path::<AD, B>(&NdArrayDevice::Cpu, 1e-9);
}

#[test]
fn kernels_differentiate_structure_factors_like_the_tensor_path() {
    capabilities::kernels_differentiate_structure_factors_like_the_tensor_path::<AD, B>(&NdArrayDevice::Cpu, 1e-12);
}

/// A refinement objective on the CPU kernel gives the tensor path's loss, gradient and model.
#[test]
fn objective_on_the_cpu_kernel_matches_the_tensor_path() {
    objective_routes::objective_matches_the_cpu_tensor_path::<AD>(&NdArrayDevice::Cpu, 1e-10, false);
}

/// Objectives evaluated stage by stage together give each one's own result (the CPU kernel).
#[test]
fn staged_objectives_on_the_cpu_match_one_by_one() {
    objective_routes::staged_evaluations_match_one_by_one::<AD>(&NdArrayDevice::Cpu, false, 0.0);
}

/// Staged objectives on the GPU's route (parameters kept on the host, θ built there, the
/// kernel's backward fed the loss's weights with no device graph, θ̄ pulled back on the host)
/// give the device leaves' loss and gradient, F-grid entries included (the CPU kernel).
#[test]
fn staged_objectives_on_the_host_route_match_the_device_leaves() {
    objective_routes::staged_evaluations_match_one_by_one::<AD>(&NdArrayDevice::Cpu, true, 1e-10);
}
