//! The backend compared with a reference backend of the same dtype (the CPU's, for the CUDA
//! suites): the φ = 0 carry-over cases rendered on both, gradients in c-parity mode checked by the
//! gradcheck on the backend and compared with the reference's, and the fused kernel's gradients
//! against the reference's tensor path. Tolerances come from the suite's [`Precision`].
//!
//! Every render asserts that its output tensor lives on the requested device at the requested
//! dtype.

use burn::tensor::DType;
use nanobragg::gradients::ParamName;
use nanobragg::kernel::RenderBackend;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::parse_args;
use nanobragg_parity::{evaluate, GradcheckConfig, ParamSet, AD};

use super::Precision;
use crate::golden::{self, Case};

/// Build a simulator for `args` (nanoBragg flags) on `device`, files resolved in `dir`.
pub fn simulator<B: RenderBackend>(args: Vec<String>, dir: &std::path::Path, device: &B::Device) -> Simulator<B> {
    let cl = parse_args(args).unwrap();
    let setup = Setup::from_scene(&cl.scene, dir).unwrap();
    Simulator::with_phi_rotation(setup, device, RenderOptions::default(), golden::phi_rotation(cl.phi_carryover_mode))
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

/// The φ = 0 carry-over cases (single-thread references), rendered in c-parity mode on `B` and
/// on the reference `R`: each must meet the precision's bar against C, and the two must agree to
/// [`Precision::image_vs_reference`].
pub fn carryover_cases_agree<B: RenderBackend, R: RenderBackend>(
    device: &B::Device,
    reference_device: &R::Device,
    precision: &Precision,
) {
    nanobragg_parity::assert_default_dtype::<B>(device);
    let cases: Vec<Case> = golden::load_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("phi0_carryover") && c.name.ends_with("_1t"))
        .collect();
    assert!(!cases.is_empty(), "no phi0_carryover_*_1t case in {}", golden::golden_dir().display());
    for case in &cases {
        assert!(case.run_args().iter().any(|a| a == "c-parity"));
        let c_image = case.reference();
        let ours = render_checked::<B>(case, device, precision.dtype);
        let theirs = render_checked::<R>(case, reference_device, precision.dtype);
        let vs_c = golden::compare(&c_image, &ours).unwrap();
        let vs_reference = golden::compare(&theirs, &ours).unwrap();
        println!(
            "{:<32} vs C: corr {:.8} max_rel {:.2e} sum_ratio {:.6} | vs reference: max_rel {:.2e}",
            case.name, vs_c.corr, vs_c.max_rel, vs_c.sum_ratio, vs_reference.max_rel
        );
        assert!(vs_c.meets(precision.bar), "{}: misses the bar against C: {vs_c:?}", case.name);
        assert!(
            vs_reference.max_rel <= precision.image_vs_reference,
            "{}: backend and reference differ: {vs_reference:?}",
            case.name
        );
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

/// The carry-over gradcheck (settings [`Precision::gradcheck`]) on `B` and on the reference
/// `R`: every gradient on `B` finite, within [`Precision::gradient_vs_fd`] of the finite
/// differences where the precision lets them judge, and within
/// [`Precision::gradient_vs_reference`] of the reference's autodiff gradient.
pub fn carryover_gradients_agree<B: RenderBackend, R: RenderBackend>(
    device: &B::Device,
    reference_device: &R::Device,
    precision: &Precision,
) {
    nanobragg_parity::assert_default_dtype::<B>(device);
    let config = (precision.gradcheck)();
    let ours = carryover_gradients::<B>(device, &config);
    let theirs = carryover_gradients::<R>(reference_device, &config);
    let digits = precision.digits;
    for ((name, a, num, rel, verdict), (_, a_ref, ..)) in ours.iter().zip(&theirs) {
        let vs_reference = (a - a_ref).abs() / a_ref.abs().max(precision.gradient_floor);
        println!(
            "{name:>12} {a:+.digits$e} FD {num:+.digits$e} rel {rel:.2e} {verdict} | vs reference {vs_reference:.2e}"
        );
        assert!(a.is_finite(), "{name}: non-finite gradient");
        if let Some(max_rel) = precision.gradient_vs_fd {
            assert!(*rel <= max_rel, "{name}: gradient off FD by {rel:.2e}");
        }
        assert!(
            vs_reference <= precision.gradient_vs_reference,
            "{name}: backend and reference gradients differ by {vs_reference:.2e}"
        );
    }
}

/// The fused kernel's gradients — fused forward and its adjoint kernel on `Autodiff<B>` —
/// against the reference's tensor-op path (`Autodiff<R>`, same dtype) for every parameter of the
/// gradient suite's scenes A, B and C (which the kernels cover: SQUARE lattice, `default_F`,
/// whole detector, factors once per pixel). The loss is a squared error against a perturbed copy
/// of the image, so every pixel carries its own upstream gradient. Asserts each gradient within
/// `fused_rel·|reference| + fused_abs·(largest reference gradient of the scene)`.
pub fn fused_gradients_agree<B: RenderBackend, R: RenderBackend>(
    device: &B::Device,
    reference_device: &R::Device,
    precision: &Precision,
) {
    use crate::gradient_scenes::{perturbed_loss, simulator_with, SCENES};
    use burn_autodiff::Autodiff;
    use nanobragg::kernel::Engine;
    nanobragg_parity::assert_default_dtype::<B>(device);
    let (rel, abs) = (precision.fused_rel, precision.fused_abs);
    for scene in SCENES {
        let tensor = RenderOptions { engine: Engine::Tensor, ..RenderOptions::default() };
        let image = simulator_with::<R>(scene.args, reference_device, tensor).render().expect("render").data;
        let loss = perturbed_loss(&image);
        let mut ours = simulator_with::<Autodiff<B>>(scene.args, device, RenderOptions::default());
        assert_eq!(ours.params.pixel.dtype(), precision.dtype);
        let mut reference = simulator_with::<Autodiff<R>>(scene.args, reference_device, tensor);
        let a = ours.loss_and_gradients(&loss, scene.params).expect("backend gradients");
        let b = reference.loss_and_gradients(&loss, scene.params).expect("reference gradients");
        let scale = b.gradients.iter().fold(0.0f64, |m, g| m.max(g.2.abs()));
        assert!(scale > 0.0, "scene {}: no gradient", scene.label);
        let mut off = Vec::new();
        for (ga, gb) in a.gradients.iter().zip(&b.gradients) {
            let err = (ga.2 - gb.2).abs();
            println!("scene {} {:?}: {:+.9e} reference {:+.9e}", scene.label, ga.0, ga.2, gb.2);
            if err > rel * gb.2.abs() + abs * scale {
                off.push(format!("{:?}: {:.9e} vs reference {:.9e}", ga.0, ga.2, gb.2));
            }
        }
        assert!(off.is_empty(), "scene {}: {} gradients off: {}", scene.label, off.len(), off.join("; "));
        println!("scene {}: {} gradients agree", scene.label, a.gradients.len());
    }
}
