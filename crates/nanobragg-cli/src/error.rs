//! Errors of the command-line front end.
//!
//! Every variant renders as one line that names the flag (or argument) at fault and the
//! problem, e.g. `unknown flag '-foo'` or `flag '-distance': 'abc' is not a number`.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

/// A command line that cannot be turned into a [`crate::CommandLine`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// A token beginning with `-` that is not a known flag. (The C program ignores these
    /// silently; we refuse them, so that a typo such as `-dispstep` is not lost.)
    #[error("unknown flag '{0}'")]
    UnknownFlag(String),

    /// A flag given fewer values than it takes (the list ended, or the next token is itself
    /// a flag).
    #[error("flag '{flag}' needs {expected}, got {got}")]
    MissingValue {
        /// The flag as typed.
        flag: String,
        /// What the flag takes, in words (e.g. `3 values (x y z)`).
        expected: String,
        /// How many values were found.
        got: usize,
    },

    /// A value that does not parse as a finite number.
    #[error("flag '{flag}': '{value}' is not a number")]
    InvalidNumber {
        /// The flag as typed.
        flag: String,
        /// The offending value.
        value: String,
    },

    /// A value that does not parse as an integer.
    #[error("flag '{flag}': '{value}' is not an integer")]
    InvalidInteger {
        /// The flag as typed.
        flag: String,
        /// The offending value.
        value: String,
    },

    /// A value outside the set or range the flag accepts.
    #[error("flag '{flag}': invalid value '{value}' (expected {expected})")]
    InvalidValue {
        /// The flag as typed.
        flag: String,
        /// The offending value.
        value: String,
        /// What is accepted, in words.
        expected: String,
    },

    /// A token that is neither a flag nor the value of the flag before it.
    #[error("unexpected argument '{0}': not a flag, nor a value of the flag before it")]
    UnexpectedArgument(String),

    /// The file of `-scene` could not be read.
    #[error("flag '-scene': cannot read '{}': {message}", path.display())]
    SceneRead {
        /// The file named.
        path: PathBuf,
        /// The I/O error, as text.
        message: String,
    },

    /// The file of `-scene` is not a valid scene TOML.
    #[error("flag '-scene': '{}' is not a valid scene: {}", path.display(), message.replace('\n', " "))]
    SceneParse {
        /// The file named.
        path: PathBuf,
        /// The TOML error, as text.
        message: String,
    },
}
