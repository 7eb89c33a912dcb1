//! Beam: central wavelength, sources (a source file or the divergence × dispersion grid),
//! polarization and fluence.

use std::path::Path;

use super::header::HeaderDefaults;
use super::resolve_path;
use super::steps::auto_steps;
use super::{Axes, DetectorSetup};
use crate::error::{NanobraggError, Result};
use crate::io;
use crate::linalg::{cross_f64, rotate_axis_f64, unit_f64};
use crate::scene::{BeamScene, Scene};
use crate::units::{self, DEFAULT_FLUENCE, SOURCE_DISTANCE_M};

/// One incident-beam source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// Unit vector from the sample towards the source (the incident direction is its negative).
    pub direction: [f64; 3],
    /// Wavelength rule: λ = `fixed_m` + `scale`·λ0·(1 + dispersion·`disp_coeff`).
    pub fixed_m: f64,
    /// Multiplier of λ0 (1 for generated sources, 0 for file wavelengths).
    pub scale: f64,
    /// Coefficient of the dispersion fraction.
    pub disp_coeff: f64,
}

/// Resolved beam (SI units).
#[derive(Debug, Clone, PartialEq)]
pub struct BeamSetup {
    /// Central wavelength λ0 (m).
    pub wavelength_m: f64,
    /// Dispersion Δλ/λ (fraction).
    pub dispersion: f64,
    /// The sources, in the C program's loop order.
    pub sources: Vec<Source>,
    /// Kahn factor.
    pub polarization_k: f64,
    /// Polarization forced to 1 (initial value; see `docs/parity.md`).
    pub nopolar: bool,
    /// Fluence (photons/m²).
    pub fluence: f64,
    /// Number of accepted divergence points (for reporting).
    pub div_points: usize,
}

/// Central wavelength λ0 (m): `-lambda` (Å), else the `-img`/`-mask` header's WAVELENGTH (Å),
/// else 1 Å.
pub(super) fn resolve_wavelength(scene: &Scene, hdr: &HeaderDefaults) -> f64 {
    units::angstrom(
        scene
            .beam
            .wavelength_a
            .or(hdr.wavelength_a)
            .unwrap_or(1.0),
    )
}

/// Beam size (m): `-beamsize` (mm), default 0.1 mm. It clips the sample's height and width and,
/// with a flux, sets the fluence.
pub(super) fn beamsize_m(b: &BeamScene) -> f64 {
    b.beamsize_mm.map(units::mm).unwrap_or(1e-4)
}

/// Resolve the beam (SI units): dispersion (percent → fraction) and its steps, the sources in
/// the C program's loop order, polarization and fluence. Source directions point from the
/// sample towards the source, in the lab frame of the detector's (convention) axes.
pub(super) fn resolve_beam(
    scene: &Scene,
    det: &DetectorSetup,
    wavelength_m: f64,
    base_dir: &Path,
) -> Result<BeamSetup> {
    let b = &scene.beam;
    let beam = det.axes.beam;
    let far = [
        -SOURCE_DISTANCE_M * beam[0],
        -SOURCE_DISTANCE_M * beam[1],
        -SOURCE_DISTANCE_M * beam[2],
    ];
    let dispersion_in = units::percent(b.dispersion_percent.unwrap_or(0.0));
    let disp = auto_steps(b.disp_steps.unwrap_or(-1), dispersion_in, -1.0, 1.0);
    let (sources, div_points) = match &b.source_file {
        Some(p) => {
            let sources = file_sources(&resolve_path(base_dir, p), far)?;
            let div_points = sources.len();
            (sources, div_points)
        }
        None => divergence_sources(b, &det.axes, far, disp)?,
    };
    if sources.is_empty() {
        return Err(NanobraggError::Scene("no sources (divergence trimming removed every point)".into()));
    }
    Ok(BeamSetup {
        wavelength_m,
        dispersion: disp.1,
        sources,
        polarization_k: b.polarization_k.unwrap_or(0.0),
        nopolar: b.nopolar,
        fluence: resolve_fluence(b),
        div_points,
    })
}

/// Sources from a `-sourcefile`: each row's position (m; missing coordinates from `far`, the
/// default source point) as a unit direction, and its wavelength (m) fixed when given, else λ0.
fn file_sources(path: &Path, far: [f64; 3]) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    for row in io::sourcefile::read_sourcefile(path)? {
        let pos = [
            row.x.unwrap_or(far[0]),
            row.y.unwrap_or(far[1]),
            row.z.unwrap_or(far[2]),
        ];
        let direction = unit_f64(pos);
        let (fixed_m, scale) = match row.lambda {
            Some(l) => (l, 0.0),
            None => (0.0, 1.0),
        };
        sources.push(Source {
            direction,
            fixed_m,
            scale,
            disp_coeff: 0.0,
        });
    }
    Ok(sources)
}

