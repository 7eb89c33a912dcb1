//! The Fisher information of the shared variables summed over every shot of every rank, each
//! shot's own variables left free (its Schur complement, [`super::ShotInformation`]), and the
//! standard errors it gives: from the inverse of the whole matrix where that is affordable,
//! from its diagonal otherwise.

use nanobragg::kernel::RenderBackend;
use burn::tensor::backend::AutodiffBackend;

use super::comm::Comm;
use super::steps::sum_or_fail;
use super::Ensemble;
use crate::error::Result;
use crate::uncertainty::invert_spd;

/// Most shared variables whose whole Fisher matrix is summed and inverted (`n²` values are
/// summed over the ranks and the inverse costs `n³`); above, the diagonal only.
pub const DENSE_LIMIT: usize = 1000;

/// Standard errors of the shared variables.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedSigma {
    /// σ per shared variable (user units); `NaN` where no shot's data and no restraint
    /// inform it.
    pub sigma: Vec<f64>,
    /// Whether σ comes from the inverse of the whole matrix (correlations between shared
    /// variables included) rather than from its diagonal, `1/√F_ii`, which is a lower bound.
    pub dense: bool,
}

impl<B: AutodiffBackend + RenderBackend, C: Comm> Ensemble<B, C> {
    /// The shared variables' Fisher information at the current values, summed over ranks, the
    /// shared restraints' `1/σ²` included: row-major `n × n` when `dense`, else its diagonal.
    /// Collective; one finite-difference Jacobian per shot.
    pub fn shared_information(&mut self, dense: bool) -> Result<Vec<f64>> {
        let n = self.shared.specs.len();
        let len = if dense { n * n } else { n };
        let values = self.values.clone();
        let local = (|| -> Result<Vec<f64>> {
            let mut total = vec![0.0; len];
            for shot in self.shots.iter_mut() {
                let s = shot.information(&values)?.shared;
                let slots = shot.shared_slots().to_vec();
                for (a, &i) in slots.iter().enumerate() {
                    if dense {
                        for (b, &j) in slots.iter().enumerate() {
                            total[i * n + j] += s[a][b];
                        }
                    } else {
                        total[i] += s[a][a];
                    }
                }
            }
            Ok(total)
        })();
        let mut total = sum_or_fail(&self.comm, local, len)?;
        for (i, spec) in self.shared.specs.iter().enumerate() {
            if let Some(r) = spec.restraint {
                total[if dense { i * n + i } else { i }] += 1.0 / (r.sigma * r.sigma);
            }
        }
        Ok(total)
    }

    /// Each shot's own standard errors at the current values with the shared variables held
    /// ([`super::ShotFit::own_information`]: a Jacobian over its own columns only), kept for
    /// [`Ensemble::state`]. Collective (one sum, for failures).
    pub fn shot_sigma(&mut self) -> Result<()> {
        let values = self.values.clone();
        let local = self.shots.iter_mut().try_for_each(|s| s.own_information(&values).map(drop)).map(|()| Vec::new());
        sum_or_fail(&self.comm, local, 0).map(drop)
    }

    /// Standard errors of the shared variables at the current values: the inverse of the
    /// whole Fisher matrix over the informed variables when there are at most `dense_limit`
    /// shared variables (and it is positive definite), `1/√F_ii` otherwise. Collective.
    pub fn shared_sigma(&mut self, dense_limit: usize) -> Result<SharedSigma> {
        let n = self.shared.specs.len();
        let dense = n <= dense_limit;
        let info = self.shared_information(dense)?;
        let diag: Vec<f64> = (0..n).map(|i| if dense { info[i * n + i] } else { info[i] }).collect();
        let informed: Vec<usize> = (0..n).filter(|&i| diag[i] > 0.0 && diag[i].is_finite()).collect();
        let mut sigma: Vec<f64> = diag.iter().map(|&d| if d > 0.0 && d.is_finite() { 1.0 / d.sqrt() } else { f64::NAN }).collect();
        if !dense {
            return Ok(SharedSigma { sigma, dense: false });
        }
        // Equilibrate (D·F·D, D = 1/√diag) before inverting.
        let d: Vec<f64> = informed.iter().map(|&i| 1.0 / diag[i].sqrt()).collect();
        let g: Vec<Vec<f64>> = informed
            .iter()
            .enumerate()
            .map(|(a, &i)| informed.iter().enumerate().map(|(b, &j)| info[i * n + j] * d[a] * d[b]).collect())
            .collect();
        match invert_spd(&g) {
            Some(inv) => {
                for (a, &i) in informed.iter().enumerate() {
                    sigma[i] = inv[a][a].sqrt() * d[a];
                }
                Ok(SharedSigma { sigma, dense: true })
            }
            None => Ok(SharedSigma { sigma, dense: false }),
        }
    }
}
