//! The ensemble's collective problems: the shared variables with every shot's own held fixed
//! ([`SharedStep`]), and all variables together ([`JointStep`]). Each rank evaluates its own
//! shots; one [`Comm::sum`] per evaluation adds the losses and gradients of every rank, with a
//! flag per rank that says whether it failed, so that every rank stops together (naming the
//! rank and shot) instead of waiting for one that has gone.

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use super::comm::Comm;
use super::shot::{SharedVariables, ShotFit};
use crate::driver::Problem;
use crate::error::{RefineError, Result};
use crate::spec::Variable;

/// The optimiser's coordinates of the shared variables: `u = ln F` for a structure factor
/// bounded below by 0 that starts above 0 (so that F stays positive without a bound at which
/// its gradient `∝ F` vanishes and a clamped F would stay for good), `u = x` for the others.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogMap {
    log: Vec<bool>,
}

impl LogMap {
    pub fn new(shared: &SharedVariables, at: &[f64]) -> Self {
        let log = shared
            .specs
            .iter()
            .zip(at)
            .map(|(s, &x)| matches!(s.variable, Variable::StructureFactor(_)) && s.lower == 0.0 && x > 0.0)
            .collect();
        LogMap { log }
    }
    /// `u = x` for `n` variables.
    pub fn linear(n: usize) -> Self {
        LogMap { log: vec![false; n] }
    }
    /// `u` of the user values `x`.
    pub fn to_opt(&self, x: &[f64]) -> Vec<f64> {
        x.iter().zip(&self.log).map(|(&x, &l)| if l { x.ln() } else { x }).collect()
    }
    /// User values of `u`.
    pub fn to_user(&self, u: &[f64]) -> Vec<f64> {
        u.iter().zip(&self.log).map(|(&u, &l)| if l { u.exp() } else { u }).collect()
    }
    /// `∂L/∂u` from `∂L/∂x` at the user values `x`, in place.
    pub fn pull_back(&self, x: &[f64], grad: &mut [f64]) {
        for ((g, &x), &l) in grad.iter_mut().zip(x).zip(&self.log) {
            if l {
                *g *= x;
            }
        }
    }
    /// Bounds in `u` (none below for ln F; the upper bound's logarithm).
    pub fn bounds(&self, shared: &SharedVariables) -> (Vec<f64>, Vec<f64>) {
        let lo = shared.specs.iter().zip(&self.log).map(|(s, &l)| if l { f64::NEG_INFINITY } else { s.lower }).collect();
        let hi = shared.specs.iter().zip(&self.log).map(|(s, &l)| if l { s.upper.ln() } else { s.upper }).collect();
        (lo, hi)
    }
    /// A step in `u` from a step `dx` in `x` at `x`.
    pub fn step(&self, i: usize, dx: f64, x: f64) -> f64 {
        if self.log[i] {
            dx / x
        } else {
            dx
        }
    }
}

/// Sum `local` (this rank's contribution, or its error) over the ranks: `buf` holds the
/// values after a flag per rank. Every rank returns the same sums, or an error: its own where
/// it failed, one naming the failed ranks elsewhere.
pub(crate) fn sum_or_fail<C: Comm>(comm: &C, local: Result<Vec<f64>>, len: usize) -> Result<Vec<f64>> {
    let size = comm.size();
    let mut buf = vec![0.0; size + len];
    let mine = match local {
        Ok(v) => {
            buf[size..].copy_from_slice(&v);
            None
        }
        Err(e) => {
            buf[comm.rank()] = 1.0;
            Some(e)
        }
    };
    comm.sum(&mut buf);
    let failed: Vec<usize> = (0..size).filter(|&r| buf[r] > 0.0).collect();
    match (mine, failed.is_empty()) {
        (Some(e), _) => Err(RefineError::Refinement(format!("rank {}: {e}", comm.rank()))),
        (None, false) => Err(RefineError::Refinement(format!(
            "stopped: rank {failed:?} failed (its message names the shot)"
        ))),
        (None, true) => Ok(buf.split_off(size)),
    }
}

/// The shared variables' restraints at `x`, their slopes added to `grad`.
pub(crate) fn shared_restraints(shared: &SharedVariables, x: &[f64], grad: &mut [f64]) -> f64 {
    crate::spec::restraint_sum(&shared.specs, x, Some(grad))
}

/// The shared variables, every shot's own at its current values.
pub(crate) struct SharedStep<'a, B: AutodiffBackend + RenderBackend, C: Comm> {
    pub comm: &'a C,
    pub shots: &'a mut [ShotFit<B>],
    pub shared: &'a SharedVariables,
    /// The optimiser's coordinates.
    pub map: &'a LogMap,
    /// Start, in the optimiser's coordinates.
    pub start: Vec<f64>,
}

impl<B: AutodiffBackend + RenderBackend, C: Comm> Problem for SharedStep<'_, B, C> {
    fn variables(&self) -> Vec<Variable> {
        self.shared.specs.iter().map(|s| s.variable).collect()
    }
    fn start(&self) -> Vec<f64> {
        self.start.clone()
    }
    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        self.map.bounds(self.shared)
    }
    fn value_and_gradient(&mut self, u: &[f64]) -> Result<(f64, Vec<f64>)> {
        let n = u.len();
        let x = &self.map.to_user(u)[..];
        let local = (|| -> Result<Vec<f64>> {
            let mut out = vec![0.0; 1 + n];
            let results = ShotFit::values_and_gradients(self.shots, |shot| shot.values().to_vec(), x)?;
            for (shot, result) in self.shots.iter().zip(results) {
                let own = shot.values().len();
                let (f, g) = result?;
                if !f.is_finite() {
                    out[0] = f64::INFINITY;
                    continue;
                }
                out[0] += f;
                for (&k, gk) in shot.shared_slots().iter().zip(&g[own..]) {
                    out[1 + k] += gk;
                }
            }
            Ok(out)
        })();
        let mut sums = sum_or_fail(self.comm, local, 1 + n)?;
        let mut grad = sums.split_off(1);
        if !sums[0].is_finite() {
            return Ok((f64::INFINITY, vec![f64::NAN; n]));
        }
        let loss = sums[0] + shared_restraints(self.shared, x, &mut grad);
        self.map.pull_back(x, &mut grad);
        Ok((loss, grad))
    }
}

