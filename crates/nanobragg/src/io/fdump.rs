//! Fdump.bin: the C program's binary cache of the structure-factor grid.
//!
//! Layout, byte-identical to the C program's file:
//! - ASCII header `"%d %d %d %d %d %d\n\f"` = `h_min h_max k_min k_max l_min l_max`, a newline, a form feed;
//! - then native-endian IEEE f64 values (little-endian on every platform we run on), h-major, then k, then l,
//!   with **one extra padding entry per axis**: the C program allocates and writes `range + 1` entries per axis
//!   where `range = max - min + 1`, so the file holds `(nh+1) * (nk+1) * (nl+1)` doubles (`nh = h_max-h_min+1`
//!   etc.). Every padding entry (index `nh` along h, or `nk` along k, or `nl` along l) is 0.0 — `default_F`
//!   prefilling does not reach the padding.
//!
//! The reader drops the padding. It is stricter than the C reader: the header must be exactly six integers
//! terminated by `"\n\f"`, each `max >= min`, and the file size must match the header exactly. (The C reader
//! uses `fscanf("%d%d%d%d%d%d\n\f")`, whose whitespace directives also swallow any leading data bytes that
//! happen to be whitespace characters — 0x09..0x0d or 0x20 — misaligning the data; it never checks the size.)

use std::path::Path;

use super::atomic::write_atomic;
use super::hkl::{grid_points, HklGrid};
use super::{read_bytes, show_token, IoError};

/// Longest accepted header (six 11-character integers, separators and terminator fit easily).
const MAX_HEADER: usize = 256;

/// The exact bytes of the Fdump.bin the C program writes for `grid`.
pub fn fdump_bytes(grid: &HklGrid) -> Vec<u8> {
    let header = format!(
        "{} {} {} {} {} {}\n\x0c",
        grid.h_min, grid.h_max, grid.k_min, grid.k_max, grid.l_min, grid.l_max
    );
    let (nh, nk, nl) = (grid.h_count(), grid.k_count(), grid.l_count());
    let mut out = Vec::with_capacity(header.len() + (nh + 1) * (nk + 1) * (nl + 1) * 8);
    out.extend_from_slice(header.as_bytes());
    let zero = 0.0f64.to_ne_bytes();
    for h in 0..=nh {
        for k in 0..=nk {
            for l in 0..=nl {
                if h < nh && k < nk && l < nl {
                    let v = grid
                        .values
                        .get((h * nk + k) * nl + l)
                        .copied()
                        .unwrap_or(0.0);
                    out.extend_from_slice(&v.to_ne_bytes());
                } else {
                    out.extend_from_slice(&zero);
                }
            }
        }
    }
    out
}

/// Write `grid` to `path` as Fdump.bin (see [`fdump_bytes`]), atomically.
pub fn write_fdump(path: &Path, grid: &HklGrid) -> Result<(), IoError> {
    if grid.values.len() != grid.h_count() * grid.k_count() * grid.l_count() {
        return Err(IoError::invalid(
            path,
            format!(
                "HKL grid has {} values, its ranges need {}",
                grid.values.len(),
                grid.h_count() * grid.k_count() * grid.l_count()
            ),
        ));
    }
    write_atomic(path, &fdump_bytes(grid))
}

/// Read an Fdump.bin file into a grid (padding dropped).
pub fn read_fdump(path: &Path) -> Result<HklGrid, IoError> {
    let bytes = read_bytes(path)?;
    parse_fdump(&bytes, path)
}

/// An axis range `(min, max)` from the header.
type Range = (i32, i32);

/// Parse Fdump.bin contents; `path` is used only in error messages. See [`read_fdump`].
pub fn parse_fdump(bytes: &[u8], path: &Path) -> Result<HklGrid, IoError> {
    let window = &bytes[..bytes.len().min(MAX_HEADER)];
    let ff = header_end(window, path)?;
    let [h, k, l] = header_ranges(&window[..ff - 1], path)?;
    let data = &bytes[ff + 1..];
    check_data_size(data, (h, k, l), path)?;
    let mut grid = HklGrid::filled(h, k, l, 0.0)
        .ok_or_else(|| IoError::format(path, "Fdump grid too large"))?;
    read_values(&mut grid, data, path)?;
    Ok(grid)
}

/// Position of the form feed that ends the header (after a newline) within `window`.
fn header_end(window: &[u8], path: &Path) -> Result<usize, IoError> {
    let ff = window.iter().position(|&b| b == 0x0c).ok_or_else(|| {
        IoError::format(
            path,
            "not an Fdump file: no header terminated by newline + form feed",
        )
    })?;
    if ff == 0 || window[ff - 1] != b'\n' {
        return Err(IoError::format(
            path,
            "not an Fdump file: header must end with newline + form feed",
        ));
    }
    Ok(ff)
}

/// The h, k, l ranges of the header `text`: six integers, each `max >= min`.
fn header_ranges(text: &[u8], path: &Path) -> Result<[Range; 3], IoError> {
    let toks: Vec<&[u8]> = text
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|t| !t.is_empty())
        .collect();
    if toks.len() != 6 {
        return Err(IoError::format(
            path,
            format!(
                "Fdump header must hold 6 integers (h_min h_max k_min k_max l_min l_max), found {}",
                toks.len()
            ),
        ));
    }
    let mut v = [0i32; 6];
    for (slot, tok) in v.iter_mut().zip(&toks) {
        *slot = std::str::from_utf8(tok)
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .ok_or_else(|| {
                IoError::format(
                    path,
                    format!("Fdump header: '{}' is not an integer", show_token(tok)),
                )
            })?;
    }
    let (h, k, l) = ((v[0], v[1]), (v[2], v[3]), (v[4], v[5]));
    for (name, (lo, hi)) in [("h", h), ("k", k), ("l", l)] {
        if hi < lo {
            return Err(IoError::format(
                path,
                format!("Fdump header: {name}_max {hi} < {name}_min {lo}"),
            ));
        }
    }
    Ok([h, k, l])
}

