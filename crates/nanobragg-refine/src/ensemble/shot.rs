//! One shot of an ensemble: its [`Objective`] over its own variables followed by the shared
//! variables it sees, where those sit in the ensemble's shared vector, and its own current
//! values.

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use crate::driver::{minimize, Problem, Refined};
use crate::error::{RefineError, Result};
use crate::objective::Objective;
use crate::options::{RefineOptions, Scaling};
use crate::scaling::{whitening, Transform};
use crate::spec::{ParamSpec, Variable};
use crate::uncertainty::{fisher_information, invert_spd, jacobian, jacobian_leading, standard_errors};

/// The variables every shot shares (structure factors, `default_F`, detector geometry) with
/// their start values (user units), the same on every rank.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedVariables {
    /// Names, bounds, restraints (counted once for the ensemble) and typical steps.
    pub specs: Vec<ParamSpec>,
    /// Start values.
    pub start: Vec<f64>,
}

/// One shot of an ensemble.
#[derive(Debug)]
pub struct ShotFit<B: AutodiffBackend + RenderBackend> {
    /// Index in the whole shot list (not in this rank's block).
    pub index: usize,
    /// Name (the shot list's), for messages and results.
    pub name: String,
    objective: Objective<B>,
    own: usize,
    shared_of: Vec<usize>,
    values: Vec<f64>,
    own_sigma: Vec<f64>,
}

/// A shot's Fisher information split by variable kind: its own block and the Schur complement
/// `S = F_ss − F_so·F_oo⁻¹·F_os` of its shared block, the information its data carry about the
/// shared variables once its own variables are free.
#[derive(Debug, Clone, PartialEq)]
pub struct ShotInformation {
    /// `F_oo` (own × own; its own restraints included).
    pub own: Vec<Vec<f64>>,
    /// `S` over the shot's shared slots ([`ShotFit::shared_slots`] order).
    pub shared: Vec<Vec<f64>>,
}

impl<B: AutodiffBackend + RenderBackend> ShotFit<B> {
    /// Shot `index` called `name`, from an objective over `own` variables of its own followed
    /// by every variable of `shared` (in that order). Structure factors that no used pixel of
    /// the shot sees (zero gradient with every F at least 1) are dropped from its objective, so
    /// a shot costs memory and Jacobian columns for its own reflections only; shared variables
    /// lose their restraints and bounds here (the ensemble applies them once).
    pub fn new(index: usize, name: &str, objective: Objective<B>, own: usize, shared: &SharedVariables) -> Result<Self> {
        let fail = |reason: String| RefineError::Shot { index, name: name.to_string(), reason };
        let specs = objective.specs().to_vec();
        if specs.len() != own + shared.specs.len()
            || specs[own..].iter().zip(&shared.specs).any(|(a, b)| a.variable != b.variable)
        {
            return Err(fail(format!("its objective must list {own} own variables, then the {} shared ones", shared.specs.len())));
        }
        let start = objective.start().to_vec();
        for (k, s) in shared.specs.iter().enumerate() {
            if start[own + k] != shared.start[k] {
                return Err(fail(format!("its scene starts {} at {}, the ensemble at {}", s.variable, start[own + k], shared.start[k])));
            }
        }
        let mut probe = start.clone();
        for (k, s) in shared.specs.iter().enumerate() {
            if matches!(s.variable, Variable::StructureFactor(_)) {
                probe[own + k] = probe[own + k].abs().max(1.0);
            }
        }
        let mut objective = objective;
        let (_, mut grad) = objective.value_and_gradient(&probe).map_err(|e| fail(e.reason()))?;
        for (k, s) in specs.iter().enumerate() {
            if let Some(r) = s.restraint {
                grad[k] -= r.value_and_slope(probe[k]).1;
            }
        }
        // A data gradient of exactly 0: no used pixel sees that F.
        let shared_of: Vec<usize> = (0..shared.specs.len())
            .filter(|&k| !matches!(shared.specs[k].variable, Variable::StructureFactor(_)) || grad[own + k] != 0.0)
            .collect();
        let kept: Vec<ParamSpec> = specs[..own]
            .iter()
            .copied()
            .chain(shared_of.iter().map(|&k| ParamSpec { restraint: None, ..ParamSpec::new(shared.specs[k].variable) }))
            .collect();
        let (observation, loss) = (objective.observation().clone(), objective.loss_kind());
        let sim = objective.into_simulator_at(&start).map_err(|e| fail(e.reason()))?;
        let objective = Objective::new(sim, kept, observation, loss).map_err(|e| fail(e.reason()))?;
        Ok(ShotFit { index, name: name.to_string(), objective, own, shared_of, values: start[..own].to_vec(), own_sigma: vec![f64::NAN; own] })
    }

