//! θ̄ of one block of the vectorised adjoint's reduction ([`super::in_blocks`]): θ's entries
//! before the F grid dense, the grid's as sparse `(entry, value)` pairs. A shot reaches a few
//! hundred entries of a grid that may hold millions; a dense copy of the grid per block (64 of
//! them per tile) would be hundreds of MB to zero and add for each gradient.

use crate::kernel::Layout;

/// Pairs added since the last compaction beyond which the pairs are compacted again (plus
/// as many as the compaction left, so that compacting costs O(1) per pair added).
const COMPACT_AFTER: usize = 4096;

/// One block's θ̄ (see the module).
#[derive(Debug, Clone)]
pub struct ThetaGrad {
    /// θ̄ before the grid (`Layout::grid_at` entries).
    pub dense: Vec<f64>,
    /// Grid entries' adjoints, in the order added (runs of one entry merged by [`Self::compact`]).
    grid: Vec<(usize, f64)>,
    /// Pairs left by the last compaction.
    compacted: usize,
}

impl ThetaGrad {
    /// Zeros for θ of `layout`.
    pub fn zeros(layout: Layout) -> Self {
        Self { dense: vec![0.0; layout.grid_at()], grid: Vec::new(), compacted: 0 }
    }

    /// Add `value` to grid entry `entry` (offset from the grid's first entry).
    pub fn add_grid(&mut self, entry: usize, value: f64) {
        self.grid.push((entry, value));
        if self.grid.len() >= 2 * self.compacted + COMPACT_AFTER {
            self.compact();
        }
    }

    /// One pair per entry: a stable sort by entry, then each entry's values summed in the order
    /// they were added, so the sums do not depend on how the pairs were stored.
    fn compact(&mut self) {
        self.grid.sort_by_key(|&(entry, _)| entry);
        let mut merged: Vec<(usize, f64)> = Vec::with_capacity(self.grid.len());
        for &(entry, value) in &self.grid {
            match merged.last_mut() {
                Some((last, sum)) if *last == entry => *sum += value,
                _ => merged.push((entry, value)),
            }
        }
        self.grid = merged;
        self.compacted = self.grid.len();
    }

    /// θ̄ of `layout` (grid included): the blocks' sums, added in the blocks' order.
    pub fn sum_in_order(blocks: impl IntoIterator<Item = ThetaGrad>, layout: Layout) -> Vec<f64> {
        let mut total = vec![0.0; layout.len()];
        let grid_at = layout.grid_at();
        for mut block in blocks {
            block.compact();
            total[..grid_at].iter_mut().zip(&block.dense).for_each(|(t, d)| *t += d);
            for (entry, value) in block.grid {
                total[grid_at + entry] += value;
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(grid: usize) -> Layout {
        Layout { sources: 1, cells: 1, grid }
    }

    #[test]
    fn sparse_grid_sums_equal_dense_sums_across_compactions() {
        let l = layout(50);
        let mut blocks = vec![ThetaGrad::zeros(l), ThetaGrad::zeros(l)];
        let mut dense = vec![0.0; l.len()];
        for n in 0..3 * COMPACT_AFTER {
            let (b, entry, value) = (n % 2, (n * 7) % 50, 1.0 + (n % 13) as f64 * 0.25);
            blocks[b].add_grid(entry, value);
            dense[l.grid_at() + entry] += value;
            blocks[b].dense[n % l.grid_at()] += 0.5;
            dense[n % l.grid_at()] += 0.5;
        }
        assert!(blocks[0].compacted > 0, "the pairs were compacted along the way");
        // Quarter-multiples: every partial sum is exact, so any order gives the same bits.
        assert_eq!(ThetaGrad::sum_in_order(blocks, l), dense);
    }
}
