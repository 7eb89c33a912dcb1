//! Gradcheck utilities (finite differences vs autodiff) and the C-parity φ cache.
//!
//! # Gradcheck
//!
//! In the spirit of `torch.autograd.gradcheck` and argmin's `finitediff`: given a closure from
//! named parameter tensors to a tensor, compare Burn's autodiff gradient with
//! Richardson-extrapolated finite differences, component by component.
//!
//! ```
//! use burn_ndarray::NdArray;
//! use nanobragg_parity::{check, GradcheckConfig, ParamSet};
//!
//! let device = Default::default();
//! let params = ParamSet::new().scalar("a", 0.3).vector("v", [1.0, -2.0]);
//! let report = check::<NdArray<f64>, 1, _>(&device, &params, &GradcheckConfig::new(), |p| {
//!     // f(a, v) = exp(a) * v  (a vector output: reduced by a seeded random projection)
//!     p["v"].clone() * p["a"].clone().exp()
//! })
//! .unwrap();
//! println!("{report}"); // table: analytic, numeric, errors, Richardson estimate, verdict
//! let _json = report.to_json(); // for CI logs
//! ```
//!
//! Conventions:
//!
//! * **Backend**: any `B: Backend`; the closure runs under [`burn_autodiff::Autodiff<B>`] and
//!   receives [`ParamTensors`]: one rank-1 tensor per parameter (`[1]` for scalars).
//! * **Output**: a tensor of any rank `D`; with more than one element it is reduced to
//!   `Σ w_k y_k` with seeded weights in `[-1, 1)` ([`projection`]).
//! * **Numeric derivative**: Richardson extrapolation of second-order stencils at `h` and
//!   `h/2`, central or one-sided near a [`Bounds`] ([`finite_difference`]).
//! * **Verdict**: pass / fail / ill-conditioned per component ([`report`]); the Richardson
//!   error estimate decides whether the finite difference can judge at all.
//! * **Dtype**: a check runs in `B::FloatElem`'s dtype (or [`GradcheckConfig::dtype`]); every
//!   tensor it builds gets that dtype explicitly and is checked, as is the closure's output
//!   ([`GradcheckError::DTypeMismatch`]). Keep `f32` and `f64` tests in separate test binaries
//!   ([`gradcheck_tests!`], [`dtype`]).
//! * **Order**: first order only — Burn's autodiff cannot differentiate a gradient. For
//!   second-order information use finite differences of gradients ([`second_order`]).
//!
//! See `docs/gradcheck.md` in the repository for a walkthrough.
#![warn(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links, rustdoc::private_intra_doc_links)]

pub mod backends;
mod base_point;
mod check;
pub mod config;
pub mod dtype;
mod engine;
mod error;
pub mod finite_difference;
pub mod macros;
pub mod params;
pub mod phi_cache;
pub mod projection;
pub mod report;
pub mod second_order;

pub use check::{check, evaluate, gradient};
pub use config::{GradcheckConfig, ResolvedConfig};
pub use dtype::{assert_default_dtype, default_float_dtype, expected_dtype};
pub use engine::{CheckFn, AD};
pub use error::GradcheckError;
pub use finite_difference::{FdEstimate, Scheme};
pub use params::{Bounds, Param, ParamSet, ParamTensors};
pub use report::{ComponentReport, GradReport, Verdict};
pub use second_order::{hessian_fd, Hessian};

/// Re-exports for users of the test macro (so a test file needs only this crate and `burn`).
pub mod prelude {
    pub use crate::{
        check, evaluate, gradient, hessian_fd, Bounds, CheckFn, GradReport, GradcheckConfig,
        GradcheckError, Param, ParamSet, ParamTensors, Verdict, AD,
    };
    pub use burn::tensor::{backend::Backend, DType, Tensor};
}

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
