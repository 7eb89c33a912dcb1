//! Errors of the core crate.

use std::path::PathBuf;

/// Everything that can go wrong while resolving a scene or rendering it.
#[derive(Debug, thiserror::Error)]
pub enum NanobraggError {
    /// A file could not be read or parsed.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// The scene is incomplete or contradictory (names the flag or field).
    #[error("invalid scene: {0}")]
    Scene(String),
    /// An input is refused (see [`crate::validate`]): names the input (flag and scene key, or
    /// file and key) and the problem.
    #[error("{input}: {problem}")]
    Invalid {
        /// The input at fault, e.g. `-lambda (scene key beam.wavelength_a)`.
        input: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The geometry cannot be rendered (e.g. beam parallel to the detector plane).
    #[error("impossible geometry: {0}")]
    Geometry(String),
    /// A tensor came out with a dtype other than the one requested (the Burn default-dtype trap).
    #[error("dtype mismatch for {what}: requested {requested:?}, got {got:?} (a device's float dtype is fixed by the first tensor created on it; use one dtype per device per process)")]
    DtypeMismatch {
        /// Which tensor.
        what: &'static str,
        /// Requested dtype.
        requested: burn::tensor::DType,
        /// Dtype actually produced.
        got: burn::tensor::DType,
    },
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Output path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Result alias of the core crate.
pub type Result<T, E = NanobraggError> = std::result::Result<T, E>;
