//! Several images refined together: one [`Objective`] per image (its own scene, e.g. another
//! φ, and its own observation), all refining the same variables, losses summed.
//!
//! The variables (names, bounds, restraints) are those of the first part; every part must list
//! the same variables in the same order, with the same start values. Restraints are counted
//! once (the first part's). The Fisher information is the sum of the parts' (each from its own
//! finite-difference Jacobian), so the standard errors combine the images.

use nanobragg::kernel::RenderBackend;
use std::ops::ControlFlow;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;

use crate::driver::{minimize, IterationLog, Problem, Refined};
use crate::objective::Objective;
use crate::options::{RefineOptions, Scaling};
use crate::scaling::Transform;
use crate::spec::Variable;
use crate::uncertainty::{fisher_information, from_fisher, jacobian, Uncertainties};
use crate::error::{RefineError, Result};

/// Images sharing the refined variables.
#[derive(Debug)]
pub struct Joint<B: AutodiffBackend + RenderBackend> {
    /// One objective per image.
    pub parts: Vec<Objective<B>>,
}

impl<B: AutodiffBackend + RenderBackend> Joint<B> {
    /// Check that every part refines the same variables from the same start.
    pub fn new(parts: Vec<Objective<B>>) -> Result<Self> {
        let Some(first) = parts.first() else {
            return Err(RefineError::Refinement("no images to refine against".into()));
        };
        let vars = Problem::variables(first);
        for (i, p) in parts.iter().enumerate().skip(1) {
            if Problem::variables(p) != vars {
                return Err(RefineError::Refinement(format!("image {i} refines other variables than image 0")));
            }
            if let Some(k) = (0..vars.len()).find(|&k| p.start()[k] != first.start()[k]) {
                return Err(RefineError::Refinement(format!(
                    "image {i} starts {} at {}, image 0 at {}",
                    vars[k],
                    p.start()[k],
                    first.start()[k]
                )));
            }
        }
        Ok(Joint { parts })
    }

    /// Fisher information summed over the images (restraints once), at `x`.
    pub fn fisher(&mut self, x: &[f64]) -> Result<Vec<Vec<f64>>> {
        let n = x.len();
        let mut total = vec![vec![0.0; n]; n];
        for (k, part) in self.parts.iter_mut().enumerate() {
            let jac = jacobian(part, x)?;
            let mut f = fisher_information(part, &jac);
            if k > 0 {
                for (i, s) in part.specs().iter().enumerate() {
                    if let Some(r) = s.restraint {
                        f[i][i] -= 1.0 / (r.sigma * r.sigma);
                    }
                }
            }
            for i in 0..n {
                for j in 0..n {
                    total[i][j] += f[i][j];
                }
            }
        }
        Ok(total)
    }

    /// Standard errors and correlations from the summed Fisher information at `x`.
    pub fn uncertainties(&mut self, x: &[f64]) -> Result<Uncertainties> {
        let f = self.fisher(x)?;
        let names: Vec<String> = self.variables().iter().map(|v| v.name()).collect();
        from_fisher(f, &names)
    }

    /// Refine all images together (scaling from the summed Fisher information where asked).
    pub fn refine<C>(&mut self, options: &RefineOptions, callback: C) -> Result<Refined>
    where
        C: FnMut(&IterationLog) -> ControlFlow<()>,
    {
        let clock = Instant::now();
        let x0 = self.start();
        let typical: Vec<f64> = self.parts[0].specs().iter().zip(&x0).map(|(s, &v)| s.typical_step(v)).collect();
        let map = match &options.scaling {
            Scaling::Typical => Transform::diagonal(x0.clone(), &typical),
            Scaling::Steps(s) => Transform::diagonal(x0.clone(), s),
            Scaling::Fisher | Scaling::FisherDiagonal => {
                let f = self.fisher(&x0)?;
                let steps: Vec<f64> = (0..x0.len())
                    .map(|i| if f[i][i] > 0.0 && f[i][i].is_finite() { 1.0 / f[i][i].sqrt() } else { typical[i] })
                    .collect();
                Transform::diagonal(x0.clone(), &steps)
            }
        };
        let device = self.parts[0].simulator().params.pixel.device();
        let mut r = minimize::<B, _, _>(self, &map, options, &device, callback)?;
        r.elapsed_s = clock.elapsed().as_secs_f64();
        Ok(r)
    }
}

impl<B: AutodiffBackend + RenderBackend> Problem for Joint<B> {
    fn variables(&self) -> Vec<Variable> {
        Problem::variables(&self.parts[0])
    }
    fn start(&self) -> Vec<f64> {
        self.parts[0].start().to_vec()
    }
    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        Problem::bounds(&self.parts[0])
    }
    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let mut total = 0.0;
        let mut grad = vec![0.0; x.len()];
        for (k, part) in self.parts.iter_mut().enumerate() {
            let (f, g) = part.value_and_gradient(x)?;
            total += f;
            for (a, b) in grad.iter_mut().zip(g) {
                *a += b;
            }
            if k > 0 {
                // Restraints once: take back what the other parts added.
                for (i, s) in part.specs().iter().enumerate() {
                    if let Some(r) = s.restraint {
                        let z = (x[i] - r.mean) / r.sigma;
                        total -= 0.5 * z * z;
                        grad[i] -= z / r.sigma;
                    }
                }
            }
        }
        Ok((total, grad))
    }
}
