//! The φ cache: the C program's φ = 0 carry-over, as a [`PhiRotation`] policy.
//!
//! In nanoBragg.c the working cell (`ap, bp, cp`) is rotated only when φ ≠ 0. A φ step whose
//! angle is exactly 0 therefore reuses whatever rotation the loop computed last: the previous
//! φ step of the same evaluation, or — for the first step — the last rotation of the previous
//! evaluation in loop order (pixels slow-then-fast within ROI and mask, then layers,
//! sub-pixels, sources; sources culled by `-dmin` never enter the φ loop). Only the very first
//! evaluation of the run starts from the unrotated cell.
//!
//! Because every evaluation sweeps the same φ list, all evaluations but the first see the same
//! table of rotations; the loop order only decides *which* evaluation is first. This policy
//! builds that table by index selection on the freshly rotated cells (so gradients flow through
//! it) and overrides the first evaluation of the run, found as data from the evaluation context.
//! Every tensor it creates lives on the device of the cells it receives; it creates no float
//! tensors at all, so it cannot change their dtype.

use burn::tensor::{backend::Backend, Bool, Int, Tensor};
use nanobragg::phi::{EvaluationContext, PhiCells, PhiOverride, PhiRotation};

/// The C program's φ = 0 carry-over (single-threaded loop order).
#[derive(Debug, Clone, Copy, Default)]
pub struct PhiCarryover;

/// For each φ step, which rotation it uses: `Some(j)` = the fresh rotation of step `j`,
/// `None` = the unrotated cell. `first` selects the rule of the very first evaluation.
pub fn carried_steps(phi_rad: &[f64], first: bool) -> Vec<Option<usize>> {
    let last_nonzero = phi_rad.iter().rposition(|&p| p != 0.0);
    let mut current = if first { None } else { last_nonzero };
    phi_rad
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            if p != 0.0 {
                current = Some(i);
            }
            current
        })
        .collect()
}

fn select_cells<B: Backend>(
    fresh: &Tensor<B, 3>,
    unrotated: &Tensor<B, 2>,
    steps: &[Option<usize>],
) -> Tensor<B, 3> {
    let n = fresh.dims()[0];
    let table = Tensor::cat(vec![fresh.clone(), unrotated.clone().unsqueeze_dim(0)], 0);
    let idx: Vec<i64> = steps.iter().map(|s| s.unwrap_or(n) as i64).collect();
    let idx = Tensor::<B, 1, Int>::from_data(
        burn::tensor::TensorData::new(idx, [steps.len()]),
        &fresh.device(),
    );
    table.select(0, idx)
}

/// The first active evaluation of a tile in loop order, as a one-hot mask of `active`'s shape
/// `[P, T·O·S]` (all false when none is active), made on `device` (the cells').
fn first_active_evaluation<B: Backend>(
    active: &Tensor<B, 2, Bool>,
    device: &B::Device,
) -> Tensor<B, 2, Bool> {
    let [p, n] = active.dims();
    let active = active.clone().reshape([p * n]);
    // Scores n·p − i at active evaluations, 0 elsewhere: unique and positive where active,
    // so the maximum marks the first active evaluation in loop order. Every int tensor
    // comes from the one arange (burn-flex's `arange` and `argmax`/`.int()` dtypes differ).
    let rank = Tensor::<B, 1, Int>::arange(0..(p * n) as i64, device)
        .neg()
        .add_scalar((p * n) as i64);
    let score = rank.mask_fill(active.bool_not(), 0);
    let best = score.clone().max();
    score
        .clone()
        .equal(best.expand([p * n]))
        .bool_and(score.greater_elem(0))
        .reshape([p, n])
}

impl<B: Backend> PhiRotation<B> for PhiCarryover {
    fn cells(
        &self,
        fresh: Tensor<B, 3>,
        unrotated: Tensor<B, 2>,
        phi_rad: &[f64],
        context: &EvaluationContext<B>,
    ) -> PhiCells<B> {
        let steady = carried_steps(phi_rad, false);
        let first = carried_steps(phi_rad, true);
        let base = select_cells(&fresh, &unrotated, &steady);
        let mut overrides = Vec::new();
        if !context.any_before && first != steady {
            overrides.push(PhiOverride {
                evaluations: first_active_evaluation(&context.active, &fresh.device()),
                cells: select_cells(&fresh, &unrotated, &first),
            });
        }
        PhiCells { base, overrides }
    }

    fn needs_context(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::carried_steps;

    #[test]
    fn phi_zero_first_step_takes_last_rotation_after_the_first_evaluation() {
        let phi = [0.0, 0.1, 0.2];
        assert_eq!(carried_steps(&phi, false), vec![Some(2), Some(1), Some(2)]);
        assert_eq!(carried_steps(&phi, true), vec![None, Some(1), Some(2)]);
    }

    #[test]
    fn nonzero_sweeps_are_untouched() {
        let phi = [0.1, 0.2];
        assert_eq!(carried_steps(&phi, false), vec![Some(0), Some(1)]);
        assert_eq!(carried_steps(&phi, true), vec![Some(0), Some(1)]);
    }

    #[test]
    fn zero_inside_the_sweep_reuses_the_previous_step() {
        let phi = [-0.1, 0.0, 0.1];
        assert_eq!(carried_steps(&phi, true), vec![Some(0), Some(0), Some(2)]);
    }

    #[test]
    fn all_zero_sweep_stays_unrotated() {
        assert_eq!(carried_steps(&[0.0, 0.0], false), vec![None, None]);
    }
}
