//! The extension point that chooses the φ-rotated cell of each evaluation.
//!
//! The spec (and [`FreshPhiRotation`], the default) rotates the reference cell afresh at every
//! φ step. Other policies — such as the C program's φ = 0 carry-over, which lives in the
//! `nanobragg-parity` crate — may substitute other rotations for some steps or for some
//! evaluations, given the loop order as data. The core knows nothing of any such policy.

use burn::tensor::{backend::Backend, Bool, Tensor};

/// Where a tile sits in the C program's loop order.
///
/// An *evaluation* is one (pixel, thickness layer, sub-pixel, source) combination: the unit
/// that runs the whole φ loop. Evaluations of a tile are laid out `[P, T·O·S]`, pixels in
/// slow-then-fast scan order, then layers, sub-pixels (slow-major), sources.
#[derive(Debug, Clone)]
pub struct EvaluationContext<B: Backend> {
    /// Evaluations that run the φ loop (not culled by d_min), `[P, T·O·S]`.
    pub active: Tensor<B, 2, Bool>,
    /// Whether any evaluation of an earlier tile ran the φ loop.
    pub any_before: bool,
}

/// A substitution of φ-step cells for selected evaluations.
#[derive(Debug, Clone)]
pub struct PhiOverride<B: Backend> {
    /// Which evaluations use `cells`, `[P, T·O·S]`.
    pub evaluations: Tensor<B, 2, Bool>,
    /// Cells per φ step for those evaluations, `[Φ, 3, 3]` (rows a, b, c in metres).
    pub cells: Tensor<B, 3>,
}

/// The cells per φ step used by a tile.
#[derive(Debug, Clone)]
pub struct PhiCells<B: Backend> {
    /// Cells per φ step for every evaluation not overridden, `[Φ, 3, 3]`.
    pub base: Tensor<B, 3>,
    /// Substitutions for particular evaluations (usually none).
    pub overrides: Vec<PhiOverride<B>>,
}

/// How the φ rotation of each evaluation is chosen.
pub trait PhiRotation<B: Backend>: std::fmt::Debug + Send + Sync {
    /// Given the freshly rotated cells `[Φ, 3, 3]`, the unrotated cell `[3, 3]`, the φ angles of
    /// the steps (rad, host values, exactly as the C program computes them) and the tile's
    /// place in the loop order, return the cells the evaluations use.
    fn cells(
        &self,
        fresh: Tensor<B, 3>,
        unrotated: Tensor<B, 2>,
        phi_rad: &[f64],
        context: &EvaluationContext<B>,
    ) -> PhiCells<B>;

    /// Whether [`PhiRotation::cells`] needs the evaluation context (avoids building it otherwise).
    fn needs_context(&self) -> bool {
        false
    }

    /// Whether this is the spec's rule ([`FreshPhiRotation`]): the renderer may then use a
    /// backend's fused kernel, which rotates every φ step afresh.
    fn is_fresh(&self) -> bool {
        false
    }
}

/// The spec's rule: every φ step rotates the reference cell afresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreshPhiRotation;

impl<B: Backend> PhiRotation<B> for FreshPhiRotation {
    fn cells(
        &self,
        fresh: Tensor<B, 3>,
        _unrotated: Tensor<B, 2>,
        _phi_rad: &[f64],
        _context: &EvaluationContext<B>,
    ) -> PhiCells<B> {
        PhiCells {
            base: fresh,
            overrides: Vec::new(),
        }
    }

    fn is_fresh(&self) -> bool {
        true
    }
}