/// Sources from the divergence grid (mrad → rad; [`auto_steps`] per axis) × the dispersion
/// steps `disp` = (steps, Δλ/λ, step): `far` rotated by the vertical offset about the
/// polarization axis, then by the horizontal offset about beam × polarization, the grid trimmed
/// to an ellipse unless `-square_div`. Returns the sources and the accepted divergence points;
/// refuses more than [`crate::validate::MAX_SOURCES`].
fn divergence_sources(
    b: &BeamScene,
    axes: &Axes,
    far: [f64; 3],
    disp: (usize, f64, f64),
) -> Result<(Vec<Source>, usize)> {
    let (disp_steps, dispersion, disp_step) = disp;
    let h = auto_steps(
        b.hdiv_steps.unwrap_or(-1),
        b.hdiv_range_mrad.map(units::mrad).unwrap_or(-1.0),
        b.hdiv_step_mrad.map(units::mrad).unwrap_or(-1.0),
        1.0,
    );
    let v = auto_steps(
        b.vdiv_steps.unwrap_or(-1),
        b.vdiv_range_mrad.map(units::mrad).unwrap_or(-1.0),
        b.vdiv_step_mrad.map(units::mrad).unwrap_or(-1.0),
        1.0,
    );
    let round = b.round_div.unwrap_or(true);
    check_source_count(h.0, v.0, disp_steps)?;
    let polar = axes.polar;
    let vert = unit_f64(cross_f64(axes.beam, polar));
    let mut sources = Vec::new();
    let mut div_points = 0;
    for ih in 0..h.0 {
        for iv in 0..v.0 {
            let hdiv = grid_offset(ih, h);
            let vdiv = grid_offset(iv, v);
            let test = ellipse_term(hdiv, h) + ellipse_term(vdiv, v);
            if round && test * 4.0 > 1.1 {
                continue;
            }
            div_points += 1;
            let rotated = rotate_axis_f64(rotate_axis_f64(far, polar, vdiv), vert, hdiv);
            let direction = unit_f64(rotated);
            for id in 0..disp_steps {
                // λ = λ0·(1 + dispstep·i − dispersion/2), with dispstep a multiple of dispersion.
                let disp_coeff = if dispersion > 0.0 {
                    disp_step / dispersion * id as f64 - 0.5
                } else {
                    0.0
                };
                sources.push(Source {
                    direction,
                    fixed_m: 0.0,
                    scale: 1.0,
                    disp_coeff,
                });
            }
        }
    }
    Ok((sources, div_points))
}

/// The `i`-th divergence offset (rad) on a sweep (steps, range rad, step rad), centred on 0:
/// `step·i − range/2`.
fn grid_offset(i: usize, sweep: (usize, f64, f64)) -> f64 {
    let (_, range, step) = sweep;
    step * i as f64 - range / 2.0
}

/// One axis's term of the round-divergence test, for an offset (rad) on a sweep
/// (steps, range rad, step rad): `(offset² − step²/4·[steps even]) / range²`; a point is kept
/// when the two axes' terms sum to at most 1.1/4.
fn ellipse_term(offset: f64, sweep: (usize, f64, f64)) -> f64 {
    let (n, range, step) = sweep;
    (offset * offset - step * step / 4.0 * (1 - n as i64 % 2) as f64) / range / range
}

/// Refuses a divergence × dispersion grid of more than [`crate::validate::MAX_SOURCES`] sources.
fn check_source_count(hsteps: usize, vsteps: usize, disp_steps: usize) -> Result<()> {
    let count = hsteps.saturating_mul(vsteps).saturating_mul(disp_steps);
    if count > crate::validate::MAX_SOURCES {
        return Err(NanobraggError::Invalid {
            input: "-hdivsteps/-vdivsteps/-dispsteps".into(),
            problem: format!(
                "{} x {} divergence x {disp_steps} dispersion steps, more than {} sources",
                hsteps,
                vsteps,
                crate::validate::MAX_SOURCES
            ),
        });
    }
    Ok(())
}

/// Fluence (photons/m²): `-fluence` (default [`DEFAULT_FLUENCE`]), replaced by
/// flux (photons/s) × exposure (s) / beam size² (m²) when a flux is given.
fn resolve_fluence(b: &BeamScene) -> f64 {
    let mut fluence = b.fluence.unwrap_or(DEFAULT_FLUENCE);
    let flux = b.flux.unwrap_or(0.0);
    let exposure = b.exposure_s.unwrap_or(1.0);
    let beamsize = beamsize_m(b);
    if flux != 0.0 && exposure > 0.0 && beamsize >= 0.0 {
        fluence = flux * exposure / beamsize / beamsize;
    }
    fluence
}
