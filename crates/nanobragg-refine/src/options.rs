//! Options of a refinement: optimiser, parameter scaling and stopping rules.

use crate::adam::AdamOptions;
use crate::lbfgs::LbfgsOptions;

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    /// L-BFGS with a strong-Wolfe line search and box bounds (the default).
    Lbfgs(LbfgsOptions),
    /// Adam (burn-optim), first order.
    Adam(AdamOptions),
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer::Lbfgs(LbfgsOptions::default())
    }
}

/// How the refined variables are scaled: the optimiser works on `z` with `x = x₀ + T·z`, so
/// that Å, degrees, mm and pixels move together (see [`crate::scaling`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Scaling {
    /// `T = L⁻ᵀ` from the Cholesky factor of the Fisher information at the start (one
    /// finite-difference Jacobian, 2n forward renders): the scaled problem's Gauss–Newton
    /// Hessian is about the identity, correlations included. Falls back to
    /// [`Scaling::FisherDiagonal`] when a variable has finite bounds (the default).
    #[default]
    Fisher,
    /// `T = diag(1/√F_ii)`: one unit of `z` is about one (uncorrelated) standard error.
    FisherDiagonal,
    /// `T = diag(typical step)` ([`crate::ParamSpec::typical_step`]); no renders needed.
    Typical,
    /// Explicit steps, one per variable (user units).
    Steps(Vec<f64>),
}

/// When to stop. The first rule met ends the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopRules {
    /// Iterations at most (default 200).
    pub max_iterations: usize,
    /// Loss-and-gradient evaluations at most (default 1000).
    pub max_evaluations: usize,
    /// Stop when the ∞-norm of the projected gradient in scaled units is below this (default
    /// 1e-3: with Fisher scaling, a thousandth of a standard error from the optimum along each
    /// axis of a well-conditioned problem).
    pub gradient_norm: f64,
    /// Stop when `|ΔL| / max(|L|, 1)` stays below this for `patience` iterations in a row
    /// (default 1e-12).
    pub relative_loss_change: f64,
    /// See `relative_loss_change` (default 3).
    pub patience: usize,
}

impl Default for StopRules {
    fn default() -> Self {
        StopRules {
            max_iterations: 200,
            max_evaluations: 1000,
            gradient_norm: 1e-3,
            relative_loss_change: 1e-12,
            patience: 3,
        }
    }
}

/// Everything a refinement run needs besides the objective.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RefineOptions {
    /// Optimiser.
    pub optimizer: Optimizer,
    /// Scaling of the variables.
    pub scaling: Scaling,
    /// Stopping rules.
    pub stop: StopRules,
    /// Progress line on stderr: `None` = when stderr is a terminal.
    pub progress: Option<bool>,
}

/// Why a refinement stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The projected gradient fell below [`StopRules::gradient_norm`].
    GradientNorm,
    /// The loss stopped changing ([`StopRules::relative_loss_change`]).
    LossChange,
    /// [`StopRules::max_iterations`] reached.
    MaxIterations,
    /// [`StopRules::max_evaluations`] reached.
    MaxEvaluations,
    /// The line search found no decrease, even along the steepest descent.
    LineSearch,
    /// The callback asked to stop.
    Callback,
}

impl StopReason {
    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::GradientNorm => "gradient norm below tolerance",
            StopReason::LossChange => "loss no longer changing",
            StopReason::MaxIterations => "iteration limit",
            StopReason::MaxEvaluations => "evaluation limit",
            StopReason::LineSearch => "line search found no decrease",
            StopReason::Callback => "stopped by the callback",
        }
    }

    /// Whether the run ended at a (local) optimum rather than at a limit. A failed line search
    /// counts: L-BFGS only reports it after a steepest-descent retry, which in practice happens
    /// where no decrease is measurable in f64 any more.
    pub fn converged(self) -> bool {
        matches!(self, StopReason::GradientNorm | StopReason::LossChange | StopReason::LineSearch)
    }
}
