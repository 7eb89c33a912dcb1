//! Reading an SMV file: the header parsed and validated ([`parse_smv_header`]), then the pixels
//! in the byte order the header names ([`parse_smv`], [`read_smv`]).

use std::path::Path;

use super::header::{entries_of, last_entry, ByteOrder, SmvHeader};
use crate::io::{read_bytes, IoError};

/// An SMV image: header and pixels (fast-major, `fpixels * spixels` values, already in native order).
#[derive(Debug, Clone, PartialEq)]
pub struct SmvImage {
    /// The parsed header.
    pub header: SmvHeader,
    /// Pixel values, `index = slow * fpixels + fast`.
    pub data: Vec<u16>,
}

/// Read an SMV file (header and pixels). See the module documentation for what is required.
pub fn read_smv(path: &Path) -> Result<SmvImage, IoError> {
    let bytes = read_bytes(path)?;
    parse_smv(&bytes, path)
}

/// The last `key` entry as a positive integer that fits in an `i32` (the C program's `int`); a whole
/// number written as a float (`512.0`) is accepted too.
fn positive_int(entries: &[(String, String)], key: &str, path: &Path) -> Result<usize, IoError> {
    let v = last_entry(entries, key)
        .ok_or_else(|| IoError::format(path, format!("SMV header has no {key} key")))?;
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 1.0 && x.fract() == 0.0 && x <= i32::MAX as f64 => {
            Ok(x as usize)
        }
        _ => Err(IoError::format(
            path,
            format!("SMV header: {key}={v} is not a positive integer"),
        )),
    }
}

/// How far into a file the `HEADER_BYTES` key is looked for: the C program reads a first 512-byte block
/// before it knows the header's real size.
const PRELIMINARY_HEADER_BYTES: usize = 512;

