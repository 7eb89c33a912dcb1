//! Autodiff against Richardson-extrapolated finite differences (nanobragg-parity's gradcheck),
//! one parameter at a time, at f64 on NdArray: the checks of `tests/gradients_f64.rs` and the
//! lattice-shape scenes of `tests/gradients_awkward_f64.rs`.

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName;
use nanobragg::{RenderOptions, Simulator};
use nanobragg_parity::{evaluate, ComponentReport, GradcheckConfig, ParamSet, AD};

use super::simulator_with;

/// The f64 backend of the checks.
pub type B = NdArray<f64>;

/// Relative error bound of a passing component.
pub const MAX_REL_ERROR: f64 = 1e-6;
/// A component may be excluded when its Richardson error estimate exceeds this × |FD|.
pub const EXCLUSION_ESTIMATE: f64 = 1e-7;

/// One checked component.
#[derive(Debug, Clone)]
pub struct Row {
    pub param: ParamName,
    pub analytic: f64,
    pub numeric: f64,
    pub rel_error: f64,
    pub richardson_error: f64,
    /// Base step `h` of the finite difference kept.
    pub step: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Excluded,
    Fail,
}

impl Row {
    /// Pass: relative error ≤ [`MAX_REL_ERROR`] and a non-zero FD; excluded: the FD cannot
    /// judge (its Richardson estimate exceeds [`EXCLUSION_ESTIMATE`]·|FD|); else fail.
    pub fn outcome(&self) -> Outcome {
        if !self.analytic.is_finite() || !self.numeric.is_finite() || self.numeric == 0.0 {
            Outcome::Fail
        } else if self.rel_error <= MAX_REL_ERROR {
            Outcome::Pass
        } else if self.richardson_error > EXCLUSION_ESTIMATE * self.numeric.abs() {
            Outcome::Excluded
        } else {
            Outcome::Fail
        }
    }
}

impl std::fmt::Display for Row {
    /// The row as the suites print it: parameter, both derivatives, errors, step and outcome.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>20} analytic {:+.10e} numeric {:+.10e} rel {:.2e} richardson {:.2e} ({:.1e}·|FD|) h {:.1e} {:?}",
            self.param.name(),
            self.analytic,
            self.numeric,
            self.rel_error,
            self.richardson_error,
            self.richardson_error / self.numeric.abs(),
            self.step,
            self.outcome()
        )
    }
}

/// Finite-difference steps tried for every component, as `(relative, absolute)`: the base step
/// at `x` is `max(absolute, relative·|x|)` (before power-of-two rounding). Parameters differ in how fast the image changes
/// with them (a 1e-3 mm change of a 0.1 mm pixel moves the detector edge by a spot width),
/// so no single step suits all.
pub const STEPS: [(f64, f64); 3] = [(1e-4, 1e-3), (1e-5, 1e-4), (1e-6, 1e-5)];

/// The gradcheck of `name` on `sim` (image reduced by the gradcheck's random projection, or
/// summed when `sum`) with each of the [`STEPS`]; the component whose finite difference has the
/// smallest own error estimate (Richardson + round-off, never the distance to the autodiff
/// value) is kept.
pub fn best_component(sim: &mut Simulator<AD<B>>, name: ParamName, sum: bool) -> ComponentReport {
    let device = NdArrayDevice::Cpu;
    let value = sim.param_value(name).unwrap();
    let params = ParamSet::new().scalar(name.name(), value);
    let sim = &*sim;
    STEPS
        .iter()
        .map(|&(rel, abs)| {
            let config = GradcheckConfig::new().rel_step(rel).abs_step(abs).rtol(1e-6).atol(1e-12);
            let report = evaluate::<B, 1, _>(&device, &params, &config, |p| {
                let pr = sim.params_with(name, p[name.name()].clone()).unwrap();
                let image = sim.image_tensor_with(&pr).unwrap();
                assert_eq!(image.dtype(), DType::F64, "f64 suite renders at f64");
                if sum {
                    image.sum()
                } else {
                    image
                }
            })
            .unwrap();
            assert_eq!(report.dtype, DType::F64);
            report.components[0].clone()
        })
        .min_by(|a, b| {
            let rel = |c: &ComponentReport| c.error_estimate / c.numeric.abs().max(f64::MIN_POSITIVE);
            rel(a).total_cmp(&rel(b))
        })
        .expect("at least one step")
}

/// Autodiff vs Richardson FD for each parameter of `args` rendered with `options` (see
/// [`best_component`]).
pub fn check_scene(args: &str, names: &[ParamName], options: RenderOptions) -> Vec<Row> {
    check_simulator(simulator_with::<AD<B>>(args, &NdArrayDevice::Cpu, options), names)
}

/// Autodiff vs Richardson FD for each parameter of `sim` (see [`best_component`]).
pub fn check_simulator(mut sim: Simulator<AD<B>>, names: &[ParamName]) -> Vec<Row> {
    names
        .iter()
        .map(|&name| {
            let best = best_component(&mut sim, name, false);
            Row {
                param: name,
                analytic: best.analytic,
                numeric: best.numeric,
                rel_error: best.rel_error,
                richardson_error: best.richardson_error,
                step: best.step,
            }
        })
        .collect()
}
