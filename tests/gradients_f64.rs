//! Gradients of the rendered image with respect to every named parameter, checked against
//! Richardson-extrapolated finite differences (nanobragg-parity's gradcheck) at f64.

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_parity::{evaluate, GradcheckConfig, ParamSet, AD};

type B = NdArray<f64>;

fn simulator(args: &str) -> Simulator<AD<B>> {
    let cl = nanobragg_cli::parse_args(args.split_whitespace().map(String::from)).unwrap();
    let setup = Setup::from_scene(&cl.scene, std::path::Path::new(".")).unwrap();
    let policy: Box<dyn nanobragg::phi::PhiRotation<AD<B>>> = match cl.phi_carryover_mode {
        nanobragg_cli::PhiCarryoverMode::CParity => {
            Box::new(nanobragg_parity::phi_cache::PhiCarryover)
        }
        nanobragg_cli::PhiCarryoverMode::Spec => Box::new(nanobragg::phi::FreshPhiRotation),
    };
    Simulator::with_phi_rotation(setup, &NdArrayDevice::Cpu, RenderOptions::default(), policy)
        .unwrap()
}

/// Relative error of autodiff vs Richardson FD for each parameter on one scene.
fn check_scene(args: &str, names: &[ParamName]) -> Vec<(ParamName, f64, f64, f64, &'static str)> {
    let mut sim = simulator(args);
    let mut out = Vec::new();
    for &name in names {
        let value = sim.param_value(name).unwrap();
        let params = ParamSet::new().scalar(name.name(), value);
        let config = GradcheckConfig::new().rel_step(1e-4).abs_step(1e-3).rtol(1e-6).atol(1e-12);
        let report = evaluate::<B, 1, _>(&NdArrayDevice::Cpu, &params, &config, |p| {
            let pr = sim.params_with(name, p[name.name()].clone()).unwrap();
            sim.image_tensor_with(&pr).unwrap()
        })
        .unwrap();
        let c = &report.components[0];
        out.push((name, c.analytic, c.numeric, c.rel_error, c.verdict.label()));
    }
    out
}

const SCENE_A: &str = "-default_F 100 -cell 100 100 100 90 90 90 -lambda 6.2 -N 3 -pixel 0.1 \
    -distance 100 -detpixels 24 -Xbeam 1.25 -Ybeam 1.15 -oversample 1";

#[test]
fn cubic_scene_gradients_match_finite_differences() {
    use ParamName::*;
    let names = [
        CellA, CellB, CellC, CellAlpha, CellBeta, CellGamma, MissetX, MissetY, MissetZ, NA, NB, NC,
        DistanceMm, BeamCenterS, BeamCenterF, DetectorRotx, DetectorRoty, DetectorRotz,
        DetectorTwotheta, PixelSizeMm, WavelengthA, Fluence, PolarizationK, DefaultF,
    ];
    let rows = check_scene(SCENE_A, &names);
    let mut bad = Vec::new();
    for (n, a, num, rel, v) in &rows {
        println!("{n:>20} analytic {a:+.10e} numeric {num:+.10e} rel {rel:.2e} {v}");
        if *rel > 1e-6 || !a.is_finite() {
            bad.push(n.name());
        }
    }
    assert!(bad.is_empty(), "gradients off: {bad:?}");
}

/// A φ = 0 carry-over scene (the golden `phi0_carryover_cubic` geometry on a 20² detector) in
/// c-parity mode: φ start stays at exactly 0 (its own derivative is not asked for — any
/// perturbation would leave the mode).
const SCENE_CARRYOVER: &str = "-cell 100 100 100 90 90 90 -misset 10 20 30 -N 8 -default_F 100 \
    -lambda 1.0 -distance 100 -pixel 0.1 -detpixels 20 -Xbeam 1.0 -Ybeam 1.0 -phi 0 -osc 4 \
    -phisteps 4 -oversample 1 -phi_carryover_mode c-parity";

#[test]
fn carryover_mode_gradients_match_finite_differences() {
    use ParamName::*;
    let rows = check_scene(SCENE_CARRYOVER, &[CellA, MissetZ, DistanceMm, OscRange]);
    let mut bad = Vec::new();
    for (n, a, num, rel, v) in &rows {
        println!("{n:>20} analytic {a:+.10e} numeric {num:+.10e} rel {rel:.2e} {v}");
        if *rel > 1e-6 || !a.is_finite() {
            bad.push(n.name());
        }
    }
    assert!(bad.is_empty(), "gradients off in c-parity mode: {bad:?}");
}
