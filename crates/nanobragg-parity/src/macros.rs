//! [`gradcheck_tests!`](crate::gradcheck_tests): one test body, instantiated on every backend of
//! one float dtype (in the spirit of candle's `test_device!`).
//!
//! A test body is a generic function `fn body<B: Backend>(device: &B::Device) -> T` where `T`
//! is `()` or a `Result<_, E: Display>`. `gradcheck_tests!(f64: body_a, body_b)` expands, for
//! each body, to a module of the same name containing
//!
//! * `#[test] fn ndarray_f64()` — `body::<NdArray<f64>>`,
//! * `#[test] fn cuda_f64()` — `body::<Cuda<f64>>`, only when *this crate* (nanobragg-parity)
//!   is built with its `cuda` feature.
//!
//! Each generated test first calls [`assert_default_dtype`](crate::assert_default_dtype):
//!
//! **One dtype per test binary.** A Burn device's default float dtype is fixed by the first
//! tensor created in the process, and `NdArray<f32>`/`NdArray<f64>` share a device, so
//! instantiate `f64` bodies and `f32` bodies in *different* files under `tests/` (each file is
//! its own binary), e.g. `tests/gradcheck_f64.rs` and `tests/gradcheck_f32.rs`. Mixing them in
//! one file makes the second dtype's tests panic with an explanation instead of silently
//! computing in the wrong precision.

use std::fmt::Display;

use burn::tensor::backend::Backend;

/// What a test body may return: `()` or a `Result` whose error is `Display`.
pub trait TestOutcome {
    /// Panic (failing the test) on error, printing the error's `Display` (for gradcheck errors:
    /// the whole report).
    fn finish(self, test: &str);
}

impl TestOutcome for () {
    fn finish(self, _test: &str) {}
}

impl<T, E: Display> TestOutcome for Result<T, E> {
    fn finish(self, test: &str) {
        if let Err(e) = self {
            panic!("{test}: {e}");
        }
    }
}

/// Run one test body on backend `B` with the default device (used by the macro).
pub fn run_body<B: Backend, T: TestOutcome>(test: &str, body: fn(&B::Device) -> T) {
    let device = B::Device::default();
    crate::assert_default_dtype::<B>(&device);
    body(&device).finish(test);
}

/// Instantiate gradcheck test bodies on every enabled backend for **one** float dtype.
///
/// ```ignore
/// use burn::tensor::backend::Backend;
/// use nanobragg_parity::{check, GradcheckConfig, GradcheckError, ParamSet};
///
/// fn sin_matches_cos<B: Backend>(device: &B::Device) -> Result<(), GradcheckError> {
///     let params = ParamSet::new().scalar("x", 0.7);
///     check::<B, 1, _>(device, &params, &GradcheckConfig::new(), |p| p["x"].clone().sin())?;
///     Ok(())
/// }
///
/// // tests/gradcheck_f64.rs — f32 bodies go in another file!
/// nanobragg_parity::gradcheck_tests!(f64: sin_matches_cos);
/// // → tests `sin_matches_cos::ndarray_f64` (and `sin_matches_cos::cuda_f64` with `cuda`)
/// ```
#[macro_export]
macro_rules! gradcheck_tests {
    (f64: $($body:ident),+ $(,)?) => {
        $( $crate::__gradcheck_instantiate!($body, f64, ndarray_f64, cuda_f64); )+
    };
    (f32: $($body:ident),+ $(,)?) => {
        $( $crate::__gradcheck_instantiate!($body, f32, ndarray_f32, cuda_f32); )+
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __gradcheck_instantiate {
    ($body:ident, $elem:ty, $ndarray:ident, $cuda:ident) => {
        #[allow(non_snake_case)]
        mod $body {
            // Names the body outside `cfg(test)` too, so non-test builds (e.g. an example
            // hosting tests) see no dead-code warning.
            #[allow(dead_code)]
            const _: () = {
                let _ = super::$body::<$crate::backends::NdArray<$elem>>;
            };
            #[test]
            fn $ndarray() {
                $crate::macros::run_body::<$crate::backends::NdArray<$elem>, _>(
                    concat!(stringify!($body), "::", stringify!($ndarray)),
                    super::$body::<$crate::backends::NdArray<$elem>>,
                );
            }
            $crate::__gradcheck_cuda_arm!($body, $elem, $cuda);
        }
    };
}

#[cfg(feature = "cuda")]
#[doc(hidden)]
#[macro_export]
macro_rules! __gradcheck_cuda_arm {
    ($body:ident, $elem:ty, $cuda:ident) => {
        #[test]
        fn $cuda() {
            $crate::macros::run_body::<$crate::backends::Cuda<$elem>, _>(
                concat!(stringify!($body), "::", stringify!($cuda)),
                super::$body::<$crate::backends::Cuda<$elem>>,
            );
        }
    };
}

#[cfg(not(feature = "cuda"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __gradcheck_cuda_arm {
    ($body:ident, $elem:ty, $cuda:ident) => {};
}
