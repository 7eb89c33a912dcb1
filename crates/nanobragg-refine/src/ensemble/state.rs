//! The state of an ensemble run between cycles: the shared values and every shot's own
//! values, gathered at the root to be written (a checkpoint, the per-shot results) and read
//! back by every rank to restart.

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use super::comm::Comm;
use super::steps::sum_or_fail;
use super::Ensemble;
use crate::error::{RefineError, Result};

/// One shot's own values and loss.
#[derive(Debug, Clone, PartialEq)]
pub struct ShotRecord {
    /// Index in the shot list.
    pub index: usize,
    /// Its loss (data and own restraints) at these values.
    pub loss: f64,
    /// Its own variables' values (user units).
    pub values: Vec<f64>,
    /// Their standard errors with the shared variables held ([`super::ShotFit::own_sigma`]):
    /// NaN until the shot's Fisher information was computed ([`Ensemble::shared_sigma`]).
    pub sigma: Vec<f64>,
}

/// An ensemble's values after some cycles.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleState {
    /// Cycles run.
    pub cycle: usize,
    /// Shared values.
    pub shared: Vec<f64>,
    /// Every shot, in shot-list order.
    pub shots: Vec<ShotRecord>,
}

impl<B: AutodiffBackend + RenderBackend, C: Comm> Ensemble<B, C> {
    /// The state after `cycle` cycles, at the root (`None` on the other ranks); each shot's loss
    /// costs one forward render. Collective. The root holds `2k + 3` numbers per shot of the
    /// whole list while it writes them.
    pub fn state(&mut self, cycle: usize) -> Result<Option<EnsembleState>> {
        let values = self.values.clone();
        let local = (|| -> Result<Vec<f64>> {
            let mut flat = Vec::new();
            for shot in self.shots.iter_mut() {
                let loss = shot.value(&values)?;
                flat.extend([shot.index as f64, loss, shot.values().len() as f64]);
                flat.extend_from_slice(shot.values());
                flat.extend_from_slice(shot.own_sigma());
            }
            Ok(flat)
        })();
        sum_or_fail(&self.comm, local.as_ref().map(|_| Vec::new()).map_err(|e| RefineError::Refinement(e.to_string())), 0)?;
        let Some(parts) = self.comm.gather(&local?) else {
            return Ok(None);
        };
        let mut shots = Vec::with_capacity(self.total);
        for flat in parts {
            let mut at = 0;
            while at < flat.len() {
                let k = flat[at + 2] as usize;
                let (values, sigma) = flat[at + 3..at + 3 + 2 * k].split_at(k);
                shots.push(ShotRecord { index: flat[at] as usize, loss: flat[at + 1], values: values.to_vec(), sigma: sigma.to_vec() });
                at += 3 + 2 * k;
            }
        }
        shots.sort_by_key(|s| s.index);
        Ok(Some(EnsembleState { cycle, shared: values, shots }))
    }

    /// Take up `state` (read by every rank; its shots in shot-list order): the shared values and this rank's shots' own
    /// values. Collective.
    pub fn restore(&mut self, state: &EnsembleState) -> Result<()> {
        let local = (|| -> Result<Vec<f64>> {
            if state.shared.len() != self.shared.specs.len() {
                return Err(RefineError::Refinement(format!(
                    "the state holds {} shared values, the run has {} shared variables",
                    state.shared.len(),
                    self.shared.specs.len()
                )));
            }
            for shot in self.shots.iter_mut() {
                let record = state.shots.binary_search_by_key(&shot.index, |r| r.index).map_err(|_| shot.fail("not in the state"))?;
                shot.set_values(&state.shots[record].values)?;
            }
            Ok(Vec::new())
        })();
        sum_or_fail(&self.comm, local, 0)?;
        self.values = state.shared.clone();
        Ok(())
    }
}
