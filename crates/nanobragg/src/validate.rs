//! One validation layer for every input: a [`Scene`] as the user wrote it (flags, a scene file
//! or the library), the [`Setup`] resolved from it, and the amount of work its [`Plan`] implies.
//!
//! The rule: an input either renders a finite image or is refused here, before any tensor is
//! built or any file written, with one line naming the input (flag and scene key, or file and
//! key) and the problem. Where the C program is well defined we accept what it accepts; where it
//! silently produces NaN or garbage (λ = 0, a degenerate cell, a singular matrix, a detector of
//! zero pixels) we refuse.
//!
//! * [`check_scene`] — numbers as given: every number finite (whatever its key), lengths and
//!   sizes positive, cell angles in (0°, 180°), direction vectors non-zero, ROI ordered.
//! * [`check_setup`] — resolved values: every source's wavelength (after `-dispersion`) positive,
//!   a cell with volume, a regular `-mat` matrix, finite mosaic rotations, a detector with pixels.
//! * [`check_work`] — the number of evaluations a render needs, with checked arithmetic (no
//!   overflow of `oversample²`), refused above [`MAX_EVALUATIONS`] with a hint.

use crate::error::{NanobraggError, Result};
use crate::scene::Scene;
use crate::setup::{CellSource, Setup};

/// The most grating evaluations (pixels × layers × sub-pixels × sources × φ steps × mosaic
/// domains) a render may ask for: 10¹⁵, days of work on any machine. A scene above this is
/// refused with its figures instead of running for months (the C program hangs).
pub const MAX_EVALUATIONS: f64 = 1e15;

/// The largest cell edge accepted (Å): 1 m, far beyond any crystal, small enough that cell
/// volumes and reciprocal vectors stay finite in f64.
const MAX_CELL_A: f64 = 1e10;

/// A number as messages show it: plain, or in exponent form when very large or small.
fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e15).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// An input refused: names it and says why.
fn refuse(input: impl Into<String>, problem: impl Into<String>) -> NanobraggError {
    NanobraggError::Invalid {
        input: input.into(),
        problem: problem.into(),
    }
}

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