    /// The shot's own variables.
    pub fn own_specs(&self) -> &[ParamSpec] {
        &self.objective.specs()[..self.own]
    }

    /// The positions in the ensemble's shared vector of the shared variables this shot sees.
    pub fn shared_slots(&self) -> &[usize] {
        &self.shared_of
    }

    /// Pixels entering its loss.
    pub fn pixels(&self) -> usize {
        self.objective.pixels().len()
    }

    /// The device its simulator renders on.
    pub fn device(&self) -> B::Device {
        self.objective.simulator().params.pixel.device()
    }

    /// Standard errors of its own variables with the shared ones held (`√(F_oo⁻¹)_ii` of its
    /// own Fisher block, user units), as of its last [`ShotFit::information`] or
    /// [`ShotFit::own_information`]; NaN before.
    pub fn own_sigma(&self) -> &[f64] {
        &self.own_sigma
    }

    /// The shot's own current values.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Set the shot's own values (a checkpoint's).
    pub fn set_values(&mut self, values: &[f64]) -> Result<()> {
        if values.len() != self.own {
            return Err(self.fail(format!("{} own values for {} own variables", values.len(), self.own)));
        }
        self.values = values.to_vec();
        Ok(())
    }

    /// The objective's value vector: own values `own`, then the shared values it sees.
    fn local(&self, own: &[f64], shared: &[f64]) -> Vec<f64> {
        own.iter().copied().chain(self.shared_of.iter().map(|&k| shared[k])).collect()
    }

    /// `e` with the shot named.
    pub fn fail(&self, what: impl std::fmt::Display) -> RefineError {
        RefineError::Shot { index: self.index, name: self.name.clone(), reason: what.to_string() }
    }

    /// Data loss (plus its own restraints) at the shared values `shared` and the given own
    /// values, and its gradient over the objective's variables (own, then shared slots).
    pub fn value_and_gradient(&mut self, own: &[f64], shared: &[f64]) -> Result<(f64, Vec<f64>)> {
        let x = self.local(own, shared);
        self.objective.value_and_gradient(&x).map_err(|e| self.fail(e.reason()))
    }

    /// [`Self::value_and_gradient`] of every shot of `shots` at its own values `own(shot)`,
    /// the objectives' stages run together where that saves waits
    /// ([`crate::objective::values_and_gradients`]).
    pub fn values_and_gradients(
        shots: &mut [ShotFit<B>],
        own: impl Fn(&ShotFit<B>) -> Vec<f64>,
        shared: &[f64],
    ) -> Result<Vec<Result<(f64, Vec<f64>)>>> {
        let xs: Vec<Vec<f64>> = shots.iter().map(|shot| shot.local(&own(shot), shared)).collect();
        let mut objectives: Vec<&mut Objective<B>> = shots.iter_mut().map(|shot| &mut shot.objective).collect();
        let results = crate::objective::values_and_gradients(&mut objectives, &xs)?;
        Ok(results.into_iter().zip(shots.iter()).map(|(r, shot)| r.map_err(|e| shot.fail(e.reason()))).collect())
    }

    /// The loss at its current own values (one forward render).
    pub fn value(&mut self, shared: &[f64]) -> Result<f64> {
        let x = self.local(&self.values, shared);
        self.objective.value(&x).map_err(|e| self.fail(e.reason()))
    }

