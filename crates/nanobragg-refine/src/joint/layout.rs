//! How the variables of a joint refinement act on its images' own variables.
//!
//! Each image (part) of a [`Joint`](super::Joint) is an [`Objective`] with its own variables
//! (its *slots*). A joint variable acts on one or more slots, and a slot's value is its start
//! plus the moves of the joint variables acting on it, `x_slot = x_slot,0 + Σ_g (x_g − x_g,0)`:
//!
//! * a shared variable (cell, misset, scale) acts on that variable's slot in every part;
//! * a per-part variable ([`Scope::Part`]) acts on one part's slot (one panel's shift);
//! * a group variable ([`Scope::Group`], an offset starting at 0) acts on the slots of several
//!   parts at once (a module's panels), on top of their own variables if they have them
//!   ([`Sharing::PerPart`]; a restraint of those to 0 ties the panels to their group where the
//!   data are thin) or alone ([`Sharing::Grouped`]). A group of `panel_shift_*` translates its
//!   panels as one body; `group_rot_*` turns them as one body about the group's pivot (the
//!   panels' `PanelGroup`), so a group of them should hold panels of one `PanelGroup`.
//!
//! The map is linear, so the gradient of a joint variable is the sum of its slots' gradients
//! and a part's Fisher information maps to the joint variables as `Mᵀ F M`.

use nanobragg::gradients::ParamName;
use nanobragg::kernel::RenderBackend;

use burn::tensor::backend::AutodiffBackend;

use crate::error::{RefineError, Result};
use crate::objective::Objective;
use crate::spec::{ParamSpec, Scope, Variable};

/// One variable of a joint refinement.
#[derive(Debug, Clone, PartialEq)]
pub struct JointVariable {
    /// Name, bounds, restraint and typical step (user unit).
    pub spec: ParamSpec,
    /// Start value (user unit; 0 for a group offset).
    pub start: f64,
    /// The `(part, slot)` pairs it moves: slot = index into that part's variables.
    pub slots: Vec<(usize, usize)>,
}

/// How a scene parameter that the parts list is refined jointly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// One variable for every part (the default).
    Shared,
    /// One variable per part that lists it ([`Scope::Part`]).
    PerPart,
    /// Only through the groups added with [`Layout::add_group`] (a module's rigid rotation);
    /// a part in no group keeps its start value.
    Grouped,
}

/// The joint variables, in value-vector order: shared ones (in the first part's order), then
/// each part's own, then the groups' offsets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// The variables.
    pub variables: Vec<JointVariable>,
}

impl Layout {
    /// The layout where every variable is [`Sharing::Shared`] except as `rules` say: a
    /// [`Sharing::PerPart`] parameter becomes one variable per part that lists it, with that
    /// part's bounds, restraint and step; a [`Sharing::Grouped`] one none until a group is
    /// added. Shared variables must be listed by every part with the same start value.
    pub fn new<B: AutodiffBackend + RenderBackend>(parts: &[Objective<B>], rules: &[(ParamName, Sharing)]) -> Result<Self> {
        let rule = |v: Variable| v.param().and_then(|p| rules.iter().find(|r| r.0 == p)).map_or(Sharing::Shared, |r| r.1);
        let own = |v: Variable| rule(v) != Sharing::Shared;
        let Some(first) = parts.first() else {
            return Err(RefineError::Refinement("no images to refine against".into()));
        };
        let shared: Vec<(usize, ParamSpec)> =
            first.specs().iter().copied().enumerate().filter(|(_, s)| !own(s.variable)).collect();
        let mut variables: Vec<JointVariable> = shared
            .iter()
            .map(|&(k, spec)| JointVariable { spec, start: first.start()[k], slots: vec![(0, k)] })
            .collect();
        for (i, part) in parts.iter().enumerate().skip(1) {
            let theirs: Vec<usize> = (0..part.specs().len()).filter(|&k| !own(part.specs()[k].variable)).collect();
            let same = theirs.len() == shared.len()
                && theirs.iter().zip(&shared).all(|(&k, (_, s))| part.specs()[k].variable == s.variable);
            if !same {
                return Err(RefineError::Refinement(format!("image {i} shares other variables than image 0")));
            }
            for (v, &k) in variables.iter_mut().zip(&theirs) {
                if part.start()[k] != v.start {
                    let name = v.spec.variable;
                    return Err(RefineError::Refinement(format!(
                        "image {i} starts {name} at {}, image 0 at {} (refine it per image, or start them together)",
                        part.start()[k],
                        v.start
                    )));
                }
                v.slots.push((i, k));
            }
        }
        for (i, part) in parts.iter().enumerate() {
            for (k, spec) in part.specs().iter().enumerate().filter(|(_, s)| rule(s.variable) == Sharing::PerPart) {
                let param = spec.variable.param().expect("a per-part variable is a scene parameter");
                let variable = Variable::Scoped(Scope::Part(i as u32), param);
                variables.push(JointVariable { spec: ParamSpec { variable, ..*spec }, start: part.start()[k], slots: vec![(i, k)] });
            }
        }
        Ok(Layout { variables })
    }

