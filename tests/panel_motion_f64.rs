//! The panel motion (`-panel_rot`, `-panel_shift`; registry rows `panel_rot_*`, `panel_shift_*`)
//! means what `docs/experiments.md` says: rotations about the panel's own fast, slow and normal
//! axes (as placed before the motion, in that order) through the panel's centre, then a
//! lab-frame translation. Checked at f64 against a panel moved by hand in this test (plain f64
//! Rodrigues rotations of its origin and axes) and rendered with no motion: the two images
//! agree to 1e-9 of the maximum. Zero motion is bit-for-bit the C geometry (the parity suites).

mod realdata;

use realdata::realdata;
use std::path::{Path, PathBuf};

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::scene::{PanelScene, Scene};
use nanobragg::{RenderOptions, Setup, Simulator};

type B = NdArray<f64>;

const COMMON: &str = "-lambda 0.97625 -cell 57.99 57.99 149.83 90 90 90 -misset 10 20 30 -N 5 \
    -default_F 100 -beam_vector 0 0 -1 -polar_vector 0 1 0 -spindle_axis 1 0 0 -oversample 2";

fn datablock() -> PathBuf {
    realdata("datablock-0.json")
}

/// A 40 x 30 crop of panel 27 of the real Pilatus 6M, holding a spot.
fn panel() -> PanelScene {
    let panels = nanobragg::experiment::panel_scenes_of_file(&datablock(), 0).expect("the Pilatus panels");
    panels[27].cropped(138, 80, 40, 30).expect("the crop")
}

fn render(scene: &Scene) -> Vec<f64> {
    let setup = Setup::from_scene(&scene.panel_scene(0).expect("the panel"), Path::new(".")).expect("setup");
    let options = RenderOptions { keep_f64: true, ..RenderOptions::default() };
    let sim = Simulator::<B>::new(setup, &NdArrayDevice::Cpu, options).expect("simulator");
    sim.render().expect("render").data_f64
}

fn scene_with(panel: PanelScene, extra: &str) -> Scene {
    let args = format!("{COMMON} {extra}");
    let mut scene = nanobragg_cli::parse_args(args.split_whitespace()).expect("the flags").scene;
    scene.detector.panels = vec![panel];
    scene
}

/// Right-handed rotation of `v` about the unit `axis` by `deg` degrees (Rodrigues).
fn rotate(v: [f64; 3], axis: [f64; 3], deg: f64) -> [f64; 3] {
    let (s, c) = deg.to_radians().sin_cos();
    let d = (0..3).map(|i| axis[i] * v[i]).sum::<f64>() * (1.0 - c);
    let x = [axis[1] * v[2] - axis[2] * v[1], axis[2] * v[0] - axis[0] * v[2], axis[0] * v[1] - axis[1] * v[0]];
    [0, 1, 2].map(|i| v[i] * c + x[i] * s + axis[i] * d)
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.map(|x| x / n)
}

/// The panel moved by hand: every vector turned about the fixed axes f, s, o (o = f × s) by
/// the three angles in turn, the origin about the centre, then translated.
fn moved_by_hand(p: &PanelScene, rot_deg: [f64; 3], shift_mm: [f64; 3]) -> PanelScene {
    let (f, s) = (unit(p.fast_axis), unit(p.slow_axis));
    let o = unit([f[1] * s[2] - f[2] * s[1], f[2] * s[0] - f[0] * s[2], f[0] * s[1] - f[1] * s[0]]);
    let half = [0, 1, 2].map(|i| 0.5 * p.pixel_mm * (p.fpixels as f64 * f[i] + p.spixels as f64 * s[i]));
    let centre = [0, 1, 2].map(|i| p.origin_mm[i] + half[i]);
    let turn = |v: [f64; 3]| rotate(rotate(rotate(v, f, rot_deg[0]), s, rot_deg[1]), o, rot_deg[2]);
    let corner = turn(half.map(|x| -x));
    PanelScene {
        origin_mm: [0, 1, 2].map(|i| centre[i] + corner[i] + shift_mm[i]),
        fast_axis: turn(f),
        slow_axis: turn(s),
        group: None,
        ..p.clone()
    }
}

fn assert_close(ours: &[f64], want: &[f64], what: &str) {
    let max = want.iter().cloned().fold(0.0, f64::max);
    assert!(max > 0.0, "{what}: an empty reference image");
    let worst = ours.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    println!("{what}: max {max:.6e}, max |diff| {worst:.3e}");
    assert!(worst <= 1e-9 * max, "{what}: max |diff| {worst:e} > 1e-9 x {max:e}");
}

#[test]
fn panel_rotation_turns_the_panel_about_its_own_axes_through_its_centre() {
    let p = panel();
    let rot = [1.5, -2.0, 3.0];
    let ours = render(&scene_with(p.clone(), "-panel_rot 1.5 -2 3"));
    let want = render(&scene_with(moved_by_hand(&p, rot, [0.0; 3]), ""));
    assert_close(&ours, &want, "rotated");
    let unmoved = render(&scene_with(p, ""));
    let changed = ours.iter().zip(&unmoved).filter(|(a, b)| a != b).count();
    assert!(changed > ours.len() / 2, "the rotation moved the spot ({changed} pixels changed)");
}

