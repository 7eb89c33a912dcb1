//! Gradcheck configuration: steps, tolerances, projection seed, dtype.
//!
//! Every numeric knob is an `Option`; `None` picks a default for the check's dtype (with `eps`
//! its machine epsilon):
//!
//! | knob | default | |
//! |---|---|---|
//! | `abs_step`, `rel_step` | `eps^(1/3)` | `6.1e-6` for f64, `4.9e-3` for f32 |
//! | `atol` | `1e-8` (f64), `1e-4` (f32), `1e-2` (f16/bf16) | |
//! | `rtol` | `1e-6` (f64), `1e-3` (f32), `5e-2` (f16/bf16) | |
//!
//! The base step of a component at `x` is `h = max(abs_step, rel_step * |x|)`, rounded to the
//! nearest power of two (see [`crate::finite_difference`]).

use burn::tensor::DType;
use serde::{Deserialize, Serialize};

use crate::GradcheckError;

/// User-facing configuration (builder style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradcheckConfig {
    /// Absolute finite-difference step; `None`: `eps^(1/3)`.
    pub abs_step: Option<f64>,
    /// Relative finite-difference step; `None`: `eps^(1/3)`.
    pub rel_step: Option<f64>,
    /// Absolute tolerance; `None`: dtype default.
    pub atol: Option<f64>,
    /// Relative tolerance (relative to `|numeric|`); `None`: dtype default.
    pub rtol: Option<f64>,
    /// Seed of the random projection that reduces non-scalar outputs to a scalar.
    pub projection_seed: u64,
    /// Dtype to run in; `None`: the backend's float element (`B::FloatElem`).
    pub dtype: Option<DType>,
    /// Whether [`check`](crate::check) returns [`GradcheckError::IllConditioned`] when no
    /// component failed but some could not be decided (default `true`).
    pub ill_conditioned_is_error: bool,
}

impl Default for GradcheckConfig {
    fn default() -> Self {
        GradcheckConfig {
            abs_step: None,
            rel_step: None,
            atol: None,
            rtol: None,
            projection_seed: 0x6e61_6e6f_6272_6167, // "nanobrag"
            dtype: None,
            ill_conditioned_is_error: true,
        }
    }
}

impl GradcheckConfig {
    /// Defaults for everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the absolute step.
    pub fn abs_step(mut self, h: f64) -> Self {
        self.abs_step = Some(h);
        self
    }

    /// Set the relative step.
    pub fn rel_step(mut self, h: f64) -> Self {
        self.rel_step = Some(h);
        self
    }

    /// Set the absolute tolerance.
    pub fn atol(mut self, atol: f64) -> Self {
        self.atol = Some(atol);
        self
    }

    /// Set the relative tolerance.
    pub fn rtol(mut self, rtol: f64) -> Self {
        self.rtol = Some(rtol);
        self
    }

    /// Set both tolerances to `tol`.
    pub fn tol(self, tol: f64) -> Self {
        self.atol(tol).rtol(tol)
    }

    /// Set the projection seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.projection_seed = seed;
        self
    }

    /// Run in `dtype` instead of the backend's float element type.
    pub fn dtype(mut self, dtype: DType) -> Self {
        self.dtype = Some(dtype);
        self
    }

    /// Whether an ill-conditioned (undecidable) component makes [`check`](crate::check) fail.
    pub fn ill_conditioned_is_error(mut self, yes: bool) -> Self {
        self.ill_conditioned_is_error = yes;
        self
    }

    /// Fill in dtype defaults and validate.
    pub fn resolve(&self, dtype: DType) -> Result<ResolvedConfig, GradcheckError> {
        let eps = crate::dtype::epsilon(dtype);
        let (atol, rtol) = match dtype {
            DType::F64 => (1e-8, 1e-6),
            DType::F32 => (1e-4, 1e-3),
            _ => (1e-2, 5e-2),
        };
        let r = ResolvedConfig {
            abs_step: self.abs_step.unwrap_or(eps.cbrt()),
            rel_step: self.rel_step.unwrap_or(eps.cbrt()),
            atol: self.atol.unwrap_or(atol),
            rtol: self.rtol.unwrap_or(rtol),
            projection_seed: self.projection_seed,
            ill_conditioned_is_error: self.ill_conditioned_is_error,
        };
        let bad = |what: &str, v: f64| GradcheckError::InvalidConfig(format!("{what} = {v}"));
        if !(r.abs_step.is_finite() && r.abs_step >= 0.0) {
            return Err(bad("abs_step", r.abs_step));
        }
        if !(r.rel_step.is_finite() && r.rel_step >= 0.0) {
            return Err(bad("rel_step", r.rel_step));
        }
        if r.abs_step == 0.0 && r.rel_step == 0.0 {
            return Err(GradcheckError::InvalidConfig("both steps are zero".into()));
        }
        if !(r.atol.is_finite() && r.atol >= 0.0) {
            return Err(bad("atol", r.atol));
        }
        if !(r.rtol.is_finite() && r.rtol >= 0.0) {
            return Err(bad("rtol", r.rtol));
        }
        Ok(r)
    }
}

/// Configuration with every default filled in for one dtype (recorded in the report).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResolvedConfig {
    /// Absolute step.
    pub abs_step: f64,
    /// Relative step.
    pub rel_step: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Projection seed.
    pub projection_seed: u64,
    /// Whether ill-conditioned components make `check` return an error.
    pub ill_conditioned_is_error: bool,
}

impl ResolvedConfig {
    /// Base step `max(abs_step, rel_step * |x|)` before power-of-two rounding and bounds.
    pub fn base_step(&self, x: f64) -> f64 {
        self.abs_step.max(self.rel_step * x.abs())
    }

    /// Tolerance budget `atol + rtol * |numeric|`.
    pub fn tolerance(&self, numeric: f64) -> f64 {
        self.atol + self.rtol * numeric.abs()
    }
}
