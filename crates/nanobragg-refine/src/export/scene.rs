//! A scene with refined values written into its fields.

use nanobragg::gradients::ParamName;
use nanobragg::NanobraggError;
use nanobragg::scene::Scene;
use nanobragg::setup::Setup;

use crate::error::{RefineError, Result};

/// `scene` with each `(parameter, value)` (user units) written into the field the parameter
/// comes from (the registry's [`nanobragg::registry::Parameter::write_scene`]), and the overall `scale` (which multiplies Bragg and water intensities alike)
/// folded in: the fluence is multiplied by `scale` and, because the water background goes as
/// fluence², the water droplet size by `scale^(−1/3)`. `setup` is the scene's resolved setup: it supplies the
/// values of fields the scene left to defaults (e.g. the two misset angles not refined after a
/// `-misset random`, or the cell angles of `-cell a b c`).
///
/// Cell parameters of a scene whose cell comes from `-mat` are an error (write a matrix
/// instead): a value the scene cannot take (the writer's [`NanobraggError::Scene`]) is a
/// [`RefineError::Refinement`] that names the parameter.
pub fn refined_scene(scene: &Scene, setup: &Setup, values: &[(ParamName, f64)], scale: f64) -> Result<Scene> {
    use ParamName::*;
    let mut out = scene.clone();
    for &(name, v) in values {
        (name.info().write_scene)(&mut out, setup, v).map_err(|e| match e {
            NanobraggError::Scene(m) => RefineError::Refinement(format!("{name}: {m}")),
            other => RefineError::from(other),
        })?;
    }
    if scale != 1.0 {
        let fluence = values
            .iter()
            .find(|(n, _)| *n == Fluence)
            .map_or(setup.beam.fluence, |(_, v)| *v);
        out.beam.fluence = Some(fluence * scale);
        out.beam.flux = None;
        // The water background goes as fluence²·size³ (the C program multiplies r_e²·fluence
        // into it twice), so s·I_bg needs the droplet size scaled by s^(−1/3).
        let water_um = values
            .iter()
            .find(|(n, _)| *n == WaterUm)
            .map_or(nanobragg::units::MICROMETRE.from_si(setup.sampling.water_m), |(_, v)| *v);
        if water_um != 0.0 {
            out.sampling.water_um = Some(water_um * scale.powf(-1.0 / 3.0));
        }
    }
    Ok(out)
}
