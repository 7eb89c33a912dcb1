//! Crystal: unit cell or A matrix, misset, size (clipped by the beam), mosaic domains and the φ
//! sweep.

use std::path::Path;

use super::beam::beamsize_m;
use super::header::HeaderDefaults;
use super::steps::phi_steps;
use super::{resolve_path, time_seed};
use crate::error::{NanobraggError, Result};
use crate::io;
use crate::scene::{CrystalScene, LatticeShape, Scene, SpindleScene};
use crate::random::rotations::{random_misset, random_misset_line};
use crate::units;

/// Where the unit cell comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CellSource {
    /// Direct cell a, b, c (Å) and α, β, γ (rad).
    Cell([f64; 6]),
    /// MOSFLM A matrix columns a*, b*, c* (Å⁻¹ · λ(Å)), still multiplied by λ.
    Matrix([[f64; 3]; 3]),
    /// Reciprocal vectors a*, b*, c* as columns (Å⁻¹, lab frame), not scaled by λ: a DIALS
    /// crystal's `A = UB` (`crystal.a_matrix_per_a`).
    Reciprocal([[f64; 3]; 3]),
}

/// Resolved crystal.
#[derive(Debug, Clone, PartialEq)]
pub struct CrystalSetup {
    /// Cell or matrix.
    pub cell: CellSource,
    /// Misset X, Y, Z (rad) (after `-misset random` was drawn).
    pub misset_rad: [f64; 3],
    /// Cells along a, b, c as given (before clamping ≥ 1 and crystal-size overrides).
    pub n_cells: [f64; 3],
    /// Crystal widths (m), 0 when not given.
    pub sample_size_m: [f64; 3],
    /// Lattice shape.
    pub shape: LatticeShape,
    /// Shape fudge.
    pub fudge: f64,
    /// Mosaic spread (rad).
    pub mosaic_spread_rad: f64,
    /// Mosaic domain rotation matrices (row-major, new = U·v), domain 0 the identity.
    pub mosaic_umats: Vec<[f64; 9]>,
    /// The same domains as (unit axis, angle ÷ spread): the renderer rebuilds each matrix as a
    /// rotation by `spread · ratio` about the axis, so the spread is differentiable.
    pub mosaic_axes: Vec<([f64; 3], f64)>,
    /// First φ (rad).
    pub phi0_rad: f64,
    /// φ step (rad).
    pub phi_step_rad: f64,
    /// Number of φ steps.
    pub phi_steps: usize,
    /// Oscillation range (rad), for headers.
    pub osc_rad: f64,
}

