//! The per-evaluation physics, one module per term in data-flow order. Each term keeps side by
//! side its constants, its tensor form (the reference every renderer is checked against, and
//! what autodiff differentiates) and, where a fused kernel evaluates it, its scalar form with
//! the hand-derived derivative:
//!
//! 1. [`solid_angle`]: the solid angle Ω of a sub-pixel, `p²·close/r³` (obliquity included) or
//!    `1/r²` for point pixels;
//! 2. [`capture`]: the capture fraction of a sensor layer, `e^{−tμs/ρ} − e^{−(t+1)μs/ρ}`;
//! 3. [`scattering`]: the scattering vector `q = (d − i)/λ` of a sample and a source;
//! 4. [`polarization`]: the Kahn polarization factor;
//! 5. [`lattice`]: the lattice transform F_latt of fractional Miller indices (one file per
//!    shape; the SQUARE crystal's [`lattice::grating`]);
//! 6. [`structure_factor`]: F_cell, looked up nearest or interpolated tricubically in the grid.
//!
//! The CPU kernels (`kernel/cpu`, through the adapters of `kernel/cpu/factors.rs`) call the
//! scalar forms and their adjoints; the CUDA kernel's `#[cube]` forms read the constants defined
//! here. The tensor path ([`crate::simulate`]) calls the tensor forms and decides where each
//! factor applies (per sub-pixel or once per pixel). The geometry that precedes them (detector,
//! crystal rotations) lives in [`crate::detector`] and [`crate::crystal`].

pub mod capture;
pub mod lattice;
pub mod polarization;
pub mod scattering;
pub mod solid_angle;
pub mod structure_factor;

#[cfg(test)]
mod tests;
