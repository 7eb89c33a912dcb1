//! A two-level hierarchy built by hand, composed and checked against numbers worked out by hand.

use nanobragg::io::expt::vec3::rotation;
use nanobragg::io::expt::{lab_panels, parse_experiments, ExptFile};
use serde_json::json;
use std::path::Path;

fn panel(name: &str, fast: [f64; 3], slow: [f64; 3], origin: [f64; 3]) -> serde_json::Value {
    json!({"name": name, "type": "SENSOR_PAD", "fast_axis": fast, "slow_axis": slow, "origin": origin,
           "image_size": [100, 50], "pixel_size": [0.1, 0.2], "thickness": 0.32, "mu": 8.5,
           "material": "Si", "gain": 2.0, "trusted_range": [-1.0, 65535.0]})
}

/// The hand-built file: root group R, a child group G rotated 90° about its normal and shifted, a
/// panel P0 inside G and a panel P1 directly under R.
pub(crate) fn two_level() -> serde_json::Value {
    json!({
        "__id__": "ExperimentList",
        "experiment": [{"__id__": "Experiment", "beam": 0, "detector": 0}],
        "beam": [{"direction": [0.0, 0.0, 1.0], "wavelength": 1.5}],
        "detector": [{
            "panels": [
                panel("P0", [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 2.0, 3.0]),
                panel("P1", [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]),
            ],
            "hierarchy": {
                "name": "R", "fast_axis": [1.0, 0.0, 0.0], "slow_axis": [0.0, -1.0, 0.0],
                "origin": [10.0, 20.0, -100.0],
                "children": [
                    {"name": "G", "fast_axis": [0.0, 1.0, 0.0], "slow_axis": [-1.0, 0.0, 0.0],
                     "origin": [5.0, 0.0, 0.0], "children": [{"panel": 0}]},
                    {"panel": 1}
                ]
            }
        }]
    })
}

/// Worked by hand, with dxtbx's rule `fast = P·l_f, slow = P·l_s, origin = P·l_o + p_o`,
/// `P = [p_f p_s p_n]` (columns), `p_n = p_f × p_s`:
///
/// - R (parent: lab): F = (1,0,0), S = (0,−1,0), N = F × S = (0,0,−1), O = (10,20,−100).
/// - G, local fast (0,1,0), slow (−1,0,0) (its frame turned by 90° about the local normal z),
///   origin (5,0,0): fast = P_R·(0,1,0) = S = (0,−1,0); slow = P_R·(−1,0,0) = −F = (−1,0,0);
///   origin = 5·F + O = (15,20,−100); normal = (0,−1,0) × (−1,0,0) = (0,0,−1) (unchanged, as a turn
///   about the normal must leave it).
/// - P0 in G, local fast (1,0,0), slow (0,1,0), origin (1,2,3): fast = G.fast = (0,−1,0),
///   slow = G.slow = (−1,0,0), origin = 1·(0,−1,0) + 2·(−1,0,0) + 3·(0,0,−1) + (15,20,−100)
///   = (13,19,−103). Pixel (10, 5) with pixels 0.1 × 0.2 mm: origin + 1.0·fast + 1.0·slow
///   = (12,18,−103).
/// - P1 directly under R with the identity local frame: exactly R's frame.
#[test]
fn hand_built_two_level_hierarchy_composes_as_worked_by_hand() {
    let bytes = serde_json::to_vec(&two_level()).unwrap();
    let file = parse_experiments(&bytes, Path::new("hand.expt")).unwrap();
    let ExptFile::Experiments(list) = &file else {
        panic!("not an ExperimentList")
    };
    let panels = lab_panels(&list.detector.as_ref().unwrap()[0]).unwrap();
    let p0 = &panels[0];
    assert_eq!(p0.name, "P0");
    assert_eq!(p0.fast, [0.0, -1.0, 0.0]);
    assert_eq!(p0.slow, [-1.0, 0.0, 0.0]);
    assert_eq!(p0.normal, [0.0, 0.0, -1.0]);
    assert_eq!(p0.origin_mm, [13.0, 19.0, -103.0]);
    assert_eq!(p0.lab_mm(10.0, 5.0), [12.0, 18.0, -103.0]);
    assert_eq!((p0.pixel_mm, p0.image_size), ([0.1, 0.2], [100, 50]));
    assert_eq!((p0.thickness_mm, p0.mu_per_mm, p0.gain), (0.32, 8.5, 2.0));
    assert_eq!(
        (p0.material.as_str(), p0.trusted_range),
        ("Si", Some([-1.0, 65535.0]))
    );
    let p1 = &panels[1];
    assert_eq!(
        (p1.fast, p1.slow, p1.normal),
        ([1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0])
    );
    assert_eq!(p1.origin_mm, [10.0, 20.0, -100.0]);

    // Turning the composed panel by 90° about lab z: (x, y, z) → (−y, x, z).
    let r = rotation([0.0, 0.0, 1.0], std::f64::consts::FRAC_PI_2).unwrap();
    let turned = p0.rotated(&r);
    let want = [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [-19.0, 13.0, -103.0]];
    for (got, want) in [turned.fast, turned.slow, turned.origin_mm]
        .iter()
        .zip(want)
    {
        for k in 0..3 {
            assert!(
                (got[k] - want[k]).abs() < 1e-12,
                "rotated: {got:?} != {want:?}"
            );
        }
    }
}

/// Non-unit axes in the file are normalised (dxtbx `set_local_frame` normalises `d1`, `d2`); the
/// origin is not scaled.
#[test]
fn axes_are_normalised_and_the_origin_is_not() {
    let mut v = two_level();
    v["detector"][0]["hierarchy"]["children"][0]["fast_axis"] = json!([0.0, 4.0, 0.0]);
    v["detector"][0]["panels"][0]["slow_axis"] = json!([0.0, 0.5, 0.0]);
    let file = parse_experiments(&serde_json::to_vec(&v).unwrap(), Path::new("hand.expt")).unwrap();
    let panels = lab_panels(file.detectors()[0]).unwrap();
    assert_eq!(panels[0].fast, [0.0, -1.0, 0.0]);
    assert_eq!(panels[0].slow, [-1.0, 0.0, 0.0]);
    assert_eq!(panels[0].origin_mm, [13.0, 19.0, -103.0]);
}

/// A written hand-built file reads back equal.
#[test]
fn hand_built_file_round_trips() {
    let file =
        parse_experiments(&serde_json::to_vec(&two_level()).unwrap(), Path::new("h")).unwrap();
    let dir = super::scratch("hand");
    let out = dir.join("hand.expt");
    nanobragg::io::expt::write_experiments(&out, &file).unwrap();
    assert_eq!(nanobragg::io::expt::read_experiments(&out).unwrap(), file);
}
