//! The refinement loop: scaling, optimiser, stopping rules, per-iteration log and callback.

use nanobragg::kernel::RenderBackend;
use std::ops::ControlFlow;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;

use crate::lbfgs::{Exit, Iterate};
use crate::objective::Objective;
use crate::options::{Optimizer, RefineOptions, StopReason, StopRules};
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

/// The bounds `[lower, upper]` of the scaled variables `z = (x − x₀)/step` for a diagonal `map`;
/// a full (Fisher) map mixes the variables, so the box is dropped (`±∞`).
fn scaled_bounds(map: &Transform, x0: &[f64], lo: &[f64], hi: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = x0.len();
    if map.is_diagonal() {
        let steps = map.steps();
        (
            (0..n).map(|i| (lo[i] - x0[i]) / steps[i]).collect(),
            (0..n).map(|i| (hi[i] - x0[i]) / steps[i]).collect(),
        )
    } else {
        (vec![f64::NEG_INFINITY; n], vec![f64::INFINITY; n])
    }
}

/// What the optimiser's hook keeps between iterations: the log, the count of quiet iterations
/// (relative loss change below the rule's threshold), the progress line, and the stopping rule
/// that ended the run.
struct Monitor {
    rules: StopRules,
    history: Vec<IterationLog>,
    quiet_iterations: usize,
    progress: Progress,
    stop: Option<StopReason>,
}

impl Monitor {
    fn new(options: &RefineOptions) -> Self {
        Monitor {
            rules: options.stop,
            history: Vec::new(),
            quiet_iterations: 0,
            progress: Progress::new(options.progress),
            stop: None,
        }
    }

    /// Log one iteration: count it as quiet or not, show it, pass it to `callback`, and stop
    /// (`Break`) when the callback or a stopping rule says so.
    fn observe<C>(&mut self, log: IterationLog, callback: &mut C) -> ControlFlow<()>
    where
        C: FnMut(&IterationLog) -> ControlFlow<()>,
    {
        if let Some(prev) = self.history.last() {
            let change = (prev.loss - log.loss).abs() / log.loss.abs().max(1.0);
            let quiet = change < self.rules.relative_loss_change;
            self.quiet_iterations = if quiet { self.quiet_iterations + 1 } else { 0 };
        }
        self.progress.show(&format!(
            "refine: iteration {:>4}  loss {:.10e}  |g| {:.3e}  evaluations {}",
            log.iteration, log.loss, log.gradient_norm, log.evaluations
        ));
        let user_stop = callback(&log).is_break();
        let reason = self.stop_reason(user_stop, &log);
        self.history.push(log);
        match reason {
            Some(r) => {
                self.stop = Some(r);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    }

    /// The first stopping rule that `log` meets, in this order: the callback, the gradient norm,
    /// the loss change (for `patience` iterations), the iteration and evaluation limits.
    fn stop_reason(&self, user_stop: bool, log: &IterationLog) -> Option<StopReason> {
        let rules = &self.rules;
        if user_stop {
            Some(StopReason::Callback)
        } else if log.gradient_norm <= rules.gradient_norm {
            Some(StopReason::GradientNorm)
        } else if self.quiet_iterations >= rules.patience.max(1) {
            Some(StopReason::LossChange)
        } else if log.iteration >= rules.max_iterations {
            Some(StopReason::MaxIterations)
        } else if log.evaluations >= rules.max_evaluations {
            Some(StopReason::MaxEvaluations)
        } else {
            None
        }
    }

    /// End the progress line; why the run stopped, given how the optimiser returned.
    fn finish(&mut self, exit: Exit) -> StopReason {
        self.progress.finish();
        match exit {
            Exit::Hook => self.stop.unwrap_or(StopReason::Callback),
            Exit::LineSearchFailed => StopReason::LineSearch,
        }
    }
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
    let (lower, upper) = scaled_bounds(map, &x0, &lo, &hi);
    let z0 = vec![0.0; x0.len()];
    let mut monitor = Monitor::new(options);
    let evaluations = std::cell::Cell::new(0usize);
    let counted = |z: &[f64]| -> Result<(f64, Vec<f64>)> {
        evaluations.set(evaluations.get() + 1);
        let (f, g) = problem.value_and_gradient(&map.to_x(z))?;
        Ok((f, map.grad_z(&g)))
    };
    let hook = |it: &Iterate<'_>| -> ControlFlow<()> {
        let log = IterationLog {
            iteration: it.iteration,
            evaluations: evaluations.get(),
            loss: it.f,
            gradient_norm: it.projected_gradient.iter().fold(0.0f64, |m, g| m.max(g.abs())),
            values: map.to_x(it.z),
            elapsed_s: clock.elapsed().as_secs_f64(),
        };
        monitor.observe(log, &mut callback)
    };
    let (z, f, _g, exit) = match &options.optimizer {
        Optimizer::Lbfgs(o) => crate::lbfgs::minimize(counted, &z0, &lower, &upper, o, hook)?,
        Optimizer::Adam(o) => crate::adam::minimize::<B, _, _>(device, counted, &z0, &lower, &upper, o, hook)?,
    };
    let stop = monitor.finish(exit);
    let history = monitor.history;
    Ok(Refined {
        variables,
        start: x0,
        values: map.to_x(&z),
        start_loss: history.first().map_or(f, |h| h.loss),
        loss: f,
        steps: map.steps(),
        iterations: history.last().map_or(0, |h| h.iteration),
        evaluations: evaluations.get(),
        stop,
        history,
        elapsed_s: clock.elapsed().as_secs_f64(),
    })
}
