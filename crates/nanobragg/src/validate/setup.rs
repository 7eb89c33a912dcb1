//! The resolved setup: wavelengths after dispersion, a cell with volume, a regular
//! orientation matrix, finite mosaic rotations, a detector with pixels.

use super::{num, refuse, MAX_PIXELS};
use crate::error::Result;
use crate::setup::{CellSource, Setup};

/// Check a resolved setup (see the [module documentation](crate::validate)).
pub fn check_setup(setup: &Setup) -> Result<()> {
    let det = &setup.detector;
    if det.fpixels == 0 || det.spixels == 0 || det.fpixels.saturating_mul(det.spixels) > MAX_PIXELS {
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
        CellSource::Matrix(m) | CellSource::Reciprocal(m) => {
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
