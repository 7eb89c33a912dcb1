//! Ensemble refinement ("stage 2" of diffBragg): variables shared by every shot (the
//! structure factors, optionally detector geometry) refined against thousands of stills, each
//! with variables of its own (orientation, cell, crystal size, scale), over one process or
//! many.
//!
//! The loss is `Σ_shots L_i(own_i, shared) + R(shared)`: each shot's data loss (and its own
//! restraints) plus the shared variables' restraints, counted once. Each process (rank) holds
//! only its own shots ([`comm::shot_block`]); every loss and gradient is its ranks' sum
//! ([`Comm::sum`], in f64, the same bits on every rank), so the optimiser runs identically on
//! every rank and no parameter is ever sent after the start. Schedules ([`Schedule`]):
//!
//! * **Joint** (the default): each cycle refines everything as one problem. The value vector
//!   (and L-BFGS's history) holds every shot's own variables: `8·k` bytes per shot of the
//!   whole ensemble and per stored vector, on every rank (k own variables; about 1 kB a shot
//!   with k = 3 and L-BFGS's 10 pairs).
//! * **Alternating**: each cycle refines every shot's own variables with the shared ones
//!   fixed (no communication), then the shared ones with every shot's own fixed. A rank's
//!   memory grows only with its own shots, but coupled variables (an orientation and the F of
//!   its spots) converge slowly: several cycles where one joint cycle does.
//! * **Shots**: each shot's own variables only, the shared ones held (per-shot refinement at
//!   scale, diffBragg's "stage 1"); each shot's standard errors come with its Fisher block
//!   ([`ShotRecord::sigma`]).
//!
//! Each cycle starts its optimisers afresh, so a run restarted from the state after cycle `c`
//! ([`EnsembleState`]) is the run that went on without stopping. A rank that fails stops every
//! rank at the next sum, with its message naming the rank and the shot.
//!
//! Standard errors of the shared variables come from their Fisher information summed over the
//! shots with each shot's own variables free ([`Ensemble::shared_sigma`]).

pub mod comm;
mod information;
#[cfg(feature = "mpi")]
pub mod mpi;
mod shot;
mod state;
mod steps;

pub use comm::{shot_block, Comm, Solo};
pub use information::{SharedSigma, DENSE_LIMIT};
pub use shot::{SharedVariables, ShotFit, ShotInformation};
pub use state::{EnsembleState, ShotRecord};

use std::time::Instant;

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use crate::driver::{minimize, Refined};
use crate::error::{RefineError, Result};
use crate::options::{RefineOptions, Scaling, StopRules};
use crate::scaling::Transform;
use crate::spec::{Scope, Variable};
use steps::{sum_or_fail, JointStep, LogMap, SharedStep};

/// How each cycle refines the shots' own and the shared variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Schedule {
    /// All variables as one problem.
    #[default]
    Joint,
    /// Every shot's own variables, then the shared ones.
    Alternating,
    /// Every shot's own variables only, the shared ones held at their start (per-shot
    /// refinement, diffBragg's "stage 1"): no communication but the loss sums.
    Shots,
}

/// Options of an ensemble run.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleOptions {
    /// Schedule of each cycle.
    pub schedule: Schedule,
    /// Cycles (default 1: one joint refinement).
    pub cycles: usize,
    /// The per-shot step (optimiser, scaling from the shot's own Fisher block, stopping rules).
    pub shots: RefineOptions,
    /// The shared (or joint) step; its Fisher scalings use the diagonal of the shared Fisher
    /// information (the joint step's own variables take typical steps).
    pub shared: RefineOptions,
}

impl Default for EnsembleOptions {
    fn default() -> Self {
        let quiet = |max_iterations| RefineOptions {
            progress: Some(false),
            stop: StopRules { max_iterations, ..StopRules::default() },
            ..RefineOptions::default()
        };
        EnsembleOptions { schedule: Schedule::Joint, cycles: 1, shots: quiet(50), shared: quiet(100) }
    }
}

