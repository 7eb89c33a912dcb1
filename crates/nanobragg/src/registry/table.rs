//! The rows of the parameter registry, in `-h` order (the order of [`ParamName`]).

use super::scene as w;
use super::{Domain, ParamName, Parameter, Step, ToInternal};
use crate::params::Field;
use crate::units::{Linear, ANGSTROM, DEGREE, MICROMETRE, MILLIMETRE, PERCENT};

const FROM_MAT: &str = "the cell comes from -mat; give -cell to refine cell parameters";
const DEG_STEP: Step = Step::Absolute(1e-3);

/// A row with the defaults most rows share: always available, any value, `1e-4` relative step.
const fn row(name: ParamName, key: &'static str, unit: &'static str, flag: &'static str, field: Field) -> Parameter {
    Parameter {
        name,
        key,
        unit,
        flag,
        field,
        to_internal: ToInternal::Linear(Linear::One),
        unavailable: "",
        step: Step::Relative { floor: 1e-6 },
        domain: Domain::Any,
        write_scene: w::nothing,
    }
}

type Writer = fn(&mut crate::scene::Scene, &crate::setup::Setup, f64) -> crate::error::Result<()>;

/// A cell length (from `-cell`).
const fn length(name: ParamName, key: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        unavailable: FROM_MAT,
        step: Step::Relative { floor: 1e-4 },
        domain: Domain::Positive,
        write_scene: write,
        ..row(name, key, "Å", "-cell", Field::CellLength(i))
    }
}

/// A cell angle (from `-cell`).
const fn angle(name: ParamName, key: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        to_internal: ToInternal::Linear(DEGREE),
        unavailable: FROM_MAT,
        step: DEG_STEP,
        domain: Domain::OpenAngle,
        write_scene: write,
        ..row(name, key, "deg", "-cell", Field::CellAngle(i))
    }
}

/// An angle in degrees.
const fn degrees(name: ParamName, key: &'static str, flag: &'static str, field: Field, write: Writer) -> Parameter {
    Parameter {
        to_internal: ToInternal::Linear(DEGREE),
        step: DEG_STEP,
        write_scene: write,
        ..row(name, key, "deg", flag, field)
    }
}

/// Cells along one axis.
const fn cells(name: ParamName, key: &'static str, flag: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        domain: Domain::Positive,
        write_scene: write,
        ..row(name, key, "cells", flag, Field::NCells(i))
    }
}

/// A beam-centre coordinate (mm), when given explicitly.
const fn beam_centre(name: ParamName, key: &'static str, unit: &'static str, flag: &'static str, field: Field, write: Writer) -> Parameter {
    Parameter {
        to_internal: ToInternal::Linear(MILLIMETRE),
        unavailable: "give the beam centre explicitly (-Xbeam/-Ybeam) to refine it",
        step: Step::Absolute(1e-3),
        write_scene: write,
        ..row(name, key, unit, flag, field)
    }
}

/// Every differentiable parameter.
pub static PARAMETERS: [Parameter; 31] = {
    use Field::*;
    use ParamName::*;
    [
        length(CellA, "cell_a", 0, w::cell::<0>),
        length(CellB, "cell_b", 1, w::cell::<1>),
        length(CellC, "cell_c", 2, w::cell::<2>),
        angle(CellAlpha, "cell_alpha", 0, w::cell::<3>),
        angle(CellBeta, "cell_beta", 1, w::cell::<4>),
        angle(CellGamma, "cell_gamma", 2, w::cell::<5>),
        degrees(MissetX, "misset_x", "-misset", Misset(0), w::misset::<0>),
        degrees(MissetY, "misset_y", "-misset", Misset(1), w::misset::<1>),
        degrees(MissetZ, "misset_z", "-misset", Misset(2), w::misset::<2>),
        degrees(ParamName::PhiStart, "phi_start", "-phi", Field::PhiStart, w::phi_start),
        Parameter { to_internal: ToInternal::PerPhiStep(DEGREE), ..degrees(OscRange, "osc_range", "-osc", PhiStep, w::osc) },
        degrees(ParamName::MosaicSpread, "mosaic_spread", "-mosaic", Field::MosaicSpread, w::mosaic),
        cells(NA, "N_a", "-Na", 0, w::n_cells::<0>),
        cells(NB, "N_b", "-Nb", 1, w::n_cells::<1>),
        cells(NC, "N_c", "-Nc", 2, w::n_cells::<2>),
        Parameter {
            to_internal: ToInternal::Linear(MILLIMETRE),
            unavailable: "the distance is set by -close_distance here",
            step: Step::Absolute(1e-3),
            domain: Domain::Positive,
            write_scene: w::distance,
            ..row(DistanceMm, "distance_mm", "mm", "-distance", Distance)
        },
        beam_centre(BeamCenterS, "beam_center_s", "mm", "-Xbeam", XBeam, w::xbeam),
        beam_centre(BeamCenterF, "beam_center_f", "mm", "-Ybeam", YBeam, w::ybeam),
        degrees(DetectorRotx, "detector_rotx", "-detector_rotx", Rotation(0), w::rot::<0>),
        degrees(DetectorRoty, "detector_roty", "-detector_roty", Rotation(1), w::rot::<1>),
        degrees(DetectorRotz, "detector_rotz", "-detector_rotz", Rotation(2), w::rot::<2>),
        degrees(DetectorTwotheta, "detector_twotheta", "-twotheta", Twotheta, w::twotheta),
        Parameter {
            to_internal: ToInternal::Linear(MILLIMETRE),
            step: Step::Absolute(1e-6),
            domain: Domain::Positive,
            write_scene: w::pixel,
            ..row(PixelSizeMm, "pixel_size_mm", "mm", "-pixel", Pixel)
        },
        Parameter {
            to_internal: ToInternal::Linear(ANGSTROM),
            step: Step::Relative { floor: 1e-7 },
            domain: Domain::Positive,
            write_scene: w::wavelength,
            ..row(WavelengthA, "wavelength_a", "Å", "-lambda", Wavelength)
        },
        Parameter {
            to_internal: ToInternal::Linear(PERCENT),
            write_scene: w::dispersion,
            ..row(ParamName::Dispersion, "dispersion", "percent", "-dispersion", Field::Dispersion)
        },
        Parameter {
            domain: Domain::Positive,
            write_scene: w::fluence,
            ..row(ParamName::Fluence, "fluence", "photons/m²", "-fluence", Field::Fluence)
        },
        Parameter {
            write_scene: w::polarization,
            ..row(ParamName::PolarizationK, "polarization_k", "Kahn factor", "-polar", Field::PolarizationK)
        },
        Parameter {
            to_internal: ToInternal::Linear(MICROMETRE),
            write_scene: w::water,
            ..row(WaterUm, "water_um", "µm", "-water", Water)
        },
        Parameter {
            to_internal: ToInternal::Reciprocal(MICROMETRE),
            unavailable: "absorption is off (give -detector_abs <um> and -detector_thick <um>)",
            write_scene: w::abs_depth,
            ..row(DetectorMu, "detector_abs_um", "µm", "-detector_abs", Mu)
        },
        Parameter {
            to_internal: ToInternal::Linear(MICROMETRE),
            write_scene: w::thickness,
            ..row(DetectorThicknessUm, "detector_thick_um", "µm", "-detector_thick", Thickness)
        },
        Parameter {
            write_scene: w::default_f,
            ..row(ParamName::DefaultF, "default_f", "F units", "-default_F", Field::DefaultF)
        },
    ]
};
