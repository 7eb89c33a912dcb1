//! A refinement objective gives the same loss, gradient and model image whichever route its
//! tiles take (`nanobragg_refine::Objective`; see `objective/tile_graph.rs`): on CUDA the
//! scene parameters' gradients come from θ̄ pulled back on the host, on the CPU from `[1]`
//! leaves; the reference is the tensor-op path on the CPU. Run per backend by
//! `tests/kernel_capabilities.rs` (CPU) and `tests/cuda_f64.rs` (CUDA).
#![allow(dead_code)]

use burn::tensor::backend::AutodiffBackend;
use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName::{self, *};
use nanobragg::kernel::{Engine, RenderBackend};
use nanobragg_refine::{LossKind, Objective, Observation, ParamSpec, Variable};

use crate::capabilities::options;
use crate::fused_kernel::flags;
use crate::gradient_scenes::simulator_with;

type Reference = Autodiff<NdArray<f64>>;

/// An F grid (|h|, |k|, |l| ≤ 2, `default_F` beyond), misset, φ steps (the oscillation's
/// user → internal map depends on the step count) and two wavelengths.
const SCENE: &str = "-hkl {small_hkl} -nointerpolate -default_F 30 -cell 40 42 44 90 90 90 \
                     -misset 5 7 9 -N 4 -lambda 1.2 -dispersion 1 -dispsteps 2 -distance 60 \
                     -detpixels 12 -pixel 1.0 -phi 0.5 -osc 0.6 -phisteps 2";

const PARAMS: [ParamName; 6] = [MissetX, MissetZ, DistanceMm, OscRange, WavelengthA, NA];

fn specs() -> Vec<ParamSpec> {
    let mut specs: Vec<ParamSpec> = PARAMS.iter().map(|&p| ParamSpec::new(p)).collect();
    specs.push(ParamSpec::scale());
    for hkl in [[0, -1, -1], [0, 2, 1], [-1, -2, 2]] {
        specs.push(ParamSpec::new(Variable::StructureFactor(hkl)));
    }
    specs
}

/// The objective at a point off its start on `AD` (default engine) equals the CPU tensor
/// path's: loss and every gradient entry within `tol` relative, the model image within `tol`
/// of its largest pixel. With `host_route`, asserts the backend pulls θ̄ back on the host and
/// its kernel takes the scene (so that route is the one checked).
pub fn objective_matches_the_cpu_tensor_path<AD>(device: &AD::Device, tol: f64, host_route: bool)
where
    AD: AutodiffBackend + RenderBackend,
{
    let args = flags(SCENE);
    let mut reference = {
        let sim = simulator_with::<Reference>(&args, &NdArrayDevice::Cpu, options(Engine::Tensor));
        let counts: Vec<f64> = sim.render().expect("render").data_f64.iter().map(|v| (1.3 * v).round()).collect();
        Objective::new(sim, specs(), Observation::new(counts), LossKind::Poisson).expect("reference objective")
    };
    let sim = simulator_with::<AD>(&args, device, options(Engine::Auto));
    if host_route {
        assert!(AD::pullback_on_host(), "the backend does not pull θ̄ back on the host");
        let required = sim.required_capabilities();
        assert!(AD::kernels().iter().any(|k| k.covers(required)), "no kernel of the backend takes the scene");
    }
    let counts = reference.observation().counts.clone();
    let mut objective = Objective::new(sim, specs(), Observation::new(counts), LossKind::Poisson).expect("objective");
    let x: Vec<f64> = reference.start().iter().enumerate().map(|(i, v)| v * (1.0 + 0.01 * (i as f64 + 1.0).sin())).collect();

    let (want_loss, want) = reference.value_and_gradient(&x).expect("reference gradient");
    let (loss, got) = objective.value_and_gradient(&x).expect("gradient");
    assert!((loss - want_loss).abs() <= tol * want_loss.abs(), "loss {loss:.12e} vs CPU tensor path {want_loss:.12e}");
    let live = want.iter().filter(|g| **g != 0.0).count();
    assert_eq!(live, want.len(), "every variable reaches the loss: {want:?}");
    for ((spec, g), w) in objective.specs().iter().zip(&got).zip(&want) {
        assert!((g - w).abs() <= tol * w.abs(), "∂L/∂{}: {g:.12e} vs CPU tensor path {w:.12e}", spec.variable);
    }

    let want_model = reference.model(&x).expect("reference model").mu;
    let model = objective.model(&x).expect("model").mu;
    let scale = want_model.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (m, w)) in model.iter().zip(&want_model).enumerate() {
        assert!((m - w).abs() <= tol * scale, "model pixel {i}: {m:.12e} vs CPU tensor path {w:.12e}");
    }
}

