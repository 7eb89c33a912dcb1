//! A DIALS experiment as a scene: the detector's panels, the beam and the crystal of one
//! experiment of an experiment list (or one image set of a legacy DataBlock list) written into
//! the scene's fields, in dxtbx's lab frame (read by [`crate::io::expt`]).
//!
//! What is taken, and the convention each follows (sources in `docs/experiments.md`):
//!
//! | dxtbx | scene | rule |
//! |---|---|---|
//! | panels (hierarchy composed) | `detector.panels` | origin (mm, corner of pixel (0, 0)), fast, slow; square pixels only |
//! | panel `thickness` (mm), `mu` (mm⁻¹) | each panel's `thick_um`, `abs_depth_um` | ×1000 and 1000/μ, unless `-detector_thick`/`-detector_abs` are given |
//! | beam `direction` (towards the source) | `detector.beam_vector` | its negative (propagation) |
//! | beam `wavelength` (Å) | `beam.wavelength_a` | as is |
//! | `polarization_normal` n, `polarization_fraction` p | `detector.polar_vector`, `beam.polarization_k` | E = b × n (b the propagation), K = 2p − 1 |
//! | goniometer `rotation_axis` | `detector.spindle_axis` | as is; fixed or setting rotations other than the identity are refused |
//! | crystal `real_space_a/b/c` (Å) | `crystal.a_matrix_per_a` | A = (rows a, b, c)⁻¹, columns a*, b*, c* |
//! | crystal `ML_domain_size_ang` D | `crystal.n_cells` | D/|a|, D/|b|, D/|c| |
//! | panel `gain`, `trusted_range`, `mask`, `raw_image_offset` | each panel's same fields | as is ([`crate::scene::PanelReadout`]); used only to read measured raw images |
//!
//! The scene's own flags win: [`apply_experiment`] sets a field only where the scene leaves it
//! unset, so `-N`, `-lambda` or `-polar` given with `-expt` override the file.

use std::path::Path;

use crate::error::{NanobraggError, Result};
use crate::io::expt::vec3::inverse;
use crate::io::expt::{lab_beam, lab_crystal, lab_panels, local_frames, read_experiments, Beam, Crystal, Detector, ExptFile, Goniometer, LabPanel, ModelRef};
use crate::linalg::{cross_f64, unit_f64};
use crate::scene::{Convention, PanelGroup, PanelReadout, PanelScene, Scene};

/// Largest relative difference between a panel's fast and slow pixel sizes taken as square.
const SQUARE_PIXEL_TOLERANCE: f64 = 1e-9;

/// The models one experiment uses (any may be absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExperimentModels<'a> {
    /// Beam.
    pub beam: Option<&'a Beam>,
    /// Detector.
    pub detector: Option<&'a Detector>,
    /// Crystal (never in a DataBlock list).
    pub crystal: Option<&'a Crystal>,
    /// Goniometer.
    pub goniometer: Option<&'a Goniometer>,
}

/// The models of experiment `index` (of an experiment list), or of image set `index` of the
/// first block (of a DataBlock list).
pub fn experiment_models<'a>(file: &'a ExptFile, index: usize, input: &str) -> Result<ExperimentModels<'a>> {
    match file {
        ExptFile::Experiments(l) => {
            let n = l.experiment.len();
            let e = l.experiment.get(index).ok_or_else(|| refuse(input, format!("experiment {index} does not exist ({n} experiments, numbered from 0)")))?;
            Ok(ExperimentModels {
                beam: pick(l.beam.as_ref(), &e.beam, "beam", input)?,
                detector: pick(l.detector.as_ref(), &e.detector, "detector", input)?,
                crystal: pick(l.crystal.as_ref(), &e.crystal, "crystal", input)?,
                goniometer: pick(l.goniometer.as_ref(), &e.goniometer, "goniometer", input)?,
            })
        }
        ExptFile::DataBlocks(blocks) => {
            let block = blocks.first().ok_or_else(|| refuse(input, "the DataBlock list is empty"))?;
            let sets = &block.imageset;
            let set = sets.get(index).ok_or_else(|| refuse(input, format!("image set {index} does not exist ({} image sets)", sets.len())))?;
            Ok(ExperimentModels {
                beam: pick(block.beam.as_ref(), &set.beam, "beam", input)?,
                detector: pick(block.detector.as_ref(), &set.detector, "detector", input)?,
                crystal: None,
                goniometer: pick(block.goniometer.as_ref(), &set.goniometer, "goniometer", input)?,
            })
        }
    }
}

/// The model `r` names in `list` (`what` and `input` for messages).
fn pick<'a, T>(list: Option<&'a Vec<T>>, r: &Option<ModelRef>, what: &str, input: &str) -> Result<Option<&'a T>> {
    match r {
        None => Ok(None),
        Some(ModelRef::Index(i)) => list
            .and_then(|l| l.get(*i))
            .map(Some)
            .ok_or_else(|| refuse(input, format!("{what} {i} does not exist"))),
        Some(ModelRef::File(f)) => Err(refuse(input, format!("{what} is in another file ({f}), which is not followed"))),
    }
}

