//! Where a refined value (user unit) is written back into a [`Scene`]: one writer per scene
//! field, named by the registry's rows. `setup` (the scene resolved) supplies the values of
//! fields the scene left to defaults.

use crate::error::{NanobraggError, Result};
use crate::scene::Scene;
use crate::setup::{CellSource, Setup};
use crate::units::RTD;

/// `-cell`'s entry `I` (a, b, c in Å, then α, β, γ in degrees); the others from the setup
/// where the scene left them out. A cell from `-mat` is a [`NanobraggError::Scene`] error
/// (export a matrix instead).
pub(super) fn cell<const I: usize>(out: &mut Scene, setup: &Setup, v: f64) -> Result<()> {
    let CellSource::Cell(cell) = setup.crystal.cell else {
        return Err(NanobraggError::Scene(
            "the cell comes from -mat; export a MOSFLM matrix instead".into(),
        ));
    };
    let mut full = out.crystal.cell.unwrap_or([0.0; 6]);
    for (i, entry) in full.iter_mut().enumerate() {
        if *entry <= 0.0 {
            *entry = if i < 3 { cell[i] } else { cell[i] * RTD };
        }
    }
    full[I] = v;
    out.crystal.cell = Some(full);
    Ok(())
}

/// `-misset`'s angle `I` (deg); a `-misset random` becomes the angles it drew.
pub(super) fn misset<const I: usize>(out: &mut Scene, setup: &Setup, v: f64) -> Result<()> {
    let drawn = setup.crystal.misset_rad.map(|r| r * RTD);
    let mut m = out.crystal.misset_deg.unwrap_or(drawn);
    if out.crystal.misset_random {
        m = drawn;
        out.crystal.misset_random = false;
    }
    m[I] = v;
    out.crystal.misset_deg = Some(m);
    Ok(())
}

/// `-phi` (deg).
pub(super) fn phi_start(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    out.spindle.phi_start_deg = Some(v);
    Ok(())
}

/// `-osc` (deg), and the φ step with it where the scene gave one.
pub(super) fn osc(out: &mut Scene, setup: &Setup, v: f64) -> Result<()> {
    out.spindle.osc_deg = Some(v);
    if out.spindle.phi_step_deg.is_some() {
        out.spindle.phi_step_deg = Some(v / setup.crystal.phi_steps.max(1) as f64);
    }
    Ok(())
}

/// `-mosaic` (deg).
pub(super) fn mosaic(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    out.crystal.mosaic_spread_deg = Some(v);
    Ok(())
}

/// `-Na`/`-Nb`/`-Nc` (entry `I`); the crystal size along that axis no longer overrides it.
pub(super) fn n_cells<const I: usize>(out: &mut Scene, setup: &Setup, v: f64) -> Result<()> {
    let mut n = out.crystal.n_cells.unwrap_or(setup.crystal.n_cells);
    n[I] = v;
    out.crystal.n_cells = Some(n);
    out.crystal.sample_size_mm[I] = 0.0;
    Ok(())
}

/// Writers of a scene field that is one `Option<f64>`.
macro_rules! plain_writers {
    ($($(#[$doc:meta])* $name:ident => $($path:ident).+;)*) => {$(
        $(#[$doc])*
        pub(super) fn $name(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
            out.$($path).+ = Some(v);
            Ok(())
        }
    )*};
}

plain_writers! {
    /// `-distance` (mm).
    distance => detector.distance_mm;
    /// `-Xbeam` (mm).
    xbeam => detector.xbeam_mm;
    /// `-Ybeam` (mm).
    ybeam => detector.ybeam_mm;
    /// `-twotheta` (deg).
    twotheta => detector.twotheta_deg;
    /// `-pixel` (mm).
    pixel => detector.pixel_mm;
    /// `-lambda` (Å).
    wavelength => beam.wavelength_a;
    /// `-dispersion` (percent).
    dispersion => beam.dispersion_percent;
    /// `-polar`.
    polarization => beam.polarization_k;
    /// `-water` (µm).
    water => sampling.water_um;
    /// `-detector_thick` (µm).
    thickness => detector.thick_um;
    /// `-default_F`.
    default_f => structure.default_f;
    /// `-detector_abs` (µm).
    abs_depth => detector.abs_depth_um;
}

/// `-detector_rotx/y/z` (entry `I`, deg).
pub(super) fn rot<const I: usize>(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    let d = &mut out.detector;
    *[&mut d.rotx_deg, &mut d.roty_deg, &mut d.rotz_deg][I] = Some(v);
    Ok(())
}

/// `-fluence` (photons/m²), replacing a flux-based fluence.
pub(super) fn fluence(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    out.beam.fluence = Some(v);
    out.beam.flux = None;
    Ok(())
}

/// `-panel_shift`'s entry `I` (mm).
pub(super) fn panel_shift<const I: usize>(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    out.detector.panel_shift_mm.get_or_insert([0.0; 3])[I] = v;
    Ok(())
}

/// `-panel_rot`'s entry `I` (deg).
pub(super) fn panel_rot<const I: usize>(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    out.detector.panel_rot_deg.get_or_insert([0.0; 3])[I] = v;
    Ok(())
}

/// `-group_rot`'s entry `I` (deg).
pub(super) fn group_rot<const I: usize>(out: &mut Scene, _: &Setup, v: f64) -> Result<()> {
    out.detector.group_rot_deg.get_or_insert([0.0; 3])[I] = v;
    Ok(())
}
