//! A DIALS experiment written into a scene (`nanobragg::experiment`), pinned against numbers
//! taken from the real files of `shared/realdata` (not from our own code): the crystal's cell
//! and real-space vectors come out of the renderer's crystal geometry as the file gives them
//! (the A matrix is not scaled by λ as a MOSFLM matrix is), the beam's polarization and
//! direction map to the C program's vectors, a panel's origin is the renderer's pix0, and
//! spots land where a prediction computed here from the raw file numbers puts them.

mod realdata;
use realdata::realdata;
use std::path::Path;

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::experiment::apply_experiment;
use nanobragg::linalg::to_vec;
use nanobragg::{RenderOptions, Scene, Setup, Simulator};

type B = NdArray<f64>;

fn scene_of(name: &str) -> Scene {
    let mut scene = Scene::default();
    scene.structure.default_f = Some(100.0);
    scene.sampling.oversample = Some(1);
    apply_experiment(&mut scene, &realdata(name), 0).expect("the experiment");
    scene
}

fn simulator(scene: &Scene, panel: usize) -> Simulator<B> {
    let one = scene.panel_scene(panel).expect("the panel's scene");
    let setup = Setup::from_scene(&one, Path::new(".")).expect("the setup");
    Simulator::<B>::new(setup, &NdArrayDevice::Cpu, RenderOptions::default()).expect("the simulator")
}

/// `real_space_a` of `experiments_thaum_0500.json`, copied from the file.
const THAUM_A: [f64; 3] = [13.188505883091318, 40.16815948454437, 39.6871007911452];

#[test]
fn the_crystal_of_the_file_is_the_renderers_cell_unscaled_by_the_wavelength() {
    let scene = scene_of("experiments_thaum_0500.json");
    let sim = simulator(&scene, 0);
    let crystal = sim.crystal();
    let lengths = crystal.lengths_m().map(|m| m * 1e10);
    for (got, want) in lengths.iter().zip([57.99, 57.99, 149.83]) {
        assert!((got - want).abs() < 0.01, "cell {lengths:?} against SOURCES.md's 57.99 57.99 149.83");
    }
    let a = to_vec(&crystal.real[0]);
    for i in 0..3 {
        assert!((a[i] * 1e10 - THAUM_A[i]).abs() < 1e-9, "a = {a:?} m against the file's {THAUM_A:?} Å");
    }
}

#[test]
fn beam_polarization_sensor_and_spindle_map_to_the_c_programs_vectors() {
    // datablock-0.json: direction (0, 0, 1), polarization_normal (0, 1, 0), fraction 0.999,
    // panels 1 mm of Si with mu 3.9220322752480934 /mm, rotation axis (1, 0, 0).
    let scene = scene_of("datablock-0.json");
    let d = &scene.detector;
    assert_eq!(d.beam_vector, Some([0.0, 0.0, -1.0]), "propagation = −direction");
    assert_eq!(d.polar_vector, Some([1.0, 0.0, 0.0]), "E = b × n");
    assert!((scene.beam.polarization_k.unwrap() - 0.998).abs() < 1e-15, "K = 2p − 1");
    assert_eq!(d.spindle_axis, Some([1.0, 0.0, 0.0]));
    assert_eq!(d.panels[0].thick_um, Some(1000.0), "each panel's 1 mm sensor");
    assert!((d.panels[59].abs_depth_um.unwrap() - 1000.0 / 3.9220322752480934).abs() < 1e-9);
    let one = scene.panel_scene(59).expect("panel 59");
    assert_eq!((one.detector.thick_um, one.detector.abs_depth_um), (d.panels[59].thick_um, d.panels[59].abs_depth_um));
    assert_eq!(d.thick_um, None, "the detector-level flags stay unset");
    assert_eq!(scene.beam.wavelength_a, Some(0.97625));
    assert_eq!(d.panels.len(), 60);
}

#[test]
fn a_panels_origin_is_the_renderers_pix0() {
    // split_00.expt's one Rayonix panel: origin (mm), fast (1, 0, 0), slow (0, −1, 0).
    let origin = [-170.1070553941832, 170.1923289145582, -198.4110369068717];
    let scene = scene_of("split_00.expt");
    let det = simulator(&scene, 0).detector().expect("the geometry");
    let pix0 = to_vec(&det.pix0);
    for i in 0..3 {
        assert!((pix0[i] * 1e3 - origin[i]).abs() < 1e-9, "pix0 {pix0:?} m against the file's origin {origin:?} mm");
    }
    assert_eq!(to_vec(&det.fdet), vec![1.0, 0.0, 0.0]);
    assert_eq!(to_vec(&det.sdet), vec![0.0, -1.0, 0.0]);
}

