//! Shared bodies of the CUDA suites (`tests/cuda_f64.rs`, `tests/cuda_f32.rs`), generic over
//! the GPU backend `G` and a CPU backend `C` of the same dtype: the golden corpus on the GPU,
//! the φ = 0 carry-over cases on both with their outputs compared, and gradients in c-parity
//! mode checked by the gradcheck on the GPU and compared with the CPU's.
//!
//! Every render asserts that its output tensor lives on the GPU device at the requested dtype.
#![allow(dead_code)]

use burn::tensor::backend::Backend;
use nanobragg::kernel::RenderBackend;
use burn::tensor::DType;
use nanobragg::gradients::ParamName;
use nanobragg::phi::{FreshPhiRotation, PhiRotation};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::{parse_args, PhiCarryoverMode};
use nanobragg_parity::phi_cache::PhiCarryover;
use nanobragg_parity::{evaluate, GradcheckConfig, ParamSet, AD};

use crate::golden::{self, Case};

fn policy<B: Backend>(mode: PhiCarryoverMode) -> Box<dyn PhiRotation<B>> {
    match mode {
        PhiCarryoverMode::CParity => Box::new(PhiCarryover),
        PhiCarryoverMode::Spec => Box::new(FreshPhiRotation),
    }
}

/// Build a simulator for `args` (nanoBragg flags) on `device`, files resolved in `dir`.
pub fn simulator<B: RenderBackend>(args: Vec<String>, dir: &std::path::Path, device: &B::Device) -> Simulator<B> {
    let cl = parse_args(args).unwrap();
    let setup = Setup::from_scene(&cl.scene, dir).unwrap();
    Simulator::with_phi_rotation(setup, device, RenderOptions::default(), policy(cl.phi_carryover_mode))
        .unwrap()
}

/// Render `case` on `device`, asserting the first tile's output device and dtype.
pub fn render_checked<B: RenderBackend>(case: &Case, device: &B::Device, dtype: DType) -> Vec<f32> {
    let sim = simulator::<B>(case.run_args(), &case.dir, device);
    let mut state = sim.scan_start();
    let n = sim.plan.pixels.len().min(64);
    let first = sim.tile_values(&sim.plan.pixels[..n], &mut state).unwrap();
    assert_eq!(&first.device(), device, "{}: output not on the requested device", case.name);
    assert_eq!(first.dtype(), dtype, "{}: output dtype", case.name);
    sim.render().unwrap().data
}

/// The φ = 0 carry-over cases (single-thread references), rendered in c-parity mode on the GPU
/// and on the CPU: each must meet `bar` against C, and GPU and CPU must agree to `max_rel`.
pub fn carryover_cases_agree<G: RenderBackend, C: RenderBackend>(
    gpu: &G::Device,
    cpu: &C::Device,
    dtype: DType,
    bar: golden::Bar,
    max_rel: f64,
) {
    let cases: Vec<Case> = golden::load_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("phi0_carryover") && c.name.ends_with("_1t"))
        .collect();
    assert!(!cases.is_empty(), "no phi0_carryover_*_1t case in {}", golden::golden_dir().display());
    for case in &cases {
        assert!(case.run_args().iter().any(|a| a == "c-parity"));
        let reference = case.reference();
        let on_gpu = render_checked::<G>(case, gpu, dtype);
        let on_cpu = render_checked::<C>(case, cpu, dtype);
        let vs_c = golden::compare(&reference, &on_gpu).unwrap();
        let vs_cpu = golden::compare(&on_cpu, &on_gpu).unwrap();
        println!(
            "{:<32} GPU vs C: corr {:.8} max_rel {:.2e} sum_ratio {:.6} | GPU vs CPU: max_rel {:.2e}",
            case.name, vs_c.corr, vs_c.max_rel, vs_c.sum_ratio, vs_cpu.max_rel
        );
        let meets = match bar {
            golden::Bar::F64 => vs_c.exact_f64(),
            golden::Bar::F32 => vs_c.pass_f32(),
        };
        assert!(
            meets,
            "{}: GPU misses the bar against C: {vs_c:?}",
            case.name
        );
        assert!(vs_cpu.max_rel <= max_rel, "{}: GPU and CPU differ: {vs_cpu:?}", case.name);
    }
}

