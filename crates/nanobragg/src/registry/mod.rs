//! The parameter registry: one row per differentiable parameter ([`PARAMETERS`]), holding
//! everything known about it — the name a user types, the unit, the nanoBragg flag that sets
//! it, the [`Params`](crate::params::Params) tensor it is, the user ↔ internal map, the default
//! finite-difference / refinement step, the values a scene accepts, and where a refined value
//! is written back into a [`Scene`]. [`crate::gradients`], the `nanobragg-refine` crate
//! (variables, steps, domains, export to a scene), the CLI's `grad`/`refine` help and the table
//! of `docs/gradients.md` (checked by a test) read it.

mod scene;
mod table;

use std::fmt;
use std::str::FromStr;

use burn::tensor::{backend::Backend, Tensor};

use crate::error::{NanobraggError, Result};
use crate::params::Field;
use crate::scene::Scene;
use crate::setup::Setup;
use crate::units::Linear;

pub use table::PARAMETERS;

/// A differentiable scalar input, named as on the `nanobragg grad -wrt` command line
/// ([`Parameter::key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ParamName {
    CellA,
    CellB,
    CellC,
    CellAlpha,
    CellBeta,
    CellGamma,
    MissetX,
    MissetY,
    MissetZ,
    PhiStart,
    OscRange,
    MosaicSpread,
    NA,
    NB,
    NC,
    DistanceMm,
    BeamCenterS,
    BeamCenterF,
    DetectorRotx,
    DetectorRoty,
    DetectorRotz,
    DetectorTwotheta,
    PanelShiftX,
    PanelShiftY,
    PanelShiftZ,
    PanelRotF,
    PanelRotS,
    PanelRotO,
    GroupRotF,
    GroupRotS,
    GroupRotO,
    PixelSizeMm,
    WavelengthA,
    Dispersion,
    Fluence,
    PolarizationK,
    WaterUm,
    DetectorMu,
    DetectorThicknessUm,
    DefaultF,
}

/// Everything known about one differentiable parameter.
#[derive(Debug, Clone, Copy)]
pub struct Parameter {
    /// Which parameter.
    pub name: ParamName,
    /// The name a user types (`-wrt cell_a`, `-refine cell_a`).
    pub key: &'static str,
    /// The unit of the value and of the derivative's denominator.
    pub unit: &'static str,
    /// The nanoBragg flag that sets it.
    pub flag: &'static str,
    /// The [`Params`](crate::params::Params) tensor it is.
    pub field: Field,
    /// How the tensor's internal value (SI, radians) follows from the user's value.
    pub to_internal: ToInternal,
    /// Why a scene may not have it as a free input (when [`Field`] is unavailable).
    pub unavailable: &'static str,
    /// Default finite-difference / refinement step, in the user unit.
    pub step: Step,
    /// The values a scene accepts.
    pub domain: Domain,
    /// Write a value (user unit) into the scene field it comes from; the resolved setup
    /// supplies fields the scene left to defaults. A value the scene cannot take (a cell
    /// parameter of a cell from `-mat`) is a [`NanobraggError::Scene`] error.
    pub write_scene: fn(&mut Scene, &Setup, f64) -> Result<()>,
}

/// How a parameter's internal value follows from the user's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ToInternal {
    /// `internal = unit.to_si(user)`.
    Linear(Linear),
    /// `internal = unit.to_si(user) / steps`: the φ step from the oscillation range, `steps`
    /// being φ steps per oscillation of the scene.
    PerPhiStep(Linear),
    /// `internal = 1 / unit.to_si(user)`: the attenuation depth L gives μ = 1/L.
    Reciprocal(Linear),
}

impl ToInternal {
    /// The user value of an internal value (`steps`: see [`ToInternal::PerPhiStep`]).
    pub fn user(self, internal: f64, steps: f64) -> f64 {
        match self {
            ToInternal::Linear(u) => u.from_si(internal),
            ToInternal::PerPhiStep(u) => u.from_si(internal * steps),
            ToInternal::Reciprocal(u) => u.from_si(1.0 / internal),
        }
    }

    /// `d(internal)/d(user)` at `user`.
    pub fn derivative(self, user: f64, steps: f64) -> f64 {
        match self {
            ToInternal::Linear(u) => u.derivative(),
            ToInternal::PerPhiStep(u) => u.derivative() / steps,
            ToInternal::Reciprocal(u) => -u.derivative() / (u.to_si(user) * u.to_si(user)),
        }
    }

