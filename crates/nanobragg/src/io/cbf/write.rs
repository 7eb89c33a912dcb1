//! Writing a miniCBF file laid out as a Pilatus detector writes it (CRLF line ends, MIME block with
//! `Content-MD5`, 4095 bytes of padding after the stream).

use std::path::Path;

use base64::Engine as _;
use md5::{Digest as _, Md5};

use super::byte_offset::encode_byte_offset;
use super::read::{CbfImage, BINARY_MARKER};
use crate::io::atomic::write_atomic;
use crate::io::IoError;

/// Bytes of padding after the compressed stream (`X-Binary-Size-Padding`), as Pilatus detectors write.
pub const CBF_PADDING_BYTES: usize = 4095;

/// The header convention written when the image's header names none.
pub const DEFAULT_CONVENTION: &str = "PILATUS_1.2";

/// `s` with control characters and quotes replaced by spaces, so that it stays inside one quoted
/// CIF line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() || c == '"' { ' ' } else { c })
        .collect()
}

/// The text before the binary marker: CIF header, header contents and MIME block, CRLF line ends.
fn text_part(image: &CbfImage, stream: &[u8]) -> String {
    let convention = image.header.convention.as_deref().map(one_line);
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(stream));
    let mut lines: Vec<String> = vec![
        format!(
            "###CBF: VERSION 1.5, nanobragg {}",
            env!("CARGO_PKG_VERSION")
        ),
        String::new(),
        "data_image".into(),
        String::new(),
        format!(
            "_array_data.header_convention \"{}\"",
            convention.as_deref().unwrap_or(DEFAULT_CONVENTION)
        ),
        "_array_data.header_contents".into(),
        ";".into(),
    ];
    lines.extend(image.header.lines());
    lines.extend(
        [
            ";",
            "",
            "_array_data.data",
            ";",
            "--CIF-BINARY-FORMAT-SECTION--",
            "Content-Type: application/octet-stream;",
            "     conversions=\"x-CBF_BYTE_OFFSET\"",
            "Content-Transfer-Encoding: BINARY",
        ]
        .map(String::from),
    );
    lines.push(format!("X-Binary-Size: {}", stream.len()));
    lines.push("X-Binary-ID: 1".into());
    lines.push("X-Binary-Element-Type: \"signed 32-bit integer\"".into());
    lines.push("X-Binary-Element-Byte-Order: LITTLE_ENDIAN".into());
    lines.push(format!("Content-MD5: {md5}"));
    lines.push(format!("X-Binary-Number-of-Elements: {}", image.data.len()));
    lines.push(format!(
        "X-Binary-Size-Fastest-Dimension: {}",
        image.fpixels
    ));
    lines.push(format!("X-Binary-Size-Second-Dimension: {}", image.spixels));
    lines.push(format!("X-Binary-Size-Padding: {CBF_PADDING_BYTES}"));
    lines.push(String::new());
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

/// A complete miniCBF file of `image`: the header lines of [`super::PilatusHeader::lines`] in
/// `_array_data.header_contents` (header convention `PILATUS_1.2` unless the header names one), then
/// `_array_data.data` with the MIME block, the marker, the byte-offset stream of `image.data` and
/// [`CBF_PADDING_BYTES`] zero bytes. Pixels are written as given; [`write_cbf`] checks that there are
/// `fpixels * spixels` of them. dxtbx's `FormatCBFMiniPilatus` recognises the result by its header
/// convention.
pub fn cbf_bytes(image: &CbfImage) -> Vec<u8> {
    let stream = encode_byte_offset(&image.data);
    let text = text_part(image, &stream);
    let tail = b"\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n\r\n";
    let mut out =
        Vec::with_capacity(text.len() + 4 + stream.len() + CBF_PADDING_BYTES + tail.len());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&BINARY_MARKER);
    out.extend_from_slice(&stream);
    out.resize(out.len() + CBF_PADDING_BYTES, 0);
    out.extend_from_slice(tail);
    out
}

/// Write `image` as a miniCBF file (see [`cbf_bytes`]) atomically. Errors when `image.data` does not
/// hold `fpixels * spixels` values.
pub fn write_cbf(path: &Path, image: &CbfImage) -> Result<(), IoError> {
    if image.fpixels.checked_mul(image.spixels) != Some(image.data.len()) {
        return Err(IoError::invalid(
            path,
            format!(
                "{} pixel values for a {}x{} CBF image",
                image.data.len(),
                image.fpixels,
                image.spixels
            ),
        ));
    }
    write_atomic(path, &cbf_bytes(image))
}
