//! The vectors a convention imposes (beam, detector basis, 2θ, polarization and spindle axes),
//! CUSTOM overrides, normalisation and the checks that they are usable.

use crate::error::{NanobraggError, Result};
use crate::linalg::{cross_f64, unit_f64};
use crate::scene::{Convention, DetectorScene};

/// Basis and beam vectors of a convention (before detector rotations).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axes {
    /// Incident beam direction b.
    pub beam: [f64; 3],
    /// Fast axis f.
    pub fdet: [f64; 3],
    /// Slow axis s.
    pub sdet: [f64; 3],
    /// Detector normal o.
    pub odet: [f64; 3],
    /// 2θ rotation axis.
    pub twotheta: [f64; 3],
    /// Polarization (E-vector) axis p.
    pub polar: [f64; 3],
    /// Spindle axis u.
    pub spindle: [f64; 3],
}

impl Axes {
    /// The vectors a named convention imposes; CUSTOM starts from the C program's initial values.
    pub fn of(convention: Convention) -> Self {
        match convention {
            Convention::Adxv => Axes {
                beam: [0., 0., 1.],
                fdet: [1., 0., 0.],
                sdet: [0., -1., 0.],
                odet: [0., 0., 1.],
                twotheta: [-1., 0., 0.],
                polar: [1., 0., 0.],
                spindle: [1., 0., 0.],
            },
            Convention::Mosflm | Convention::Denzo => Axes {
                beam: [1., 0., 0.],
                fdet: [0., 0., 1.],
                sdet: [0., -1., 0.],
                odet: [1., 0., 0.],
                twotheta: [0., 0., -1.],
                polar: [0., 0., 1.],
                spindle: [0., 0., 1.],
            },
            Convention::Xds => Axes {
                beam: [0., 0., 1.],
                fdet: [1., 0., 0.],
                sdet: [0., 1., 0.],
                odet: [0., 0., 1.],
                twotheta: [1., 0., 0.],
                polar: [1., 0., 0.],
                spindle: [1., 0., 0.],
            },
            Convention::Dials => Axes {
                beam: [0., 0., 1.],
                fdet: [1., 0., 0.],
                sdet: [0., 1., 0.],
                odet: [0., 0., 1.],
                twotheta: [0., 1., 0.],
                polar: [0., 1., 0.],
                spindle: [0., 1., 0.],
            },
            Convention::Custom => Axes {
                beam: [1., 0., 0.],
                fdet: [0., 0., 1.],
                sdet: [0., -1., 0.],
                odet: [1., 0., 0.],
                twotheta: [0., 0., 1.],
                polar: [0., 0., 1.],
                spindle: [0., 0., 1.],
            },
        }
    }
}

/// The convention's axes with `-*_vector`/`-*_axis` overrides (CUSTOM only), as unit vectors in
/// the lab frame (before detector rotations). An odet that is not already of length 1 is
/// replaced by f × s (with the C program's warning); zero or non-finite beam, fast, slow or
/// spindle vectors are refused.
pub(super) fn resolve_axes(d: &DetectorScene, warnings: &mut Vec<String>) -> Result<Axes> {
    let convention = d.convention;
    let mut axes = Axes::of(convention);
    if convention == Convention::Custom {
        let over = |slot: &mut [f64; 3], v: Option<[f64; 3]>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        over(&mut axes.fdet, d.fdet_vector);
        over(&mut axes.sdet, d.sdet_vector);
        over(&mut axes.odet, d.odet_vector);
        over(&mut axes.beam, d.beam_vector);
        over(&mut axes.polar, d.polar_vector);
        over(&mut axes.spindle, d.spindle_axis);
        over(&mut axes.twotheta, d.twotheta_axis);
    }
    axes.beam = unit_f64(axes.beam);
    axes.fdet = unit_f64(axes.fdet);
    axes.sdet = unit_f64(axes.sdet);
    let on = axes.odet;
    let omag = (on[0] * on[0] + on[1] * on[1] + on[2] * on[2]).sqrt();
    if omag != 1.0 {
        warnings.push("WARNING: auto-generating odet_vector".into());
        axes.odet = unit_f64(cross_f64(axes.fdet, axes.sdet));
    }
    axes.polar = unit_f64(axes.polar);
    axes.spindle = unit_f64(axes.spindle);
    for (name, v) in [
        ("-beam_vector", axes.beam),
        ("-fdet_vector", axes.fdet),
        ("-sdet_vector", axes.sdet),
        ("-spindle_axis", axes.spindle),
    ] {
        if v == [0.0, 0.0, 0.0] || v.iter().any(|x| !x.is_finite()) {
            return Err(NanobraggError::Geometry(format!("{name} must be a non-zero vector")));
        }
    }
    Ok(axes)
}
