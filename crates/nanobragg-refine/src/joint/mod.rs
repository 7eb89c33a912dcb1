//! Several images refined together: one [`Objective`] per image (its own scene, e.g. another
//! φ or another panel of the detector, and its own observation), losses summed.
//!
//! The joint variables are given by a [`Layout`]: by default every variable is shared (every
//! part must then list the same variables with the same start values); [`Joint::with_layout`]
//! also makes some variables one per image (a panel's shift) and adds group offsets (a module
//! of panels). The parts' own restraints are not used: the joint variables' restraints
//! (shared ones from the first part's specs, per-part ones from each part's, groups' from
//! theirs) are counted once. The Fisher information is the sum of the parts' (each from its
//! own finite-difference Jacobian) mapped onto the joint variables, so the standard errors
//! combine the images.

mod layout;

pub use layout::{JointVariable, Layout, Sharing};

use nanobragg::gradients::ParamName;
use nanobragg::kernel::RenderBackend;
use std::ops::ControlFlow;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;

use crate::driver::{minimize, IterationLog, Problem, Refined};
use crate::error::Result;
use crate::objective::Objective;
use crate::options::{RefineOptions, Scaling};
use crate::scaling::Transform;
use crate::spec::{ParamSpec, Variable};
use crate::uncertainty::{fisher_information, from_fisher, jacobian, Uncertainties};

/// Images refined together.
#[derive(Debug)]
pub struct Joint<B: AutodiffBackend + RenderBackend> {
    /// One objective per image.
    pub parts: Vec<Objective<B>>,
    /// The joint variables and the parts' variables they move.
    pub layout: Layout,
}

impl<B: AutodiffBackend + RenderBackend> Joint<B> {
    /// Every variable shared: the parts refine the same variables from the same start.
    pub fn new(parts: Vec<Objective<B>>) -> Result<Self> {
        Self::with_layout(parts, &[])
    }

    /// Every variable shared except as `rules` say: per part, or only in groups
    /// ([`Layout::new`]).
    pub fn with_layout(parts: Vec<Objective<B>>, rules: &[(ParamName, Sharing)]) -> Result<Self> {
        let layout = Layout::new(&parts, rules)?;
        Ok(Joint { parts, layout })
    }

    /// Add an offset of `spec.variable` shared by the parts `members`, on top of their own
    /// values (see [`Layout::add_group`]); returns the group's number.
    pub fn add_group(&mut self, members: &[usize], spec: ParamSpec) -> Result<u32> {
        self.layout.add_group(&self.parts, members, spec)
    }

    /// Part `part`'s own variable values at the joint values `x` (e.g. for
    /// [`Objective::into_simulator_at`]).
    pub fn local(&self, part: usize, x: &[f64]) -> Vec<f64> {
        self.layout.local(part, self.parts[part].start(), x)
    }

    /// The joint variables' specs, in value-vector order.
    pub fn specs(&self) -> Vec<ParamSpec> {
        self.layout.variables.iter().map(|v| v.spec).collect()
    }

    /// Fisher information of the joint variables at `x`: `Σ_parts Mᵀ F_part M` plus the
    /// joint restraints' `1/σ²`, where `F_part` leaves out the part's own restraints.
    pub fn fisher(&mut self, x: &[f64]) -> Result<Vec<Vec<f64>>> {
        let n = x.len();
        let mut total = vec![vec![0.0; n]; n];
        for p in 0..self.parts.len() {
            let local = self.local(p, x);
            let part = &mut self.parts[p];
            let jac = jacobian(part, &local)?;
            let mut f = fisher_information(part, &jac);
            for (k, s) in part.specs().iter().enumerate() {
                if let Some(r) = s.restraint {
                    f[k][k] -= 1.0 / (r.sigma * r.sigma);
                }
            }
            let mine: Vec<(usize, usize)> = self.layout.variables.iter().enumerate()
                .flat_map(|(j, v)| v.slots.iter().filter(|s| s.0 == p).map(move |s| (j, s.1)))
                .collect();
            for &(i, a) in &mine {
                for &(j, b) in &mine {
                    total[i][j] += f[a][b];
                }
            }
        }
        for (i, v) in self.layout.variables.iter().enumerate() {
            if let Some(r) = v.spec.restraint {
                total[i][i] += 1.0 / (r.sigma * r.sigma);
            }
        }
        Ok(total)
    }

    /// Standard errors and correlations from the joint Fisher information at `x`.
    pub fn uncertainties(&mut self, x: &[f64]) -> Result<Uncertainties> {
        let f = self.fisher(x)?;
        let names: Vec<String> = self.variables().iter().map(|v| v.name()).collect();
        from_fisher(f, &names)
    }

    /// Refine all images together (scaling from the joint Fisher information where asked).
    pub fn refine<C>(&mut self, options: &RefineOptions, callback: C) -> Result<Refined>
    where
        C: FnMut(&IterationLog) -> ControlFlow<()>,
    {
        let clock = Instant::now();
        let x0 = self.start();
        let typical: Vec<f64> = self.specs().iter().zip(&x0).map(|(s, &v)| s.typical_step(v)).collect();
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
        self.layout.variables.iter().map(|v| v.spec.variable).collect()
    }
    fn start(&self) -> Vec<f64> {
        self.layout.variables.iter().map(|v| v.start).collect()
    }
    fn bounds(&self) -> (Vec<f64>, Vec<f64>) {
        let specs = self.specs();
        (specs.iter().map(|s| s.lower).collect(), specs.iter().map(|s| s.upper).collect())
    }
    fn value_and_gradient(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let mut grad = vec![0.0; x.len()];
        let mut total = self.layout.restraints(x, &mut grad);
        for p in 0..self.parts.len() {
            let local = self.local(p, x);
            let part = &mut self.parts[p];
            let (f, mut g) = part.value_and_gradient(&local)?;
            if !f.is_finite() {
                return Ok((f64::INFINITY, vec![f64::NAN; x.len()]));
            }
            // The part's own restraints are not the joint's: take them back.
            let mut own = vec![0.0; g.len()];
            total += f - part.restraints(&local, Some(&mut own));
            g.iter_mut().zip(&own).for_each(|(a, b)| *a -= b);
            self.layout.pull_back(p, &g, &mut grad);
        }
        Ok((total, grad))
    }
}