/// What one cycle did (the same on every rank).
#[derive(Debug, Clone, PartialEq)]
pub struct CycleLog {
    /// Cycle number, from 1.
    pub cycle: usize,
    /// Ensemble loss at the end of the cycle.
    pub loss: f64,
    /// Iterations of the shared (or joint) step.
    pub shared_iterations: usize,
    /// Loss-and-gradient evaluations of the shared (or joint) step: each is one of every
    /// shot.
    pub shared_evaluations: usize,
    /// Iterations of the per-shot steps, summed over every shot of every rank.
    pub shot_iterations: usize,
    /// Loss-and-gradient evaluations of the per-shot steps (each of one shot), summed over
    /// every shot of every rank.
    pub shot_evaluations: usize,
    /// Seconds the cycle took.
    pub elapsed_s: f64,
}

/// The shots of one rank and the shared variables, refined together with the other ranks'.
#[derive(Debug)]
pub struct Ensemble<B: AutodiffBackend + RenderBackend, C: Comm> {
    comm: C,
    shots: Vec<ShotFit<B>>,
    shared: SharedVariables,
    values: Vec<f64>,
    total: usize,
}

impl<B: AutodiffBackend + RenderBackend, C: Comm> Ensemble<B, C> {
    /// This rank's `shots` (indices below `total`, each on one rank; shots left out of the
    /// list's `total` are allowed) sharing `shared`. Collective: every rank must give the same
    /// `shared` and `total`, and hold at least one shot.
    pub fn new(comm: C, shared: SharedVariables, shots: Vec<ShotFit<B>>, total: usize) -> Result<Self> {
        let bad = shots.iter().find(|s| s.index >= total).map(|s| s.fail(format!("index {} of {total} shots", s.index)));
        let local = match bad {
            Some(e) => Err(e),
            None if shared.start.len() != shared.specs.len() => {
                Err(RefineError::Refinement(format!("{} start values for {} shared variables", shared.start.len(), shared.specs.len())))
            }
            None if shots.is_empty() => Err(RefineError::Refinement(format!(
                "rank {} holds no shots: use at most as many ranks as shots",
                comm.rank()
            ))),
            None => Ok(vec![shots.len() as f64]),
        };
        let count = sum_or_fail(&comm, local, 1)?[0] as usize;
        if count > total {
            return Err(RefineError::Refinement(format!("the ranks hold {count} shots, the list {total}")));
        }
        let values = shared.start.clone();
        Ok(Ensemble { comm, shots, shared, values, total })
    }

    /// The communicator.
    pub fn comm(&self) -> &C {
        &self.comm
    }

    /// The shared variables and their start values.
    pub fn shared(&self) -> &SharedVariables {
        &self.shared
    }

    /// The shared variables' current values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// This rank's shots.
    pub fn shots(&self) -> &[ShotFit<B>] {
        &self.shots
    }

    /// Shots in the whole ensemble.
    pub fn total_shots(&self) -> usize {
        self.total
    }

    /// The ensemble loss at the current values (one forward render per shot). Collective.
    pub fn loss(&mut self) -> Result<f64> {
        let values = self.values.clone();
        let local = self.shots.iter_mut().map(|s| s.value(&values)).sum::<Result<f64>>().map(|l| vec![l]);
        let data = sum_or_fail(&self.comm, local, 1)?[0];
        let mut unused = vec![0.0; values.len()];
        Ok(data + steps::shared_restraints(&self.shared, &values, &mut unused))
    }

    /// The ensemble loss and its gradient with respect to the shared variables (user units),
    /// every shot at its current own values. Collective.
    pub fn loss_and_shared_gradient(&mut self) -> Result<(f64, Vec<f64>)> {
        let identity = LogMap::linear(self.shared.specs.len());
        let mut step = SharedStep { comm: &self.comm, shots: &mut self.shots, shared: &self.shared, map: &identity, start: self.values.clone() };
        crate::driver::Problem::value_and_gradient(&mut step, &self.values)
    }

    /// Refine every shot's own variables, the shared ones fixed; returns the iterations and
    /// the loss-and-gradient evaluations summed over every shot of every rank. Collective (one
    /// sum at the end).
    pub fn refine_shots(&mut self, options: &RefineOptions) -> Result<(usize, usize)> {
        let values = self.values.clone();
        let local = (|| -> Result<Vec<f64>> {
            let (mut iterations, mut evaluations) = (0, 0);
            for shot in self.shots.iter_mut() {
                if let Some(r) = shot.refine_own(&values, options)? {
                    iterations += r.iterations;
                    evaluations += r.evaluations;
                }
            }
            Ok(vec![iterations as f64, evaluations as f64])
        })();
        let sums = sum_or_fail(&self.comm, local, 2)?;
        Ok((sums[0] as usize, sums[1] as usize))
    }

