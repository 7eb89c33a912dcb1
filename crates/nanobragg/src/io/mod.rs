//! File formats: HKL text, Fdump cache, MOSFLM matrices, source lists, SMV, miniCBF (Pilatus/Eiger), PGM, raw
//! float, PNG previews (one panel, or several laid out in the lab frame), and DIALS/dxtbx experiment
//! lists (`.expt` JSON, legacy DataBlock lists) with their lab-frame geometry ([`expt`]); with the
//! cargo feature `nexus`, NeXus/HDF5 NXmx images with the detector model (`nexus`, through the
//! system HDF5 library).
//!
//! Every reader returns `Result<_, IoError>`; error messages name the file and, for text formats, the
//! 1-based line number. Readers never panic, whatever the input bytes. Every writer goes through
//! [`atomic::write_atomic`], so a failed write never leaves a half-written output file behind.
//!
//! Pixel images are stored fast-major, as in the C program: `index = slow * fpixels + fast`.
//!
//! Each reader comes in two forms: `read_*` takes a path and `parse_*` takes the file's bytes (plus the
//! path, used only in error messages), so that tests can feed arbitrary bytes without touching the disk.

use std::path::{Path, PathBuf};

pub mod atomic;
pub mod cbf;
pub mod cfmt;
pub mod expt;
pub mod fdump;
pub mod float_image;
pub mod hkl;
pub mod matrix;
#[cfg(feature = "nexus")]
pub mod nexus;
pub mod panel_mosaic;
#[cfg(test)]
mod parser_tests;
pub mod pgm;
pub mod png;
pub mod smv;
pub mod sourcefile;

pub use self::png::{png_preview_bytes, write_png_preview, PngPreviewOptions};
pub use atomic::{write_atomic, write_atomic_with};
pub use cbf::{cbf_bytes, parse_cbf, read_cbf, write_cbf, CbfImage, PilatusHeader};
pub use cfmt::{format_e, format_f, format_g};
pub use fdump::{fdump_bytes, parse_fdump, read_fdump, write_fdump};
pub use float_image::{float_image_bytes, parse_float_image, read_float_image, write_float_image};
pub use hkl::{parse_hkl, read_hkl, HklData, HklGrid};
pub use matrix::{parse_mosflm_matrix, read_mosflm_matrix, MosflmMatrix};
pub use pgm::{pgm_auto_scale, pgm_bytes, pgm_pixels, write_pgm, write_pgm_from_float};
pub use smv::{
    int_image, intfile_auto_scale, parse_smv, parse_smv_header, read_smv, smv_bytes,
    smv_header_bytes, write_smv, ByteOrder, SmvHeader, SmvHeaderValues, SmvImage,
};
pub use sourcefile::{parse_sourcefile, read_sourcefile, SourceEntry};

/// A path as messages show it: whole up to 120 characters, else its first 40 and last 70
/// characters around an ellipsis (the file name stays readable, the line stays one line).
pub fn shown(path: &Path) -> String {
    let s = path.display().to_string();
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 120 {
        return s;
    }
    let head: String = chars[..40].iter().collect();
    let tail: String = chars[chars.len() - 70..].iter().collect();
    format!("{head}…{tail}")
}

/// Errors of the file readers and writers. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The operating system refused an operation (open, read, write, rename) on `path`.
    #[error("{}: {source}", shown(path))]
    Os {
        /// The file concerned.
        path: PathBuf,
        /// The underlying OS error.
        #[source]
        source: std::io::Error,
    },
    /// A text file has a malformed line.
    #[error("{}:{line}: {msg}", shown(path))]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line number of the offending line.
        line: usize,
        /// What is wrong with the line.
        msg: String,
    },
    /// A file is malformed as a whole (bad header, wrong size, no data, ...).
    #[error("{}: {msg}", shown(path))]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with the file.
        msg: String,
    },
    /// A writer was handed inconsistent data (e.g. pixel count not matching the image size).
    #[error("{}: {msg}", shown(path))]
    InvalidInput {
        /// The output file that was not written.
        path: PathBuf,
        /// What is inconsistent.
        msg: String,
    },
}

