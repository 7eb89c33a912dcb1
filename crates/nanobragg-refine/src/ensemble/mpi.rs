//! [`Comm`] over MPI (the `mpi` feature, rsmpi): run as `mpirun -np N …`. Sums are a reduce
//! to rank 0 then a broadcast, so every rank gets the root's bits.

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{Destination, Root, Source};

use super::comm::Comm;
use crate::error::{RefineError, Result};

/// The processes of `MPI_COMM_WORLD`.
pub struct MpiComm {
    world: SimpleCommunicator,
    local_rank: usize,
    local_size: usize,
    // Finalises MPI when dropped, after `world`.
    _universe: Universe,
}

impl std::fmt::Debug for MpiComm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiComm").field("rank", &self.rank()).field("size", &self.size()).finish()
    }
}

impl MpiComm {
    /// Initialise MPI (once per process).
    pub fn init() -> Result<Self> {
        let universe = mpi::initialize().ok_or_else(|| RefineError::Refinement("MPI was already initialised".into()))?;
        let world = universe.world();
        let node = world.split_shared(0);
        let (local_rank, local_size) = (node.rank() as usize, node.size() as usize);
        Ok(MpiComm { world, local_rank, local_size, _universe: universe })
    }

    /// End every process of the job with `code` (after a failure that the others cannot learn
    /// of through a sum, e.g. while reading the inputs).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

impl Comm for MpiComm {
    fn local_rank(&self) -> usize {
        self.local_rank
    }
    fn local_size(&self) -> usize {
        self.local_size
    }
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn sum(&self, values: &mut [f64]) {
        let root = self.world.process_at_rank(0);
        if self.rank() == 0 {
            let mut total = vec![0.0; values.len()];
            root.reduce_into_root(&values[..], &mut total[..], SystemOperation::sum());
            values.copy_from_slice(&total);
        } else {
            root.reduce_into(&values[..], SystemOperation::sum());
        }
        root.broadcast_into(values);
    }
    fn broadcast(&self, values: &mut [f64]) {
        self.world.process_at_rank(0).broadcast_into(values);
    }
    fn gather(&self, values: &[f64]) -> Option<Vec<Vec<f64>>> {
        if self.rank() != 0 {
            self.world.process_at_rank(0).send(values);
            return None;
        }
        let mut all = vec![values.to_vec()];
        for r in 1..self.world.size() {
            all.push(self.world.process_at_rank(r).receive_vec::<f64>().0);
        }
        Some(all)
    }
}
