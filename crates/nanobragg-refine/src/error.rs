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
    /// A shot of an ensemble failed: which one and why (`reason` without this enum's
    /// "refinement failed:", so that a caller naming the shot its own way can use it alone).
    #[error("refinement failed: shot {index} ({name}): {reason}")]
    Shot {
        /// The shot's index in the whole shot list.
        index: usize,
        /// The shot's name.
        name: String,
        /// Why.
        reason: String,
    },
}

impl RefineError {
    /// The message without the "refinement failed:" this enum adds (and, for a shot's failure,
    /// without the shot): for a message that carries its own prefix.
    pub fn reason(&self) -> String {
        match self {
            RefineError::Refinement(m) => m.clone(),
            RefineError::Shot { reason, .. } => reason.clone(),
            e => e.to_string(),
        }
    }
}

/// Result alias of the refinement crate.
pub type Result<T, E = RefineError> = std::result::Result<T, E>;