/// Check that `data` holds exactly the padded grid's doubles for the header's ranges.
fn check_data_size(data: &[u8], (h, k, l): (Range, Range, Range), path: &Path) -> Result<(), IoError> {
    let padded = grid_points(h, k, l, 1)
        .ok_or_else(|| IoError::format(path, "Fdump header: grid too large"))?;
    let expected = padded * 8;
    if data.len() as u64 != expected {
        return Err(IoError::format(
            path,
            format!(
                "Fdump data is {} bytes, the header (h {}..{}, k {}..{}, l {}..{}) needs {} ({} padded doubles)",
                data.len(), h.0, h.1, k.0, k.1, l.0, l.1, expected, padded
            ),
        ));
    }
    Ok(())
}

/// Fill `grid` from the padded, h-major `data`, dropping the padding; values must be finite.
fn read_values(grid: &mut HklGrid, data: &[u8], path: &Path) -> Result<(), IoError> {
    let (h_min, k_min, l_min) = (grid.h_min, grid.k_min, grid.l_min);
    let (nh, nk, nl) = (grid.h_count(), grid.k_count(), grid.l_count());
    let mut chunks = data.chunks_exact(8);
    let mut out = 0;
    for hi in 0..=nh {
        for ki in 0..=nk {
            for li in 0..=nl {
                let Some(c) = chunks.next() else {
                    return Err(IoError::format(path, "Fdump data truncated"));
                };
                if hi < nh && ki < nk && li < nl {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    let f = f64::from_ne_bytes(b);
                    if !f.is_finite() {
                        return Err(IoError::format(
                            path,
                            format!(
                                "F({}, {}, {}) = {f} is not a finite number",
                                h_min + hi as i32,
                                k_min + ki as i32,
                                l_min + li as i32
                            ),
                        ));
                    }
                    grid.values[out] = f;
                    out += 1;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::hkl::parse_hkl;
    use crate::io::parser_tests::prefixes;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("Fdump.bin")
    }

    #[test]
    fn layout_has_padding() {
        let g = parse_hkl(b"0 0 0 1\n1 0 0 2\n", Path::new("x.hkl"), 5.0)
            .unwrap()
            .grid;
        let b = fdump_bytes(&g);
        let header = b"0 1 0 0 0 0\n\x0c";
        assert_eq!(&b[..header.len()], header);
        // (2+1)*(1+1)*(1+1) doubles
        assert_eq!(b.len(), header.len() + 12 * 8);
        let vals: Vec<f64> = b[header.len()..]
            .chunks(8)
            .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        // h=0: k=0: [1, pad], k=pad: [pad, pad]; h=1: [2, pad] ...
        assert_eq!(
            vals,
            vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(parse_fdump(&b, p()).unwrap(), g);
    }

    #[test]
    fn roundtrip_negative_ranges_and_file() {
        let g = parse_hkl(
            b"-2 -1 3 1.5\n1 2 -3 -2.25\n0 0 0 7\n",
            Path::new("x.hkl"),
            0.0,
        )
        .unwrap()
        .grid;
        let b = fdump_bytes(&g);
        assert!(b.starts_with(b"-2 1 -1 2 -3 3\n\x0c"));
        assert_eq!(parse_fdump(&b, p()).unwrap(), g);
        let dir = std::env::temp_dir().join(format!("nanobragg-fdump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("Fdump.bin");
        write_fdump(&f, &g).unwrap();
        assert_eq!(read_fdump(&f).unwrap(), g);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_are_errors() {
        let g = parse_hkl(b"0 0 0 1\n1 1 1 2\n", Path::new("x.hkl"), 0.0)
            .unwrap()
            .grid;
        let b = fdump_bytes(&g);
        let e = parse_fdump(&b[..b.len() - 1], p()).unwrap_err().to_string();
        assert!(e.starts_with("Fdump.bin:") && e.contains("needs"), "{e}");
        let mut longer = b.clone();
        longer.push(0);
        assert!(parse_fdump(&longer, p()).is_err());
        assert!(parse_fdump(b"", p()).is_err());
        assert!(parse_fdump(b"0 1 0 1 0\n\x0c", p()).is_err());
        assert!(parse_fdump(b"0 1 0 1 0 x\n\x0c", p()).is_err());
        assert!(parse_fdump(b"1 0 0 1 0 1\n\x0c", p()).is_err());
        assert!(parse_fdump(b"0 1 0 1 0 1\x0c", p()).is_err());
        assert!(parse_fdump(b"-2000000000 2000000000 0 0 0 0\n\x0c", p()).is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_fdump(&bytes, p());
        }

        #[test]
        fn random_header_then_bytes_never_panic(v in proptest::collection::vec(-4i32..4, 6), extra in 0usize..1200) {
            let mut b = format!("{} {} {} {} {} {}\n\x0c", v[0], v[1], v[2], v[3], v[4], v[5]).into_bytes();
            b.extend(std::iter::repeat_n(0u8, extra));
            let _ = parse_fdump(&b, p());
        }
    }

    #[test]
    fn only_the_whole_file_parses() {
        let g = parse_hkl(b"-1 0 0 1\n1 2 1 2\n", Path::new("x.hkl"), 3.0).unwrap().grid;
        let b = fdump_bytes(&g);
        for t in prefixes(&b) {
            assert_eq!(parse_fdump(t, p()).is_ok(), t.len() == b.len(), "{} bytes", t.len());
        }
    }
}