/// The panels of a dxtbx detector as scene panels (lab frame, mm).
pub fn panel_scenes(det: &Detector, input: &str) -> Result<Vec<PanelScene>> {
    scenes_of(&lab(det, input)?, input)
}

fn lab(det: &Detector, input: &str) -> Result<Vec<LabPanel>> {
    lab_panels(det).map_err(|e| refuse(input, format!("detector: {e}")))
}

/// The panels as scenes, each with its hierarchy group (pivot: the centroid of the centres of
/// the group's panels).
fn scenes_of(lab: &[LabPanel], input: &str) -> Result<Vec<PanelScene>> {
    let mut scenes: Vec<PanelScene> = lab.iter().enumerate().map(|(i, p)| panel_scene(p, i, input)).collect::<Result<_>>()?;
    for (i, p) in lab.iter().enumerate() {
        let Some(g) = &p.group else { continue };
        let members: Vec<usize> = (0..lab.len()).filter(|&j| lab[j].group.as_ref().is_some_and(|h| h.key == g.key)).collect();
        let mut pivot = [0.0; 3];
        for &j in &members {
            let c = scenes[j].centre_mm();
            (0..3).for_each(|k| pivot[k] += c[k] / members.len() as f64);
        }
        scenes[i].group = Some(PanelGroup { name: g.key.clone(), pivot_mm: pivot, fast_axis: g.fast, slow_axis: g.slow });
    }
    Ok(scenes)
}

fn panel_scene(p: &LabPanel, index: usize, input: &str) -> Result<PanelScene> {
    let [pf, ps] = p.pixel_mm;
    if !((pf - ps).abs() <= SQUARE_PIXEL_TOLERANCE * pf.abs()) {
        return Err(refuse(input, format!("panel {index} ({}): pixels of {pf} x {ps} mm are not square, which the renderer does not model", p.name)));
    }
    let count = |n: usize| i64::try_from(n).map_err(|_| refuse(input, format!("panel {index}: {n} pixels")));
    Ok(PanelScene {
        name: if p.name.is_empty() { format!("panel {index}") } else { p.name.clone() },
        origin_mm: p.origin_mm,
        fast_axis: p.fast,
        slow_axis: p.slow,
        pixel_mm: pf,
        fpixels: count(p.image_size[0])?,
        spixels: count(p.image_size[1])?,
        thick_um: None,
        abs_depth_um: None,
        group: None,
        readout: PanelReadout { gain: p.gain, trusted_range: p.trusted_range, mask: p.mask.clone(), raw_image_offset: p.raw_image_offset },
    })
}

/// The panels of the detector of experiment `index` in the file at `path`.
pub fn panel_scenes_of_file(path: &Path, index: usize) -> Result<Vec<PanelScene>> {
    let input = format!("-expt {}", path.display());
    let file = read_experiments(path)?;
    let models = experiment_models(&file, index, &input)?;
    let det = models.detector.ok_or_else(|| refuse(&input, format!("experiment {index} has no detector")))?;
    panel_scenes(det, &input)
}

/// Write experiment `index` of the file at `path` into `scene` where the scene leaves a field
/// unset (module doc). The detector's frame flags (`-Xbeam`, `-distance`, …) are then refused
/// by [`Scene::panel_scene`], since each panel places itself.
pub fn apply_experiment(scene: &mut Scene, path: &Path, index: usize) -> Result<()> {
    let input = format!("-expt {}", path.display());
    let file = read_experiments(path)?;
    let m = experiment_models(&file, index, &input)?;
    let det = m.detector.ok_or_else(|| refuse(&input, format!("experiment {index} has no detector")))?;
    let lab = lab(det, &input)?;
    let mut panels = scenes_of(&lab, &input)?;
    if scene.detector.thick_um.is_none() && scene.detector.abs_depth_um.is_none() {
        for (panel, p) in panels.iter_mut().zip(&lab) {
            if p.thickness_mm > 0.0 && p.mu_per_mm > 0.0 {
                panel.thick_um = Some(p.thickness_mm * 1000.0);
                panel.abs_depth_um = Some(1000.0 / p.mu_per_mm);
            }
        }
    }
    scene.detector.panels = panels;
    scene.detector.convention = Convention::Custom;
    if let Some(beam) = m.beam {
        apply_beam(scene, beam, &input)?;
    }
    if let Some(g) = m.goniometer {
        apply_goniometer(scene, g, &input)?;
    }
    if let Some(c) = m.crystal {
        apply_crystal(scene, c, &input)?;
    }
    Ok(())
}

fn apply_beam(scene: &mut Scene, beam: &Beam, input: &str) -> Result<()> {
    let lab = lab_beam(beam).map_err(|e| refuse(input, format!("beam: {e}")))?;
    let b = lab.propagation;
    scene.detector.beam_vector.get_or_insert(b);
    scene.beam.wavelength_a.get_or_insert(lab.wavelength_a);
    if let (Some(n), Some(p)) = (beam.polarization_normal, beam.polarization_fraction) {
        let e = unit_f64(cross_f64(b, n));
        if e.iter().all(|x| x.is_finite()) && e != [0.0; 3] {
            scene.detector.polar_vector.get_or_insert(e);
            scene.beam.polarization_k.get_or_insert(2.0 * p - 1.0);
        }
    }
    Ok(())
}