/// Where reflection `h` of the split_00 still lands, from the file's numbers alone:
/// `s1 = s0 + A·h` (Å⁻¹, `A = (rows a, b, c)⁻¹`), the ray along s1 from the sample meets the
/// panel plane at `O + f·F + s·S`; returns the pixel (F, S) / pixel size and the excitation
/// error `|s1| − |s0|`.
fn predicted(h: [f64; 3]) -> ([f64; 2], f64) {
    let real = [
        [-222.2972955511683, -41.2965106348623, 174.1467507090153],
        [-103.33443453752878, 49.51322628926664, -120.16441176066986],
        [92.17507987837122, -212.90671971432752, -166.99252345503376],
    ];
    let (lambda, origin, pixel) = (1.3059854075545219, [-170.1070553941832, 170.1923289145582, -198.4110369068717], 0.1328125);
    let (f, s, o) = ([1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]);
    let dot = |u: [f64; 3], v: [f64; 3]| u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let cross = |u: [f64; 3], v: [f64; 3]| [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
    let vol = dot(real[0], cross(real[1], real[2]));
    let stars = [cross(real[1], real[2]), cross(real[2], real[0]), cross(real[0], real[1])].map(|v| v.map(|x| x / vol));
    let s0 = [0.0, 0.0, -1.0 / lambda];
    let s1: [f64; 3] = std::array::from_fn(|i| s0[i] + h[0] * stars[0][i] + h[1] * stars[1][i] + h[2] * stars[2][i]);
    let t = dot(origin, o) / dot(s1, o);
    let hit: [f64; 3] = std::array::from_fn(|i| t * s1[i] - origin[i]);
    ([dot(hit, f) / pixel, dot(hit, s) / pixel], dot(s1, s1).sqrt() - 1.0 / lambda)
}

#[test]
fn spots_of_the_rayonix_still_land_where_the_file_predicts_them() {
    let mut scene = scene_of("split_00.expt");
    scene.crystal.n_cells = Some([20.0; 3]);
    // The reflections nearest the Ewald sphere that land on the panel, found by scanning hkl.
    let mut found = Vec::new();
    for h in -20..=20 {
        for k in -20..=20 {
            for l in -20..=20 {
                let (px, excitation) = predicted([h as f64, k as f64, l as f64]);
                let inside = px.iter().all(|&p| (20.0..2540.0).contains(&p));
                if inside && excitation.abs() < 3e-5 && (h, k, l) != (0, 0, 0) {
                    found.push(px);
                }
            }
        }
    }
    assert!(found.len() >= 3, "only {} reflections near the Ewald sphere", found.len());
    for px in found.iter().take(6) {
        let (f0, s0) = (px[0].floor() as i64 - 8, px[1].floor() as i64 - 8);
        let mut spot = scene.clone();
        spot.sampling.roi = Some([f0, f0 + 16, s0, s0 + 16]);
        let image = simulator(&spot, 0).render().expect("the render");
        let (at, _) = image.data.iter().enumerate().fold((0, f32::MIN), |m, (i, &v)| if v > m.1 { (i, v) } else { m });
        let (f, s) = ((at % image.fpixels) as f64 + 0.5, (at / image.fpixels) as f64 + 0.5);
        let miss = ((f - px[0]).powi(2) + (s - px[1]).powi(2)).sqrt();
        assert!(miss < 1.5, "spot predicted at {px:?} px, brightest pixel at ({f}, {s}): {miss:.2} px away");
    }
}

/// Every number of `a` within 1e-12 of `b` (relative, absolute below 1): same keys and shapes.
fn same_numbers(a: &serde_json::Value, b: &serde_json::Value, key: &str) -> Result<(), String> {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            ((x - y).abs() <= 1e-12 * x.abs().max(1.0)).then_some(()).ok_or(format!("{key}: {x} became {y}"))
        }
        (Array(x), Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().try_for_each(|(i, (x, y))| same_numbers(x, y, &format!("{key}[{i}]")))
        }
        (Object(x), Object(y)) if x.len() == y.len() => x.iter().try_for_each(|(k, v)| {
            y.get(k).ok_or(format!("{key}.{k}: missing")).and_then(|w| same_numbers(v, w, &format!("{key}.{k}")))
        }),
        _ => (a == b).then_some(()).ok_or(format!("{key}: {a} became {b}")),
    }
}

#[test]
fn expt_to_scene_to_expt_keeps_every_number_the_scene_models() {
    use nanobragg::experiment::update_experiment;
    use nanobragg::io::expt::{experiments_json_bytes, read_experiments};
    for name in ["split_00.expt", "experiments_thaum_0500.json", "experiments_ED.json", "datablock-0.json"] {
        let path = realdata(name);
        let original = read_experiments(&path).expect("the file");
        let scene = scene_of(name);
        // Start from a file whose modelled numbers are wiped, so the scene must restore them.
        let mut written = original.clone();
        let mut blank = Scene::default();
        blank.detector.panels = scene.detector.panels.iter().map(|p| nanobragg::scene::PanelScene { origin_mm: [1.0, 2.0, 3.0], ..p.clone() }).collect();
        blank.detector.beam_vector = Some([0.0, 1.0, 0.0]);
        blank.beam.wavelength_a = Some(9.0);
        blank.crystal.a_matrix_per_a = Some([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]);
        update_experiment(&mut written, 0, &blank, name).expect("wiped");
        update_experiment(&mut written, 0, &scene, name).expect("written back");
        let json = |f: &nanobragg::io::expt::ExptFile| -> serde_json::Value {
            serde_json::from_slice(&experiments_json_bytes(f).expect("bytes")).expect("json")
        };
        if let Err(e) = same_numbers(&json(&original), &json(&written), name) {
            panic!("{e}");
        }
    }
}
