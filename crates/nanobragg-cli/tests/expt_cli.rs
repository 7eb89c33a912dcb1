//! `nanobragg -expt`: a DIALS model rendered from the command line. One panel of the real
//! 60-panel Pilatus 6M (`-panel N`) against the C program's image of that panel's crop
//! (`tests/data/pilatus_panels`), every panel at once (`-panel all`), a CBF of one panel read
//! back, and the refusals (single-image formats with several panels, frame flags, a panel
//! that does not exist), each before any output is written.

mod common;

use std::path::{Path, PathBuf};

use common::{realdata, run, scratch, stderr};

/// The scene of the C reference runs without the panel's frame (`tests/data/pilatus_panels`);
/// `-polar 0` because the file's beam has a polarization fraction the C runs did not use.
const COMMON: &str = "-cell 57.99 57.99 149.83 90 90 90 -misset 10 20 30 -N 5 -default_F 100 \
    -polar_vector 0 1 0 -polar 0 -oversample 2 -detector_thick 1000 -detector_abs 255 -thicksteps 2 \
    -nonoise -nopgm -noprogress";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn datablock() -> PathBuf {
    realdata("datablock-0.json")
}

fn floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[test]
fn one_panel_of_the_pilatus_matches_the_c_program_in_the_crop_region() {
    let dir = scratch("expt-panel");
    let args = format!("-expt {} -panel 27 {COMMON} -roi 150 213 80 127 -floatfile p27.bin", datablock().display());
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let image = floats(&dir.join("p27.bin"));
    assert_eq!(image.len(), 487 * 195, "panel 27 is 487 x 195 pixels");
    let want = floats(&workspace().join("tests/data/pilatus_panels/panel_27/float.bin"));
    let max = want.iter().fold(0.0_f64, |m, &x| m.max(x as f64));
    let mut worst = 0.0_f64;
    for s in 0..48 {
        for f in 0..64 {
            let ours = image[(80 + s) * 487 + 150 + f] as f64;
            worst = worst.max((ours - want[s * 64 + f] as f64).abs());
        }
    }
    assert!(max > 0.0 && worst <= 1e-5 * max, "max |Δ| {worst:e} against max {max:e}");
    let outside = image[0];
    assert_eq!(outside, 0.0, "pixels outside the ROI stay 0");
}

