//! What one entry of the flag table is, and how its setter reads the values that follow it.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use super::CommandLine;
use crate::error::{CliError, Result};

/// How many values follow a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// No value.
    Switch,
    /// Exactly this many values.
    Values(usize),
    /// `-cell`: one to six values; reading stops at the first token that is not a number or
    /// is a known flag (negative numbers are values, unlike in the C program).
    Cell,
    /// `-misset`: one value containing `rand` (random orientation), else three angles.
    Misset,
}

/// The groups of the usage text, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagGroup {
    /// Input files and structure factors.
    Input,
    /// Crystal cell, orientation, size, shape, mosaicity.
    Crystal,
    /// Incident beam: wavelength, spectrum, divergence, polarization, intensity.
    Beam,
    /// Detector geometry, conventions, orientation, absorption.
    Detector,
    /// Spindle sweep, oversampling, region of interest, resolution, background.
    Sampling,
    /// Output images, scaling, noise, diagnostics.
    Output,
    /// Options of this implementation (not in the C program).
    Ours,
}

impl FlagGroup {
    /// Every group, in display order.
    pub const ALL: [FlagGroup; 7] = [
        FlagGroup::Input,
        FlagGroup::Crystal,
        FlagGroup::Beam,
        FlagGroup::Detector,
        FlagGroup::Sampling,
        FlagGroup::Output,
        FlagGroup::Ours,
    ];

    /// Heading of the group in the usage text.
    pub fn title(self) -> &'static str {
        match self {
            FlagGroup::Input => "Input files and structure factors",
            FlagGroup::Crystal => "Crystal",
            FlagGroup::Beam => "Beam",
            FlagGroup::Detector => "Detector",
            FlagGroup::Sampling => "Sampling",
            FlagGroup::Output => "Output",
            FlagGroup::Ours => "Options of this implementation (not in nanoBragg)",
        }
    }
}

/// Writes one flag occurrence's values into the command line.
pub(super) type Setter = fn(&mut CommandLine, &Values<'_>) -> Result<()>;

/// One entry of the flag table.
#[derive(Clone, Copy)]
pub struct FlagSpec {
    /// Accepted spellings; the first is the primary name, the rest are synonyms.
    pub names: &'static [&'static str],
    /// Number of values taken.
    pub arity: Arity,
    /// Usage-text group.
    pub group: FlagGroup,
    /// Value placeholders for the usage text, e.g. `<mm>`; empty for a switch.
    pub values: &'static str,
    /// One-line description with units and default.
    pub help: &'static str,
    /// Writes the values into the command line.
    pub(super) apply: Setter,
}

impl fmt::Debug for FlagSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagSpec")
            .field("names", &self.names)
            .field("arity", &self.arity)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl FlagSpec {
    /// The primary name (shown first in the usage text).
    pub fn name(&self) -> &'static str {
        self.names[0]
    }
}

/// The values of one flag occurrence, with the flag as typed (for error messages).
///
/// `raw` holds the values as they came from the OS (file names need not be UTF-8); `text`
/// the same values as text, with anything that is not UTF-8 replaced (numbers and names).
pub(super) struct Values<'a> {
    /// The flag as typed.
    pub(super) flag: &'a str,
    /// The values as the OS gave them.
    pub(super) raw: &'a [OsString],
    /// The values as text.
    pub(super) text: &'a [String],
}

impl Values<'_> {
    pub(super) fn len(&self) -> usize {
        self.text.len()
    }

    pub(super) fn str(&self, i: usize) -> &str {
        self.text[i].as_str()
    }

    pub(super) fn f64(&self, i: usize) -> Result<f64> {
        parse_f64(self.str(i)).ok_or_else(|| CliError::InvalidNumber {
            flag: self.flag.to_string(),
            value: self.str(i).to_string(),
        })
    }

    pub(super) fn int(&self, i: usize) -> Result<i64> {
        parse_int(self.str(i)).ok_or_else(|| CliError::InvalidInteger {
            flag: self.flag.to_string(),
            value: self.str(i).to_string(),
        })
    }

    /// An integer ≥ 1.
    pub(super) fn positive(&self, i: usize) -> Result<usize> {
        usize::try_from(self.int(i)?).ok().filter(|&n| n > 0).ok_or_else(|| self.invalid(i, "a positive integer"))
    }

    pub(super) fn vec3(&self) -> Result<[f64; 3]> {
        Ok([self.f64(0)?, self.f64(1)?, self.f64(2)?])
    }

    /// A file name, taken byte for byte as given (it need not be UTF-8).
    pub(super) fn path(&self, i: usize) -> Result<PathBuf> {
        if self.raw[i].is_empty() {
            return Err(self.invalid(i, "a file name"));
        }
        Ok(PathBuf::from(&self.raw[i]))
    }

    pub(super) fn invalid(&self, i: usize, expected: &str) -> CliError {
        CliError::InvalidValue {
            flag: self.flag.to_string(),
            value: self.str(i).to_string(),
            expected: expected.to_string(),
        }
    }
}

/// A finite number as C's `atof` would read it from a well-formed token.
pub(super) fn parse_f64(s: &str) -> Option<f64> {
    let t = s.trim();
    let v: f64 = t.parse().ok()?;
    v.is_finite().then_some(v)
}

/// An integer: `64`, `+64`, `-3`, or with a zero fraction (`64.`, `64.00`), which C's `atoi`
/// reads as the same integer. Anything `atoi` would truncate differently is refused.
fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (whole, frac) = t.split_once('.')?;
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int("64"), Some(64));
        assert_eq!(parse_int("+64"), Some(64));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("64.0"), Some(64));
        assert_eq!(parse_int("64."), Some(64));
        assert_eq!(parse_int("64.5"), None);
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int("."), None);
        assert_eq!(parse_int("-.0"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_f64("1e3"), Some(1000.0));
        assert_eq!(parse_f64("-0.5"), Some(-0.5));
        assert_eq!(parse_f64("inf"), None);
        assert_eq!(parse_f64("nan"), None);
        assert_eq!(parse_f64("1e999"), None);
        assert_eq!(parse_f64("abc"), None);
    }
}
