//! A `Setup` built or edited by hand (bypassing the scene checks) still cannot reach a panic or a
//! NaN image: every `Simulator` constructor validates it and names what is wrong.

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::setup::CellSource;
use nanobragg::{RenderOptions, Scene, Setup, Simulator};

fn setup() -> Setup {
    Setup::from_scene(&Scene::builtin_default(), std::path::Path::new(".")).unwrap()
}

fn refusal(s: Setup) -> String {
    match Simulator::<NdArray<f64>>::new(s, &NdArrayDevice::Cpu, RenderOptions::default()) {
        Ok(_) => panic!("a degenerate setup was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn degenerate_setups_are_refused_by_the_simulator_naming_the_input() {
    let cases: Vec<(&str, Box<dyn Fn(&mut Setup)>)> = vec![
        ("-lambda", Box::new(|s| s.beam.wavelength_m = 0.0)),
        ("-lambda", Box::new(|s| s.beam.wavelength_m = f64::NAN)),
        ("-pixel", Box::new(|s| s.detector.pixel_m = 0.0)),
        ("-distance", Box::new(|s| s.detector.distance_m = -0.1)),
        ("-detpixels", Box::new(|s| s.detector.fpixels = 0)),
        ("-dispersion", Box::new(|s| {
            s.beam.dispersion = 3.0;
            s.beam.sources[0].disp_coeff = -0.5;
        })),
        ("degenerate cell", Box::new(|s| {
            let r = std::f64::consts::PI;
            s.crystal.cell = CellSource::Cell([100.0, 100.0, 100.0, r / 2.0, r / 2.0, r]);
        })),
        ("singular", Box::new(|s| s.crystal.cell = CellSource::Matrix([[0.0; 3]; 3]))),
        ("-mosaic", Box::new(|s| s.crystal.mosaic_umats[0][4] = f64::INFINITY)),
    ];
    for (expect, edit) in cases {
        let mut s = setup();
        edit(&mut s);
        let m = refusal(s);
        assert!(m.contains(expect), "expected {expect:?} in {m:?}");
    }
}

#[test]
fn the_untouched_setup_renders_a_finite_image() {
    let sim = Simulator::<NdArray<f64>>::new(setup(), &NdArrayDevice::Cpu, RenderOptions::default()).unwrap();
    let img = sim.render().unwrap();
    assert!(img.data.iter().all(|v| v.is_finite()) && img.data.iter().any(|&v| v > 0.0));
}

#[test]
fn structure_factors_resolved_once_give_the_same_setup_and_others_are_refused() {
    let dir = std::env::temp_dir().join(format!("nanobragg-setup-structure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f.hkl"), "0 0 1 10\n1 0 0 20\n0 1 0 30\n").unwrap();
    let mut scene = Scene::builtin_default();
    scene.structure.hkl_file = Some("f.hkl".into());
    scene.structure.default_f = Some(5.0);
    let structure = nanobragg::setup::resolve_structure(&scene, &dir).unwrap();
    assert_eq!(structure.grid.as_ref().unwrap().values.len(), 2 * 2 * 2);
    let once = Setup::from_scene_with_structure(&scene, &dir, structure.clone()).unwrap();
    assert_eq!(once, Setup::from_scene(&scene, &dir).unwrap());
    let mut other = scene.clone();
    other.structure.default_f = Some(6.0);
    let e = Setup::from_scene_with_structure(&other, &dir, structure).unwrap_err().to_string();
    assert!(e.contains("-default_F"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
