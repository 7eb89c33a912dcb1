//! Sums over a plane (warp) of the adjoint kernel's accumulators, written into the warp's row of
//! the `[warps, len θ]` partial-gradient buffer: one plane sum per entry ([`emit`]), or one
//! reduce-scatter for a cell's nine matrix entries ([`emit_nine`]).

use burn_cubecl::cubecl;
use burn_cubecl::cubecl::prelude::*;

/// The rows of one launch's partial-gradient buffer `[warps, len]` (a compile-time constant of
/// the adjoint kernel): one dense row of θ's entries for every warp the launch runs, so no
/// write needs a bound (the launch's size is a runtime value: one compiled kernel serves tiles
/// of any size).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub(super) struct PartialRows {
    /// Entries per row: the length of θ.
    pub len: usize,
}

/// Add `value` summed over the plane (warp) into entry `row` of the warp's row of `partial`;
/// every unit of the plane must call it (uniform control flow).
#[cube]
pub(super) fn emit<F: Float>(
    partial: &mut Array<F>,
    row: usize,
    value: F,
    warp: usize,
    #[comptime] rows: PartialRows,
) {
    let total = plane_sum(value);
    if UNIT_POS_PLANE == 0 {
        partial[warp * rows.len + row] += total;
    }
}

/// One step of a reduce-scatter over the plane: of each pair of units `mask` apart, the lower
/// keeps `lo` and the upper keeps `hi`, each adding the partner's copy of the value it keeps
/// (one shuffle for both values). `hi` is zero where the upper unit has no value to keep.
#[cube]
fn fold<F: Float>(lo: F, hi: F, #[comptime] mask: u32) -> F {
    let upper = (UNIT_POS_PLANE & mask) != 0u32;
    let keep = select(upper, hi, lo);
    let send = select(upper, lo, hi);
    keep + plane_shuffle_xor(send, mask)
}

/// Add nine values, each summed over the plane, into entries `row..row + 9` of the warp's row
/// of `partial`. A reduce-scatter: halving steps of 16, 8, 4, 2 and 1 units leave value
/// `5·b₄ + 3·b₃ + 2·b₂ + b₁` (b the unit's lane bits) summed in units with b₀ = 0 whose slot
/// existed at every step; 12 shuffles where nine plane sums take 45. Every unit of the plane
/// must call it.
#[cube]
#[allow(clippy::too_many_arguments)]
pub(super) fn emit_nine<F: Float>(
    partial: &mut Array<F>,
    row: usize,
    a0: F,
    a1: F,
    a2: F,
    a3: F,
    a4: F,
    a5: F,
    a6: F,
    a7: F,
    a8: F,
    warp: usize,
    #[comptime] rows: PartialRows,
) {
    let zero = F::new(0.0);
    // Nine slots to five (pairs (j, j + 5)), five to three (j, j + 3), three to two (j, j + 2),
    // two to one, then the last pair's sum.
    let b0 = fold::<F>(a0, a5, 16u32);
    let b1 = fold::<F>(a1, a6, 16u32);
    let b2 = fold::<F>(a2, a7, 16u32);
    let b3 = fold::<F>(a3, a8, 16u32);
    let b4 = fold::<F>(a4, zero, 16u32);
    let c0 = fold::<F>(b0, b3, 8u32);
    let c1 = fold::<F>(b1, b4, 8u32);
    let c2 = fold::<F>(b2, zero, 8u32);
    let d0 = fold::<F>(c0, c2, 4u32);
    let d1 = fold::<F>(c1, zero, 4u32);
    let e0 = fold::<F>(d0, d1, 2u32);
    let total = e0 + plane_shuffle_xor(e0, 1u32);
    // The slot a unit holds, traced back through the steps (3 and 5 slots before the 4- and
    // 8-unit steps, 9 before the first).
    let lane = UNIT_POS_PLANE;
    let at4 = ((lane >> 1u32) & 1u32) + 2u32 * ((lane >> 2u32) & 1u32);
    let at8 = at4 + 3u32 * ((lane >> 3u32) & 1u32);
    let at16 = at8 + 5u32 * ((lane >> 4u32) & 1u32);
    if (lane & 1u32) == 0u32 && at4 < 3u32 && at8 < 5u32 && at16 < 9u32 {
        partial[warp * rows.len + row + at16 as usize] += total;
    }
}
