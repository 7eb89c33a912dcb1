//! The rows of the parameter registry, in `-h` order (the order of [`ParamName`]).

use super::scene as w;
use super::{Domain, ParamName, Parameter, Step, ToInternal};
use crate::params::Field;
use crate::units::{Linear, ANGSTROM, DEGREE, MICROMETRE, MILLIMETRE, PERCENT};

const FROM_MAT: &str = "the cell comes from -mat; give -cell to refine cell parameters";
const DEG_STEP: Step = Step::Absolute(1e-3);

/// Where a refined value goes in the scene ([`Parameter::write_scene`]).
type Writer = fn(&mut crate::scene::Scene, &crate::setup::Setup, f64) -> crate::error::Result<()>;

/// A row with the defaults most rows share: always available, any value, `1e-4` relative step
/// (floor 1e-6); `write` puts a refined value back into the scene.
const fn row(name: ParamName, key: &'static str, unit: &'static str, flag: &'static str, field: Field, write: Writer) -> Parameter {
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
        write_scene: write,
    }
}

/// A cell length (from `-cell`).
const fn length(name: ParamName, key: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        unavailable: FROM_MAT,
        step: Step::Relative { floor: 1e-4 },
        domain: Domain::Positive,
        ..row(name, key, "Å", "-cell", Field::CellLength(i), write)
    }
}

/// An angle in degrees.
const fn degrees(name: ParamName, key: &'static str, flag: &'static str, field: Field, write: Writer) -> Parameter {
    Parameter {
        to_internal: ToInternal::Linear(DEGREE),
        step: DEG_STEP,
        ..row(name, key, "deg", flag, field, write)
    }
}

/// A cell angle (from `-cell`): an angle in degrees, inside (0°, 180°).
const fn angle(name: ParamName, key: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        unavailable: FROM_MAT,
        domain: Domain::OpenAngle,
        ..degrees(name, key, "-cell", Field::CellAngle(i), write)
    }
}

/// Cells along one axis.
const fn cells(name: ParamName, key: &'static str, flag: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        domain: Domain::Positive,
        ..row(name, key, "cells", flag, Field::NCells(i), write)
    }
}

/// A beam-centre coordinate (mm), when given explicitly.
const fn beam_centre(name: ParamName, key: &'static str, unit: &'static str, flag: &'static str, field: Field, write: Writer) -> Parameter {
    Parameter {
        to_internal: ToInternal::Linear(MILLIMETRE),
        unavailable: "give the beam centre explicitly (-Xbeam/-Ybeam) to refine it",
        step: Step::Absolute(1e-3),
        ..row(name, key, unit, flag, field, write)
    }
}

/// A lab-frame translation of the detector / panel (mm).
const fn panel_shift(name: ParamName, key: &'static str, i: usize, write: Writer) -> Parameter {
    Parameter {
        to_internal: ToInternal::Linear(MILLIMETRE),
        step: Step::Absolute(1e-3),
        ..row(name, key, "mm", "-panel_shift", Field::PanelShift(i), write)
    }
}

/// Every differentiable parameter.
pub static PARAMETERS: [Parameter; 40] = {
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
            ..row(DistanceMm, "distance_mm", "mm", "-distance", Distance, w::distance)
        },
        beam_centre(BeamCenterS, "beam_center_s", "mm", "-Xbeam", XBeam, w::xbeam),
        beam_centre(BeamCenterF, "beam_center_f", "mm", "-Ybeam", YBeam, w::ybeam),
        degrees(DetectorRotx, "detector_rotx", "-detector_rotx", Rotation(0), w::rot::<0>),
        degrees(DetectorRoty, "detector_roty", "-detector_roty", Rotation(1), w::rot::<1>),
        degrees(DetectorRotz, "detector_rotz", "-detector_rotz", Rotation(2), w::rot::<2>),
        degrees(DetectorTwotheta, "detector_twotheta", "-twotheta", Twotheta, w::twotheta),
        panel_shift(PanelShiftX, "panel_shift_x", 0, w::panel_shift::<0>),
        panel_shift(PanelShiftY, "panel_shift_y", 1, w::panel_shift::<1>),
        panel_shift(PanelShiftZ, "panel_shift_z", 2, w::panel_shift::<2>),
        degrees(PanelRotF, "panel_rot_f", "-panel_rot", PanelRotation(0), w::panel_rot::<0>),
        degrees(PanelRotS, "panel_rot_s", "-panel_rot", PanelRotation(1), w::panel_rot::<1>),
        degrees(PanelRotO, "panel_rot_o", "-panel_rot", PanelRotation(2), w::panel_rot::<2>),
        degrees(GroupRotF, "group_rot_f", "-group_rot", GroupRotation(0), w::group_rot::<0>),
        degrees(GroupRotS, "group_rot_s", "-group_rot", GroupRotation(1), w::group_rot::<1>),
        degrees(GroupRotO, "group_rot_o", "-group_rot", GroupRotation(2), w::group_rot::<2>),
        Parameter {
            to_internal: ToInternal::Linear(MILLIMETRE),
            step: Step::Absolute(1e-6),
            domain: Domain::Positive,
            ..row(PixelSizeMm, "pixel_size_mm", "mm", "-pixel", Pixel, w::pixel)
        },
        Parameter {
            to_internal: ToInternal::Linear(ANGSTROM),
            step: Step::Relative { floor: 1e-7 },
            domain: Domain::Positive,
            ..row(WavelengthA, "wavelength_a", "Å", "-lambda", Wavelength, w::wavelength)
        },
        Parameter {
            to_internal: ToInternal::Linear(PERCENT),
            ..row(ParamName::Dispersion, "dispersion", "percent", "-dispersion", Field::Dispersion, w::dispersion)
        },
        Parameter {
            domain: Domain::Positive,
            ..row(ParamName::Fluence, "fluence", "photons/m²", "-fluence", Field::Fluence, w::fluence)
        },
        row(ParamName::PolarizationK, "polarization_k", "Kahn factor", "-polar", Field::PolarizationK, w::polarization),
        Parameter {
            to_internal: ToInternal::Linear(MICROMETRE),
            ..row(WaterUm, "water_um", "µm", "-water", Water, w::water)
        },
        Parameter {
            to_internal: ToInternal::Reciprocal(MICROMETRE),
            unavailable: "absorption is off (give -detector_abs <um> and -detector_thick <um>)",
            ..row(DetectorMu, "detector_abs_um", "µm", "-detector_abs", Mu, w::abs_depth)
        },
        Parameter {
            to_internal: ToInternal::Linear(MICROMETRE),
            ..row(DetectorThicknessUm, "detector_thick_um", "µm", "-detector_thick", Thickness, w::thickness)
        },
        row(ParamName::DefaultF, "default_f", "F units", "-default_F", Field::DefaultF, w::default_f),
    ]
};