/// Objectives evaluated stage by stage together (every render, then every read and weighing,
/// then every backward pass, then every gradient read: `Objective::stage_*`, as an ensemble rank
/// on a GPU runs its shots) give the results of evaluating each alone, to `tol` relative; so
/// does `values_and_gradients`, which picks the staged route where the backend pulls θ̄ back on
/// the host. One point is outside a variable's domain (N = −1): `+∞` and NaN gradients.
/// `staged_on_host`: the staged objectives keep their parameters on the host (the GPU's route,
/// with no device graph where the kernel takes the tile), the lone ones on the device.
pub fn staged_evaluations_match_one_by_one<AD>(device: &AD::Device, staged_on_host: bool, tol: f64)
where
    AD: AutodiffBackend + RenderBackend,
{
    let args = flags(SCENE);
    let counts: Vec<f64> = {
        let sim = simulator_with::<AD>(&args, device, options(Engine::Auto));
        sim.render().expect("render").data_f64.iter().map(|v| (1.3 * v).round()).collect()
    };
    let new = || {
        let sim = simulator_with::<AD>(&args, device, options(Engine::Auto));
        Objective::new(sim, specs(), Observation::new(counts.clone()), LossKind::Poisson).expect("objective")
    };
    let mut objectives: Vec<Objective<AD>> = (0..4).map(|_| new()).collect();
    let n_at = PARAMS.iter().position(|&p| p == NA).expect("N is refined");
    let xs: Vec<Vec<f64>> = (0..4)
        .map(|j| {
            let start = objectives[0].start();
            let mut x: Vec<f64> =
                start.iter().enumerate().map(|(i, v)| v * (1.0 + 0.01 * (i as f64 + 1.0 + j as f64).sin())).collect();
            if j == 2 {
                x[n_at] = -1.0;
            }
            x
        })
        .collect();
    let alone: Vec<(f64, Vec<f64>)> =
        objectives.iter_mut().zip(&xs).map(|(o, x)| o.value_and_gradient(x).expect("alone")).collect();
    if staged_on_host {
        objectives.iter_mut().for_each(|o| o.keep_parameters_on_host().expect("host parameters"));
    }

    let mut staged: Vec<_> = objectives.iter_mut().zip(&xs).map(|(o, x)| o.stage_render(x).expect("render")).collect();
    objectives.iter().zip(staged.iter_mut()).for_each(|(o, s)| o.stage_weigh(s).expect("weigh"));
    objectives.iter().zip(staged.iter_mut()).for_each(|(o, s)| o.stage_backward(s).expect("backward"));
    let together: Vec<_> = objectives.iter().zip(staged).map(|(o, s)| o.stage_finish(s).expect("finish")).collect();
    let mut refs: Vec<&mut Objective<AD>> = objectives.iter_mut().collect();
    let grouped: Vec<_> = nanobragg_refine::objective::values_and_gradients(&mut refs, &xs)
        .expect("one value vector per objective")
        .into_iter()
        .map(|r| r.expect("values_and_gradients"))
        .collect();

    let close = |a: f64, b: f64| (a - b).abs() <= tol * b.abs() || (a.is_nan() && b.is_nan()) || a == b;
    for (route, results) in [("stage by stage", &together), ("values_and_gradients", &grouped)] {
        for (j, ((loss, grad), (want_loss, want))) in results.iter().zip(&alone).enumerate() {
            assert!(close(*loss, *want_loss), "{route}, point {j}: loss {loss:.12e} vs alone {want_loss:.12e}");
            for (k, (g, w)) in grad.iter().zip(want).enumerate() {
                assert!(close(*g, *w), "{route}, point {j}, variable {k}: {g:.12e} vs alone {w:.12e}");
            }
        }
    }
    assert!(alone[2].0.is_infinite() && alone[0].0.is_finite(), "point 2 is outside N's domain, the others inside");
}