    /// Add group `spec.variable`'s offset (a [`Variable::Param`], not [`Sharing::Shared`]),
    /// starting at 0, acting on that parameter's slot in each of `members`; returns the group's
    /// number.
    pub fn add_group<B: AutodiffBackend + RenderBackend>(
        &mut self,
        parts: &[Objective<B>],
        members: &[usize],
        spec: ParamSpec,
    ) -> Result<u32> {
        let Variable::Param(param) = spec.variable else {
            return Err(RefineError::Refinement(format!("a group moves a scene parameter, not {}", spec.variable)));
        };
        if self.variables.iter().any(|v| v.spec.variable == spec.variable) {
            return Err(RefineError::Refinement(format!("{param} is shared by every image: refine it per image or in groups")));
        }
        if spec.restraint.is_some_and(|r| !(r.sigma > 0.0)) || !(spec.lower <= 0.0 && 0.0 <= spec.upper) {
            return Err(RefineError::Refinement(format!(
                "the group of {param}: restraint σ must be > 0 and the bounds must hold its start, 0"
            )));
        }
        let group = self.variables.iter().filter(|v| matches!(v.spec.variable, Variable::Scoped(Scope::Group(_), _))).count() as u32;
        let mut slots = Vec::with_capacity(members.len());
        for &m in members {
            let part = parts
                .get(m)
                .ok_or_else(|| RefineError::Refinement(format!("group member {m}: there are {} images", parts.len())))?;
            let k = part
                .specs()
                .iter()
                .position(|s| s.variable == spec.variable)
                .ok_or_else(|| RefineError::Refinement(format!("group member {m} does not refine {param}")))?;
            slots.push((m, k));
        }
        if slots.is_empty() {
            return Err(RefineError::Refinement(format!("the group of {param} has no members")));
        }
        let variable = Variable::Scoped(Scope::Group(group), param);
        self.variables.push(JointVariable { spec: ParamSpec { variable, ..spec }, start: 0.0, slots });
        Ok(group)
    }

    /// Part `part`'s own values at the joint values `x`, from its start `part_start`.
    pub fn local(&self, part: usize, part_start: &[f64], x: &[f64]) -> Vec<f64> {
        let mut local = part_start.to_vec();
        for (v, &xv) in self.variables.iter().zip(x) {
            for &(p, k) in &v.slots {
                if p == part {
                    local[k] += xv - v.start;
                }
            }
        }
        local
    }

    /// Add part `part`'s gradient (per slot) into the joint gradient.
    pub fn pull_back(&self, part: usize, local_grad: &[f64], grad: &mut [f64]) {
        for (v, g) in self.variables.iter().zip(grad.iter_mut()) {
            for &(p, k) in &v.slots {
                if p == part {
                    *g += local_grad[k];
                }
            }
        }
    }

    /// Joint restraints' share of the loss at `x`, gradient added to `grad`.
    pub fn restraints(&self, x: &[f64], grad: &mut [f64]) -> f64 {
        crate::spec::restraint_sum(self.variables.iter().map(|v| &v.spec), x, Some(grad))
    }
}
