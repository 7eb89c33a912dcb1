//! nanobragg: a differentiable far-field X-ray diffraction simulator written as generic Burn
//! tensor ops.
//!
//! Data flows through the modules in this order: [`scene`] (what the user describes) →
//! [`setup`] (defaults and conventions resolved) → [`params`] (continuous inputs as tensors) →
//! [`detector`] / [`crystal`] (geometry) → [`physics`] (scattering, polarization, lattice
//! transforms, structure factors) → [`simulate`] (tiled render) → [`stats`] and [`io`]
//! (statistics and files). Fitting parameters of a scene to a measured image lives in the
//! `nanobragg-refine` crate, which builds on this crate's public API ([`registry`] and
//! [`gradients`] name the refinable parameters and write refined values back into a [`Scene`]).
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links, rustdoc::private_intra_doc_links)]

pub mod crystal;
pub mod detector;
pub mod error;
pub mod experiment;
pub mod gradients;
pub mod io;
pub mod kernel;
pub mod linalg;
pub mod params;
pub mod phi;
pub mod physics;
pub mod random;
pub mod registry;
pub mod scene;
pub mod setup;
pub mod stats;
pub mod simulate;
pub mod structure_factor_gradient;
pub mod trace;
pub mod units;
pub mod validate;

pub use error::{NanobraggError, Result};
pub use scene::Scene;
pub use setup::Setup;
pub use simulate::{Image, RenderOptions, Simulator};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
