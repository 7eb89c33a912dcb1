//! A scene with refined values written into its fields.

use crate::error::{NanobraggError, Result};
use crate::gradients::ParamName;
use crate::scene::Scene;
use crate::setup::{CellSource, Setup};
use crate::units::RTD;

/// `scene` with each `(parameter, value)` (user units) written into the field the parameter
/// comes from, and the overall `scale` (which multiplies Bragg and water intensities alike)
/// folded in: the fluence is multiplied by `scale` and, because the water background goes as
/// fluence², the water droplet size by `scale^(−1/3)`. `setup` is the scene's resolved setup: it supplies the
/// values of fields the scene left to defaults (e.g. the two misset angles not refined after a
/// `-misset random`, or the cell angles of `-cell a b c`).
///
/// Cell parameters of a scene whose cell comes from `-mat` are an error (write a matrix
/// instead).
pub fn refined_scene(scene: &Scene, setup: &Setup, values: &[(ParamName, f64)], scale: f64) -> Result<Scene> {
    use ParamName::*;
    let mut out = scene.clone();
    let c = &setup.crystal;
    for &(name, v) in values {
        match name {
            CellA | CellB | CellC | CellAlpha | CellBeta | CellGamma => {
                let CellSource::Cell(cell) = c.cell else {
                    return Err(NanobraggError::Refinement(format!(
                        "{name}: the cell comes from -mat; export a MOSFLM matrix instead"
                    )));
                };
                let mut full = out.crystal.cell.unwrap_or([0.0; 6]);
                for i in 0..6 {
                    if full[i] <= 0.0 {
                        full[i] = if i < 3 { cell[i] } else { cell[i] * RTD };
                    }
                }
                full[name as usize - CellA as usize] = v;
                out.crystal.cell = Some(full);
            }
            MissetX | MissetY | MissetZ => {
                let mut m = out.crystal.misset_deg.unwrap_or(c.misset_rad.map(|r| r * RTD));
                if out.crystal.misset_random {
                    m = c.misset_rad.map(|r| r * RTD);
                    out.crystal.misset_random = false;
                }
                m[name as usize - MissetX as usize] = v;
                out.crystal.misset_deg = Some(m);
            }
            PhiStart => out.spindle.phi_start_deg = Some(v),
            OscRange => {
                out.spindle.osc_deg = Some(v);
                if out.spindle.phi_step_deg.is_some() {
                    out.spindle.phi_step_deg = Some(v / c.phi_steps.max(1) as f64);
                }
            }
            MosaicSpread => out.crystal.mosaic_spread_deg = Some(v),
            NA | NB | NC => {
                let i = name as usize - NA as usize;
                let mut n = out.crystal.n_cells.unwrap_or(c.n_cells);
                n[i] = v;
                out.crystal.n_cells = Some(n);
                out.crystal.sample_size_mm[i] = 0.0;
            }
            DistanceMm => out.detector.distance_mm = Some(v),
            BeamCenterS => out.detector.xbeam_mm = Some(v),
            BeamCenterF => out.detector.ybeam_mm = Some(v),
            DetectorRotx => out.detector.rotx_deg = Some(v),
            DetectorRoty => out.detector.roty_deg = Some(v),
            DetectorRotz => out.detector.rotz_deg = Some(v),
            DetectorTwotheta => out.detector.twotheta_deg = Some(v),
            PixelSizeMm => out.detector.pixel_mm = Some(v),
            WavelengthA => out.beam.wavelength_a = Some(v),
            Dispersion => out.beam.dispersion_percent = Some(v),
            Fluence => {
                out.beam.fluence = Some(v);
                out.beam.flux = None;
            }
            PolarizationK => out.beam.polarization_k = Some(v),
            WaterUm => out.sampling.water_um = Some(v),
            DetectorThicknessUm => out.detector.thick_um = Some(v),
            DefaultF => out.structure.default_f = Some(v),
            DetectorMu => out.detector.abs_depth_um = Some(v),
        }
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
            .map_or(setup.sampling.water_m * 1e6, |(_, v)| *v);
        if water_um != 0.0 {
            out.sampling.water_um = Some(water_um * scale.powf(-1.0 / 3.0));
        }
    }
    Ok(out)
}