    /// Refine the shared variables, every shot's own fixed. Collective.
    pub fn refine_shared(&mut self, options: &RefineOptions) -> Result<Refined> {
        let log = LogMap::new(&self.shared, &self.values);
        let start = log.to_opt(&self.values);
        let map = Transform::diagonal(start.clone(), &self.shared_steps(&options.scaling, &log)?);
        let device = self.device()?;
        let mut step = SharedStep { comm: &self.comm, shots: &mut self.shots, shared: &self.shared, map: &log, start };
        let mut r = minimize::<B, _, _>(&mut step, &map, options, &device, |_| std::ops::ControlFlow::Continue(()))?;
        to_user(&mut r, &log, &self.values);
        self.values = r.values.clone();
        Ok(r)
    }

    /// Refine everything as one problem (every shot must have the same number of own
    /// variables). Collective.
    pub fn refine_joint(&mut self, options: &RefineOptions) -> Result<Refined> {
        let k = self.shots.first().map_or(0, |s| s.own_specs().len());
        let uneven = self.shots.iter().find(|s| s.own_specs().len() != k).map(|s| s.fail("a joint run needs the same own variables in every shot"));
        let (ns, n) = (self.shared.specs.len(), self.shared.specs.len() + k * self.total);
        let local = match uneven {
            Some(e) => Err(e),
            None => Ok(self.joint_layout(k, n)),
        };
        let sums = sum_or_fail(&self.comm, local, 3 * n + 1)?;
        if sums[3 * n] as usize != k * self.comm.size() {
            return Err(RefineError::Refinement("a joint run needs the same own variables in every shot of every rank".into()));
        }
        let log = LogMap::new(&self.shared, &self.values);
        let mut start = sums[..n].to_vec();
        start[..ns].copy_from_slice(&log.to_opt(&self.values));
        let (mut lower, mut upper) = (sums[n..2 * n].to_vec(), sums[2 * n..3 * n].to_vec());
        let (lo, hi) = log.bounds(&self.shared);
        lower[..ns].copy_from_slice(&lo);
        upper[..ns].copy_from_slice(&hi);
        let own: Vec<Variable> = self.shots.first().map_or(Vec::new(), |s| s.own_specs().iter().map(|s| s.variable).collect());
        let variables: Vec<Variable> = self.shared.specs.iter().map(|s| s.variable)
            .chain((0..self.total).flat_map(|i| own.iter().map(move |&v| of_shot(i, v))))
            .collect();
        let mut steps = self.shared_steps(&options.scaling, &log)?;
        steps.extend((ns..n).map(|i| own_step(&self.shots, i - ns, k, start[i])));
        let map = Transform::diagonal(start.clone(), &steps);
        let device = self.device()?;
        let mut step = JointStep { comm: &self.comm, shots: &mut self.shots, shared: &self.shared, map: &log, per_shot: k, start, variables, bounds: (lower, upper) };
        let mut r = minimize::<B, _, _>(&mut step, &map, options, &device, |_| std::ops::ControlFlow::Continue(()))?;
        to_user(&mut r, &log, &self.values);
        self.values = r.values[..ns].to_vec();
        for shot in self.shots.iter_mut() {
            let at = ns + shot.index * k;
            shot.set_values(&r.values[at..at + k])?;
        }
        Ok(r)
    }

    /// This rank's share of the joint start and bounds (its shots' blocks; zeros elsewhere, so
    /// the sum over ranks is the whole vector), then `k` as a check.
    fn joint_layout(&self, k: usize, n: usize) -> Vec<f64> {
        let ns = self.shared.specs.len();
        let mut out = vec![0.0; 3 * n + 1];
        for shot in &self.shots {
            let at = ns + shot.index * k;
            out[at..at + k].copy_from_slice(shot.values());
            for (j, s) in shot.own_specs().iter().enumerate() {
                (out[n + at + j], out[2 * n + at + j]) = (s.lower, s.upper);
            }
        }
        out[3 * n] = k as f64;
        out
    }

