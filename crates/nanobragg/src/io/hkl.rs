//! HKL text reader: one reflection `h k l F` per line, into a dense structure-factor grid.
//!
//! Semantics follow the C program: the grid spans the minimum to the maximum of each index found in the file
//! (inclusive); every grid point starts at `default_F` when `default_F != 0`, else at 0; then each reflection
//! is stored at its grid point, a later line for the same (h,k,l) overwriting an earlier one.
//!
//! The reader is line-based and stricter than the C `fscanf` loop (which stops silently at the first token it
//! cannot parse, and which, reading four numbers at a time regardless of line breaks, would misread files with
//! extra columns):
//! - blank lines and lines whose first non-blank character is `#` are skipped;
//! - the first four whitespace-separated tokens of a line are h, k, l, F; further columns (phase, sigma, ...)
//!   are ignored;
//! - a line with fewer than four tokens, or a non-numeric token among the first four, is an error naming the
//!   file and the 1-based line number;
//! - h, k and l must be integer-valued numbers (`1`, `-3`, `2.0`, `1e1` are accepted; `1.5` is an error). The C
//!   program only warns about non-integer indices and then misparses them (its second pass reads indices with
//!   `%d`, so `1.5` desynchronises the rest of the file, and even `1.0` stops its read), so we refuse them;
//! - a file without any reflection is an error (the C program fails on it too, "not enough HKL indices").

use std::path::Path;

use super::{lines_of, parse_token_f64, read_bytes, show_token, IoError};

/// Largest accepted |h|, |k| or |l|.
pub const MAX_INDEX: i32 = 1 << 20;

/// Largest number of grid points (including the Fdump padding) a grid may have: 2^28 points, 2 GiB of f64.
pub const MAX_GRID_POINTS: u64 = 1 << 28;

/// Dense grid of structure-factor amplitudes F(h,k,l) over the inclusive index ranges
/// `h_min..=h_max`, `k_min..=k_max`, `l_min..=l_max`.
///
/// `values` is stored h-major, then k, then l:
/// `values[((h - h_min) * nk + (k - k_min)) * nl + (l - l_min)]` with `nk = k_max - k_min + 1`,
/// `nl = l_max - l_min + 1` (see [`HklGrid::index`]). F is in the file's units (electrons, unitless for the
/// simulation). Unlike the C arrays there is no padding slab; [`super::fdump`] adds it when writing Fdump.bin.
#[derive(Debug, Clone, PartialEq)]
pub struct HklGrid {
    /// Smallest h in the grid.
    pub h_min: i32,
    /// Largest h in the grid (inclusive).
    pub h_max: i32,
    /// Smallest k in the grid.
    pub k_min: i32,
    /// Largest k in the grid (inclusive).
    pub k_max: i32,
    /// Smallest l in the grid.
    pub l_min: i32,
    /// Largest l in the grid (inclusive).
    pub l_max: i32,
    /// F values, h-major then k then l; length `h_count() * k_count() * l_count()`.
    pub values: Vec<f64>,
}

impl HklGrid {
    /// A grid over the given inclusive ranges with every point set to `fill`.
    /// Returns `None` when a range is empty (`max < min`) or the grid would exceed [`MAX_GRID_POINTS`].
    pub fn filled(h: (i32, i32), k: (i32, i32), l: (i32, i32), fill: f64) -> Option<Self> {
        let n = grid_points(h, k, l, 0)?;
        Some(HklGrid {
            h_min: h.0,
            h_max: h.1,
            k_min: k.0,
            k_max: k.1,
            l_min: l.0,
            l_max: l.1,
            values: vec![fill; n as usize],
        })
    }

    /// Number of h values, `h_max - h_min + 1` (the C program's `h_range`).
    pub fn h_count(&self) -> usize {
        (self.h_max as i64 - self.h_min as i64 + 1).max(0) as usize
    }

    /// Number of k values, `k_max - k_min + 1` (the C program's `k_range`).
    pub fn k_count(&self) -> usize {
        (self.k_max as i64 - self.k_min as i64 + 1).max(0) as usize
    }

    /// Number of l values, `l_max - l_min + 1` (the C program's `l_range`).
    pub fn l_count(&self) -> usize {
        (self.l_max as i64 - self.l_min as i64 + 1).max(0) as usize
    }

    /// Position of (h,k,l) in `values`, or `None` when outside the grid.
    pub fn index(&self, h: i32, k: i32, l: i32) -> Option<usize> {
        if h < self.h_min
            || h > self.h_max
            || k < self.k_min
            || k > self.k_max
            || l < self.l_min
            || l > self.l_max
        {
            return None;
        }
        let (hi, ki, li) = (
            (h - self.h_min) as usize,
            (k - self.k_min) as usize,
            (l - self.l_min) as usize,
        );
        Some((hi * self.k_count() + ki) * self.l_count() + li)
    }