/// The c-parity carry-over scene of `tests/gradients_f64.rs` (φ start exactly 0).
pub const CARRYOVER_SCENE: &str = "-cell 100 100 100 90 90 90 -misset 10 20 30 -N 8 \
    -default_F 100 -lambda 1.0 -distance 100 -pixel 0.1 -detpixels 20 -Xbeam 1.0 -Ybeam 1.0 \
    -phi 0 -osc 4 -phisteps 4 -oversample 1 -phi_carryover_mode c-parity";

/// The parameters the issue names for the carry-over gradcheck.
pub const CARRYOVER_PARAMS: [ParamName; 4] =
    [ParamName::CellA, ParamName::MissetZ, ParamName::DistanceMm, ParamName::OscRange];

/// (analytic, numeric, relative error, verdict) per parameter on `device`.
pub fn carryover_gradients<B: RenderBackend>(
    device: &B::Device,
    config: &GradcheckConfig,
) -> Vec<(ParamName, f64, f64, f64, String)> {
    let args: Vec<String> = CARRYOVER_SCENE.split_whitespace().map(String::from).collect();
    let mut sim = simulator::<AD<B>>(args, std::path::Path::new("."), device);
    CARRYOVER_PARAMS
        .iter()
        .map(|&name| {
            let value = sim.param_value(name).unwrap();
            let params = ParamSet::new().scalar(name.name(), value);
            let report = evaluate::<B, 1, _>(device, &params, config, |p| {
                let pr = sim.params_with(name, p[name.name()].clone()).unwrap();
                let image = sim.image_tensor_with(&pr).unwrap();
                assert_eq!(&image.device(), device, "gradient render not on the requested device");
                image
            })
            .unwrap();
            let c = &report.components[0];
            (name, c.analytic, c.numeric, c.rel_error, c.verdict.label().to_string())
        })
        .collect()
}

/// The CUDA kernel's gradients — fused forward and its adjoint kernel on `Autodiff<G>` — against
/// the CPU's tensor-op reference (`Autodiff<C>`, same dtype) for every parameter of the gradient
/// suite's scenes A, B and C (which the kernel covers: SQUARE lattice, `default_F`, whole
/// detector, factors once per pixel). The loss is a squared error against a perturbed copy of
/// the image, so every pixel carries its own upstream gradient. Asserts each gradient within
/// `rel·|reference| + abs·(largest reference gradient of the scene)`.
pub fn fused_gradients_agree<G: RenderBackend, C: RenderBackend>(
    gpu: &G::Device,
    cpu: &C::Device,
    dtype: DType,
    rel: f64,
    abs: f64,
) {
    use crate::gradient_scenes::{perturbed_loss, simulator_with, SCENES};
    use burn_autodiff::Autodiff;
    use nanobragg::kernel::Engine;
    for scene in SCENES {
        let tensor = RenderOptions { engine: Engine::Tensor, ..RenderOptions::default() };
        let image = simulator_with::<C>(scene.args, cpu, tensor).render().expect("render").data;
        let loss = perturbed_loss(&image);
        let mut on_gpu = simulator_with::<Autodiff<G>>(scene.args, gpu, RenderOptions::default());
        assert_eq!(on_gpu.params.pixel.dtype(), dtype);
        let mut reference = simulator_with::<Autodiff<C>>(scene.args, cpu, tensor);
        let a = on_gpu.loss_and_gradients(&loss, scene.params).expect("GPU gradients");
        let b = reference.loss_and_gradients(&loss, scene.params).expect("CPU gradients");
        let scale = b.gradients.iter().fold(0.0f64, |m, g| m.max(g.2.abs()));
        assert!(scale > 0.0, "scene {}: no gradient", scene.label);
        let mut off = Vec::new();
        for (ga, gb) in a.gradients.iter().zip(&b.gradients) {
            let err = (ga.2 - gb.2).abs();
            println!("scene {} {:?}: GPU {:+.9e} CPU {:+.9e}", scene.label, ga.0, ga.2, gb.2);
            if err > rel * gb.2.abs() + abs * scale {
                off.push(format!("{:?}: GPU {:.9e} vs CPU {:.9e}", ga.0, ga.2, gb.2));
            }
        }
        assert!(off.is_empty(), "scene {}: {} gradients off: {}", scene.label, off.len(), off.join("; "));
        println!("scene {}: {} gradients agree", scene.label, a.gradients.len());
    }
}
