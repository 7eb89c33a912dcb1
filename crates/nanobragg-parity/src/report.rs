//! Per-component gradcheck report: verdicts, human-readable table, JSON.
//!
//! # Verdict of one component
//!
//! With `err = |analytic - numeric|`, `tol = atol + rtol·|numeric|` and `est` the
//! finite-difference error estimate ([`FdEstimate::error_estimate`](crate::FdEstimate):
//! `|D(h/2) - D(h)|` plus a round-off floor):
//!
//! * **Fail** if the analytic value is not finite, or `err > tol + est`: the disagreement is
//!   larger than anything the finite difference's own error can explain.
//! * **Pass** if `err <= tol` and `est <= tol`: the finite difference is accurate to the
//!   tolerance and agrees.
//! * **IllConditioned** otherwise: the finite difference is too uncertain (`est > tol`, e.g.
//!   round-off swamping the difference in low precision, or strong curvature) to tell whether
//!   `err` is a bug. Tighten or loosen the step, raise the precision, or loosen the tolerance.
//!
//! The overall verdict is the worst component verdict (Fail > IllConditioned > Pass).

use std::fmt;

use burn::tensor::DType;
use serde::{Deserialize, Serialize};

use crate::{config::ResolvedConfig, finite_difference::Scheme};

/// Verdict of a component or of a whole check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Analytic and numeric agree within tolerance, and the numeric value is trustworthy.
    Pass,
    /// The finite difference cannot decide at this tolerance.
    IllConditioned,
    /// Analytic and numeric disagree beyond tolerance plus the numeric error estimate.
    Fail,
}

impl Verdict {
    /// Decide a component (see the module docs).
    pub fn decide(analytic: f64, numeric: f64, tolerance: f64, error_estimate: f64) -> Verdict {
        let err = (analytic - numeric).abs();
        if !analytic.is_finite() || err > tolerance + error_estimate {
            Verdict::Fail
        } else if err <= tolerance && error_estimate <= tolerance {
            Verdict::Pass
        } else {
            Verdict::IllConditioned
        }
    }

    /// `"pass"`, `"ill-conditioned"` or `"FAIL"`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::IllConditioned => "ill-conditioned",
            Verdict::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One gradient component: parameter element, analytic and numeric derivative, errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentReport {
    /// Parameter name.
    pub param: String,
    /// Element index within the parameter (0 for scalars).
    pub index: usize,
    /// Label: `name` or `name[i]`.
    pub label: String,
    /// Point (rounded to the check's dtype).
    pub x: f64,
    /// Stencil used.
    pub scheme: Scheme,
    /// Step `h` (the fine level uses `h/2`).
    pub step: f64,
    /// Autodiff derivative.
    pub analytic: f64,
    /// Richardson-extrapolated finite-difference derivative.
    pub numeric: f64,
    /// `D(h)`.
    pub fd_coarse: f64,
    /// `D(h/2)`.
    pub fd_fine: f64,
    /// `|analytic - numeric|`.
    pub abs_error: f64,
    /// `abs_error / max(|analytic|, |numeric|)` (0 when both are 0).
    pub rel_error: f64,
    /// `atol + rtol·|numeric|`.
    pub tolerance: f64,
    /// Richardson error estimate `|D(h/2) - D(h)| / 3`: the conditioning measure.
    pub richardson_error: f64,
    /// Round-off floor of the finite difference.
    pub roundoff_error: f64,
    /// `3·richardson_error + roundoff_error`, used for the verdict.
    pub error_estimate: f64,
    /// Component verdict.
    pub verdict: Verdict,
}

/// Full report of one gradcheck.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradReport {
    /// Backend name (`Backend::name`).
    pub backend: String,
    /// Dtype the check ran in.
    pub dtype: DType,
    /// Shape of the closure's output.
    pub output_shape: Vec<usize>,
    /// Whether the output was reduced by a random projection (more than one element).
    pub projected: bool,
    /// The (projected) scalar at the base point.
    pub value: f64,
    /// Configuration with defaults filled in.
    pub config: ResolvedConfig,
    /// Number of closure evaluations (analytic pass included).
    pub evaluations: usize,
    /// One entry per component, in parameter order.
    pub components: Vec<ComponentReport>,
    /// Worst component verdict.
    pub verdict: Verdict,
}

impl GradReport {
    /// Whether every component passed.
    pub fn is_pass(&self) -> bool {
        self.verdict == Verdict::Pass
    }

    /// Components that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ComponentReport> {
        self.with_verdict(Verdict::Fail)
    }

    /// Components that could not be decided.
    pub fn ill_conditioned(&self) -> impl Iterator<Item = &ComponentReport> {
        self.with_verdict(Verdict::IllConditioned)
    }

    /// Components with a given verdict.
    pub fn with_verdict(&self, v: Verdict) -> impl Iterator<Item = &ComponentReport> {
        self.components.iter().filter(move |c| c.verdict == v)
    }

    /// The component with this label (`name` or `name[i]`).
    pub fn component(&self, label: &str) -> Option<&ComponentReport> {
        self.components.iter().find(|c| c.label == label)
    }

    /// Largest absolute error over all components.
    pub fn max_abs_error(&self) -> f64 {
        self.components
            .iter()
            .map(|c| c.abs_error)
            .fold(0.0, f64::max)
    }

    /// Compact JSON (one line, for CI logs).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a GradReport always serializes")
    }

    /// Indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a GradReport always serializes")
    }

    /// Parse a report written by [`to_json`](Self::to_json).
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }

    pub(crate) fn overall(components: &[ComponentReport]) -> Verdict {
        components
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Pass)
    }
}

impl fmt::Display for GradReport {
    /// A table, one line per component (`est` is the error estimate the verdict uses), then a
    /// summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "gradcheck on {} ({:?}), output {:?}{}, f = {:.6e}",
            self.backend,
            self.dtype,
            self.output_shape,
            if self.projected {
                format!(" projected (seed {:#x})", c.projection_seed)
            } else {
                String::new()
            },
            self.value
        )?;
        writeln!(
            f,
            "atol {:.1e}, rtol {:.1e}, {} evaluations",
            c.atol, c.rtol, self.evaluations
        )?;
        let w = self
            .components
            .iter()
            .map(|c| c.label.len())
            .max()
            .unwrap_or(0)
            .max(9);
        writeln!(
            f,
            "{:<w$} {:>13} {:>8} {:>9} {:>22} {:>22} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9}  verdict",
            "component",
            "x",
            "scheme",
            "step",
            "analytic",
            "numeric",
            "abs_err",
            "rel_err",
            "richardson",
            "roundoff",
            "est",
            "tol",
        )?;
        for r in &self.components {
            writeln!(
                f,
                "{:<w$} {:>13.6e} {:>8} {:>9.2e} {:>22.15e} {:>22.15e} {:>9.2e} {:>9.2e} {:>10.2e} {:>9.2e} {:>9.2e} {:>9.2e}  {}",
                r.label,
                r.x,
                r.scheme.name(),
                r.step,
                r.analytic,
                r.numeric,
                r.abs_error,
                r.rel_error,
                r.richardson_error,
                r.roundoff_error,
                r.error_estimate,
                r.tolerance,
                r.verdict
            )?;
        }
        let count = |v| self.with_verdict(v).count();
        write!(
            f,
            "verdict: {} ({} pass, {} ill-conditioned, {} fail)",
            self.verdict,
            count(Verdict::Pass),
            count(Verdict::IllConditioned),
            count(Verdict::Fail)
        )
    }
}
