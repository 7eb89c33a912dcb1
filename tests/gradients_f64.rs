//! Gradients of the rendered image with respect to every named parameter, checked against
//! Richardson-extrapolated finite differences (nanobragg-parity's gradcheck) at f64 on the
//! three scenes of `tests/gradient_scenes` (the rules of the gradients issue):
//!
//! * a component passes when its relative error is ≤ 1e-6 and its derivative is not zero;
//! * it may be excluded only when the finite difference cannot judge it: its Richardson error
//!   estimate `|D(h/2) − D(h)|/3` exceeds 1e-7·|FD|; at most two per scene, and every
//!   exclusion is listed in `docs/gradients.md`;
//! * every parameter of the registry ([`nanobragg::registry::PARAMETERS`]) passes on at least two scenes.
//!
//! Each scene's report is computed once (shared by the tests of this binary).

mod gradient_scenes;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use burn_ndarray::NdArrayDevice;
use gradient_scenes::fd::{best_component, check_scene, Outcome, Row, B, MAX_REL_ERROR};
use gradient_scenes::{simulator, Scene, SCENES};
use nanobragg::gradients::Loss;
use nanobragg::gradients::ParamName;
use nanobragg::RenderOptions;
use nanobragg_parity::AD;

/// At most this many exclusions per scene.
const MAX_EXCLUSIONS: usize = 2;

/// The report of scene `i` of [`SCENES`], computed once per test binary.
fn report(i: usize) -> &'static [Row] {
    static REPORTS: [OnceLock<Vec<Row>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    REPORTS[i].get_or_init(|| {
        let scene: &Scene = SCENES[i];
        let rows = check_scene(scene.args, scene.params, RenderOptions::default());
        for r in &rows {
            println!("scene {} {r}", scene.label);
        }
        rows
    })
}

/// Assert the per-scene rules: no failure, at most two exclusions.
fn assert_scene_rules(i: usize) {
    let rows = report(i);
    let label = SCENES[i].label;
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| r.outcome() == Outcome::Fail)
        .map(|r| format!("{} (rel {:.2e}, analytic {:e}, FD {:e})", r.param, r.rel_error, r.analytic, r.numeric))
        .collect();
    assert!(failed.is_empty(), "scene {label}: gradients off: {failed:?}");
    let excluded: Vec<_> = rows.iter().filter(|r| r.outcome() == Outcome::Excluded).collect();
    assert!(
        excluded.len() <= MAX_EXCLUSIONS,
        "scene {label}: {} exclusions (at most {MAX_EXCLUSIONS}): {excluded:?}",
        excluded.len()
    );
}

#[test]
fn scene_a_cubic_gradients_match_richardson_fd() {
    assert_scene_rules(0);
}

#[test]
fn scene_b_tilted_misset_gradients_match_richardson_fd() {
    assert_scene_rules(1);
}

#[test]
fn scene_c_triclinic_mosaic_absorption_gradients_match_richardson_fd() {
    assert_scene_rules(2);
}

#[test]
fn every_parameter_passes_on_at_least_two_scenes() {
    let mut short = Vec::new();
    for name in ParamName::all() {
        let passing: Vec<&str> = (0..SCENES.len())
            .filter(|&i| report(i).iter().any(|r| r.param == name && r.outcome() == Outcome::Pass))
            .map(|i| SCENES[i].label)
            .collect();
        if passing.len() < 2 {
            short.push(format!("{name}: passes on {passing:?}"));
        }
    }
    assert!(short.is_empty(), "parameters passing on fewer than two scenes: {short:?}");
}

/// The exclusions table of `docs/gradients.md` (rows `| scene | parameter | … |` under the
/// heading "Exclusions") names exactly the excluded components.
#[test]
fn exclusions_are_listed_in_the_gradients_doc() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/gradients.md"))
        .expect("docs/gradients.md");
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Exclusions"))
        .expect("docs/gradients.md has an '## Exclusions' section");
    let listed: BTreeSet<(String, String)> = section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim().trim_matches('|').split('|').map(str::trim).collect();
            let is_scene = cells.len() >= 2 && SCENES.iter().any(|s| s.label == cells[0]);
            is_scene.then(|| (cells[0].to_string(), cells[1].to_string()))
        })
        .collect();
    let excluded: BTreeSet<(String, String)> = (0..SCENES.len())
        .flat_map(|i| {
            report(i)
                .iter()
                .filter(|r| r.outcome() == Outcome::Excluded)
                .map(move |r| (SCENES[i].label.to_string(), r.param.name().to_string()))
        })
        .collect();
    assert_eq!(listed, excluded, "docs/gradients.md exclusions table vs measured exclusions");
}

/// `Simulator::loss_and_gradients` (the API and `nanobragg grad`: parameter tensors made grad
/// leaves in place, tile by tile) differentiates the same function as the gradcheck (parameters
/// substituted through `params_with`): on scene B, its gradient of the image sum matches the
/// Richardson FD of the sum for every parameter.
#[test]
fn loss_and_gradients_match_finite_differences_of_the_image_sum() {
    let scene = SCENES[1];
    let mut sim = simulator::<AD<B>>(scene.args, &NdArrayDevice::Cpu);
    sim.options.tile_pixels = Some(97); // several tiles, the last one partial
    let api = sim.loss_and_gradients(&Loss::Sum, scene.params).unwrap();
    let mut fresh = simulator::<AD<B>>(scene.args, &NdArrayDevice::Cpu);
    let mut bad = Vec::new();
    for &(name, _, g) in &api.gradients {
        let fd = best_component(&mut fresh, name, true);
        let rel = (g - fd.numeric).abs() / fd.numeric.abs();
        println!("{:>20} api {g:+.10e} FD {:+.10e} rel {rel:.2e}", name.name(), fd.numeric);
        if !(rel <= MAX_REL_ERROR) {
            bad.push(format!("{name}: api {g:e} FD {:e} rel {rel:.2e}", fd.numeric));
        }
    }
    assert!(bad.is_empty(), "loss_and_gradients vs FD of the image sum: {bad:?}");
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
    let rows = check_scene(SCENE_CARRYOVER, &[CellA, MissetZ, DistanceMm, OscRange], RenderOptions::default());
    let bad: Vec<_> = rows
        .iter()
        .inspect(|r| println!("{r}"))
        .filter(|r| r.outcome() != Outcome::Pass)
        .map(|r| r.param.name())
        .collect();
    assert!(bad.is_empty(), "gradients off in c-parity mode: {bad:?}");
}