#[test]
fn panel_shift_translates_the_panel_in_the_lab_frame_after_the_rotation() {
    let p = panel();
    let ours = render(&scene_with(p.clone(), "-panel_rot 0.4 0.3 -1 -panel_shift 0.11 -0.07 0.5"));
    let want = render(&scene_with(moved_by_hand(&p, [0.4, 0.3, -1.0], [0.11, -0.07, 0.5]), ""));
    assert_close(&ours, &want, "rotated and shifted");
}

/// The panel turned with its group by hand: every vector about the group's fixed axes by the
/// three angles in turn, the origin about the group's pivot.
fn turned_with_group(p: &PanelScene, rot_deg: [f64; 3]) -> PanelScene {
    let g = p.group.as_ref().expect("a panel of the hierarchy has a group");
    let (f, s) = (unit(g.fast_axis), unit(g.slow_axis));
    let o = unit([f[1] * s[2] - f[2] * s[1], f[2] * s[0] - f[0] * s[2], f[0] * s[1] - f[1] * s[0]]);
    let turn = |v: [f64; 3]| rotate(rotate(rotate(v, f, rot_deg[0]), s, rot_deg[1]), o, rot_deg[2]);
    let arm = turn([0, 1, 2].map(|i| p.origin_mm[i] - g.pivot_mm[i]));
    PanelScene {
        origin_mm: [0, 1, 2].map(|i| g.pivot_mm[i] + arm[i]),
        fast_axis: turn(unit(p.fast_axis)),
        slow_axis: turn(unit(p.slow_axis)),
        group: None,
        ..p.clone()
    }
}

#[test]
fn group_rotation_turns_the_panel_with_its_group_about_the_groups_pivot() {
    let p = panel();
    let g = p.group.clone().expect("panel 27 hangs from the hierarchy's root");
    assert_eq!(g.name, "hierarchy", "the Pilatus's modules hang from the root group");
    // The root's pivot is the centroid of the 60 module centres: the detector's centre, where
    // the last module's far corner (2463 x 2527 pixels of 0.172 mm from the first's origin)
    // puts it, half-way.
    let all = nanobragg::experiment::panel_scenes_of_file(&datablock(), 0).expect("the Pilatus panels");
    let (first, last) = (&all[0], &all[59]);
    let far: Vec<f64> = (0..3)
        .map(|i| last.origin_mm[i] + 0.172 * (487.0 * unit(last.fast_axis)[i] + 195.0 * unit(last.slow_axis)[i]))
        .collect();
    for i in 0..3 {
        let middle = 0.5 * (first.origin_mm[i] + far[i]);
        assert!((g.pivot_mm[i] - middle).abs() < 1e-9, "pivot {:?} vs the detector's middle at axis {i}: {middle}", g.pivot_mm);
    }
    let rot = [0.8, -0.6, 2.5];
    let ours = render(&scene_with(p.clone(), "-group_rot 0.8 -0.6 2.5"));
    let want = render(&scene_with(turned_with_group(&p, rot), ""));
    assert_close(&ours, &want, "turned with the group");
}

#[test]
fn zero_motion_renders_the_panel_bit_for_bit() {
    let p = panel();
    let ours = render(&scene_with(p.clone(), "-panel_rot 0 0 0 -group_rot 0 0 0 -panel_shift 0 0 0"));
    let want = render(&scene_with(p, ""));
    assert!(ours == want, "zero motion changed the image");
}

/// The scalar form of the motion (`Scene::placed_panels`, used by the NeXus writer and the
/// preview) places the panel where the renderer's tensor form does.
#[test]
fn the_scalar_motion_places_the_panel_where_the_renderer_does() {
    use nanobragg::detector::DetectorGeometry;
    use nanobragg::params::Params;
    let scene = scene_with(panel(), "-panel_rot 0.7 -1.1 2 -group_rot -0.4 0.9 1.5 -panel_shift 0.2 -0.1 0.3");
    let placed = &scene.placed_panels()[0];
    let setup = Setup::from_scene(&scene.panel_scene(0).expect("the panel"), Path::new(".")).expect("setup");
    let params = Params::<B>::from_setup(&setup, &NdArrayDevice::Cpu).expect("params");
    let det = DetectorGeometry::new(&setup.detector, &params).expect("geometry");
    let v = |t: &burn::tensor::Tensor<B, 1>| nanobragg::linalg::to_vec(t);
    let pix0 = v(&det.pix0);
    for k in 0..3 {
        assert!((placed.origin_mm[k] - 1000.0 * pix0[k]).abs() < 1e-9, "origin {:?} vs pix0 {pix0:?} m", placed.origin_mm);
        assert!((placed.fast_axis[k] - v(&det.fdet)[k]).abs() < 1e-12, "fast {:?}", placed.fast_axis);
        assert!((placed.slow_axis[k] - v(&det.sdet)[k]).abs() < 1e-12, "slow {:?}", placed.slow_axis);
    }
    assert!(placed.origin_mm != scene.detector.panels[0].origin_mm, "the motion moved the panel");
}