impl IoError {
    pub(crate) fn os(path: &Path, source: std::io::Error) -> Self {
        IoError::Os {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn parse(path: &Path, line: usize, msg: impl Into<String>) -> Self {
        IoError::Parse {
            path: path.to_path_buf(),
            line,
            msg: msg.into(),
        }
    }
    pub(crate) fn format(path: &Path, msg: impl Into<String>) -> Self {
        IoError::Format {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
    pub(crate) fn invalid(path: &Path, msg: impl Into<String>) -> Self {
        IoError::InvalidInput {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
}

/// Region of interest in pixel indices, **inclusive at both ends**, as the C program's `-roi xmin xmax ymin
/// ymax` (x = fast, y = slow). A pixel `(fast, slow)` is inside when
/// `fast_min <= fast <= fast_max && slow_min <= slow <= slow_max`.
///
/// The C default (no `-roi`) is `0..=fpixels` and `0..=spixels`, one past the last pixel, which covers the
/// whole detector; [`Roi::full`] reproduces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roi {
    /// First fast pixel index inside the ROI.
    pub fast_min: usize,
    /// Last fast pixel index inside the ROI (inclusive).
    pub fast_max: usize,
    /// First slow pixel index inside the ROI.
    pub slow_min: usize,
    /// Last slow pixel index inside the ROI (inclusive).
    pub slow_max: usize,
}

impl Roi {
    /// The C default ROI: the whole detector of `fpixels` x `spixels` pixels.
    pub fn full(fpixels: usize, spixels: usize) -> Self {
        Roi {
            fast_min: 0,
            fast_max: fpixels,
            slow_min: 0,
            slow_max: spixels,
        }
    }

    /// Whether pixel (`fast`, `slow`) lies inside the ROI (bounds inclusive).
    pub fn contains(&self, fast: usize, slow: usize) -> bool {
        fast >= self.fast_min
            && fast <= self.fast_max
            && slow >= self.slow_min
            && slow <= self.slow_max
    }

    /// `convert` applied to each pixel of a fast-major image (`fpixels` pixels a row) inside the
    /// ROI; pixels outside it, and every pixel when `fpixels` is 0, are `T::default()` (0).
    pub(crate) fn map_inside<T: Default + Clone>(
        &self,
        image: &[f32],
        fpixels: usize,
        convert: impl Fn(f32) -> T,
    ) -> Vec<T> {
        let mut out = vec![T::default(); image.len()];
        if fpixels == 0 {
            return out;
        }
        for (idx, (&v, o)) in image.iter().zip(out.iter_mut()).enumerate() {
            if self.contains(idx % fpixels, idx / fpixels) {
                *o = convert(v);
            }
        }
        out
    }
}

/// The largest input file any reader accepts (4 GiB): a 1024² f64 Fdump is 8 MiB and a 6M-pixel
/// SMV 12 MiB, so this refuses only what cannot be an input (a disk image, say).
pub const MAX_INPUT_BYTES: u64 = 4 << 30;

/// The most bytes read from a stream that is not a regular file (a pipe, `/dev/zero`), whose
/// length is not known before reading.
pub const MAX_STREAM_BYTES: u64 = 256 << 20;

/// Read a whole file, mapping the OS error to [`IoError::Os`]. A regular file longer than
/// [`MAX_INPUT_BYTES`] is refused before reading; a stream is read up to [`MAX_STREAM_BYTES`]
/// and refused beyond, so that `-hkl /dev/zero` ends at once instead of filling the memory.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    if meta.is_dir() {
        return Err(IoError::format(path, "is a folder, not a file"));
    }
    let limit = if meta.is_file() { MAX_INPUT_BYTES } else { MAX_STREAM_BYTES };
    if meta.len() > limit {
        return Err(IoError::format(
            path,
            format!("is {} bytes, longer than {limit}, the largest input file read", meta.len()),
        ));
    }
    read_bytes_limited(path, limit)
}

fn read_bytes_limited(path: &Path, limit: u64) -> Result<Vec<u8>, IoError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| IoError::os(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IoError::os(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(IoError::format(
            path,
            format!("longer than {limit} bytes, the largest input read from a stream"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn long_paths_are_shortened_around_an_ellipsis() {
        let long = format!("/{}/out.bin", "d".repeat(300));
        let s = shown(Path::new(&long));
        assert_eq!(s.chars().count(), 111);
        assert!(s.ends_with("d/out.bin") && s.contains('…'));
        assert_eq!(shown(Path::new("a/b.bin")), "a/b.bin");
    }

    #[test]
    fn an_endless_stream_is_refused_at_the_limit() {
        let err = read_bytes_limited(Path::new("/dev/zero"), 1 << 16).unwrap_err();
        assert!(err.to_string().contains("/dev/zero"), "{err}");
        assert!(err.to_string().contains("longer than 65536 bytes"), "{err}");
    }
}

/// Parse the longest prefix of `s` that C's `strtod` would accept as a decimal number (optional sign,
/// digits with an optional decimal point, optional exponent; or `inf`, `infinity`, `nan`, case-insensitive).
/// Leading whitespace is NOT skipped. Returns the value and the number of bytes consumed, or `None` when no
/// number starts at `s[0]`. Hexadecimal floats are not recognised (C would read `0x10` as 16; here it reads 0
/// and stops at `x`).
pub(crate) fn scan_f64_prefix(s: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let rest = &s[i..];
    let starts_ci =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts_ci(b"infinity") {
        let v = if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Some((v, i + 8));
    }
    if starts_ci(b"inf") {
        let v = if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
        return Some((v, i + 3));
    }
    if starts_ci(b"nan") {
        let mut n = i + 3;
        // optional "(n-char-sequence)"
        if n < s.len() && s[n] == b'(' {
            let mut j = n + 1;
            while j < s.len() && (s[j].is_ascii_alphanumeric() || s[j] == b'_') {
                j += 1;
            }
            if j < s.len() && s[j] == b')' {
                n = j + 1;
            }
        }
        let v = if neg { -f64::NAN } else { f64::NAN };
        return Some((v, n));
    }
    let mant_start = i;
    let mut digits = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        let mut j = i + 1;
        if j < s.len() && (s[j] == b'+' || s[j] == b'-') {
            j += 1;
        }
        let exp_digits_start = j;
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_digits_start {
            i = j;
        }
    }
    let text = std::str::from_utf8(&s[mant_start..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((if neg { -v } else { v }, i))
}

/// C's `atof`: skip leading whitespace, parse the longest numeric prefix, 0.0 when there is none.
pub(crate) fn c_atof(s: &[u8]) -> f64 {
    let start = s.iter().position(|b| !is_c_space(*b)).unwrap_or(s.len());
    scan_f64_prefix(&s[start..]).map(|(v, _)| v).unwrap_or(0.0)
}

/// C's `isspace` in the "C" locale: space, \t, \n, \v, \f, \r.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parse a whole token as a finite or non-finite f64 (Rust grammar: decimal, `inf`, `nan`, ...).
pub(crate) fn parse_token_f64(tok: &[u8]) -> Option<f64> {
    std::str::from_utf8(tok).ok()?.parse::<f64>().ok()
}

/// Short, printable rendering of a token for error messages.
pub(crate) fn show_token(tok: &[u8]) -> String {
    let s = String::from_utf8_lossy(tok);
    let mut out: String = s.chars().take(40).flat_map(|c| c.escape_debug()).collect();
    if s.chars().count() > 40 {
        out.push_str("...");
    }
    out
}

/// Split a byte buffer into lines (on `\n`), yielding (1-based line number, line without `\n` and without a
/// trailing `\r`).
pub(crate) fn lines_of(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    trimmed
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(move |_| !empty)
        .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_prefix_like_strtod() {
        assert_eq!(scan_f64_prefix(b"1.5abc"), Some((1.5, 3)));
        assert_eq!(scan_f64_prefix(b"-0.25-0.5"), Some((-0.25, 5)));
        assert_eq!(scan_f64_prefix(b"1e"), Some((1.0, 1)));
        assert_eq!(scan_f64_prefix(b"1e+"), Some((1.0, 1)));
        assert_eq!(scan_f64_prefix(b"1e-3x"), Some((1e-3, 4)));
        assert_eq!(scan_f64_prefix(b".5"), Some((0.5, 2)));
        assert_eq!(scan_f64_prefix(b"5."), Some((5.0, 2)));
        assert_eq!(scan_f64_prefix(b"."), None);
        assert_eq!(scan_f64_prefix(b"-"), None);
        assert_eq!(scan_f64_prefix(b"abc"), None);
        assert_eq!(scan_f64_prefix(b""), None);
        assert_eq!(scan_f64_prefix(b"INF"), Some((f64::INFINITY, 3)));
        assert_eq!(scan_f64_prefix(b"-Infinity"), Some((f64::NEG_INFINITY, 9)));
        let (v, n) = scan_f64_prefix(b"nan(0x1)").unwrap();
        assert!(v.is_nan());
        assert_eq!(n, 8);
        assert_eq!(scan_f64_prefix(b"nan(").map(|(_, n)| n), Some(3));
    }

    #[test]
    fn atof_like_c() {
        assert_eq!(c_atof(b"  512;\n"), 512.0);
        assert_eq!(c_atof(b"little_endian;"), 0.0);
        assert_eq!(c_atof(b"\n\t-6.5,6.5"), -6.5);
        assert_eq!(c_atof(b""), 0.0);
    }

    #[test]
    fn lines_split() {
        let v: Vec<_> = lines_of(b"a\r\nb\n\nc").collect();
        assert_eq!(
            v,
            vec![
                (1, &b"a"[..]),
                (2, &b"b"[..]),
                (3, &b""[..]),
                (4, &b"c"[..])
            ]
        );
        assert_eq!(lines_of(b"").count(), 0);
        assert_eq!(lines_of(b"x\n").count(), 1);
    }

    #[test]
    fn roi_full_and_contains() {
        let r = Roi::full(4, 3);
        assert!(r.contains(0, 0) && r.contains(3, 2) && r.contains(4, 3));
        let r = Roi {
            fast_min: 1,
            fast_max: 2,
            slow_min: 1,
            slow_max: 1,
        };
        assert!(r.contains(1, 1) && r.contains(2, 1));
        assert!(!r.contains(0, 1) && !r.contains(3, 1) && !r.contains(1, 0) && !r.contains(1, 2));
    }
}
