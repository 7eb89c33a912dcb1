//! Gradients of a panel's placement at f64: a crop of panel 27 of the real 60-panel Pilatus 6M
//! (`shared/realdata/datablock-0.json`), rendered through the multi-panel path
//! (`Scene::panel_scene`), differentiated by autodiff and checked against Richardson finite
//! differences (nanobragg-parity's gradcheck) with the rule of `tests/gradients_f64.rs`: every
//! component within 1e-6 relative of a non-zero FD. A panel's in-plane position is its near
//! point (`beam_center_s` moves it along its fast axis, `beam_center_f` along its slow axis),
//! the detector rotations turn it about the sample, the panel motion (`panel_shift_*` in the
//! lab frame, `panel_rot_*` about its own axes through its centre) moves it as a rigid body,
//! and `group_rot_*` turns it with its module group (the file's hierarchy root) about the
//! group's axes through the group's pivot.

mod gradient_scenes;
mod realdata;

use realdata::realdata;
use std::path::{Path, PathBuf};

use gradient_scenes::fd::{check_simulator, Outcome, B};
use nanobragg::gradients::ParamName::*;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_parity::AD;

const COMMON: &str = "-lambda 0.97625 -cell 57.99 57.99 149.83 90 90 90 -misset 10 20 30 -N 5 \
    -default_F 100 -beam_vector 0 0 -1 -polar_vector 0 1 0 -spindle_axis 1 0 0 -oversample 1";

fn datablock() -> PathBuf {
    realdata("datablock-0.json")
}

#[test]
fn a_pilatus_panels_position_and_rotation_gradients_match_finite_differences() {
    let panels = nanobragg::experiment::panel_scenes_of_file(&datablock(), 0).expect("the Pilatus panels");
    let mut scene = nanobragg_cli::parse_args(COMMON.split_whitespace()).expect("the flags").scene;
    // A 24 x 16 crop of panel 27 holding a spot (the C reference's crop, smaller).
    scene.detector.panels = vec![panels[27].cropped(146, 88, 24, 16).expect("the crop")];
    let setup = Setup::from_scene(&scene.panel_scene(0).expect("the panel"), Path::new(".")).expect("setup");
    let sim = Simulator::<AD<B>>::new(setup, &burn_ndarray::NdArrayDevice::Cpu, RenderOptions::default()).expect("simulator");
    let rows = check_simulator(
        sim,
        &[BeamCenterS, BeamCenterF, DetectorRotx, DetectorRoty, DetectorRotz, PanelShiftX, PanelShiftY, PanelShiftZ, PanelRotF, PanelRotS, PanelRotO, GroupRotF, GroupRotS, GroupRotO],
    );
    for row in &rows {
        println!("{row}");
    }
    let failed: Vec<_> = rows.iter().filter(|r| r.outcome() != Outcome::Pass).map(|r| r.param).collect();
    assert!(failed.is_empty(), "not within 1e-6 of the finite difference: {failed:?}");
}

/// The crystal of a DIALS experiment enters as its A matrix, not scaled by λ (unlike `-mat`):
/// the wavelength and misset gradients through that path against finite differences, on a
/// crop of a real Pilatus panel with the thaumatin crystal of `experiments_thaum_0500.json`.
#[test]
fn wavelength_and_misset_gradients_through_a_dials_crystal_match_finite_differences() {
    let dir = datablock().parent().expect("the realdata folder").to_path_buf();
    let panels = nanobragg::experiment::panel_scenes_of_file(&datablock(), 0).expect("the Pilatus panels");
    let mut scene = nanobragg_cli::parse_args("-N 5 -default_F 100 -oversample 1 -misset 0.5 -0.3 0.2".split_whitespace())
        .expect("the flags")
        .scene;
    nanobragg::experiment::apply_experiment(&mut scene, &dir.join("experiments_thaum_0500.json"), 0).expect("thaumatin");
    assert!(scene.crystal.a_matrix_per_a.is_some(), "the crystal comes as an A matrix");
    scene.detector.panels = vec![panels[27].cropped(100, 60, 40, 40).expect("the crop")];
    let setup = Setup::from_scene(&scene.panel_scene(0).expect("the panel"), Path::new(".")).expect("setup");
    let sim = Simulator::<AD<B>>::new(setup, &burn_ndarray::NdArrayDevice::Cpu, RenderOptions::default()).expect("simulator");
    let rows = check_simulator(sim, &[WavelengthA, MissetX, MissetY, MissetZ]);
    for row in &rows {
        println!("{row}");
    }
    let failed: Vec<_> = rows.iter().filter(|r| r.outcome() != Outcome::Pass).map(|r| r.param).collect();
    assert!(failed.is_empty(), "not within 1e-6 of the finite difference: {failed:?}");
}