    /// Run `options.cycles` cycles after the `done` already run (a restart), calling `after`
    /// at the end of each (e.g. to write a checkpoint). Collective.
    pub fn run<F>(&mut self, options: &EnsembleOptions, done: usize, mut after: F) -> Result<Vec<CycleLog>>
    where
        F: FnMut(&mut Self, &CycleLog) -> Result<()>,
    {
        let mut logs = Vec::new();
        for cycle in done + 1..=options.cycles {
            let clock = Instant::now();
            let ((shot_iterations, shot_evaluations), r) = match options.schedule {
                Schedule::Alternating => (self.refine_shots(&options.shots)?, Some(self.refine_shared(&options.shared)?)),
                Schedule::Joint => ((0, 0), Some(self.refine_joint(&options.shared)?)),
                Schedule::Shots => (self.refine_shots(&options.shots)?, None),
            };
            let (loss, shared_iterations, shared_evaluations) = match r {
                Some(r) => (r.loss, r.iterations, r.evaluations),
                None => (self.loss()?, 0, 0),
            };
            let log = CycleLog { cycle, loss, shared_iterations, shared_evaluations, shot_iterations, shot_evaluations, elapsed_s: clock.elapsed().as_secs_f64() };
            after(self, &log)?;
            logs.push(log);
        }
        Ok(logs)
    }

    /// The optimiser's step along each shared variable (in `log`'s coordinates): typical or
    /// given steps, or `1/√F_ii` of the shared Fisher information's diagonal (typical where a
    /// variable is not informed). Collective for the Fisher scalings.
    fn shared_steps(&mut self, scaling: &Scaling, log: &LogMap) -> Result<Vec<f64>> {
        let x0 = &self.values;
        let typical: Vec<f64> = self.shared.specs.iter().zip(x0).map(|(s, &v)| s.typical_step(v)).collect();
        let steps = match scaling {
            Scaling::Typical => typical,
            Scaling::Steps(s) if s.len() == x0.len() => s.clone(),
            Scaling::Steps(s) => return Err(RefineError::Refinement(format!("{} scaling steps for {} shared variables", s.len(), x0.len()))),
            Scaling::Fisher | Scaling::FisherDiagonal => {
                let diag = self.shared_information(false)?;
                diag.iter().zip(&typical).map(|(&f, &t)| if f > 0.0 && f.is_finite() { 1.0 / f.sqrt() } else { t }).collect()
            }
        };
        Ok(steps.iter().enumerate().map(|(i, &s)| log.step(i, s, self.values[i])).collect())
    }

    /// The device of this rank's shots (where Adam keeps its state).
    fn device(&self) -> Result<B::Device> {
        // `new` refuses a rank without shots.
        self.shots.first().map(|s| s.device()).ok_or_else(|| RefineError::Refinement("no shots".into()))
    }
}

/// A minimisation's values (start, result, history) back from the optimiser's coordinates of
/// its first `ns` entries to user values; an entry still at its start gets its start value
/// `x0` back exactly (`exp(ln x)` may differ from `x` in the last bit).
fn to_user(r: &mut Refined, log: &LogMap, x0: &[f64]) {
    let u0 = log.to_opt(x0);
    let ns = x0.len();
    for v in std::iter::once(&mut r.start).chain(std::iter::once(&mut r.values)).chain(r.history.iter_mut().map(|h| &mut h.values)) {
        let user = log.to_user(&v[..ns]);
        for i in 0..ns {
            v[i] = if v[i] == u0[i] { x0[i] } else { user[i] };
        }
    }
}

/// Own variable `v` of shot `i` in a joint value vector (the scale keeps its name).
fn of_shot(i: usize, v: Variable) -> Variable {
    match v.param() {
        Some(p) => Variable::Scoped(Scope::Part(i as u32), p),
        None => v,
    }
}

/// The typical step of entry `i` of the shots' own blocks (`k` a shot, the first shot's
/// specs) at value `v`.
fn own_step<B: AutodiffBackend + RenderBackend>(shots: &[ShotFit<B>], i: usize, k: usize, v: f64) -> f64 {
    shots.first().map_or(1.0, |s| s.own_specs()[i % k].typical_step(v))
}
