//! The parsed SMV header and its key lookups: the C program's substring `ValueOf` and whole-key
//! matches of `KEY=VALUE` entries (see the [module documentation](super)).

use crate::io::c_atof;

/// Byte order of SMV pixel data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// `BYTE_ORDER=little_endian`.
    LittleEndian,
    /// `BYTE_ORDER=big_endian`.
    BigEndian,
}

impl ByteOrder {
    /// The header spelling: `little_endian` or `big_endian`.
    pub fn as_str(self) -> &'static str {
        match self {
            ByteOrder::LittleEndian => "little_endian",
            ByteOrder::BigEndian => "big_endian",
        }
    }
}

/// A parsed SMV header.
#[derive(Debug, Clone, PartialEq)]
pub struct SmvHeader {
    /// The header bytes as the C program sees them: the first `header_bytes` bytes of the file, cut at the
    /// first NUL byte if any.
    pub raw: Vec<u8>,
    /// `HEADER_BYTES`: size of the header in bytes, i.e. the byte offset of the pixel data.
    pub header_bytes: usize,
    /// `SIZE1`: number of fast pixels (image width).
    pub fpixels: usize,
    /// `SIZE2`: number of slow pixels (image height).
    pub spixels: usize,
    /// `BYTE_ORDER` of the pixel data.
    pub byte_order: ByteOrder,
}

/// Find `needle` in `hay` (byte substring search).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `KEY=VALUE` entries of a header region (between `{` and `}`), split on `;` and line breaks, trimmed.
pub(super) fn entries_of(raw: &[u8]) -> Vec<(String, String)> {
    let start = raw.iter().position(|&b| b == b'{').map_or(0, |i| i + 1);
    let end = raw[start..]
        .iter()
        .position(|&b| b == b'}')
        .map_or(raw.len(), |i| start + i);
    raw[start..end]
        .split(|&b| b == b';' || b == b'\n' || b == b'\r')
        .filter_map(|piece| {
            let eq = piece.iter().position(|&b| b == b'=')?;
            let key = String::from_utf8_lossy(&piece[..eq]).trim().to_string();
            let val = String::from_utf8_lossy(&piece[eq + 1..]).trim().to_string();
            (!key.is_empty()).then_some((key, val))
        })
        .collect()
}

/// Value of the last entry whose key is exactly `key`.
pub(super) fn last_entry(entries: &[(String, String)], key: &str) -> Option<String> {
    entries
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

impl SmvHeader {
    /// The C program's `ValueOf(key)`: value after the **last substring occurrence** of `key` in the header
    /// (see the module documentation: `"DISTANCE"` matches inside `CLOSE_DISTANCE`), parsed with `atof` from
    /// just after the next `=`.
    ///
    /// Returns `None` when `key` does not occur (C: NaN) or when the value is NaN (the C callers treat NaN as
    /// "absent"); `Some(0.0)` when no `=` follows the occurrence or no number follows the `=` (as C's `atof`).
    pub fn value_of(&self, key: &str) -> Option<f64> {
        let k = key.as_bytes();
        let mut pos = None;
        let mut from = 0;
        while let Some(i) = find(&self.raw[from..], k) {
            from += i + k.len();
            pos = Some(from);
        }
        let start = pos?;
        let v = match self.raw[start..].iter().position(|&b| b == b'=') {
            None => 0.0,
            Some(e) => c_atof(&self.raw[start + e + 1..]),
        };
        (!v.is_nan()).then_some(v)
    }

    /// Numeric value of the last `KEY=VALUE` entry whose key is exactly `key`; `None` when absent or when the
    /// whole value is not a number (e.g. `DIALS_ORIGIN=a,b,c`).
    pub fn value_of_exact(&self, key: &str) -> Option<f64> {
        self.string_value(key)?.parse::<f64>().ok()
    }

    /// Text value (trimmed) of the last `KEY=VALUE` entry whose key is exactly `key`.
    pub fn string_value(&self, key: &str) -> Option<String> {
        last_entry(&entries_of(&self.raw), key)
    }

    /// All `KEY=VALUE` entries between `{` and `}`, in file order (entries split on `;` and line breaks).
    pub fn entries(&self) -> Vec<(String, String)> {
        entries_of(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{p, values};
    use super::super::{parse_smv, smv_bytes};

    #[test]
    fn value_of_mirrors_c() {
        let mut v = values();
        v.close_distance_mm = 123.0;
        let img = parse_smv(&smv_bytes(&v, &[0; 6]), p()).unwrap();
        let h = &img.header;
        // substring match: DISTANCE is found last inside CLOSE_DISTANCE
        assert_eq!(h.value_of("DISTANCE"), Some(123.0));
        assert_eq!(h.value_of_exact("DISTANCE"), Some(100.0));
        assert_eq!(h.value_of("CLOSE_DISTANCE"), Some(123.0));
        assert_eq!(h.value_of("ORGX"), Some(65.5));
        assert_eq!(h.value_of("PIXEL_SIZE"), Some(0.1));
        assert_eq!(h.value_of("BEAM_CENTER_Y"), Some(6.45));
        assert_eq!(h.value_of("BYTE_ORDER"), Some(0.0)); // atof("little_endian")
        assert_eq!(h.value_of("NOT_A_KEY"), None);
        assert_eq!(h.value_of(""), None);
        assert_eq!(h.value_of("DIALS_ORIGIN"), Some(-6.5));
        assert_eq!(h.value_of_exact("DIALS_ORIGIN"), None);
        assert_eq!(
            h.string_value("DIALS_ORIGIN").as_deref(),
            Some("-6.5,6.5,-100")
        );
        assert_eq!(h.string_value("BEAMLINE").as_deref(), Some("fake"));
        // key after which no '=' follows -> 0, as C
        let raw =
            b"{\nHEADER_BYTES=64;\nSIZE1=1;SIZE2=1;BYTE_ORDER=little_endian;\nFOO\n}".to_vec();
        let mut b = raw.clone();
        b.resize(64, b' ');
        b.extend_from_slice(&[1, 0]);
        let img = parse_smv(&b, p()).unwrap();
        assert_eq!(img.header.value_of("FOO"), Some(0.0));
        assert_eq!(img.data, vec![1]);
    }
}