/// Resolve the crystal (Å and rad for the cell, m for sizes, rad for angles); pushes the C
/// program's warnings in its order (random misset, beam clipping, mosaic domains).
pub(super) fn resolve_crystal(
    scene: &Scene,
    hdr: &HeaderDefaults,
    base_dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<CrystalSetup> {
    let c = &scene.crystal;
    let cell = resolve_cell(c, base_dir)?;
    let misset_rad = resolve_misset(c, warnings);
    let sample_size_m = resolve_sample_size(scene, warnings);
    let mosaic = resolve_mosaic(c, warnings)?;
    let phi = resolve_phi(&scene.spindle, hdr, mosaic.domains)?;
    Ok(CrystalSetup {
        cell,
        misset_rad,
        n_cells: c.n_cells.unwrap_or([1.0; 3]),
        sample_size_m,
        shape: c.shape,
        fudge: c.fudge.unwrap_or(1.0),
        mosaic_spread_rad: mosaic.spread_rad,
        mosaic_umats: mosaic.umats,
        mosaic_axes: mosaic.axes,
        phi0_rad: phi.phi0_rad,
        phi_step_rad: phi.step_rad,
        phi_steps: phi.steps,
        osc_rad: phi.osc_rad,
    })
}

/// The cell: the `-mat` file's reciprocal vectors (Å⁻¹·λ(Å)), or `-cell` a, b, c (Å; b, c
/// default to a) and α, β, γ (deg → rad; non-positive means 90°). Refuses a ≤ 0 and no cell.
fn resolve_cell(c: &CrystalScene, base_dir: &Path) -> Result<CellSource> {
    if let Some(m) = c.a_matrix_per_a {
        Ok(CellSource::Reciprocal(m))
    } else if let Some(p) = &c.mat_file {
        let m = io::matrix::read_mosflm_matrix(&resolve_path(base_dir, p))?;
        Ok(CellSource::Matrix([0, 1, 2].map(|i| [m.a_star[i], m.b_star[i], m.c_star[i]])))
    } else if let Some(cell) = c.cell {
        let a = cell[0];
        if !(a > 0.0) {
            return Err(NanobraggError::Scene("-cell: a must be positive".into()));
        }
        let b = if cell[1] > 0.0 { cell[1] } else { a };
        let cc = if cell[2] > 0.0 { cell[2] } else { a };
        let ang = |x: f64| {
            let r = units::deg(x);
            if r <= 0.0 {
                std::f64::consts::FRAC_PI_2
            } else {
                r
            }
        };
        Ok(CellSource::Cell([a, b, cc, ang(cell[3]), ang(cell[4]), ang(cell[5])]))
    } else {
        Err(NanobraggError::Scene(
            "no unit cell: give -cell a b c alpha beta gamma or -mat file".into(),
        ))
    }
}

/// Misset about X, Y, Z (deg → rad; default 0), or with `-misset random` the angles of a random
/// orientation drawn from `-misset_seed` (default: the time), reported as a warning in degrees.
fn resolve_misset(c: &CrystalScene, warnings: &mut Vec<String>) -> [f64; 3] {
    let mut misset_rad = c
        .misset_deg
        .map(|m| [units::deg(m[0]), units::deg(m[1]), units::deg(m[2])])
        .unwrap_or([0.0; 3]);
    if c.misset_random {
        // C copies the time-based noise seed into misset_seed *before* reading the flags, so
        // without -misset_seed the orientation is time-dependent even when -seed is given.
        let seed = -c.misset_seed.unwrap_or_else(time_seed);
        let (_umat, angles) = random_misset(seed);
        misset_rad = angles;
        warnings.push(random_misset_line(angles));
    }
    misset_rad
}

/// Crystal widths along x, y, z (mm → m; 0 = not given), y and z clipped to the beam size with
/// the C program's warning.
fn resolve_sample_size(scene: &Scene, warnings: &mut Vec<String>) -> [f64; 3] {
    let mut sample = [0.0; 3];
    for (slot, v) in sample.iter_mut().zip(scene.crystal.sample_size_mm) {
        *slot = units::mm(v);
    }
    // Beam size clips the sample (C: beamsize defaults to 0.1 mm and is always applied).
    let beamsize = beamsize_m(&scene.beam);
    if beamsize >= 0.0 {
        for (i, name) in [(1, "high"), (2, "wide")] {
            if beamsize < sample[i] {
                warnings.push(format!(
                    "WARNING: clipping sample ({} m {name}) with beam ({} m)",
                    sample[i], beamsize
                ));
                sample[i] = beamsize;
            }
        }
    }
    sample
}

/// Mosaic spread (rad) and the domains drawn from it.
struct Mosaic {
    spread_rad: f64,
    domains: usize,
    umats: Vec<[f64; 9]>,
    axes: Vec<([f64; 3], f64)>,
}

/// Mosaic domains: spread and count ([`mosaic_count`]), refused above
/// [`crate::validate::MAX_CELLS`], then the rotation matrices and (axis, angle ÷ spread) pairs
/// drawn with `-mosaic_seed` (default 12345678, negated as in C).
fn resolve_mosaic(c: &CrystalScene, warnings: &mut Vec<String>) -> Result<Mosaic> {
    let spread_in = c.mosaic_spread_deg.map(units::deg).unwrap_or(-1.0);
    let (spread, domains) = mosaic_count(spread_in, c.mosaic_domains, warnings);
    if domains > crate::validate::MAX_CELLS {
        return Err(NanobraggError::Invalid {
            input: "-mosaic_dom".into(),
            problem: format!("{domains} domains, more than {}", crate::validate::MAX_CELLS),
        });
    }
    let mosaic_seed = -c.mosaic_seed.unwrap_or(12345678);
    let umats = crate::random::rotations::mosaic_domains(spread, domains, mosaic_seed);
    let axes = crate::random::rotations::mosaic_domain_axes(spread, domains, mosaic_seed)
        .into_iter()
        .map(|(axis, angle)| (axis, if spread > 0.0 { angle / spread } else { 0.0 }))
        .collect();
    Ok(Mosaic {
        spread_rad: spread,
        domains,
        umats,
        axes,
    })
}

/// The C program's (spread rad, domain count) from the spread (rad; < 0: not given) and
/// `-mosaic_dom`: no spread means one domain; a spread without a count means 10 domains; each
/// correction pushes the C program's warning.
fn mosaic_count(spread_in: f64, domains: Option<i64>, warnings: &mut Vec<String>) -> (f64, usize) {
    match domains.filter(|&n| n > 0) {
        None => {
            if spread_in < 0.0 {
                (0.0, 1)
            } else if spread_in == 0.0 {
                (0.0, 1)
            } else {
                warnings.push(
                    "WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains"
                        .into(),
                );
                (spread_in, 10)
            }
        }
        Some(n) => {
            if spread_in < 0.0 {
                warnings.push("WARNING: no mosaic spread specified.  setting mosaic_domains = 1".into());
                (0.0, 1)
            } else if spread_in == 0.0 {
                warnings.push("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1".into());
                (0.0, 1)
            } else {
                (spread_in, n as usize)
            }
        }
    }
}

/// The resolved φ sweep (rad).
struct PhiSweep {
    phi0_rad: f64,
    step_rad: f64,
    steps: usize,
    osc_rad: f64,
}

/// The φ sweep: start φ, oscillation and step (flag, then header; deg → rad), the step count
/// auto-selected by [`phi_steps`]; refuses counts outside 1..=10⁶ and more than
/// [`crate::validate::MAX_CELLS`] orientations (steps × `domains`).
fn resolve_phi(s: &SpindleScene, hdr: &HeaderDefaults, domains: usize) -> Result<PhiSweep> {
    let phi0 = units::deg(s.phi_start_deg.or(hdr.phi_deg).unwrap_or(0.0));
    let osc = s.osc_deg.or(hdr.osc_deg).map(units::deg).unwrap_or(-1.0);
    let step = s.phi_step_deg.map(units::deg).unwrap_or(-1.0);
    let (n, osc, step) = phi_steps(s.phi_steps.unwrap_or(-1), osc, step);
    if n <= 0 || n > 1_000_000 {
        return Err(NanobraggError::Scene(format!("-phisteps: {n} φ steps is not renderable")));
    }
    if (n as usize).saturating_mul(domains) > crate::validate::MAX_CELLS {
        return Err(NanobraggError::Invalid {
            input: "-phisteps/-mosaic_dom".into(),
            problem: format!(
                "{n} φ steps x {domains} mosaic domains, more than {} crystal orientations",
                crate::validate::MAX_CELLS
            ),
        });
    }
    Ok(PhiSweep {
        phi0_rad: phi0,
        step_rad: step,
        steps: n as usize,
        osc_rad: osc,
    })
}
