//! Errors of the refinement crate.

use nanobragg::NanobraggError;

/// Everything that can go wrong while setting up, running or exporting a refinement.
#[derive(Debug, thiserror::Error)]
pub enum RefineError {
    /// An error of the core crate (a scene that does not resolve, a render that fails, an
    /// image refused by [`nanobragg::validate`]), passed through with its own message.
    #[error(transparent)]
    Core(#[from] NanobraggError),
    /// A refinement could not run or produced no usable result (names the step and why).
    #[error("refinement failed: {0}")]
    Refinement(String),
}

/// Result alias of the refinement crate.
pub type Result<T, E = RefineError> = std::result::Result<T, E>;
