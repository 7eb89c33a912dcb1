//! Reading a CBF file: gunzip when gzip-compressed, the text before the binary marker (header
//! contents and MIME block), then the byte-offset stream, checked against its MD5 and sizes.

use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use md5::{Digest as _, Md5};

use super::byte_offset::decode_byte_offset;
use super::header::PilatusHeader;
use super::mime::MimeHeader;
use crate::io::{read_bytes, IoError};

/// The binary marker that ends the MIME block and starts the compressed stream.
pub const BINARY_MARKER: [u8; 4] = [0x0C, 0x1A, 0x04, 0xD5];

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// The most bytes a gzip-compressed file may expand to (1 GiB; a 16M-pixel Eiger miniCBF is at most
/// about 70 MB): a larger expansion is refused rather than filling the memory.
pub const MAX_GUNZIPPED_BYTES: u64 = 1 << 30;

/// The line that opens the MIME block of a binary section.
const MIME_START: &[u8] = b"--CIF-BINARY-FORMAT-SECTION--";

/// A CBF image: signed 32-bit pixels (Pilatus counts; −1 marks gaps and −2 bad pixels) and the header.
#[derive(Debug, Clone, PartialEq)]
pub struct CbfImage {
    /// Pixels a row (`X-Binary-Size-Fastest-Dimension`).
    pub fpixels: usize,
    /// Rows (`X-Binary-Size-Second-Dimension`).
    pub spixels: usize,
    /// Pixel values, counts, `index = slow * fpixels + fast`.
    pub data: Vec<i32>,
    /// The `# Key value` lines of `_array_data.header_contents`.
    pub header: PilatusHeader,
}

/// Read a CBF file (see [`parse_cbf`]); a gzip-compressed file (`.cbf.gz`) is recognised by its first
/// two bytes `1F 8B`, whatever its name, and decompressed first.
pub fn read_cbf(path: &Path) -> Result<CbfImage, IoError> {
    let bytes = read_bytes(path)?;
    parse_cbf(&bytes, path)
}

/// `bytes` gunzipped when they start with the gzip magic, else as they are.
fn gunzipped<'a>(bytes: &'a [u8], path: &Path) -> Result<std::borrow::Cow<'a, [u8]>, IoError> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes.into());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_GUNZIPPED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| IoError::format(path, format!("gzip-compressed CBF: {e}")))?;
    if out.len() as u64 > MAX_GUNZIPPED_BYTES {
        return Err(IoError::format(
            path,
            format!("gzip-compressed CBF expands beyond {MAX_GUNZIPPED_BYTES} bytes"),
        ));
    }
    Ok(out.into())
}

/// The position of the first `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The text field (`;` ... `;` lines) that follows the tag `_array_data.header_contents` in `text`;
/// `None` when the tag is absent or not followed by a text field.
fn header_contents(text: &str) -> Option<&str> {
    let after =
        &text[text.find("_array_data.header_contents")? + "_array_data.header_contents".len()..];
    let open = after.trim_start_matches([' ', '\t', '\r', '\n']);
    let body = open.strip_prefix(';')?;
    let end = body.find("\n;").map(|i| i + 1).unwrap_or(body.len());
    Some(body[..end].trim_start_matches(['\r', '\n']))
}

/// The value of `_array_data.header_convention`, without quotes.
fn header_convention(text: &str) -> Option<String> {
    let start = text.find("_array_data.header_convention")? + "_array_data.header_convention".len();
    let line = text[start..].lines().next()?.trim();
    Some(line.trim_matches(|c| c == '"' || c == '\'').to_string()).filter(|s| !s.is_empty())
}

/// Check `stream` against the base64 MD5 digest `expected`.
fn check_md5(stream: &[u8], expected: &str, path: &Path) -> Result<(), IoError> {
    let digest = Md5::digest(stream);
    let actual = base64::engine::general_purpose::STANDARD.encode(digest);
    if actual != expected.trim() {
        return Err(IoError::format(
            path,
            format!(
                "CBF Content-MD5 mismatch: header says {expected}, the binary data give {actual}"
            ),
        ));
    }
    Ok(())
}

/// Parse a whole CBF file (gzip-compressed or not); `path` is used only in error messages.
///
/// Requires the binary marker `0C 1A 04 D5`, a MIME block before it that
/// [`MimeHeader::check_supported`] accepts, fast × slow = `X-Binary-Number-of-Elements`, at least
/// `X-Binary-Size` bytes after the marker, a matching `Content-MD5` when there is one, and a stream
/// that decodes to exactly the number of elements using exactly `X-Binary-Size` bytes. Only the first
/// binary section is read. Works for miniCBF and for full imgCIF files (their other categories are
/// ignored). A file without `_array_data.header_contents` gives an empty header.
pub fn parse_cbf(bytes: &[u8], path: &Path) -> Result<CbfImage, IoError> {
    let bytes = gunzipped(bytes, path)?;
    let fail = |msg: String| IoError::format(path, format!("CBF: {msg}"));
    let marker = find(&bytes, &BINARY_MARKER)
        .ok_or_else(|| fail("no binary section (marker 0C 1A 04 D5 not found)".into()))?;
    let before = &bytes[..marker];
    let mime_at = before
        .windows(MIME_START.len())
        .rposition(|w| w == MIME_START)
        .ok_or_else(|| {
            fail("no --CIF-BINARY-FORMAT-SECTION-- line before the binary data".into())
        })?;
    let mime = MimeHeader::parse(
        &String::from_utf8_lossy(&before[mime_at + MIME_START.len()..]),
        path,
    )?;
    let (size, n, fast, slow) = mime.check_supported(path)?;
    if fast.checked_mul(slow) != Some(n) {
        return Err(fail(format!(
            "{fast} x {slow} pixels but X-Binary-Number-of-Elements is {n}"
        )));
    }
    let after = &bytes[marker + BINARY_MARKER.len()..];
    let stream = after.get(..size).ok_or_else(|| {
        fail(format!(
            "binary data truncated: X-Binary-Size is {size} bytes, {} follow the marker",
            after.len()
        ))
    })?;
    if let Some(md5) = &mime.content_md5 {
        check_md5(stream, md5, path)?;
    }
    let (data, used) = decode_byte_offset(stream, n).map_err(|e| fail(e.to_string()))?;
    if used != size {
        return Err(fail(format!(
            "{n} pixels use {used} bytes of the byte-offset stream, but X-Binary-Size is {size}"
        )));
    }
    let text = String::from_utf8_lossy(&before[..mime_at]);
    let mut header = PilatusHeader::parse(header_contents(&text).unwrap_or(""), path)?;
    header.convention = header_convention(&text);
    Ok(CbfImage {
        fpixels: fast,
        spixels: slow,
        data,
        header,
    })
}
