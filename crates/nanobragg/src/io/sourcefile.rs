//! Source list files (`-sourcefile`): one X-ray source per line.
//!
//! Columns: `X Y Z weight lambda` — source position X, Y, Z in metres, a weight (unitless) and the wavelength
//! in metres. Columns are separated by any of the C reader's delimiters (space, tab, `,`, `;`, `:`, `!`) or
//! other whitespace. Trailing columns may be left out: they come back as `None` and the caller applies the C
//! defaults (position `-source_distance * beam_vector`, weight 1, λ = `-lambda`). A value written as `nan` is
//! also `None`, since the C program uses NaN as its "missing" flag. Columns after the fifth are ignored, as in C.
//!
//! Stricter than the C `read_text_file`: blank lines are skipped, but a line starting with `#` or holding a
//! non-numeric token among its first five columns is an error naming the file and line (C turns such a line
//! into a source with λ = 0, which makes the whole image NaN), and a file without any source is an error.

use std::path::Path;

use super::{lines_of, parse_token_f64, read_bytes, show_token, IoError};

/// One line of a source file. Lengths in metres; `None` = column absent (or `nan`), default to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SourceEntry {
    /// Source position X (m).
    pub x: Option<f64>,
    /// Source position Y (m).
    pub y: Option<f64>,
    /// Source position Z (m).
    pub z: Option<f64>,
    /// Relative weight (unitless). Note: the C program reads it but does not use it.
    pub weight: Option<f64>,
    /// Wavelength λ (m).
    pub lambda: Option<f64>,
}

/// Read a source file (see the module documentation).
pub fn read_sourcefile(path: &Path) -> Result<Vec<SourceEntry>, IoError> {
    let bytes = read_bytes(path)?;
    parse_sourcefile(&bytes, path)
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b',' | b';' | b':' | b'!' | b'\r' | 0x0b | 0x0c
    )
}

/// Parse source-file text; `path` is used only in error messages. See [`read_sourcefile`].
pub fn parse_sourcefile(bytes: &[u8], path: &Path) -> Result<Vec<SourceEntry>, IoError> {
    const NAMES: [&str; 5] = ["X", "Y", "Z", "weight", "lambda"];
    let mut out = Vec::new();
    for (lineno, line) in lines_of(bytes) {
        let toks: Vec<&[u8]> = line
            .split(|b| is_delim(*b))
            .filter(|t| !t.is_empty())
            .take(5)
            .collect();
        if toks.is_empty() {
            continue;
        }
        if toks[0].starts_with(b"#") {
            return Err(IoError::parse(
                path,
                lineno,
                "comment lines are not allowed in a source file (the C program reads them as a source with lambda = 0)",
            ));
        }
        let mut vals = [None; 5];
        for (i, tok) in toks.iter().enumerate() {
            let v = parse_token_f64(tok).ok_or_else(|| {
                IoError::parse(
                    path,
                    lineno,
                    format!("non-numeric {} column '{}'", NAMES[i], show_token(tok)),
                )
            })?;
            if v.is_infinite() {
                return Err(IoError::parse(
                    path,
                    lineno,
                    format!("{} column '{}' is not finite", NAMES[i], show_token(tok)),
                ));
            }
            vals[i] = if v.is_nan() { None } else { Some(v) };
        }
        if let Some(l) = vals[4].filter(|&l| l <= 0.0) {
            return Err(IoError::parse(
                path,
                lineno,
                format!("wavelength {l} m: a wavelength must be > 0"),
            ));
        }
        if vals[..3].iter().all(|v| *v == Some(0.0)) {
            return Err(IoError::parse(
                path,
                lineno,
                "source at the sample position (0 0 0) has no direction",
            ));
        }
        if out.len() == crate::validate::MAX_SOURCES {
            return Err(IoError::parse(
                path,
                lineno,
                format!("more than {} sources", crate::validate::MAX_SOURCES),
            ));
        }
        out.push(SourceEntry {
            x: vals[0],
            y: vals[1],
            z: vals[2],
            weight: vals[3],
            lambda: vals[4],
        });
    }
    if out.is_empty() {
        return Err(IoError::format(
            path,
            "no sources (expected lines 'X Y Z weight lambda')",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::parser_tests::prefixes;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("sources.txt")
    }

    #[test]
    fn columns_and_defaults() {
        let s = parse_sourcefile(b"-10 0 0 1.0 1.0e-10\n\n  \n-10,0.02;0.01\t3.0 1e-10 99 junk\n1 2\nnan nan 3 nan 2e-10\n", p())
            .unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(
            s[0],
            SourceEntry {
                x: Some(-10.0),
                y: Some(0.0),
                z: Some(0.0),
                weight: Some(1.0),
                lambda: Some(1e-10)
            }
        );
        assert_eq!(
            s[1],
            SourceEntry {
                x: Some(-10.0),
                y: Some(0.02),
                z: Some(0.01),
                weight: Some(3.0),
                lambda: Some(1e-10)
            }
        );
        assert_eq!(
            s[2],
            SourceEntry {
                x: Some(1.0),
                y: Some(2.0),
                ..Default::default()
            }
        );
        assert_eq!(
            s[3],
            SourceEntry {
                z: Some(3.0),
                lambda: Some(2e-10),
                ..Default::default()
            }
        );
        // no trailing newline, CRLF
        let s = parse_sourcefile(b"1 2 3\r\n4 5", p()).unwrap();
        assert_eq!(s[0].z, Some(3.0));
        assert_eq!(
            s[1],
            SourceEntry {
                x: Some(4.0),
                y: Some(5.0),
                ..Default::default()
            }
        );
    }

    #[test]
    fn errors() {
        let e = parse_sourcefile(b"1 2 3 1 1e-10\n# comment\n", p())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("sources.txt:2:"), "{e}");
        let e = parse_sourcefile(b"\n1 2 abc\n", p())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("sources.txt:2:") && e.contains("Z") && e.contains("abc"),
            "{e}"
        );
        let e = parse_sourcefile(b"\n \n", p()).unwrap_err().to_string();
        assert!(e.contains("no sources"), "{e}");
        assert!(parse_sourcefile(b"", p()).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_sourcefile(&bytes, p());
        }
    }

    #[test]
    fn truncations_never_panic() {
        for cut in prefixes(b"-10 0 0 1.0 1.0e-10\n-10 0.02 0.01 3.0 1.0e-10\n") {
            let _ = parse_sourcefile(cut, p());
        }
    }
}
