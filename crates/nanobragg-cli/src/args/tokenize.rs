//! The argument list split into flag occurrences (syntax only), and the `-scene` loader.

use std::ffi::OsString;

use nanobragg::scene::Scene;

use super::spec::{parse_f64, Arity, FlagSpec, Values};
use super::table::lookup;
use crate::error::{CliError, Result};

/// One flag occurrence: its entry, the name as typed, its values.
pub(super) struct Occurrence<'a> {
    /// The table entry.
    pub(super) spec: &'static FlagSpec,
    /// The flag as typed.
    flag: &'a str,
    /// Index of the first value in the argument list.
    first: usize,
    /// Number of values.
    n: usize,
}

impl Occurrence<'_> {
    /// The occurrence's values, out of the whole argument list (as given and as text).
    pub(super) fn values<'b>(&'b self, raw: &'b [OsString], text: &'b [String]) -> Values<'b> {
        let range = self.first..self.first + self.n;
        Values {
            flag: self.flag,
            raw: &raw[range.clone()],
            text: &text[range],
        }
    }
}

/// The error for a flag given fewer values than it takes.
fn missing(flag: &str, expected: &str, got: usize) -> CliError {
    CliError::MissingValue {
        flag: flag.to_string(),
        expected: expected.to_string(),
        got,
    }
}

/// Split the arguments into flag occurrences (syntax only; values are parsed later).
pub(super) fn tokenize(args: &[String]) -> Result<Vec<Occurrence<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let tok = args[i].as_str();
        let spec = match lookup(tok) {
            Some(spec) => spec,
            None if tok.starts_with('-') => return Err(CliError::UnknownFlag(tok.to_string())),
            None => return Err(CliError::UnexpectedArgument(tok.to_string())),
        };
        let n = value_count(spec, tok, &args[i + 1..])?;
        out.push(Occurrence {
            spec,
            flag: tok,
            first: i + 1,
            n,
        });
        i += 1 + n;
    }
    Ok(out)
}

/// How many of the arguments after flag `tok` (`rest`) are its values, by its [`Arity`].
fn value_count(spec: &FlagSpec, tok: &str, rest: &[String]) -> Result<usize> {
    // A value slot may hold a negative number, but never a known flag.
    let available = rest.iter().take_while(|t| lookup(t).is_none()).count();
    let n = match spec.arity {
        Arity::Switch => 0,
        Arity::Values(n) => {
            if available < n {
                let expected = match n {
                    1 => format!("a value {}", spec.values),
                    _ => format!("{n} values {}", spec.values),
                };
                return Err(missing(tok, &expected, available));
            }
            n
        }
        Arity::Cell => {
            // The C program stops at the first token beginning with '-' (so it drops a
            // negative angle and treats it as an unknown flag); here a number is a value.
            let n = rest
                .iter()
                .take(6)
                .take_while(|t| !t.starts_with('-') || (parse_f64(t).is_some() && lookup(t).is_none()))
                .count();
            if n == 0 {
                return Err(missing(
                    tok,
                    "1 to 6 values <a> <b> <c> <alpha> <beta> <gamma>",
                    0,
                ));
            }
            n
        }
        Arity::Misset => {
            if available >= 1 && rest[0].to_ascii_lowercase().contains("rand") {
                1
            } else if available >= 3 {
                3
            } else {
                return Err(missing(
                    tok,
                    "3 values <rotx> <roty> <rotz>, or 'random'",
                    available,
                ));
            }
        }
    };
    Ok(n)
}

/// Load a `-scene` TOML file.
pub(super) fn load_scene(path: &std::path::Path) -> Result<Scene> {
    let bytes = nanobragg::io::read_bytes(path).map_err(|e| CliError::SceneRead {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| CliError::SceneRead {
        path: path.to_path_buf(),
        message: "not UTF-8 text".into(),
    })?;
    Scene::from_toml_str(&text).map_err(|e| CliError::SceneParse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}
