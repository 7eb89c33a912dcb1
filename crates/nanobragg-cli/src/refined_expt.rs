//! `nanobragg refine -expt models.expt [-panel N] … -refined_expt out.expt`: the refined panel,
//! wavelength and crystal written back into the experiment list they came from.
//!
//! The refined panel's lab frame is read off the refined geometry (pix0 is its origin, the
//! rotated fast and slow axes its axes), the crystal's A matrix off the refined reciprocal
//! vectors (misset included), and `experiment::update_experiment` puts them back in the file's
//! own form (panel frames local to their parent group); everything else in the file is kept.

use std::path::Path;

use burn::tensor::backend::Backend;
use nanobragg::crystal::CrystalGeometry;
use nanobragg::detector::DetectorGeometry;
use nanobragg::experiment::{experiment_models, panel_scenes, update_experiment};
use nanobragg::io::expt::{read_experiments, write_experiments};
use nanobragg::linalg::{to_f64, to_vec};
use nanobragg::params::Params;
use nanobragg::scene::PanelScene;
use nanobragg::{Scene, Setup};
use nanobragg_cli::{CommandLine, PanelChoice};

use crate::run::Failure;

/// Write the refined models of `params` (the refined parameters of `setup`, the one-panel
/// scene of `-panel N`) into a copy of `cl.expt`'s experiment, at `out`.
pub fn write<B: Backend>(cl: &CommandLine, setup: &Setup, params: &Params<B>, out: &Path) -> Result<(), Failure> {
    let panel = match cl.panel {
        PanelChoice::One(n) => n,
        PanelChoice::All => 0,
    };
    let mut models = file_panels(cl)?;
    let refined = models
        .detector
        .panels
        .get_mut(panel)
        .ok_or_else(|| Failure::Runtime(format!("-refined_expt: panel {panel} is not in the experiment")))?;
    place(refined, setup, params)?;
    write_models(cl, models, params, out, &format!("panel {panel}"))
}

/// A scene holding the panels of `cl.expt`'s experiment as the file gives them.
pub fn file_panels(cl: &CommandLine) -> Result<Scene, Failure> {
    let (expt, input) = expt(cl)?;
    let file = read_experiments(expt).map_err(|e| runtime(e.into()))?;
    let det = experiment_models(&file, cl.experiment, &input)
        .map_err(runtime)?
        .detector
        .ok_or_else(|| Failure::Runtime(format!("-refined_expt: experiment {} has no detector", cl.experiment)))?;
    let mut scene = Scene::default();
    scene.detector.panels = panel_scenes(det, &input).map_err(runtime)?;
    Ok(scene)
}

/// Move `panel` to the refined frame of a one-panel `setup` at `params`: pix0 is its origin,
/// the rotated (and moved) fast and slow axes its axes.
pub fn place<B: Backend>(panel: &mut PanelScene, setup: &Setup, params: &Params<B>) -> Result<(), Failure> {
    let det = DetectorGeometry::new(&setup.detector, params).map_err(runtime)?;
    panel.origin_mm = vec3(&det.pix0).map(|m| m * 1000.0);
    panel.fast_axis = vec3(&det.fdet);
    panel.slow_axis = vec3(&det.sdet);
    Ok(())
}

/// Write `models`' panels, with the wavelength and crystal of `params`, into a copy of
/// `cl.expt`'s experiment at `out` (`what`: the panels refined, for the message).
pub fn write_models<B: Backend>(cl: &CommandLine, mut models: Scene, params: &Params<B>, out: &Path, what: &str) -> Result<(), Failure> {
    let (expt, input) = expt(cl)?;
    let mut file = read_experiments(expt).map_err(|e| runtime(e.into()))?;
    models.beam.wavelength_a = Some(to_f64(&params.wavelength) * 1e10);
    let stars = CrystalGeometry::new(params).reciprocal.map(|v| vec3(&v));
    models.crystal.a_matrix_per_a = Some(std::array::from_fn(|r| std::array::from_fn(|c| stars[c][r])));
    update_experiment(&mut file, cl.experiment, &models, &input).map_err(runtime)?;
    write_experiments(out, &file).map_err(|e| runtime(e.into()))?;
    say!("wrote the refined experiment ({what}, wavelength, crystal) to {}", out.display());
    Ok(())
}

fn expt(cl: &CommandLine) -> Result<(&Path, String), Failure> {
    let Some(expt) = &cl.expt else {
        return Err(Failure::Usage("-refined_expt needs -expt (the experiment list to update)".into()));
    };
    Ok((expt, format!("-expt {}", expt.display())))
}

fn runtime(e: nanobragg::NanobraggError) -> Failure {
    Failure::Runtime(format!("-refined_expt: {e}"))
}

fn vec3<B: Backend>(t: &burn::tensor::Tensor<B, 1>) -> [f64; 3] {
    let v = to_vec(t);
    [v[0], v[1], v[2]]
}
