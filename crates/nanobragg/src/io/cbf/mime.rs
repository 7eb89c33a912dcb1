//! The MIME block of a CBF binary section: the `Key: value` lines between
//! `--CIF-BINARY-FORMAT-SECTION--` and the binary marker `0C 1A 04 D5`.

use std::path::Path;

use crate::io::IoError;

/// The MIME values of a binary section. The reader accepts only what [`MimeHeader::check_supported`]
/// allows: byte-offset compression of signed 32-bit little-endian integers, in a 2-D array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MimeHeader {
    /// `Content-Type`, continuation lines included (`application/octet-stream; conversions="..."`).
    pub content_type: Option<String>,
    /// The `conversions` parameter of `Content-Type`, without quotes (`x-CBF_BYTE_OFFSET`).
    pub conversions: Option<String>,
    /// `Content-Transfer-Encoding` (`BINARY`).
    pub transfer_encoding: Option<String>,
    /// `X-Binary-Size`: bytes of the compressed stream after the marker.
    pub binary_size: Option<usize>,
    /// `X-Binary-ID`, as written.
    pub binary_id: Option<String>,
    /// `X-Binary-Element-Type`, without quotes (`signed 32-bit integer`).
    pub element_type: Option<String>,
    /// `X-Binary-Element-Byte-Order` (`LITTLE_ENDIAN`).
    pub byte_order: Option<String>,
    /// `Content-MD5`: base64 of the MD5 digest of the `X-Binary-Size` stream bytes.
    pub content_md5: Option<String>,
    /// `X-Binary-Number-of-Elements`: pixels.
    pub number_of_elements: Option<usize>,
    /// `X-Binary-Size-Fastest-Dimension`: pixels a row (fast).
    pub fastest_dimension: Option<usize>,
    /// `X-Binary-Size-Second-Dimension`: rows (slow).
    pub second_dimension: Option<usize>,
    /// `X-Binary-Size-Third-Dimension`, absent or 1 for an image.
    pub third_dimension: Option<usize>,
    /// `X-Binary-Size-Padding`: bytes after the stream (Pilatus writes 4095).
    pub padding: Option<usize>,
}

/// The quoted or bare value of `name=` in a MIME parameter list.
fn parameter(value: &str, name: &str) -> Option<String> {
    let start = value.find(&format!("{name}="))? + name.len() + 1;
    let rest = value[start..].trim_start();
    let v = match rest.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap_or(q),
        None => rest
            .split(|c: char| c == ';' || c.is_whitespace())
            .next()
            .unwrap_or(""),
    };
    Some(v.to_string())
}

/// `"text"` → `text`.
fn unquoted(v: &str) -> String {
    v.trim().trim_matches('"').to_string()
}

impl MimeHeader {
    /// Parse the MIME lines `text` (keys case-insensitive; a line starting with white space continues
    /// the previous one; unknown keys are ignored). A number that is not a non-negative integer is an
    /// error naming `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, IoError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            match entries.last_mut() {
                Some(last) if line.starts_with([' ', '\t']) => {
                    last.1.push(' ');
                    last.1.push_str(line.trim());
                }
                _ => {
                    if let Some((k, v)) = line.split_once(':') {
                        entries.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
            }
        }
        let mut m = MimeHeader::default();
        for (k, v) in entries {
            let number = || {
                v.parse::<usize>().map(Some).map_err(|_| {
                    IoError::format(
                        path,
                        format!("CBF MIME header: {k}: {v:?} is not a non-negative integer"),
                    )
                })
            };
            match k.as_str() {
                "content-type" => {
                    m.conversions = parameter(&v, "conversions");
                    m.content_type = Some(v);
                }
                "content-transfer-encoding" => m.transfer_encoding = Some(v),
                "x-binary-size" => m.binary_size = number()?,
                "x-binary-id" => m.binary_id = Some(v),
                "x-binary-element-type" => m.element_type = Some(unquoted(&v)),
                "x-binary-element-byte-order" => m.byte_order = Some(v),
                "content-md5" => m.content_md5 = Some(v),
                "x-binary-number-of-elements" => m.number_of_elements = number()?,
                "x-binary-size-fastest-dimension" => m.fastest_dimension = number()?,
                "x-binary-size-second-dimension" => m.second_dimension = number()?,
                "x-binary-size-third-dimension" => m.third_dimension = number()?,
                "x-binary-size-padding" => m.padding = number()?,
                _ => {}
            }
        }
        Ok(m)
    }

    /// Refuse what the reader cannot decode: a compression other than `x-CBF_BYTE_OFFSET`, a transfer
    /// encoding other than `BINARY`, an element type other than `signed 32-bit integer`, a byte order
    /// other than `LITTLE_ENDIAN`, a third dimension other than 1. Returns
    /// (binary size in bytes, elements, fast pixels, slow pixels), all required.
    pub fn check_supported(&self, path: &Path) -> Result<(usize, usize, usize, usize), IoError> {
        let fail = |msg: String| Err(IoError::format(path, format!("CBF MIME header: {msg}")));
        if !self
            .conversions
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("x-CBF_BYTE_OFFSET"))
        {
            return fail(format!(
                "compression {:?} is not supported (only conversions=\"x-CBF_BYTE_OFFSET\")",
                self.conversions.as_deref().unwrap_or("none")
            ));
        }
        if let Some(e) = self
            .transfer_encoding
            .as_deref()
            .filter(|e| !e.eq_ignore_ascii_case("BINARY"))
        {
            return fail(format!(
                "Content-Transfer-Encoding {e:?} is not supported (only BINARY)"
            ));
        }
        if self.element_type.as_deref() != Some("signed 32-bit integer") {
            let t = self.element_type.as_deref().unwrap_or("none");
            return fail(format!(
                "X-Binary-Element-Type {t:?} is not supported (only signed 32-bit integer)"
            ));
        }
        if let Some(b) = self
            .byte_order
            .as_deref()
            .filter(|b| !b.eq_ignore_ascii_case("LITTLE_ENDIAN"))
        {
            return fail(format!(
                "X-Binary-Element-Byte-Order {b:?} is not supported (only LITTLE_ENDIAN)"
            ));
        }
        if self.third_dimension.is_some_and(|d| d != 1) {
            return fail(format!(
                "a 3-D array ({} sections) is not an image",
                self.third_dimension.unwrap_or(0)
            ));
        }
        let need = |v: Option<usize>, key: &str| {
            v.ok_or_else(|| IoError::format(path, format!("CBF MIME header has no {key}")))
        };
        Ok((
            need(self.binary_size, "X-Binary-Size")?,
            need(self.number_of_elements, "X-Binary-Number-of-Elements")?,
            need(self.fastest_dimension, "X-Binary-Size-Fastest-Dimension")?,
            need(self.second_dimension, "X-Binary-Size-Second-Dimension")?,
        ))
    }
}
