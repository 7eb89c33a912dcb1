//! The refinement loop: scaling, optimiser, stopping rules, per-iteration log and callback.

use nanobragg::kernel::RenderBackend;
use std::ops::ControlFlow;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;

use crate::lbfgs::{Exit, Iterate};
use crate::objective::Objective;
use crate::options::{Optimizer, RefineOptions, StopReason};
use crate::progress::Progress;
use crate::spec::Variable;
use crate::scaling::{transform, Transform};
use crate::error::Result;

/// One line of the refinement log (iteration 0 is the start).
#[derive(Debug, Clone, PartialEq)]
pub struct IterationLog {
    /// Iteration number.
    pub iteration: usize,
    /// Loss-and-gradient evaluations so far.
    pub evaluations: usize,
    /// Loss.
    pub loss: f64,
    /// ∞-norm of the projected gradient in scaled units.
    pub gradient_norm: f64,
    /// Values of the refined variables (user units).
    pub values: Vec<f64>,
    /// Seconds since the start of the run.
    pub elapsed_s: f64,
}

/// The outcome of a refinement.
#[derive(Debug, Clone, PartialEq)]
pub struct Refined {
    /// Refined variables, in the order of the value vectors.
    pub variables: Vec<Variable>,
    /// Start values (user units).
    pub start: Vec<f64>,
    /// Final values (user units).
    pub values: Vec<f64>,
    /// Loss at the start.
    pub start_loss: f64,
    /// Final loss.
    pub loss: f64,
    /// User-unit length of one scaled unit along each variable (the diagonal steps, or the
    /// start's standard errors `√(F⁻¹)_ii` for the full Fisher scaling).
    pub steps: Vec<f64>,
    /// Iterations taken.
    pub iterations: usize,
    /// Loss-and-gradient evaluations.
    pub evaluations: usize,
    /// Why it stopped.
    pub stop: StopReason,
    /// One entry per iteration.
    pub history: Vec<IterationLog>,
    /// Wall time (s), scaling included.
    pub elapsed_s: f64,
}

/// Something to minimise over variables in user units: the single-image [`Objective`] or
/// several images together ([`crate::joint::Joint`]).
pub trait Problem {
    /// The refined variables.
    fn variables(&self) -> Vec<Variable>;
    /// Start values (user units).
    fn start(&self) -> Vec<f64>;
    /// Lower and upper bounds (user units, ±∞ when none).
    fn bounds(&self) -> (Vec<f64>, Vec<f64>);
    /// Loss and gradient (per user unit) at `x`.
    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)>;
}

impl<B: AutodiffBackend + RenderBackend> Problem for Objective<B> {
    fn variables(&self) -> Vec<Variable> {
        self.specs().iter().map(|s| s.variable).collect()
    }
    fn start(&self) -> Vec<f64> {
        Objective::start(self).to_vec()
    }
    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        (self.specs().iter().map(|s| s.lower).collect(), self.specs().iter().map(|s| s.upper).collect())
    }
    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        Objective::value_and_gradient(self, x)
    }
}

/// Refine the objective's variables from its start values. `callback` sees every iteration's
/// log and may stop the run with `ControlFlow::Break(())`.
pub fn refine<B, C>(objective: &mut Objective<B>, options: &RefineOptions, callback: C) -> Result<Refined>
where
    B: AutodiffBackend + RenderBackend,
    C: FnMut(&IterationLog) -> ControlFlow<()>,
{
    let clock = Instant::now();
    let map = transform(objective, &options.scaling)?;
    let device = objective.simulator().params.pixel.device();
    let mut r = minimize::<B, _, _>(objective, &map, options, &device, callback)?;
    r.elapsed_s = clock.elapsed().as_secs_f64();
    Ok(r)
}

