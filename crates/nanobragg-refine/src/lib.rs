//! nanobragg-refine: fit parameters of a [nanobragg] scene to measured images, with
//! uncertainties. It is built on the core crate's public API only (the simulator, the
//! parameter registry and its scene writers, the image checks of [`nanobragg::validate`]).
//!
//! * [`ParamSpec`] — what is refined: a subset of the named parameters
//!   ([`nanobragg::gradients::ParamName`]), optionally the overall [`Variable::Scale`] and entries
//!   of the F(hkl) grid ([`Variable::StructureFactor`]), each with optional bounds, a Gaussian
//!   restraint and a typical step.
//! * [`Observation`] and [`LossKind`] — the measured counts, an optional known background
//!   and mask; Poisson (deviance) or Gaussian squared-error losses.
//! * [`Objective`] — the loss and its exact gradient (tile-by-tile autodiff) as a function of
//!   the refined values in user units.
//! * [`refine`] with [`RefineOptions`] — L-BFGS (strong-Wolfe line search, box bounds) or Adam
//!   (burn-optim) on scaled variables ([`Scaling`]; by default whitened by the Fisher
//!   information at the start), [`StopRules`], a per-iteration
//!   [`IterationLog`] and callback, a progress line on stderr.
//! * [`Joint`] — several images (other φ, other panels, other scenes) refined together: shared
//!   variables, variables of one image ([`Scope::Part`], a panel's shift) and offsets of a group
//!   of images ([`Scope::Group`], a detector module), laid out by a [`Layout`].
//! * [`Ensemble`] — thousands of shots sharing the structure factors (and, optionally,
//!   detector geometry), each with its own orientation, cell or scale, over one process or
//!   many ([`Comm`]; MPI with the `mpi` feature): alternating or joint schedules, restarts,
//!   σ of the shared variables.
//! * [`uncertainties`] — standard errors and correlations from the Fisher information
//!   `Jᵀ·diag(1/μ)·J` at the optimum, `J` from central finite differences.
//! * [`export`] — the refined model as a scene (TOML), as nanoBragg flags and as a MOSFLM A
//!   matrix.
//! * [`RefineError`] — this crate's errors; the core's [`nanobragg::NanobraggError`] passes
//!   through it.
//! * [`report`] — the table of start / refined / σ (and truth when known); [`plot`] — the loss
//!   curve and residual maps as pixels.
//!
//! # Example
//!
//! Refine four parameters and the scale of a scene against a measured image (raw 4-byte
//! floats), then print the table with standard errors (`docs/refinement.md` explains it):
//!
//! ```no_run
//! use std::ops::ControlFlow;
//! use std::path::Path;
//!
//! use burn_autodiff::Autodiff;
//! use burn_ndarray::{NdArray, NdArrayDevice};
//! use nanobragg::gradients::ParamName::*;
//! use nanobragg_refine::{refine, report, uncertainties, LossKind, Objective, Observation};
//! use nanobragg_refine::{ParamSpec, RefineOptions};
//! use nanobragg::{RenderOptions, Scene, Setup, Simulator};
//!
//! type B = Autodiff<NdArray<f64>>; // f64 on the CPU; the first tensor fixes the dtype
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let scene = Scene::from_toml_str(&std::fs::read_to_string("start.toml")?)?;
//!     let setup = Setup::from_scene(&scene, Path::new("."))?;
//!     let pixels = setup.detector.fpixels * setup.detector.spixels;
//!     let sim = Simulator::<B>::new(setup, &NdArrayDevice::Cpu, RenderOptions::default())?;
//!     let counts = nanobragg::io::float_image::read_float_image(Path::new("measured.bin"), pixels)?;
//!     let observation = Observation::new(counts.iter().map(|&c| c as f64).collect());
//!     let specs = vec![
//!         ParamSpec::new(CellA).bounds(39.0, 41.0),
//!         ParamSpec::new(MissetZ),
//!         ParamSpec::new(DistanceMm).restrain(100.0, 0.5),
//!         ParamSpec::new(BeamCenterS),
//!         ParamSpec::scale(),
//!     ];
//!     let mut objective = Objective::new(sim, specs, observation, LossKind::Poisson)?;
//!     let result = refine(&mut objective, &RefineOptions::default(), |log| {
//!         println!("{:>4} {:.6e}", log.iteration, log.loss);
//!         ControlFlow::Continue(())
//!     })?;
//!     let sigma = uncertainties(&mut objective, &result.values)?;
//!     let table = report::value_table(&result.variables, None, &result.start, &result.values, Some(&sigma.std_errors));
//!     print!("{table}");
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links, rustdoc::private_intra_doc_links)]

pub mod adam;
pub mod data;
pub mod driver;
pub mod ensemble;
pub mod error;
pub mod export;
pub mod joint;
pub mod lbfgs;
pub mod line_search;
pub mod objective;
pub mod options;
pub mod plot;
pub mod progress;
pub mod report;
pub mod scaling;
pub mod spec;
mod structure_factor_columns;
pub mod uncertainty;

pub use data::{LossKind, Observation, HUBER_C};
pub use error::{RefineError, Result};
pub use driver::{minimize, refine, IterationLog, Problem, Refined};
pub use ensemble::{Comm, Ensemble, EnsembleOptions, Schedule, SharedVariables, ShotFit, Solo};
pub use joint::{Joint, JointVariable, Layout, Sharing};
pub use objective::{ModelImage, Objective};
pub use options::{Optimizer, RefineOptions, Scaling, StopReason, StopRules};
pub use spec::{default_step, ParamSpec, Restraint, Scope, Variable};
pub use uncertainty::{uncertainties, Uncertainties};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
