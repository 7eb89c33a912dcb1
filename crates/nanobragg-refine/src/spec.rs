//! What is refined: a subset of the named parameters (plus, optionally, an overall scale), each
//! with optional bounds, an optional Gaussian restraint and an optional typical step.

use std::fmt;

use nanobragg::gradients::ParamName;
use nanobragg::registry::Step;

/// One refinable quantity: a named scene parameter, the overall scale `s` of the model
/// `μ = s·I + background`, or one structure factor of the F(hkl) grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    /// A scene parameter, in the unit of [`ParamName::unit`].
    Param(ParamName),
    /// The overall scale factor (dimensionless, 1 = the scene's fluence).
    Scale,
    /// The structure factor F(h, k, l) of the grid (gradients from [`nanobragg::structure_factor_gradient`]).
    StructureFactor([i32; 3]),
    /// A scene parameter of some of a joint refinement's images only ([`crate::Layout`]): one
    /// image's own copy ([`Scope::Part`]), or an offset shared by a group of images, added to
    /// each member's own value ([`Scope::Group`]).
    Scoped(Scope, ParamName),
}

/// Which images of a joint refinement a [`Variable::Scoped`] acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Image (part) `i` of the [`crate::Joint`] alone, e.g. one panel.
    Part(u32),
    /// Group `g` of the [`crate::Layout`] (e.g. the panels of one detector module).
    Group(u32),
}

impl Variable {
    /// Name as printed in tables (`cell_a`, …, `scale`, `F(1,-2,3)`).
    pub fn name(self) -> String {
        match self {
            Variable::Param(p) => p.name().to_string(),
            Variable::Scale => "scale".to_string(),
            Variable::StructureFactor([h, k, l]) => format!("F({h},{k},{l})"),
            Variable::Scoped(Scope::Part(i), p) => format!("{}@{i}", p.name()),
            Variable::Scoped(Scope::Group(g), p) => format!("{}@g{g}", p.name()),
        }
    }

    /// Whether `value` (user unit) is a value the scene accepts: lengths, cell counts, the
    /// wavelength, the pixel size, the distance and the fluence stay positive, cell angles in
    /// (0°, 180°) (see [`nanobragg::validate`]). The objective is +∞ outside, so that a refinement
    /// backs off instead of writing a scene the CLI would refuse.
    pub fn admits(self, value: f64) -> bool {
        match self {
            Variable::Param(p) | Variable::Scoped(Scope::Part(_), p) => p.info().domain.admits(value),
            // An offset: each member's own value is checked where it is rendered.
            Variable::Scoped(Scope::Group(_), _) => true,
            Variable::Scale | Variable::StructureFactor(_) => true,
        }
    }

    /// The scene parameter this variable sets (in one image or several), if any.
    pub fn param(self) -> Option<ParamName> {
        match self {
            Variable::Param(p) | Variable::Scoped(_, p) => Some(p),
            Variable::Scale | Variable::StructureFactor(_) => None,
        }
    }

    /// Unit of the value.
    pub fn unit(self) -> &'static str {
        match self {
            Variable::Param(p) | Variable::Scoped(_, p) => p.unit(),
            Variable::Scale => "—",
            Variable::StructureFactor(_) => "F units",
        }
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<ParamName> for Variable {
    fn from(p: ParamName) -> Self {
        Variable::Param(p)
    }
}

/// A Gaussian prior `½((x − mean)/sigma)²` added to the loss (in the variable's unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Restraint {
    /// Restraint target.
    pub mean: f64,
    /// Width (> 0).
    pub sigma: f64,
}

impl Restraint {
    /// The prior's share of the loss at `x`, `½z²` with `z = (x − mean)/sigma`, and its slope
    /// `z/sigma`.
    pub fn value_and_slope(&self, x: f64) -> (f64, f64) {
        let z = (x - self.mean) / self.sigma;
        (0.5 * z * z, z / self.sigma)
    }
}