/// Minimise any [`Problem`] in the scaled variables of `map` (`x = x₀ + T·z`, with `x₀` the
/// problem's start) with the optimiser, stopping rules, progress line and callback of
/// `options` (its `scaling` is not used: `map` is). `device` is where Adam keeps its state.
pub fn minimize<B, P, C>(
    problem: &mut P,
    map: &Transform,
    options: &RefineOptions,
    device: &B::Device,
    mut callback: C,
) -> Result<Refined>
where
    B: AutodiffBackend + RenderBackend,
    P: Problem,
    C: FnMut(&IterationLog) -> ControlFlow<()>,
{
    let clock = Instant::now();
    let x0 = problem.start();
    let variables = problem.variables();
    let (lo, hi) = problem.bounds();
    let n = x0.len();
    let steps = map.steps();
    let to_x = |z: &[f64]| map.to_x(z);
    let (lower, upper): (Vec<f64>, Vec<f64>) = if map.diagonal {
        (
            (0..n).map(|i| (lo[i] - x0[i]) / steps[i]).collect(),
            (0..n).map(|i| (hi[i] - x0[i]) / steps[i]).collect(),
        )
    } else {
        (vec![f64::NEG_INFINITY; n], vec![f64::INFINITY; n])
    };
    let z0 = vec![0.0; n];
    let mut history: Vec<IterationLog> = Vec::new();
    let mut stop: Option<StopReason> = None;
    let mut quiet_iterations = 0;
    let mut progress = Progress::new(options.progress);
    let rules = options.stop;
    let evaluations = std::cell::Cell::new(0usize);
    let counted = |z: &[f64]| -> Result<(f64, Vec<f64>)> {
        evaluations.set(evaluations.get() + 1);
        let (f, g) = problem.value_and_gradient(&to_x(z))?;
        Ok((f, map.grad_z(&g)))
    };
    let hook = |it: &Iterate<'_>| -> ControlFlow<()> {
        let gnorm = it.projected_gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        let log = IterationLog {
            iteration: it.iteration,
            evaluations: evaluations.get(),
            loss: it.f,
            gradient_norm: gnorm,
            values: to_x(it.z),
            elapsed_s: clock.elapsed().as_secs_f64(),
        };
        if let Some(prev) = history.last() {
            let change = (prev.loss - it.f).abs() / it.f.abs().max(1.0);
            quiet_iterations = if change < rules.relative_loss_change { quiet_iterations + 1 } else { 0 };
        }
        progress.show(&format!(
            "refine: iteration {:>4}  loss {:.10e}  |g| {:.3e}  evaluations {}",
            log.iteration, log.loss, log.gradient_norm, log.evaluations
        ));
        let user = callback(&log);
        history.push(log);
        let reason = if user.is_break() {
            Some(StopReason::Callback)
        } else if gnorm <= rules.gradient_norm {
            Some(StopReason::GradientNorm)
        } else if quiet_iterations >= rules.patience.max(1) {
            Some(StopReason::LossChange)
        } else if it.iteration >= rules.max_iterations {
            Some(StopReason::MaxIterations)
        } else if evaluations.get() >= rules.max_evaluations {
            Some(StopReason::MaxEvaluations)
        } else {
            None
        };
        match reason {
            Some(r) => {
                stop = Some(r);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    };
    let (z, f, _g, exit) = match &options.optimizer {
        Optimizer::Lbfgs(o) => crate::lbfgs::minimize(counted, &z0, &lower, &upper, o, hook)?,
        Optimizer::Adam(o) => crate::adam::minimize::<B, _, _>(device, counted, &z0, &lower, &upper, o, hook)?,
    };
    progress.finish();
    let stop = match exit {
        Exit::Hook => stop.unwrap_or(StopReason::Callback),
        Exit::LineSearchFailed => StopReason::LineSearch,
    };
    let start_loss = history.first().map_or(f, |h| h.loss);
    let iterations = history.last().map_or(0, |h| h.iteration);
    Ok(Refined {
        variables,
        start: x0,
        values: to_x(&z),
        start_loss,
        loss: f,
        steps,
        iterations,
        evaluations: evaluations.get(),
        stop,
        history,
        elapsed_s: clock.elapsed().as_secs_f64(),
    })
}
