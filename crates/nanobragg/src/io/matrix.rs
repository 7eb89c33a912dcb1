//! MOSFLM orientation ("A") matrix files.
//!
//! The first nine numbers of the file are read, as the C program's three `fscanf("%lg%lg%lg")` calls do:
//! line breaks do not matter, numbers are scanned like `strtod` (so `-0.01-0.02` reads as two numbers, as in
//! C), and anything after the ninth number (MOSFLM's missetting angles, U matrix, cell, ...) is ignored.
//! Row `i` of the matrix (numbers `3i+1..3i+3`) holds component `i` (x, y, z) of the reciprocal vectors
//! a*, b*, c*: the columns of the matrix are a*, b*, c*. Values are as in the file, i.e. reciprocal vectors in
//! Å⁻¹ multiplied by the wavelength in Å (unitless); the caller divides by λ.
//!
//! Fewer than nine numbers, or a token that does not start with a number before the ninth, is an error naming
//! the file and line (C would print an `fscanf` error and go on with zeros).

use std::path::Path;

use super::{is_c_space, read_bytes, scan_f64_prefix, show_token, IoError};

/// A MOSFLM A matrix as three reciprocal vectors, each still multiplied by λ (unitless: Å⁻¹ · Å).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MosflmMatrix {
    /// λ·a* as (x, y, z): the first column of the file's 3x3 matrix.
    pub a_star: [f64; 3],
    /// λ·b* as (x, y, z): the second column.
    pub b_star: [f64; 3],
    /// λ·c* as (x, y, z): the third column.
    pub c_star: [f64; 3],
}

/// Read a MOSFLM A matrix file (see the module documentation).
pub fn read_mosflm_matrix(path: &Path) -> Result<MosflmMatrix, IoError> {
    let bytes = read_bytes(path)?;
    parse_mosflm_matrix(&bytes, path)
}

/// Parse MOSFLM A matrix text; `path` is used only in error messages. See [`read_mosflm_matrix`].
pub fn parse_mosflm_matrix(bytes: &[u8], path: &Path) -> Result<MosflmMatrix, IoError> {
    let mut nums = [0.0f64; 9];
    let mut n = 0;
    let mut i = 0;
    let mut line = 1;
    while n < 9 {
        while i < bytes.len() && is_c_space(bytes[i]) {
            if bytes[i] == b'\n' {
                line += 1;
            }
            i += 1;
        }
        if i >= bytes.len() {
            return Err(IoError::parse(
                path,
                line,
                format!("end of file after {n} numbers; a MOSFLM A matrix needs 9 (3 lines of a* b* c* components)"),
            ));
        }
        match scan_f64_prefix(&bytes[i..]) {
            Some((v, used)) => {
                nums[n] = v;
                n += 1;
                i += used;
            }
            None => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| is_c_space(*b))
                    .map_or(bytes.len(), |e| i + e);
                return Err(IoError::parse(
                    path,
                    line,
                    format!(
                        "non-numeric token '{}' (number {} of the 9 matrix elements)",
                        show_token(&bytes[i..end]),
                        n + 1
                    ),
                ));
            }
        }
    }
    Ok(MosflmMatrix {
        a_star: [nums[0], nums[3], nums[6]],
        b_star: [nums[1], nums[4], nums[7]],
        c_star: [nums[2], nums[5], nums[8]],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::parser_tests::{assert_missing_file_named, prefixes};
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("A.mat")
    }

    #[test]
    fn rows_are_components() {
        let m = parse_mosflm_matrix(b" 1 2 3\n4 5 6\n7 8 9\n 0 0 0\n garbage\n", p()).unwrap();
        assert_eq!(m.a_star, [1.0, 4.0, 7.0]);
        assert_eq!(m.b_star, [2.0, 5.0, 8.0]);
        assert_eq!(m.c_star, [3.0, 6.0, 9.0]);
        // line breaks are irrelevant; concatenated negative numbers split as strtod does
        let m = parse_mosflm_matrix(b"-0.01-0.02 0.03 4\n5 6 7 8 9", p()).unwrap();
        assert_eq!(m.a_star, [-0.01, 4.0, 7.0]);
        assert_eq!(m.b_star, [-0.02, 5.0, 8.0]);
    }

    #[test]
    fn errors() {
        let e = parse_mosflm_matrix(b"1 2 3\n4 5 6\n7 8\n", p())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("A.mat:4:") && e.contains("8 numbers"), "{e}");
        let e = parse_mosflm_matrix(b"1 2 3\n4 x 6\n7 8 9\n", p())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("A.mat:2:") && e.contains("'x'"), "{e}");
        assert!(parse_mosflm_matrix(b"", p()).is_err());
        assert_missing_file_named("/nonexistent/A.mat", read_mosflm_matrix);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_mosflm_matrix(&bytes, p());
        }
    }

    #[test]
    fn truncations_never_panic() {
        let t = b"-0.0283771 -0.0030539 0.0253582\n-0.0287139 0.0101955 -0.0140005\n0.0105005 -0.0320944 -0.0103605\n";
        for cut in prefixes(t) {
            let _ = parse_mosflm_matrix(cut, p());
        }
    }
}
