//! Refinement: fit parameters of a scene to a measured image, with uncertainties.
//!
//! * [`ParamSpec`] — what is refined: a subset of the named parameters
//!   ([`crate::gradients::ParamName`]) and optionally the overall [`Variable::Scale`], each with
//!   optional bounds, a Gaussian restraint and a typical step.
//! * [`Observation`] and [`LossKind`] — the measured counts, an optional known background
//!   and mask; Poisson (deviance) or Gaussian squared-error losses.
//! * [`Objective`] — the loss and its exact gradient (tile-by-tile autodiff) as a function of
//!   the refined values in user units.
//! * [`refine`] with [`RefineOptions`] — L-BFGS (strong-Wolfe line search, box bounds) or Adam
//!   (burn-optim) on scaled variables ([`Scaling`]; by default whitened by the Fisher
//!   information at the start), [`StopRules`], a per-iteration
//!   [`IterationLog`] and callback, a progress line on stderr.
//! * [`uncertainties`] — standard errors and correlations from the Fisher information
//!   `Jᵀ·diag(1/μ)·J` at the optimum, `J` from central finite differences.
//! * [`export`] — the refined model as a scene (TOML), as nanoBragg flags and as a MOSFLM A
//!   matrix.
//! * [`report`] — the table of start / refined / σ (and truth when known); [`plot`] — the loss
//!   curve and residual maps as pixels.
//!
//! See `docs/refinement.md` for an example from library code.

pub mod adam;
pub mod data;
pub mod driver;
pub mod export;
pub mod lbfgs;
pub mod line_search;
pub mod objective;
pub mod options;
pub mod plot;
pub mod progress;
pub mod report;
pub mod scaling;
pub mod spec;
pub mod uncertainty;

pub use data::{LossKind, Observation};
pub use driver::{refine, IterationLog, Refined};
pub use objective::{ModelImage, Objective};
pub use options::{Optimizer, RefineOptions, Scaling, StopReason, StopRules};
pub use spec::{default_step, ParamSpec, Restraint, Variable};
pub use uncertainty::{uncertainties, Uncertainties};