    /// The shot's Fisher information at its current values (one finite-difference Jacobian).
    pub fn information(&mut self, shared: &[f64]) -> Result<ShotInformation> {
        let x = self.local(&self.values, shared);
        let jac = jacobian(&mut self.objective, &x).map_err(|e| self.fail(e.reason()))?;
        let f = fisher_information(&self.objective, &jac);
        let (o, n) = (self.own, f.len());
        let own: Vec<Vec<f64>> = f[..o].iter().map(|row| row[..o].to_vec()).collect();
        let mut schur: Vec<Vec<f64>> = f[o..].iter().map(|row| row[o..].to_vec()).collect();
        if o > 0 {
            let inv = invert_spd(&own).ok_or_else(|| self.fail("its own variables are not determined by its data (singular Fisher information)"))?;
            self.own_sigma = standard_errors(&inv);
            // S −= F_so · F_oo⁻¹ · F_os
            for i in o..n {
                let a: Vec<f64> = (0..o).map(|q| (0..o).map(|p| f[i][p] * inv[p][q]).sum()).collect();
                for j in o..n {
                    schur[i - o][j - o] -= (0..o).map(|q| a[q] * f[q][j]).sum::<f64>();
                }
            }
        }
        Ok(ShotInformation { own, shared: schur })
    }

    /// The Fisher information of the shot's own variables with the shared ones held at
    /// `shared` (`F_oo`; one finite-difference Jacobian over its own columns only), and the
    /// standard errors it gives ([`ShotFit::own_sigma`]).
    pub fn own_information(&mut self, shared: &[f64]) -> Result<Vec<Vec<f64>>> {
        let x = self.local(&self.values, shared);
        let jac = jacobian_leading(&mut self.objective, &x, self.own).map_err(|e| self.fail(e.reason()))?;
        let f = fisher_information(&self.objective, &jac);
        if let Some(inv) = invert_spd(&f) {
            self.own_sigma = standard_errors(&inv);
        }
        Ok(f)
    }

    /// Refine the shot's own variables with the shared ones held at `shared`; keeps the result.
    pub fn refine_own(&mut self, shared: &[f64], options: &RefineOptions) -> Result<Option<Refined>> {
        if self.own == 0 {
            return Ok(None);
        }
        let map = self.own_transform(shared, &options.scaling)?;
        let device = self.device();
        let mut step = OwnStep { shot: self, shared };
        let r = minimize::<B, _, _>(&mut step, &map, options, &device, |_| std::ops::ControlFlow::Continue(()))?;
        self.values = r.values.clone();
        Ok(Some(r))
    }

    /// The scaling of the own step: typical or given steps, or from its own Fisher block.
    fn own_transform(&mut self, shared: &[f64], scaling: &Scaling) -> Result<Transform> {
        let x0 = self.values.clone();
        let typical: Vec<f64> = self.own_specs().iter().zip(&x0).map(|(s, &v)| s.typical_step(v)).collect();
        Ok(match scaling {
            Scaling::Typical => Transform::diagonal(x0, &typical),
            Scaling::Steps(s) if s.len() == x0.len() => Transform::diagonal(x0, s),
            Scaling::Steps(s) => return Err(self.fail(format!("{} scaling steps for {} own variables", s.len(), x0.len()))),
            Scaling::Fisher | Scaling::FisherDiagonal => {
                let f = self.own_information(shared)?;
                let bounded = self.own_specs().iter().any(|s| s.lower.is_finite() || s.upper.is_finite());
                match (*scaling == Scaling::Fisher && !bounded).then(|| whitening(&f)).flatten() {
                    Some(t) => Transform { x0, t: crate::scaling::Matrix::Full(t) },
                    None => {
                        let steps: Vec<f64> = (0..f.len())
                            .map(|i| if f[i][i] > 0.0 && f[i][i].is_finite() { 1.0 / f[i][i].sqrt() } else { typical[i] })
                            .collect();
                        Transform::diagonal(x0, &steps)
                    }
                }
            }
        })
    }
}

/// The own variables of one shot as a [`Problem`], the shared ones held fixed.
struct OwnStep<'a, B: AutodiffBackend + RenderBackend> {
    shot: &'a mut ShotFit<B>,
    shared: &'a [f64],
}

impl<B: AutodiffBackend + RenderBackend> Problem for OwnStep<'_, B> {
    fn variables(&self) -> Vec<Variable> {
        self.shot.own_specs().iter().map(|s| s.variable).collect()
    }
    fn start(&self) -> Vec<f64> {
        self.shot.values.clone()
    }
    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        let s = self.shot.own_specs();
        (s.iter().map(|s| s.lower).collect(), s.iter().map(|s| s.upper).collect())
    }
    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (f, mut g) = self.shot.value_and_gradient(x, self.shared)?;
        g.truncate(self.shot.own);
        Ok((f, g))
    }
}
