//! nanobragg: a differentiable far-field X-ray diffraction simulator written as generic Burn tensor ops.
#![warn(missing_docs)]

pub mod io;
pub mod random;