/// The restraints' share of the loss at `x` (one value per spec, in order), each restraint's
/// slope added to `grad` where given: the one sum behind a single image's, a joint
/// refinement's and an ensemble's restraints.
pub(crate) fn restraint_sum<'a>(specs: impl IntoIterator<Item = &'a ParamSpec>, x: &[f64], mut grad: Option<&mut [f64]>) -> f64 {
    let mut total = 0.0;
    for (i, (spec, &v)) in specs.into_iter().zip(x).enumerate() {
        if let Some(r) = spec.restraint {
            let (value, slope) = r.value_and_slope(v);
            total += value;
            if let Some(g) = grad.as_deref_mut() {
                g[i] += slope;
            }
        }
    }
    total
}

/// How one variable is refined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    /// Which variable.
    pub variable: Variable,
    /// Lower bound (user unit), `-∞` when none.
    pub lower: f64,
    /// Upper bound (user unit), `+∞` when none.
    pub upper: f64,
    /// Gaussian restraint, if any.
    pub restraint: Option<Restraint>,
    /// Typical step (user unit): the unit of the scaled coordinate when
    /// [`crate::Scaling::Typical`] is used, and the base of the finite-difference step of the
    /// Jacobian. `None`: [`default_step`].
    pub step: Option<f64>,
}

impl ParamSpec {
    /// Refine `variable` without bounds, restraint or explicit step.
    pub fn new(variable: impl Into<Variable>) -> Self {
        ParamSpec {
            variable: variable.into(),
            lower: f64::NEG_INFINITY,
            upper: f64::INFINITY,
            restraint: None,
            step: None,
        }
    }

    /// Refine the overall scale, starting at 1. Unbounded: a Poisson loss is infinite for a
    /// non-positive model, which keeps the line search away from `s ≤ 0`.
    pub fn scale() -> Self {
        ParamSpec::new(Variable::Scale)
    }

    /// Keep the value inside `[lower, upper]` (user unit).
    pub fn bounds(mut self, lower: f64, upper: f64) -> Self {
        self.lower = lower;
        self.upper = upper;
        self
    }

    /// Add the Gaussian restraint `½((x − mean)/sigma)²`.
    pub fn restrain(mut self, mean: f64, sigma: f64) -> Self {
        self.restraint = Some(Restraint { mean, sigma });
        self
    }

    /// Set the typical step (user unit).
    pub fn step(mut self, step: f64) -> Self {
        self.step = Some(step);
        self
    }

    /// The typical step: the explicit one or [`default_step`] at `value`.
    pub fn typical_step(&self, value: f64) -> f64 {
        self.step.unwrap_or_else(|| default_step(self.variable, value))
    }
}

/// A default "typical step" per variable, in its user unit: roughly the change that moves a
/// Bragg spot by a small fraction of a pixel on a typical detector, or 1e-4 relative for
/// quantities without a geometric meaning. Used for finite-difference steps and as the fallback
/// scale where the Fisher information of a variable is zero.
pub fn default_step(variable: Variable, value: f64) -> f64 {
    match variable {
        Variable::Scale => Step::Relative { floor: 1e-6 }.at(value),
        Variable::StructureFactor(_) => Step::Relative { floor: 1e-3 }.at(value),
        Variable::Param(p) | Variable::Scoped(_, p) => p.info().step.at(value),
    }
}

#[cfg(test)]
mod domain_tests {
    use super::*;

    #[test]
    fn admits_only_values_the_scene_accepts() {
        let cell_a = Variable::Param(ParamName::CellA);
        assert!(cell_a.admits(1e-3) && !cell_a.admits(0.0) && !cell_a.admits(-5.0));
        let gamma = Variable::Param(ParamName::CellGamma);
        assert!(gamma.admits(120.0) && !gamma.admits(180.0) && !gamma.admits(0.0));
        assert!(Variable::Param(ParamName::MissetX).admits(-400.0));
        assert!(!Variable::Param(ParamName::WavelengthA).admits(0.0));
    }
}
