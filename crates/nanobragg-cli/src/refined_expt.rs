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
use nanobragg::{Scene, Setup};
use nanobragg_cli::{CommandLine, PanelChoice};

use crate::run::Failure;

/// Write the refined models of `params` (the refined parameters of `setup`) into a copy of
/// `cl.expt`'s experiment, at `out`.
pub fn write<B: Backend>(cl: &CommandLine, setup: &Setup, params: &Params<B>, out: &Path) -> Result<(), Failure> {
    let runtime = |e: nanobragg::NanobraggError| Failure::Runtime(format!("-refined_expt: {e}"));
    let Some(expt) = &cl.expt else {
        return Err(Failure::Usage("-refined_expt needs -expt (the experiment list to update)".into()));
    };
    let panel = match cl.panel {
        PanelChoice::One(n) => n,
        PanelChoice::All => 0,
    };
    let input = format!("-expt {}", expt.display());
    let mut file = read_experiments(expt).map_err(|e| runtime(e.into()))?;
    let det = experiment_models(&file, cl.experiment, &input)
        .map_err(runtime)?
        .detector
        .ok_or_else(|| Failure::Runtime(format!("-refined_expt: experiment {} has no detector", cl.experiment)))?;
    let mut scene = Scene::default();
    scene.detector.panels = panel_scenes(det, &input).map_err(runtime)?;
    let det = DetectorGeometry::new(&setup.detector, params).map_err(runtime)?;
    let refined = scene
        .detector
        .panels
        .get_mut(panel)
        .ok_or_else(|| Failure::Runtime(format!("-refined_expt: panel {panel} is not in {}", expt.display())))?;
    refined.origin_mm = vec3(&det.pix0).map(|m| m * 1000.0);
    refined.fast_axis = vec3(&det.fdet);
    refined.slow_axis = vec3(&det.sdet);
    scene.beam.wavelength_a = Some(to_f64(&params.wavelength) * 1e10);
    let stars = CrystalGeometry::new(params).reciprocal.map(|v| vec3(&v));
    scene.crystal.a_matrix_per_a = Some(std::array::from_fn(|r| std::array::from_fn(|c| stars[c][r])));
    update_experiment(&mut file, cl.experiment, &scene, &input).map_err(runtime)?;
    write_experiments(out, &file).map_err(|e| runtime(e.into()))?;
    say!("wrote the refined experiment (panel {panel}, wavelength, crystal) to {}", out.display());
    Ok(())
}

fn vec3<B: Backend>(t: &burn::tensor::Tensor<B, 1>) -> [f64; 3] {
    let v = to_vec(t);
    [v[0], v[1], v[2]]
}