/// Check a scene as given (see the [module documentation](self)).
pub fn check_scene(scene: &Scene) -> Result<()> {
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

/// Check a resolved setup (see the [module documentation](self)).
pub fn check_setup(setup: &Setup) -> Result<()> {
    let det = &setup.detector;
    if det.fpixels == 0 || det.spixels == 0 {
        return Err(refuse(
            "-detpixels/-detsize",
            format!("the detector has {}x{} pixels", det.fpixels, det.spixels),
        ));
    }
    if !(det.pixel_m > 0.0 && det.pixel_m.is_finite()) {
        return Err(refuse("-pixel", format!("pixel size {} m must be > 0", num(det.pixel_m))));
    }
    if !(det.distance_m > 0.0 && det.distance_m.is_finite()) {
        return Err(refuse("-distance", format!("{} m must be > 0", num(det.distance_m))));
    }
    check_wavelengths(setup)?;
    check_crystal(setup)
}

/// Every source's wavelength λ = fixed + scale·λ0·(1 + dispersion·coeff) is finite and > 0.
fn check_wavelengths(setup: &Setup) -> Result<()> {
    let beam = &setup.beam;
    if !(beam.wavelength_m > 0.0 && beam.wavelength_m.is_finite()) {
        return Err(refuse("-lambda", format!("{} Å must be > 0", num(beam.wavelength_m * 1e10))));
    }
    for (i, s) in beam.sources.iter().enumerate() {
        let lambda = s.fixed_m + s.scale * beam.wavelength_m * (1.0 + beam.dispersion * s.disp_coeff);
        if !(lambda > 0.0 && lambda.is_finite()) {
            return Err(refuse(
                "-dispersion",
                format!(
                    "{}% gives source {} a wavelength of {} Å (every wavelength must be > 0)",
                    num(beam.dispersion * 100.0),
                    i + 1,
                    num(lambda * 1e10)
                ),
            ));
        }
        if s.direction.iter().any(|x| !x.is_finite()) {
            return Err(refuse("-sourcefile", format!("source {} has no direction", i + 1)));
        }
    }
    Ok(())
}

/// A cell with volume, a regular orientation matrix, finite mosaic rotations.
fn check_crystal(setup: &Setup) -> Result<()> {
    let c = &setup.crystal;
    match &c.cell {
        CellSource::Cell(p) => {
            let (ca, cb, cg) = (p[3].cos(), p[4].cos(), p[5].cos());
            // V² / (abc)² for a cell with these angles; ≤ 0 when no such cell exists.
            let v2 = 1.0 - ca * ca - cb * cb - cg * cg + 2.0 * ca * cb * cg;
            if !(v2 > 1e-12) || p[..3].iter().any(|x| !(*x > 0.0)) {
                return Err(refuse(
                    "-cell",
                    format!(
                        "{} {} {} {} {} {} is a degenerate cell (no volume)",
                        num(p[0]),
                        num(p[1]),
                        num(p[2]),
                        num(p[3].to_degrees()),
                        num(p[4].to_degrees()),
                        num(p[5].to_degrees())
                    ),
                ));
            }
        }
        CellSource::Matrix(m) => {
            let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
            let scale: f64 = m.iter().flatten().map(|x| x * x).sum::<f64>().sqrt();
            if !det.is_finite() || det.abs() <= 1e-12 * scale.powi(3) {
                return Err(refuse(
                    "-mat",
                    format!("the orientation matrix is singular (determinant {det:e})"),
                ));
            }
        }
    }
    if c.mosaic_umats.iter().flatten().any(|x| !x.is_finite())
        || !c.mosaic_spread_rad.is_finite()
    {
        return Err(refuse(
            "-mosaic",
            format!("a spread of {:e}° gives non-finite domain rotations", c.mosaic_spread_rad.to_degrees()),
        ));
    }
    Ok(())
}

/// The factors of a render's work, each a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Pixels rendered.
    pub pixels: usize,
    /// Sub-pixels per axis.
    pub oversample: usize,
    /// Sensor layers.
    pub layers: usize,
    /// Sources (divergence × dispersion points or source-file lines).
    pub sources: usize,
    /// φ steps.
    pub phi_steps: usize,
    /// Mosaic domains.
    pub domains: usize,
}

impl Work {
    /// Evaluations per pixel (layers × sub-pixels × sources × φ steps × domains), or `None` on
    /// overflow.
    pub fn per_pixel(&self) -> Option<usize> {
        self.oversample
            .checked_mul(self.oversample)?
            .checked_mul(self.layers)?
            .checked_mul(self.sources)?
            .checked_mul(self.phi_steps)?
            .checked_mul(self.domains)
    }

    /// Total evaluations, as a float (no overflow).
    pub fn total(&self) -> f64 {
        [self.pixels, self.oversample, self.oversample, self.layers, self.sources, self.phi_steps, self.domains]
            .iter()
            .map(|&x| x as f64)
            .product()
    }
}

/// Which render path's buffers a memory check counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryPath {
    /// The fused kernel's forward (a render).
    FusedForward,
    /// The fused kernel's one-pass loss and gradient.
    FusedGradient,
    /// The tensor-op reference path (render or autodiff): about 24 live `[E, K]` tensors.
    Tensor,
}

/// Live `[E, K]` intermediates of the tensor path (each one value per evaluation and cell).
pub const TENSOR_LIVE_INTERMEDIATES: usize = 24;

impl Work {
    /// Cells (φ steps × mosaic domains).
    pub fn cells(&self) -> usize {
        self.phi_steps.saturating_mul(self.domains)
    }

    /// Evaluations per pixel before the cells (layers × sub-pixels × sources), saturating.
    fn evaluations_per_pixel(&self) -> f64 {
        (self.layers as f64) * (self.oversample as f64).powi(2) * self.sources as f64
    }

