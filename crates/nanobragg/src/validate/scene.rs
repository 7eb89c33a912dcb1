//! The scene as given: every number finite, lengths and sizes in range, cell angles in
//! (0°, 180°), direction vectors non-zero, ROI ordered — each named by its flag and scene key.

use super::{num, refuse, MAX_CELL_A};
use crate::error::Result;
use crate::scene::Scene;

/// What a scalar scene value must satisfy.
#[derive(Debug, Clone, Copy)]
enum Bound {
    /// In `(0, max]`: positive, and small enough that the squares and products the physics
    /// forms of it stay finite in f64 (the maxima are far beyond any instrument).
    Positive { max: f64 },
}

/// A scalar scene value with the flag that sets it and its scene-file key.
struct Rule {
    flag: &'static str,
    key: &'static str,
    get: fn(&Scene) -> Option<f64>,
    bound: Bound,
}

/// Scalar values with a range, in scene order.
const RULES: &[Rule] = &[
    Rule { flag: "-lambda", key: "beam.wavelength_a", get: |s| s.beam.wavelength_a, bound: Bound::Positive { max: 1e10 } },
    Rule { flag: "-pixel", key: "detector.pixel_mm", get: |s| s.detector.pixel_mm, bound: Bound::Positive { max: 1e6 } },
    Rule { flag: "-distance", key: "detector.distance_mm", get: |s| s.detector.distance_mm, bound: Bound::Positive { max: 1e9 } },
    Rule { flag: "-close_distance", key: "detector.close_distance_mm", get: |s| s.detector.close_distance_mm, bound: Bound::Positive { max: 1e9 } },
];

/// Direction vectors that are normalised before use: a zero vector has no direction.
const DIRECTIONS: &[(&str, &str, fn(&Scene) -> Option<[f64; 3]>)] = &[
    ("-fdet_vector", "detector.fdet_vector", |s| s.detector.fdet_vector),
    ("-sdet_vector", "detector.sdet_vector", |s| s.detector.sdet_vector),
    ("-odet_vector", "detector.odet_vector", |s| s.detector.odet_vector),
    ("-beam_vector", "detector.beam_vector", |s| s.detector.beam_vector),
    ("-polar_vector", "detector.polar_vector", |s| s.detector.polar_vector),
    ("-spindle_axis", "detector.spindle_axis", |s| s.detector.spindle_axis),
    ("-twotheta_axis", "detector.twotheta_axis", |s| s.detector.twotheta_axis),
];

/// Check a scene as given (see the [module documentation](crate::validate)).
pub fn check_scene(scene: &Scene) -> Result<()> {
    if !scene.detector.panels.is_empty() {
        return Err(refuse(
            "scene key detector.panels",
            "a multi-panel detector renders one panel at a time here: choose one with -panel N (library: Scene::panel_scene, or simulate::render_panels for all)",
        ));
    }
    check_finite(scene)?;
    for rule in RULES {
        if let Some(v) = (rule.get)(scene) {
            let Bound::Positive { max } = rule.bound;
            if !(v > 0.0 && v <= max) {
                return Err(refuse(
                    format!("{} (scene key {})", rule.flag, rule.key),
                    format!("{} must be > 0 and at most {max:e}", num(v)),
                ));
            }
        }
    }
    for (flag, key, get) in DIRECTIONS {
        if get(scene).is_some_and(|v| v.iter().all(|&x| x == 0.0)) {
            return Err(refuse(
                format!("{flag} (scene key {key})"),
                "the zero vector has no direction",
            ));
        }
    }
    check_cell(scene)?;
    check_roi(scene)
}

/// Every float anywhere in the scene is finite (a scene file may write `nan` or `inf`).
fn check_finite(scene: &Scene) -> Result<()> {
    let value = toml::Value::try_from(without_paths(scene))
        .map_err(|e| refuse("scene", format!("cannot be represented: {e}")))?;
    let mut key = String::new();
    find_non_finite(&value, &mut key).map_or(Ok(()), |(k, v)| {
        Err(refuse(format!("scene key {k}"), format!("{v} is not a finite number")))
    })
}

