//! The per-evaluation physics, one module per term in data-flow order. Each term keeps side by
//! side its constants, its tensor form (the reference every renderer is checked against, and
//! what autodiff differentiates) and, where a fused kernel evaluates it, its scalar form with
//! the hand-derived derivative:
//!
//! 1. [`scattering`]: the scattering vector `q = (d − i)/λ` of a sample and a source;
//! 2. [`polarization`]: the Kahn polarization factor;
//! 3. [`lattice`]: the lattice transform F_latt of fractional Miller indices (one file per
//!    shape; the SQUARE crystal's [`lattice::grating`]);
//! 4. [`structure_factor`]: F_cell, looked up nearest or interpolated tricubically in the grid.
//!
//! The CPU kernels (`kernel/cpu`) call the scalar forms; the CUDA kernel's `#[cube]` forms read
//! the constants defined here. The geometry that precedes them (detector, crystal rotations)
//! lives in [`crate::detector`] and [`crate::crystal`]; solid angle and capture fraction are
//! applied per sample in [`crate::simulate`].

pub mod lattice;
pub mod polarization;
pub mod scattering;
pub mod structure_factor;