#[test]
fn every_panel_goes_to_one_float_file_and_a_png() {
    let dir = scratch("expt-all");
    let args = format!("-expt {} -dtype f32 {COMMON} -oversample 1 -floatfile all.bin -pngfile all.png", datablock().display());
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("panel ")).count(), 60, "{stdout}");
    assert_eq!(std::fs::metadata(dir.join("all.bin")).unwrap().len(), 60 * 487 * 195 * 4);
    let png = std::fs::read(dir.join("all.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(!dir.join("intimage.img").exists(), "no single-panel defaults are written");
}

#[test]
fn a_cbf_of_one_panel_reads_back_with_its_geometry() {
    let dir = scratch("expt-cbf");
    let args = format!("-expt {} -panel 0 {COMMON} -oversample 1 -scale 1 -adc 0 -cbffile p0.cbf -floatfile p0.bin", datablock().display());
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let cbf = nanobragg::io::read_cbf(&dir.join("p0.cbf")).unwrap();
    assert_eq!((cbf.fpixels, cbf.spixels), (487, 195));
    let floats = floats(&dir.join("p0.bin"));
    let rounded: Vec<i32> = floats.iter().map(|&v| (v as f64 + 0.5).floor() as i32).collect();
    assert_eq!(cbf.data, rounded, "-scale 1 -adc 0: the counts are the photons rounded");
    assert_eq!(cbf.header.wavelength_a, Some(0.97625));
    let pixel = cbf.header.pixel_size_m.unwrap();
    assert!((pixel[0] - 0.172e-3).abs() < 1e-15);
    // Panel 0's plane is 502.19 mm from the sample along its normal (the root group's z).
    let d = cbf.header.detector_distance_m.unwrap();
    assert!((d - 0.50219).abs() < 1e-9, "distance {d}");
}

#[test]
fn several_panels_refuse_single_image_outputs_and_frame_flags_before_writing() {
    let dir = scratch("expt-refuse");
    let expt = datablock();
    for (extra, names) in [
        ("-intfile one.img", "-intfile"),
        ("-cbffile one.cbf", "-cbffile"),
        ("-Xbeam 10", "-Xbeam"),
        ("-distance 300", "-distance"),
        ("-panel 60", "panel 60 does not exist"),
    ] {
        let args = format!("-expt {} {COMMON} -floatfile never.bin {extra}", expt.display());
        let out = run(&dir, &args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{extra}: accepted");
        assert!(err.contains(names), "{extra}: {err}");
        assert_eq!(err.lines().filter(|l| l.starts_with("nanobragg: error:")).count(), 1, "{extra}: one error line: {err}");
        assert!(!dir.join("never.bin").exists(), "{extra}: an output was written");
    }
    let out = run(&dir, &format!("-expt {} {COMMON}", dir.join("missing.expt").display()));
    assert!(!out.status.success() && stderr(&out).contains("missing.expt"), "{}", stderr(&out));
}

#[test]
fn refine_recovers_a_panel_shift_and_writes_the_refined_experiment() {
    let dir = scratch("expt-refine");
    // The truth: panel 27 moved 0.05 mm along its fast axis (its local x; the root's fast axis
    // is lab +x), written into a copy of the file.
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(datablock()).unwrap()).unwrap();
    let origin = &mut json[0]["detector"][0]["panels"][27]["origin"][0];
    let x0 = origin.as_f64().unwrap();
    *origin = serde_json::json!(x0 + 0.05);
    std::fs::write(dir.join("shifted.json"), serde_json::to_vec(&json).unwrap()).unwrap();
    let region = "-panel 27 -roi 150 213 80 127 -oversample 1";
    let made = run(&dir, &format!("-expt shifted.json {COMMON} {region} -floatfile target.bin"));
    assert!(made.status.success(), "{}", stderr(&made));
    let args = format!(
        "refine -expt {} {COMMON} {region} -target target.bin -refine beam_center_s -loss l2 -refined_scene r.toml -refined_expt r.expt",
        datablock().display()
    );
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    let refined = nanobragg::io::expt::read_experiments(&dir.join("r.expt")).expect("the refined experiment");
    let det = refined.detectors()[0];
    let x = det.panels[27].origin[0];
    assert!((x - (x0 + 0.05)).abs() < 1e-4, "panel 27 local x refined to {x}, truth {}", x0 + 0.05);
    let original = nanobragg::io::expt::read_experiments(&datablock()).unwrap();
    let (got, was) = (det.panels[26].origin, original.detectors()[0].panels[26].origin);
    assert!((0..3).all(|i| (got[i] - was[i]).abs() < 1e-9), "the other panels stay: {got:?} against {was:?}");
}

/// The real 4-panel electron-diffraction detector of `experiments_ED.json` (254² pixels of
/// 55 µm per panel, tilted, 1.1 m away) with its crystal.
fn ed_experiment() -> PathBuf {
    datablock().with_file_name("experiments_ED.json")
}

#[test]
fn refine_recovers_every_panels_own_shift_and_writes_them_to_the_experiment() {
    let dir = scratch("expt-refine-panels");
    // The truth: three of the four panels moved in their own plane (local x is the panel's
    // fast axis, local y its slow axis) by a fraction of a 55 µm pixel.
    let truth: [[f64; 2]; 4] = [[0.0, 0.0], [0.02, 0.0], [0.0, -0.015], [0.01, 0.012]];
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(ed_experiment()).unwrap()).unwrap();
    for (p, shift) in truth.iter().enumerate() {
        for (axis, d) in shift.iter().enumerate() {
            let v = &mut json["detector"][0]["panels"][p]["origin"][axis];
            *v = serde_json::json!(v.as_f64().unwrap() + d);
        }
    }
    std::fs::write(dir.join("shifted.expt"), serde_json::to_vec(&json).unwrap()).unwrap();
    let scene = "-N 10 -default_F 100 -oversample 1 -roi 0 127 0 127 -nonoise -nopgm -noprogress";
    let made = run(&dir, &format!("-expt shifted.expt {scene} -floatfile target.bin"));
    assert!(made.status.success(), "{}", stderr(&made));
    let args = format!(
        "refine -expt {} {scene} -target target.bin -refine_per_panel panel_shift_x,panel_shift_y -loss l2 \
         -refined_scene r.toml -refined_expt r.expt",
        ed_experiment().display()
    );
    let out = run(&dir, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("panel_shift_x@3"), "one variable per panel in the table: {stdout}");
    let refined = nanobragg::io::expt::read_experiments(&dir.join("r.expt")).expect("the refined experiment");
    let original = nanobragg::io::expt::read_experiments(&ed_experiment()).unwrap();
    let (got, was) = (&refined.detectors()[0].panels, &original.detectors()[0].panels);
    for (p, shift) in truth.iter().enumerate() {
        for (axis, d) in shift.iter().enumerate() {
            let moved = got[p].origin[axis] - was[p].origin[axis];
            assert!((moved - d).abs() < 1e-3, "panel {p} local axis {axis}: moved {moved} mm, truth {d}");
        }
    }
    let toml = std::fs::read_to_string(dir.join("r.toml")).unwrap();
    let scene = nanobragg::Scene::from_toml_str(&toml).expect("the refined scene reads back");
    assert_eq!(scene.detector.panels.len(), 4, "the refined scene keeps the four panels");
    assert!(scene.detector.panel_shift_mm.is_none(), "the motion is folded into the panels' frames");
}