    /// Bytes one pixel's evaluations hold at once on `path` (the memory model of a tile).
    pub fn bytes_per_pixel(&self, path: MemoryPath) -> f64 {
        use crate::kernel::cpu::{gradient_bytes_per_evaluation, FORWARD_BYTES_PER_EVALUATION};
        let per_evaluation = match path {
            MemoryPath::FusedForward => FORWARD_BYTES_PER_EVALUATION as f64,
            MemoryPath::FusedGradient => gradient_bytes_per_evaluation(self.cells()) as f64,
            MemoryPath::Tensor => (TENSOR_LIVE_INTERMEDIATES * 8) as f64 * self.cells() as f64,
        };
        self.evaluations_per_pixel() * per_evaluation
    }

}

/// Refuse a render one pixel of which would not fit `budget` bytes: tiles and kernel chunks
/// shrink down to one pixel before anything is refused, so only a scene with an enormous
/// amount of work per pixel ends here.
pub fn check_memory(work: &Work, path: MemoryPath, budget: usize) -> Result<()> {
    let smallest = work.bytes_per_pixel(path);
    if smallest <= budget as f64 {
        return Ok(());
    }
    Err(refuse(
        "scene",
        format!(
            "one pixel needs {:.3e} bytes ({} layers x {}^2 sub-pixels x {} sources x {} φ·mosaic cells), more than the tile budget of {} MiB: lower -oversample or the source, layer, φ or mosaic counts",
            smallest,
            work.layers,
            work.oversample,
            work.sources,
            work.cells(),
            budget >> 20
        ),
    ))
}

/// Refuse a render whose work overflows or exceeds [`MAX_EVALUATIONS`], with its figures and
/// a hint; `auto_oversample` says whether the oversampling was selected automatically.
pub fn check_work(work: &Work, auto_oversample: bool) -> Result<()> {
    let total = work.total();
    if work.per_pixel().is_some() && total <= MAX_EVALUATIONS {
        return Ok(());
    }
    let hint = if auto_oversample {
        format!(
            "the {}-fold oversampling was auto-selected from the crystal size; give -oversample N",
            work.oversample
        )
    } else {
        "lower -oversample, the source, φ, mosaic or layer counts, or the pixel count".to_string()
    };
    Err(refuse(
        "scene",
        format!(
            "needs {total:.3e} evaluations ({} pixels x {}^2 sub-pixels x {} layers x {} sources x {} φ steps x {} mosaic domains), more than the limit of {MAX_EVALUATIONS:e}: {hint}",
            work.pixels, work.oversample, work.layers, work.sources, work.phi_steps, work.domains
        ),
    ))
}

/// A measured image given to a loss (`what` names it, e.g. `-target t.img`): every pixel
/// finite, and, for a target (`may_be_zero` false), not every pixel zero — a fit to an empty
/// image has no information and would "converge" anywhere.
pub fn check_image<T: Copy + Into<f64>>(what: &str, values: &[T], may_be_zero: bool) -> Result<()> {
    if let Some((i, v)) = values.iter().map(|&v| v.into()).enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(refuse(what, format!("pixel {i} is {v}: every pixel must be a finite number")));
    }
    if !may_be_zero && values.iter().all(|&v| v.into() == 0.0) {
        return Err(refuse(what, "every pixel is 0: there is nothing to fit"));
    }
    Ok(())
}

/// The safety net after a render: every pixel (as stored, f32) finite. A scene that passed the
/// checks above but whose numbers still overflow somewhere is refused here, before any output
/// file is written, rather than leaving a NaN image with exit status 0.
pub fn check_rendered(data: &[f32], fpixels: usize) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(refuse(
            "scene",
            format!(
                "the render gives {} at pixel (slow {}, fast {}): its numbers are outside what the physics can represent in floating point (check the sizes, distances and wavelengths given)",
                data[i],
                i / fpixels.max(1),
                i % fpixels.max(1)
            ),
        )),
    }
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

    #[test]
    fn work_overflow_and_excess_are_refused_with_a_hint() {
        let w = Work { pixels: 64 * 64, oversample: 1 << 32, layers: 1, sources: 1, phi_steps: 1, domains: 1 };
        assert!(w.per_pixel().is_none());
        assert!(message(check_work(&w, false)).contains("-oversample"));
        let w = Work { oversample: 3000, ..w };
        check_work(&w, true).unwrap();
    }
}