/// The scene with its file names removed: they hold no numbers, and a file name need not be
/// UTF-8, which TOML cannot represent.
fn without_paths(scene: &Scene) -> Scene {
    let mut s = scene.clone();
    s.crystal.mat_file = None;
    s.beam.source_file = None;
    s.structure.hkl_file = None;
    let io = &mut s.io;
    for p in [
        &mut io.img_file,
        &mut io.mask_file,
        &mut io.floatfile,
        &mut io.floatfile_f64,
        &mut io.intfile,
        &mut io.noisefile,
        &mut io.pgmfile,
        &mut io.pngfile,
        &mut io.stol_file,
        &mut io.stolout_file,
    ] {
        *p = None;
    }
    s
}

fn find_non_finite(value: &toml::Value, key: &mut String) -> Option<(String, f64)> {
    let at = key.len();
    let found = match value {
        toml::Value::Float(f) if !f.is_finite() => Some((key.clone(), *f)),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| {
            key.truncate(at);
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(k);
            find_non_finite(v, key)
        }),
        toml::Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            key.truncate(at);
            key.push_str(&format!("[{i}]"));
            find_non_finite(v, key)
        }),
        _ => None,
    };
    key.truncate(at);
    found
}

/// `-cell a b c α β γ`: lengths ≥ 0 and angles in [0°, 180°), where 0 means "not given" (the
/// resolver puts b, c ← a and angles ← 90°, as the C program does).
fn check_cell(scene: &Scene) -> Result<()> {
    let Some(cell) = scene.crystal.cell else {
        return Ok(());
    };
    let input = "-cell (scene key crystal.cell)";
    for (name, v) in ["a", "b", "c"].iter().zip(&cell[..3]) {
        if *v < 0.0 || *v > MAX_CELL_A {
            return Err(refuse(input, format!("{name} = {} Å must be > 0 and at most {MAX_CELL_A:e}", num(*v))));
        }
    }
    for (name, v) in ["alpha", "beta", "gamma"].iter().zip(&cell[3..]) {
        if *v < 0.0 || *v >= 180.0 {
            return Err(refuse(input, format!("{name} = {}° is outside (0°, 180°)", num(*v))));
        }
    }
    Ok(())
}

/// `-roi xmin xmax ymin ymax`: each given pair ordered (a negative entry means "default").
fn check_roi(scene: &Scene) -> Result<()> {
    let Some(r) = scene.sampling.roi else {
        return Ok(());
    };
    for (axis, lo, hi) in [("x (fast)", r[0], r[1]), ("y (slow)", r[2], r[3])] {
        if lo >= 0 && hi >= 0 && lo > hi {
            return Err(refuse(
                "-roi (scene key sampling.roi)",
                format!("{axis} minimum {lo} is larger than the maximum {hi}: no pixel is inside"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene() -> Scene {
        Scene::builtin_default()
    }

    fn message(r: Result<()>) -> String {
        r.expect_err("expected a refusal").to_string()
    }

    #[test]
    fn the_builtin_scene_passes() {
        check_scene(&scene()).unwrap();
    }

    #[test]
    fn a_non_finite_number_is_named_by_its_key() {
        let mut s = scene();
        s.crystal.cell = Some([100.0, 100.0, f64::NAN, 90.0, 90.0, 90.0]);
        assert!(message(check_scene(&s)).contains("crystal.cell[2]"));
        let mut s = scene();
        s.beam.fluence = Some(f64::INFINITY);
        assert!(message(check_scene(&s)).contains("beam.fluence"));
    }

    #[test]
    fn zero_wavelength_names_the_flag_and_key() {
        let mut s = scene();
        s.beam.wavelength_a = Some(0.0);
        let m = message(check_scene(&s));
        assert!(m.contains("-lambda") && m.contains("beam.wavelength_a"), "{m}");
    }

    #[test]
    fn cell_angles_outside_the_open_interval_are_refused() {
        for bad in [[100.0, 100.0, 100.0, 90.0, -90.0, 90.0], [100.0, 100.0, 100.0, 90.0, 90.0, 180.0]] {
            let mut s = scene();
            s.crystal.cell = Some(bad);
            assert!(message(check_scene(&s)).contains("-cell"));
        }
    }

    #[test]
    fn roi_with_min_above_max_is_refused() {
        let mut s = scene();
        s.sampling.roi = Some([40, 10, 0, 63]);
        assert!(message(check_scene(&s)).contains("-roi"));
    }
}