#[test]
fn a_per_panel_refinement_is_refused_without_panels_and_with_a_short_target() {
    let dir = scratch("expt-refine-refuse");
    let single = "-cell 50 50 50 90 90 90 -N 3 -default_F 100 -detpixels 16 -Xbeam 1 -Ybeam 1 -nonoise -nopgm -noprogress";
    std::fs::write(dir.join("short.bin"), [0u8; 64]).unwrap();
    let out = run(&dir, &format!("refine {single} -target short.bin -refine scale -refine_per_panel panel_shift_x -refined_scene never.toml"));
    assert!(!out.status.success() && stderr(&out).contains("-refine_per_panel"), "{}", stderr(&out));
    let args = format!(
        "refine -expt {} -N 10 -default_F 100 -target short.bin -refine_per_panel panel_shift_x -refined_scene never.toml",
        ed_experiment().display()
    );
    let out = run(&dir, &args);
    assert!(!out.status.success() && stderr(&out).contains("short.bin"), "{}", stderr(&out));
    assert!(!dir.join("never.toml").exists(), "nothing is written on a refusal");
}

#[test]
fn refine_recovers_a_rotation_of_the_panel_group_and_writes_it_to_every_panel() {
    let dir = scratch("expt-refine-group");
    let scene = "-N 10 -default_F 100 -oversample 1 -roi 0 127 0 127 -nonoise -nopgm -noprogress";
    // The truth: the four panels turned together by 0.03° about their group's normal, through
    // the centroid of their centres.
    let made = run(&dir, &format!("-expt {} {scene} -group_rot 0 0 0.03 -floatfile target.bin", ed_experiment().display()));
    assert!(made.status.success(), "{}", stderr(&made));
    let args = format!(
        "refine -expt {} {scene} -target target.bin -refine_per_group group_rot_o -loss l2 -refined_scene r.toml -refined_expt r.expt",
        ed_experiment().display()
    );
    let out = run(&dir, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("group_rot_o@g0"), "one variable for the one group: {stdout}");
    let refined = nanobragg::io::expt::read_experiments(&dir.join("r.expt")).expect("the refined experiment");
    // Panels are stored local to the root group, whose normal the rotation is about: each
    // panel's local fast axis (1, 0, 0) turns by the angle within the group's plane.
    for (p, panel) in refined.detectors()[0].panels.iter().enumerate() {
        let [x, y, z] = panel.fast_axis;
        let turned = y.atan2(x).to_degrees();
        assert!(z.abs() < 1e-9, "panel {p} left the group's plane: {:?}", panel.fast_axis);
        assert!((turned.abs() - 0.03).abs() < 1e-4, "panel {p}: fast axis turned by {turned}°, truth 0.03°");
    }
}