    /// F(h,k,l), or `None` when (h,k,l) is outside the grid.
    pub fn get(&self, h: i32, k: i32, l: i32) -> Option<f64> {
        self.index(h, k, l)
            .and_then(|i| self.values.get(i).copied())
    }
}

/// Number of grid points for the inclusive ranges, each axis extended by `pad` points; `None` when a range is
/// empty or the total exceeds [`MAX_GRID_POINTS`].
pub(crate) fn grid_points(h: (i32, i32), k: (i32, i32), l: (i32, i32), pad: u64) -> Option<u64> {
    let mut n: u64 = 1;
    for (lo, hi) in [h, k, l] {
        if hi < lo {
            return None;
        }
        let c = (hi as i64 - lo as i64 + 1) as u64 + pad;
        n = n.checked_mul(c)?;
        if n > MAX_GRID_POINTS {
            return None;
        }
    }
    Some(n)
}

/// Result of reading an HKL file.
#[derive(Debug, Clone, PartialEq)]
pub struct HklData {
    /// The filled grid.
    pub grid: HklGrid,
    /// Number of reflection lines read (duplicates counted; the C program's `hkls`).
    pub reflections: usize,
}

/// Read an HKL text file (see the module documentation for the accepted format). `default_f` prefills every
/// grid point when it is non-zero.
pub fn read_hkl(path: &Path, default_f: f64) -> Result<HklData, IoError> {
    let bytes = read_bytes(path)?;
    parse_hkl(&bytes, path, default_f)
}

fn parse_index(tok: &[u8], name: &str, path: &Path, line: usize) -> Result<i32, IoError> {
    let v = parse_token_f64(tok).ok_or_else(|| {
        IoError::parse(
            path,
            line,
            format!("non-numeric {name} index '{}'", show_token(tok)),
        )
    })?;
    if !v.is_finite() || v.fract() != 0.0 {
        return Err(IoError::parse(
            path,
            line,
            format!(
                "non-integer {name} index '{}' (Miller indices must be integers)",
                show_token(tok)
            ),
        ));
    }
    if v.abs() > MAX_INDEX as f64 {
        return Err(IoError::parse(
            path,
            line,
            format!(
                "{name} index {} out of range (|{name}| <= {MAX_INDEX})",
                show_token(tok)
            ),
        ));
    }
    Ok(v as i32)
}

