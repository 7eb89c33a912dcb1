//! Error type of the gradcheck API.

use burn::tensor::DType;

use crate::report::GradReport;

/// Everything that can go wrong in a gradcheck.
///
/// [`GradcheckError::Failed`] and [`GradcheckError::IllConditioned`] carry the full
/// [`GradReport`]; their `Display` prints the report table, so `check(..).unwrap()` in a
/// test shows every component.
#[derive(Debug, thiserror::Error)]
pub enum GradcheckError {
    /// At least one component's analytic gradient disagrees with the finite-difference value by
    /// more than the tolerance plus the finite-difference error estimate.
    #[error("gradcheck FAILED\n{0}")]
    Failed(Box<GradReport>),
    /// No component failed, but at least one could not be decided because the finite-difference
    /// error estimate exceeds the tolerance (only returned when
    /// [`GradcheckConfig::ill_conditioned_is_error`](crate::GradcheckConfig::ill_conditioned_is_error)
    /// is set, which is the default).
    #[error("gradcheck INCONCLUSIVE: ill-conditioned finite differences\n{0}")]
    IllConditioned(Box<GradReport>),
    /// A tensor built by the library, the closure's output or a gradient has a different dtype
    /// than the one the check was asked to run in.
    #[error(
        "dtype mismatch for {what}: expected {expected:?}, got {actual:?} (a Burn device's default \
         float dtype is fixed by the first tensor created in the process: do not mix f32 and f64 \
         backends in one test binary, and build constants with `ParamTensors::constant`)"
    )]
    DTypeMismatch {
        /// Which tensor had the wrong dtype.
        what: String,
        /// The dtype the check runs in.
        expected: DType,
        /// The dtype found.
        actual: DType,
    },
    /// The requested dtype is not a float dtype, or the backend cannot compute in it.
    #[error("unsupported dtype {dtype:?} on backend `{backend}`")]
    UnsupportedDType {
        /// The requested dtype.
        dtype: DType,
        /// The backend name.
        backend: String,
    },
    /// A parameter is malformed (empty, non-finite, outside its bounds, duplicated name, bounds
    /// too tight for any finite-difference step).
    #[error("parameter `{name}`: {reason}")]
    InvalidParam {
        /// Parameter name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The parameter set is empty.
    #[error("the parameter set is empty")]
    NoParams,
    /// A configuration value is out of range.
    #[error("invalid gradcheck configuration: {0}")]
    InvalidConfig(String),
    /// The closure returned an empty tensor or changed its output shape between evaluations.
    #[error("closure output: {0}")]
    BadOutput(String),
    /// The closure returned a NaN or infinite value at one of the finite-difference points.
    #[error("non-finite function value {value} at {at}")]
    NonFinite {
        /// Where (parameter component and offset) the value was produced.
        at: String,
        /// The value.
        value: f64,
    },
}