    /// The internal tensor of a user-value tensor, as tensor ops (gradients reach `user`).
    pub fn apply<B: Backend>(self, user: Tensor<B, 1>, steps: f64) -> Tensor<B, 1> {
        match self {
            ToInternal::Linear(u) => u.to_si_tensor(user),
            ToInternal::PerPhiStep(u) => crate::linalg::div_exact(u.to_si_tensor(user), steps),
            ToInternal::Reciprocal(u) => u.to_si_tensor(user).recip(),
        }
    }
}

/// A default step in the user unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// A fixed step.
    Absolute(f64),
    /// `1e-4·|value|`, at least `floor`.
    Relative {
        /// Smallest step.
        floor: f64,
    },
}

impl Step {
    /// The step at `value`.
    pub fn at(self, value: f64) -> f64 {
        match self {
            Step::Absolute(s) => s,
            Step::Relative { floor } => (value.abs() * 1e-4).max(floor),
        }
    }
}

/// The values a scene accepts for a parameter (see [`crate::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Any finite value.
    Any,
    /// Greater than zero.
    Positive,
    /// An angle strictly between 0° and 180°.
    OpenAngle,
}

impl Domain {
    /// Whether `value` is inside.
    pub fn admits(self, value: f64) -> bool {
        match self {
            Domain::Any => true,
            Domain::Positive => value > 0.0,
            Domain::OpenAngle => value > 0.0 && value < 180.0,
        }
    }
}

impl ParamName {
    /// The parameter's row of [`PARAMETERS`].
    pub fn info(self) -> &'static Parameter {
        &PARAMETERS[self as usize]
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        self.info().key
    }

    /// The unit of the value and of the derivative's denominator.
    pub fn unit(self) -> &'static str {
        self.info().unit
    }

    /// Every parameter, in `-h` order.
    pub fn all() -> impl Iterator<Item = ParamName> {
        PARAMETERS.iter().map(|p| p.name)
    }
}

impl fmt::Display for ParamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ParamName {
    type Err = NanobraggError;
    fn from_str(s: &str) -> Result<Self> {
        PARAMETERS.iter().find(|p| p.key == s).map(|p| p.name).ok_or_else(|| {
            NanobraggError::Scene(format!(
                "unknown parameter '{s}' (known: {})",
                PARAMETERS.iter().map(|p| p.key).collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_enum_order_with_unique_keys() {
        for (i, p) in PARAMETERS.iter().enumerate() {
            assert_eq!(p.name as usize, i, "{} is out of order", p.key);
            assert_eq!(p.key.parse::<ParamName>().unwrap(), p.name);
        }
    }

    /// docs/gradients.md's parameter table lists every parameter of the registry with its unit,
    /// and nothing else.
    #[test]
    fn the_gradients_doc_table_lists_the_registry() {
        let doc = include_str!("../../../../docs/gradients.md");
        let mut listed = Vec::new();
        for line in doc.lines().skip_while(|l| !l.starts_with("| name | unit |")).skip(2) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 3 {
                break;
            }
            for key in cells[1].split(',').map(str::trim) {
                listed.push((key.to_string(), cells[2].to_string()));
            }
        }
        let want: Vec<(String, String)> = PARAMETERS.iter().map(|p| (p.key.to_string(), p.unit.to_string())).collect();
        assert_eq!(listed, want, "docs/gradients.md's table differs from the registry");
    }

    #[test]
    fn maps_invert_and_match_the_units_module() {
        let steps = 3.0;
        for p in &PARAMETERS {
            let user = 7.25;
            let internal = p.to_internal.apply(crate::linalg::scalar::<burn_ndarray::NdArray<f64>>(user, &Default::default()), steps);
            let internal = crate::linalg::to_f64(&internal);
            let back = p.to_internal.user(internal, steps);
            assert!((back - user).abs() <= 1e-12 * user, "{}: {user} -> {internal} -> {back}", p.key);
            let h = 1e-6;
            let up = p.to_internal.apply(crate::linalg::scalar::<burn_ndarray::NdArray<f64>>(user + h, &Default::default()), steps);
            let down = p.to_internal.apply(crate::linalg::scalar::<burn_ndarray::NdArray<f64>>(user - h, &Default::default()), steps);
            let fd = (crate::linalg::to_f64(&up) - crate::linalg::to_f64(&down)) / (2.0 * h);
            let d = p.to_internal.derivative(user, steps);
            assert!((fd - d).abs() <= 1e-6 * d.abs(), "{}: derivative {d} vs {fd}", p.key);
        }
    }
}
