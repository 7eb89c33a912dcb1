//! How the processes of an ensemble refinement talk to each other: element-wise sums of f64
//! vectors that every rank receives bit for bit alike, the root's vector sent to every rank,
//! and each rank's records gathered at the root. [`Solo`] is the one-process case; with the
//! `mpi` feature, `ensemble::mpi::MpiComm` runs over MPI (`mpirun -np N`).
//!
//! Every method is collective: every rank must call it, in the same order, with vectors of the
//! same length (but [`Comm::gather`]'s). The optimiser state is then the same on every rank,
//! since each rank computes it from the same sums.

use std::ops::Range;

/// A group of processes refining one ensemble.
pub trait Comm {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Replace `values` by their element-wise sum over the ranks, the same bits on every rank.
    fn sum(&self, values: &mut [f64]);
    /// Replace `values` by the root's (rank 0's).
    fn broadcast(&self, values: &mut [f64]);
    /// Every rank's `values`, in rank order, at the root (`None` on the other ranks).
    fn gather(&self, values: &[f64]) -> Option<Vec<Vec<f64>>>;

    /// The ranks that report `failed`, the same list on every rank (one sum of a flag per rank).
    fn failed_ranks(&self, failed: bool) -> Vec<usize> {
        let mut flags = vec![0.0; self.size()];
        flags[self.rank()] = if failed { 1.0 } else { 0.0 };
        self.sum(&mut flags);
        flags.iter().enumerate().filter(|(_, &f)| f > 0.0).map(|(r, _)| r).collect()
    }

    /// This process's rank among those of its own node, to choose its GPU (`rank` unless the
    /// group spans several nodes).
    fn local_rank(&self) -> usize {
        self.rank()
    }

    /// Number of processes of the group on this process's node (`size` unless the group spans
    /// several nodes), to share the node's cores and GPUs.
    fn local_size(&self) -> usize {
        self.size()
    }

    /// Whether this process is the root (rank 0), which writes the run's files.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// One process: sums and broadcasts leave the values as they are.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Comm for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum(&self, _values: &mut [f64]) {}
    fn broadcast(&self, _values: &mut [f64]) {}
    fn gather(&self, values: &[f64]) -> Option<Vec<Vec<f64>>> {
        Some(vec![values.to_vec()])
    }
}

/// The shots of rank `rank` of `size` among `total`: a contiguous block, the first
/// `total mod size` ranks one shot more. A rank reads only its own block, so its memory grows
/// with its own shots, not with the total.
pub fn shot_block(total: usize, rank: usize, size: usize) -> Range<usize> {
    let base = total / size;
    let extra = total % size;
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shot_blocks_cover_every_shot_once_in_order() {
        for total in [0, 1, 5, 7, 100] {
            for size in 1..6 {
                let blocks: Vec<Range<usize>> = (0..size).map(|r| shot_block(total, r, size)).collect();
                let all: Vec<usize> = blocks.iter().flat_map(|b| b.clone()).collect();
                assert_eq!(all, (0..total).collect::<Vec<_>>(), "total {total}, size {size}");
                let lens: Vec<usize> = blocks.iter().map(|b| b.len()).collect();
                assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn one_process_reports_its_own_failure_only() {
        assert_eq!(Solo.failed_ranks(false), Vec::<usize>::new());
        assert_eq!(Solo.failed_ranks(true), vec![0]);
    }
}