/// Every variable at once: the value vector is the shared variables (in the optimiser's
/// coordinates), then each shot's own (`per_shot` of them, in shot-list order), so its length
/// and the optimiser's state grow with the total number of shots.
pub(crate) struct JointStep<'a, B: AutodiffBackend + RenderBackend, C: Comm> {
    pub comm: &'a C,
    pub shots: &'a mut [ShotFit<B>],
    pub shared: &'a SharedVariables,
    pub map: &'a LogMap,
    pub per_shot: usize,
    pub start: Vec<f64>,
    pub variables: Vec<Variable>,
    pub bounds: (Vec<f64>, Vec<f64>),
}

impl<B: AutodiffBackend + RenderBackend, C: Comm> Problem for JointStep<'_, B, C> {
    fn variables(&self) -> Vec<Variable> {
        self.variables.clone()
    }
    fn start(&self) -> Vec<f64> {
        self.start.clone()
    }
    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        self.bounds.clone()
    }
    fn value_and_gradient(&mut self, u: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (n, ns, k) = (u.len(), self.shared.specs.len(), self.per_shot);
        let mut x = u.to_vec();
        x[..ns].copy_from_slice(&self.map.to_user(&u[..ns]));
        let local = (|| -> Result<Vec<f64>> {
            let mut out = vec![0.0; 1 + n];
            let own_of = |shot: &ShotFit<B>| ns + shot.index * k;
            let results = ShotFit::values_and_gradients(self.shots, |shot| x[own_of(shot)..own_of(shot) + k].to_vec(), &x[..ns])?;
            for (shot, result) in self.shots.iter().zip(results) {
                let at = own_of(shot);
                let (f, g) = result?;
                if !f.is_finite() {
                    out[0] = f64::INFINITY;
                    continue;
                }
                out[0] += f;
                out[1 + at..1 + at + k].copy_from_slice(&g[..k]);
                for (&s, gs) in shot.shared_slots().iter().zip(&g[k..]) {
                    out[1 + s] += gs;
                }
            }
            Ok(out)
        })();
        let mut sums = sum_or_fail(self.comm, local, 1 + n)?;
        let mut grad = sums.split_off(1);
        if !sums[0].is_finite() {
            return Ok((f64::INFINITY, vec![f64::NAN; n]));
        }
        let loss = sums[0] + shared_restraints(self.shared, &x[..ns], &mut grad[..ns]);
        self.map.pull_back(&x[..ns], &mut grad[..ns]);
        Ok((loss, grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ParamSpec;
    use nanobragg::gradients::ParamName;

    /// `LogMap` maps two positive F bounded below by 0 to `u = ln F`, and leaves an F with no
    /// lower bound, an F that starts at 0 and a scene parameter as they are: the pulled-back
    /// gradient `∂L/∂u` equals central differences of `L(to_user(u))`, and `to_user` inverts
    /// `to_opt`.
    #[test]
    fn log_map_pull_back_matches_central_differences() {
        let f = |hkl: [i32; 3], lower: f64| ParamSpec { lower, ..ParamSpec::new(Variable::StructureFactor(hkl)) };
        let specs = vec![f([1, 0, 0], 0.0), f([0, 1, 0], 0.0), f([0, 0, 1], f64::NEG_INFINITY), f([1, 1, 0], 0.0), ParamSpec::new(ParamName::DistanceMm)];
        let x = vec![120.0, 3.5, 40.0, 0.0, 100.0];
        let shared = SharedVariables { specs, start: x.clone() };
        let map = LogMap::new(&shared, &x);
        assert_eq!(map.log, vec![true, true, false, false, false]);
        let loss = |x: &[f64]| x[0] * x[0] * x[1] + (x[1] - 2.0).powi(3) + x[2].sin() * x[3] + 0.5 * x[3] * x[3] + x[4].ln() * x[0];
        let gradient = |x: &[f64]| {
            vec![2.0 * x[0] * x[1] + x[4].ln(), x[0] * x[0] + 3.0 * (x[1] - 2.0).powi(2), x[2].cos() * x[3], x[2].sin() + x[3], x[0] / x[4]]
        };
        let u = map.to_opt(&x);
        let back = map.to_user(&u);
        for (a, b) in back.iter().zip(&x) {
            assert!((a - b).abs() <= 1e-13 * b.abs().max(1.0), "to_user(to_opt(x)) = {a} for {b}");
        }
        let mut grad = gradient(&x);
        map.pull_back(&x, &mut grad);
        for i in 0..u.len() {
            let h = 1e-4 * u[i].abs().max(1.0);
            let (mut up, mut down) = (u.clone(), u.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (loss(&map.to_user(&up)) - loss(&map.to_user(&down))) / (2.0 * h);
            assert!((grad[i] - fd).abs() <= 1e-6 * fd.abs().max(1.0), "∂L/∂u[{i}]: {:e} vs central difference {fd:e}", grad[i]);
        }
    }
}