/// Parse HKL text from `bytes`; `path` is used only in error messages. See [`read_hkl`].
pub fn parse_hkl(bytes: &[u8], path: &Path, default_f: f64) -> Result<HklData, IoError> {
    let mut refl: Vec<(i32, i32, i32, f64)> = Vec::new();
    for (lineno, line) in lines_of(bytes) {
        let mut toks = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|t| !t.is_empty());
        let first = match toks.next() {
            None => continue,
            Some(t) if t.starts_with(b"#") => continue,
            Some(t) => t,
        };
        let mut four = [first, &[][..], &[][..], &[][..]];
        for (i, slot) in four.iter_mut().enumerate().skip(1) {
            *slot = toks.next().ok_or_else(|| {
                IoError::parse(
                    path,
                    lineno,
                    format!("expected 4 columns 'h k l F', found {i}"),
                )
            })?;
        }
        let h = parse_index(four[0], "h", path, lineno)?;
        let k = parse_index(four[1], "k", path, lineno)?;
        let l = parse_index(four[2], "l", path, lineno)?;
        let f = parse_token_f64(four[3]).ok_or_else(|| {
            IoError::parse(
                path,
                lineno,
                format!("non-numeric F '{}'", show_token(four[3])),
            )
        })?;
        if !f.is_finite() {
            return Err(IoError::parse(
                path,
                lineno,
                format!("F '{}' is not a finite number", show_token(four[3])),
            ));
        }
        refl.push((h, k, l, f));
    }
    if refl.is_empty() {
        return Err(IoError::format(
            path,
            "no reflections (expected lines 'h k l F')",
        ));
    }
    let mut lo = [i32::MAX; 3];
    let mut hi = [i32::MIN; 3];
    for &(h, k, l, _) in &refl {
        for (a, v) in [h, k, l].into_iter().enumerate() {
            lo[a] = lo[a].min(v);
            hi[a] = hi[a].max(v);
        }
    }
    // +1 padding per axis so that the Fdump.bin image of this grid also fits the limit.
    if grid_points((lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2]), 1).is_none() {
        return Err(IoError::format(
            path,
            format!(
                "HKL grid h {}..{}, k {}..{}, l {}..{} is too large (more than {} points)",
                lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], MAX_GRID_POINTS
            ),
        ));
    }
    let fill = if default_f != 0.0 { default_f } else { 0.0 };
    let mut grid = HklGrid::filled((lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2]), fill)
        .ok_or_else(|| IoError::format(path, "HKL grid too large"))?;
    for &(h, k, l, f) in &refl {
        if let Some(i) = grid.index(h, k, l) {
            grid.values[i] = f;
        }
    }
    Ok(HklData {
        grid,
        reflections: refl.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::parser_tests::{assert_missing_file_named, prefixes};
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("test.hkl")
    }

    #[test]
    fn basic_grid_and_default() {
        let d = parse_hkl(b"-1 0 0 10\n0 0 0 20\n1 0 2 30.5\n", p(), 0.0).unwrap();
        let g = &d.grid;
        assert_eq!(
            (g.h_min, g.h_max, g.k_min, g.k_max, g.l_min, g.l_max),
            (-1, 1, 0, 0, 0, 2)
        );
        assert_eq!(d.reflections, 3);
        assert_eq!(g.values.len(), 3 * 3);
        assert_eq!(g.get(-1, 0, 0), Some(10.0));
        assert_eq!(g.get(0, 0, 0), Some(20.0));
        assert_eq!(g.get(1, 0, 2), Some(30.5));
        assert_eq!(g.get(1, 0, 1), Some(0.0));
        assert_eq!(g.get(2, 0, 0), None);
        let d = parse_hkl(b"-1 0 0 10\n1 0 2 30.5\n", p(), 7.0).unwrap();
        assert_eq!(d.grid.get(0, 0, 1), Some(7.0));
        assert_eq!(d.grid.get(-1, 0, 0), Some(10.0));
    }

    #[test]
    fn comments_blank_extra_columns_last_wins() {
        let text =
            b"# header\n\n  \t\n 1 2 3 4.0 90.0 0.5\r\n  # indented comment\n1 2 3 5\n1.0 2e0 3 6";
        let d = parse_hkl(text, p(), 0.0).unwrap();
        assert_eq!(d.reflections, 3);
        assert_eq!(d.grid.values, vec![6.0]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse_hkl(b"1 2 3 4\n1 2 3\n", p(), 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("test.hkl:2:"), "{e}");
        let e = parse_hkl(b"1 2 3 4\n\n1 x 3 4\n", p(), 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("test.hkl:3:") && e.contains("'x'"), "{e}");
        let e = parse_hkl(b"1.5 2 3 4\n", p(), 0.0).unwrap_err().to_string();
        assert!(e.contains("non-integer"), "{e}");
        let e = parse_hkl(b"1 2 3 F\n", p(), 0.0).unwrap_err().to_string();
        assert!(e.contains("non-numeric F"), "{e}");
        let e = parse_hkl(b"# only a comment\n\n", p(), 100.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no reflections"), "{e}");
        assert!(parse_hkl(b"", p(), 0.0).is_err());
        let e = parse_hkl(
            b"-1000000 0 0 1\n1000000 0 0 1\n0 -1000 0 1\n0 1000 0 1\n",
            p(),
            0.0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        assert!(parse_hkl(b"99999999 0 0 1\n", p(), 0.0).is_err());
        assert!(parse_hkl(b"nan 0 0 1\n", p(), 0.0).is_err());
    }

    #[test]
    fn read_missing_file_names_it() {
        assert_missing_file_named("/nonexistent/dir/x.hkl", |path| read_hkl(path, 0.0));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_hkl(&bytes, p(), 1.0);
        }

        #[test]
        fn random_numeric_text_never_panics(
            lines in proptest::collection::vec(
                proptest::collection::vec(prop_oneof![
                    Just("-3".to_string()), Just("0".to_string()), Just("2".to_string()),
                    Just("1.5".to_string()), Just("x".to_string()), Just("#".to_string()),
                    Just("1e3".to_string()), Just("nan".to_string()), Just("".to_string())
                ], 0..6), 0..10)
        ) {
            let text = lines.iter().map(|l| l.join(" ")).collect::<Vec<_>>().join("\n");
            let _ = parse_hkl(text.as_bytes(), p(), 0.0);
        }

        #[test]
        fn grid_holds_every_reflection(refl in proptest::collection::vec((-5i32..5, -5i32..5, -5i32..5, 0.0f64..100.0), 1..30)) {
            let text: String = refl.iter().map(|(h, k, l, f)| format!("{h} {k} {l} {f}\n")).collect();
            let d = parse_hkl(text.as_bytes(), p(), 0.0).unwrap();
            prop_assert_eq!(d.reflections, refl.len());
            for (i, &(h, k, l, _)) in refl.iter().enumerate() {
                // last occurrence wins
                let last = refl.iter().rposition(|r| (r.0, r.1, r.2) == (h, k, l)).unwrap();
                if last == i {
                    prop_assert_eq!(d.grid.get(h, k, l), Some(refl[i].3));
                }
            }
        }
    }

    #[test]
    fn truncations_never_panic() {
        for cut in prefixes(b"-1 0 0 10\n0 0 0 20\n1 0 2 30.5 45.0\n# c\n2 -2 1 1\n") {
            let _ = parse_hkl(cut, p(), 0.0);
        }
    }
}