fn apply_goniometer(scene: &mut Scene, g: &Goniometer, input: &str) -> Result<()> {
    const IDENTITY: [f64; 9] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    for (key, r) in [("fixed_rotation", g.fixed_rotation), ("setting_rotation", g.setting_rotation)] {
        if r.is_some_and(|r| r.iter().zip(IDENTITY).any(|(x, i)| (x - i).abs() > 1e-12)) {
            return Err(refuse(input, format!("goniometer {key} is not the identity, which the renderer does not model")));
        }
    }
    if let Some(axis) = g.rotation_axis {
        scene.detector.spindle_axis.get_or_insert(axis);
    }
    Ok(())
}

fn apply_crystal(scene: &mut Scene, c: &Crystal, input: &str) -> Result<()> {
    let lab = lab_crystal(c).map_err(|e| refuse(input, format!("crystal: {e}")))?;
    let cr = &mut scene.crystal;
    if cr.cell.is_none() && cr.mat_file.is_none() {
        cr.a_matrix_per_a.get_or_insert(lab.a_matrix);
    }
    if let Some(Some(d)) = c.ml_domain_size_ang {
        if d > 0.0 {
            cr.n_cells.get_or_insert([d / lab.cell[0], d / lab.cell[1], d / lab.cell[2]]);
        }
    }
    Ok(())
}

/// Write the scene's models back into experiment `index` of `file` — the inverse of
/// [`apply_experiment`] for what it takes: every panel's frame (local to its parent group, as
/// dxtbx stores it), the beam's direction (`−beam_vector`) and wavelength, the crystal's
/// real-space vectors (rows of `A⁻¹`). Everything else in the file stays as it is; write the
/// file with [`crate::io::expt::write_experiments`].
pub fn update_experiment(file: &mut ExptFile, index: usize, scene: &Scene, input: &str) -> Result<()> {
    let [beam, detector, crystal] = model_indices(file, index, input)?;
    let (beams, detectors, crystals) = match file {
        ExptFile::Experiments(l) => (l.beam.as_mut(), l.detector.as_mut(), l.crystal.as_mut()),
        ExptFile::DataBlocks(b) => {
            let block = b.first_mut().ok_or_else(|| refuse(input, "the DataBlock list is empty"))?;
            (block.beam.as_mut(), block.detector.as_mut(), None)
        }
    };
    if let (Some(det), false) = (detector.and_then(|i| detectors?.get_mut(i)), scene.detector.panels.is_empty()) {
        let lab: Vec<_> = scene.detector.panels.iter().map(|p| (p.origin_mm, unit_f64(p.fast_axis), unit_f64(p.slow_axis))).collect();
        let local = local_frames(det, &lab).map_err(|e| refuse(input, format!("detector: {e}")))?;
        for (panel, (origin, fast, slow)) in det.panels.iter_mut().zip(local) {
            (panel.origin, panel.fast_axis, panel.slow_axis) = (origin, fast, slow);
        }
    }
    if let Some(b) = beam.and_then(|i| beams?.get_mut(i)) {
        if let Some(v) = scene.detector.beam_vector {
            b.direction = unit_f64(v).map(|x| -x);
        }
        if let Some(w) = scene.beam.wavelength_a {
            b.wavelength = Some(w);
        }
    }
    if let (Some(c), Some(a)) = (crystal.and_then(|i| crystals?.get_mut(i)), scene.crystal.a_matrix_per_a) {
        let real = inverse(&a).ok_or_else(|| refuse(input, "crystal.a_matrix_per_a is singular"))?;
        (c.real_space_a, c.real_space_b, c.real_space_c) = (real[0], real[1], real[2]);
    }
    Ok(())
}

/// The indices of experiment `index`'s beam, detector and crystal in their model lists (of
/// the first block, for a DataBlock list), checked by [`experiment_models`].
fn model_indices(file: &ExptFile, index: usize, input: &str) -> Result<[Option<usize>; 3]> {
    experiment_models(file, index, input)?;
    let idx = |r: &Option<ModelRef>| match r {
        Some(ModelRef::Index(i)) => Some(*i),
        _ => None,
    };
    Ok(match file {
        ExptFile::Experiments(l) => l.experiment.get(index).map_or([None; 3], |e| [idx(&e.beam), idx(&e.detector), idx(&e.crystal)]),
        ExptFile::DataBlocks(b) => b
            .first()
            .and_then(|block| block.imageset.get(index))
            .map_or([None; 3], |set| [idx(&set.beam), idx(&set.detector), None]),
    })
}

fn refuse(input: &str, problem: impl Into<String>) -> NanobraggError {
    NanobraggError::Invalid { input: input.to_string(), problem: problem.into() }
}