/// `bytes` up to (not including) the first NUL byte, as the C program's string functions see them.
fn up_to_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Step 1: `HEADER_BYTES` from the file's first block, checked to be a positive integer no larger than
/// the file (the byte offset of the pixel data).
fn declared_header_bytes(bytes: &[u8], path: &Path) -> Result<usize, IoError> {
    let prelim = up_to_nul(&bytes[..bytes.len().min(PRELIMINARY_HEADER_BYTES)]);
    let header_bytes = positive_int(&entries_of(prelim), "HEADER_BYTES", path)?;
    if header_bytes > bytes.len() {
        return Err(IoError::format(
            path,
            format!(
                "SMV header: HEADER_BYTES={header_bytes} but the file has only {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(header_bytes)
}

/// Step 2: the required `BYTE_ORDER` entry (`little_endian` or `big_endian`).
fn byte_order(entries: &[(String, String)], path: &Path) -> Result<ByteOrder, IoError> {
    match last_entry(entries, "BYTE_ORDER").as_deref() {
        Some("little_endian") => Ok(ByteOrder::LittleEndian),
        Some("big_endian") => Ok(ByteOrder::BigEndian),
        Some(other) => Err(IoError::format(
            path,
            format!(
                "SMV header: unsupported BYTE_ORDER={other} (expected little_endian or big_endian)"
            ),
        )),
        None => Err(IoError::format(path, "SMV header has no BYTE_ORDER key")),
    }
}

/// Step 3: the optional `TYPE` entry, which must be `unsigned_short` (16-bit pixels) when present.
fn check_pixel_type(entries: &[(String, String)], path: &Path) -> Result<(), IoError> {
    match last_entry(entries, "TYPE") {
        Some(t) if t != "unsigned_short" => Err(IoError::format(
            path,
            format!("SMV header: unsupported TYPE={t} (only unsigned_short)"),
        )),
        _ => Ok(()),
    }
}

/// Parse and validate an SMV header from the start of a file's bytes (the pixel data need not be present).
/// `path` is used only in error messages.
///
/// The file must start with `{`; `HEADER_BYTES`, `SIZE1`, `SIZE2` and `BYTE_ORDER` are required, and
/// errors are reported in that order, then an unsupported `TYPE`.
pub fn parse_smv_header(bytes: &[u8], path: &Path) -> Result<SmvHeader, IoError> {
    if !bytes.starts_with(b"{") {
        return Err(IoError::format(
            path,
            "not an SMV file: does not start with '{'",
        ));
    }
    let header_bytes = declared_header_bytes(bytes, path)?;
    let raw = up_to_nul(&bytes[..header_bytes]).to_vec();
    let entries = entries_of(&raw);
    let fpixels = positive_int(&entries, "SIZE1", path)?;
    let spixels = positive_int(&entries, "SIZE2", path)?;
    let byte_order = byte_order(&entries, path)?;
    check_pixel_type(&entries, path)?;
    Ok(SmvHeader {
        raw,
        header_bytes,
        fpixels,
        spixels,
        byte_order,
    })
}

/// Parse a whole SMV file (header and pixels); `path` is used only in error messages. See [`read_smv`].
pub fn parse_smv(bytes: &[u8], path: &Path) -> Result<SmvImage, IoError> {
    let header = parse_smv_header(bytes, path)?;
    let n = header
        .fpixels
        .checked_mul(header.spixels)
        .ok_or_else(|| IoError::format(path, "SMV header: SIZE1*SIZE2 overflows"))?;
    let need = n
        .checked_mul(2)
        .ok_or_else(|| IoError::format(path, "SMV header: image too large"))?;
    let avail = bytes.len() - header.header_bytes;
    if avail < need {
        return Err(IoError::format(
            path,
            format!(
                "SMV data truncated: {}x{} pixels need {need} bytes after the {}-byte header, found {avail}",
                header.fpixels, header.spixels, header.header_bytes
            ),
        ));
    }
    let data_bytes = &bytes[header.header_bytes..header.header_bytes + need];
    let data = data_bytes
        .chunks_exact(2)
        .map(|c| match header.byte_order {
            ByteOrder::LittleEndian => u16::from_le_bytes([c[0], c[1]]),
            ByteOrder::BigEndian => u16::from_be_bytes([c[0], c[1]]),
        })
        .collect();
    Ok(SmvImage { header, data })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use super::super::fixtures::{p, values};
    use super::super::{smv_bytes, smv_header_bytes, SmvHeaderValues};
    use crate::io::parser_tests::{assert_missing_file_named, prefixes};

    #[test]
    fn roundtrip_and_byte_orders() {
        let v = values();
        let data = [0u16, 1, 258, 65535, 40, 7];
        let bytes = smv_bytes(&v, &data);
        let img = parse_smv(&bytes, p()).unwrap();
        assert_eq!(img.data, data);
        assert_eq!(
            (
                img.header.fpixels,
                img.header.spixels,
                img.header.header_bytes
            ),
            (3, 2, 512)
        );
        assert_eq!(SmvHeaderValues::from_header(&img.header, p()).unwrap(), v);
        assert_eq!(
            smv_header_bytes(&SmvHeaderValues::from_header(&img.header, p()).unwrap()),
            bytes[..512]
        );
        // big-endian file
        let mut be = String::from_utf8(bytes[..512].to_vec())
            .unwrap()
            .replace("little_endian", "big_endian   ");
        be.truncate(512);
        let mut be = be.into_bytes();
        for d in data {
            be.extend_from_slice(&d.to_be_bytes());
        }
        assert_eq!(parse_smv(&be, p()).unwrap().data, data);
    }

    #[test]
    fn malformed_headers() {
        let good = smv_bytes(&values(), &[1; 6]);
        let err = |b: &[u8]| parse_smv(b, p()).unwrap_err().to_string();
        assert!(err(b"").contains("'{'"));
        assert!(err(b"P5\n").contains("'{'"));
        let e = err(&good[..good.len() - 1]);
        assert!(e.starts_with("x.img:") && e.contains("truncated"), "{e}");
        let e = err(&good[..300]);
        assert!(e.contains("HEADER_BYTES=512"), "{e}");
        let s = String::from_utf8(good.clone()).unwrap();
        let swap = |from: &str, to: &str| {
            let mut t = s.replacen(from, to, 1).into_bytes();
            t.truncate(good.len());
            t
        };
        assert!(err(&swap("SIZE1=3;", "SIZE9=3;")).contains("SIZE1"));
        assert!(err(&swap("SIZE2=2;", "SIZE2=x;")).contains("SIZE2"));
        assert!(err(&swap("SIZE2=2;", "SIZE2=0;")).contains("SIZE2"));
        assert!(err(&swap("HEADER_BYTES=512;", "HEADER_BYTES=abc;")).contains("HEADER_BYTES"));
        assert!(err(&swap("HEADER_BYTES=512;", "HEADER_BYTES=-12;")).contains("HEADER_BYTES"));
        assert!(err(&swap("HEADER_BYTES=512;", "HEADER_BYTEZ=512;")).contains("HEADER_BYTES"));
        assert!(err(&swap("TYPE=unsigned_short", "TYPE=float_ieee_32")).contains("TYPE"));
        assert!(err(&swap(
            "BYTE_ORDER=little_endian",
            "BYTE_ORDER=middle_endian"
        ))
        .contains("BYTE_ORDER"));
        assert!(err(&swap(
            "BYTE_ORDER=little_endian",
            "BYTE_ORDEX=little_endian"
        ))
        .contains("BYTE_ORDER"));
        assert_missing_file_named("/nonexistent/q.img", read_smv);
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            let _ = parse_smv(&bytes, p());
        }

        #[test]
        fn brace_prefixed_random_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let mut b = b"{\nHEADER_BYTES=".to_vec();
            b.extend_from_slice(&bytes);
            if let Ok(img) = parse_smv(&b, p()) {
                for k in ["DISTANCE", "PHI", "SIZE1", "=", "{"] {
                    let _ = img.header.value_of(k);
                    let _ = img.header.value_of_exact(k);
                }
            }
        }

        #[test]
        fn mutated_header_never_panics(pos in 0usize..512, byte in any::<u8>(), cut in 0usize..540) {
            let mut b = smv_bytes(&values(), &[3; 6]);
            b[pos] = byte;
            let cut = cut.min(b.len());
            if let Ok(img) = parse_smv(&b[..cut], p()) {
                let _ = img.header.value_of("DISTANCE");
                let _ = SmvHeaderValues::from_header(&img.header, p());
            }
        }
    }

    #[test]
    fn only_the_whole_file_parses() {
        let b = smv_bytes(&values(), &[3; 6]);
        for t in prefixes(&b) {
            assert_eq!(parse_smv(t, p()).is_ok(), t.len() == b.len(), "{} bytes", t.len());
        }
    }
}
