//! The per-backend suite, written once: [`backend_suite!`] expands the suite's tests for one
//! backend at one precision (in the spirit of candle's `test_device!`), and each per-backend test
//! binary is a few lines invoking it:
//!
//! | binary | backend | precision | reference backend |
//! |---|---|---|---|
//! | `parity_f64` | `NdArray<f64>` | [`F64`] | — |
//! | `parity_f32` | `NdArray<f32>` | [`F32`] | — |
//! | `parity_flex_f32` | `Flex` | [`F32`] | — |
//! | `cuda_f64` (`--features cuda`) | `Cuda<f64>` | [`F64`] | `NdArray<f64>` |
//! | `cuda_f32` (`--features cuda`) | `Cuda<f32>` | [`F32`] | `NdArray<f32>` |
//!
//! ```ignore
//! // tests/parity_f64.rs
//! mod backends;
//! mod golden;
//! mod gradient_scenes;
//!
//! backends::backend_suite! {
//!     backend: burn_ndarray::NdArray<f64>,
//!     device: burn_ndarray::NdArrayDevice::Cpu,
//!     precision: F64,
//! }
//! ```
//!
//! **One precision per test binary.** A Burn device's default float dtype is fixed by the first
//! tensor created on it in the process, so an f32 suite and an f64 suite cannot share a binary:
//! invoke the macro once per file (a second invocation in the same file does not compile, its
//! test names collide), and keep tests that exist for one precision only next to the invocation.
//!
//! The invoking binary declares the modules the suite is built on: `mod backends;`,
//! `mod golden;` (the corpus, `tests/golden/mod.rs`) and `mod gradient_scenes;` (the gradient
//! scenes the reference comparisons use, `tests/gradient_scenes/mod.rs`).
#![allow(dead_code)]

pub mod reference;

use burn::tensor::DType;
use nanobragg::kernel::RenderBackend;
use nanobragg_parity::GradcheckConfig;

use crate::golden::{self, Bar};

/// A suite's precision: the dtype every tensor must have, the bar of the golden corpus, and the
/// tolerances of the comparisons with a reference backend of the same dtype.
#[derive(Debug, Clone, Copy)]
pub struct Precision {
    /// Float dtype of the parameter tensors and of every output.
    pub dtype: DType,
    /// Bar every golden case outside `tests/deferred_cases.tsv` must meet.
    pub bar: Bar,
    /// Carry-over cases: largest max |Δ| / max between the backend's image and the reference's.
    pub image_vs_reference: f64,
    /// Settings of the carry-over gradcheck.
    pub gradcheck: fn() -> GradcheckConfig,
    /// Carry-over gradients: largest relative error against finite differences, `None` where
    /// finite differences cannot judge at this precision.
    pub gradient_vs_fd: Option<f64>,
    /// Carry-over gradients: largest relative difference from the reference backend's.
    pub gradient_vs_reference: f64,
    /// Floor of the denominator of that relative difference.
    pub gradient_floor: f64,
    /// Significant digits the gradient lines print.
    pub digits: usize,
    /// Fused-kernel gradients vs the reference's tensor path: relative part of the tolerance.
    pub fused_rel: f64,
    /// ... and its absolute part, in units of the scene's largest reference gradient.
    pub fused_abs: f64,
}

fn f64_gradcheck() -> GradcheckConfig {
    GradcheckConfig::new().rel_step(1e-4).abs_step(1e-3).rtol(1e-6).atol(1e-12)
}

/// f64: the exact bar (max |Δ| ≤ 1e-5·max(C), corr ≥ 0.99999); the reference backend agrees to
/// 1e-9 on images and gradients, and the gradcheck judges to 1e-6.
pub const F64: Precision = Precision {
    dtype: DType::F64,
    bar: Bar::F64,
    image_vs_reference: 1e-9,
    gradcheck: f64_gradcheck,
    gradient_vs_fd: Some(1e-6),
    gradient_vs_reference: 1e-9,
    gradient_floor: 1e-300,
    digits: 12,
    fused_rel: 1e-8,
    fused_abs: 1e-11,
};

/// f32: the f32 bar (corr ≥ 0.9999, |sum ratio − 1| ≤ 1e-3). Finite differences cannot judge
/// to 1e-6 at f32: the gradients must only be finite and agree with the reference's to 1e-3.
pub const F32: Precision = Precision {
    dtype: DType::F32,
    bar: Bar::F32,
    image_vs_reference: 1e-3,
    gradcheck: GradcheckConfig::new,
    gradient_vs_fd: None,
    gradient_vs_reference: 1e-3,
    gradient_floor: 1e-30,
    digits: 6,
    fused_rel: 1e-2,
    fused_abs: 1e-3,
};

/// The golden corpus on `B`: every case rendered and scored against the C image with the
/// precision's bar (`suite` labels the printed lines).
pub fn golden_corpus<B: RenderBackend>(suite: &str, device: &B::Device, precision: &Precision) {
    // Fails loudly if anything made this device default to another dtype first.
    nanobragg_parity::assert_default_dtype::<B>(device);
    golden::run_parity_suite::<B>(suite, precision.bar, precision.dtype, device);
}

/// Expand the per-backend suite for one backend at one precision.
///
/// * `backend`: the backend type (`NdArray<f64>`, `Flex`, `Cuda<f32>`, …);
/// * `device`: an expression for its device, evaluated in each test;
/// * `precision`: [`F64`] or [`F32`] (dtype, corpus bar and tolerances);
/// * optionally `reference` and `reference_device`: a second backend of the same dtype (the
///   CPU's) that the backend is compared with.
///
/// Always expands `golden_corpus`. With a reference it also expands
/// `carryover_cases_match_c_and_reference`, `carryover_gradients_match_reference` and
/// `fused_gradients_match_reference_tensor_path` (see [`reference`]).
macro_rules! backend_suite {
    (
        backend: $backend:ty,
        device: $device:expr,
        precision: $precision:ident
        $(, reference: $reference:ty, reference_device: $reference_device:expr)?
        $(,)?
    ) => {
        /// The golden corpus against the C images, with this precision's bar.
        #[test]
        fn golden_corpus() {
            $crate::backends::golden_corpus::<$backend>(
                env!("CARGO_CRATE_NAME"),
                &$device,
                &$crate::backends::$precision,
            );
        }

        $(
            $crate::backends::backend_suite!(@compare
                /// The φ = 0 carry-over cases in c-parity mode, on the backend and the reference:
                /// both against C, and the two against each other.
                carryover_cases_match_c_and_reference => carryover_cases_agree,
                $backend, $device, $reference, $reference_device, $precision
            );
            $crate::backends::backend_suite!(@compare
                /// The c-parity gradcheck on the backend, its gradients compared with the
                /// reference's.
                carryover_gradients_match_reference => carryover_gradients_agree,
                $backend, $device, $reference, $reference_device, $precision
            );
            $crate::backends::backend_suite!(@compare
                /// The fused kernel's gradients against the reference's tensor path.
                fused_gradients_match_reference_tensor_path => fused_gradients_agree,
                $backend, $device, $reference, $reference_device, $precision
            );
        )?
    };
    // One comparison with the reference: test `$name` runs `reference::$body`.
    (@compare
        $(#[$doc:meta])*
        $name:ident => $body:ident,
        $backend:ty, $device:expr, $reference:ty, $reference_device:expr, $precision:ident
    ) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            $crate::backends::reference::$body::<$backend, $reference>(
                &$device,
                &$reference_device,
                &$crate::backends::$precision,
            );
        }
    };
}

pub(crate) use backend_suite;
