//! SMV (ADSC) images: reader, byte-exact writer of the C program's `-intfile`/`-noisefile` output, and the
//! float → 16-bit conversion the C program applies before writing `-intfile`.
//!
//! # File layout
//! An ASCII header `{\nKEY=VALUE;\n...}\f`, padded with spaces to `HEADER_BYTES` bytes (512 for every file
//! the C program writes), then `SIZE1 * SIZE2` unsigned 16-bit pixels, fast-major
//! (`index = slow * SIZE1 + fast`; SIZE1 = fast pixels, SIZE2 = slow pixels), in the byte order that the
//! `BYTE_ORDER` key names.
//!
//! # Reader
//! [`parse_smv_header`] requires: the file starts with `{`; a `HEADER_BYTES` key (looked up in the first 512
//! bytes) holding a positive integer no larger than the file; `SIZE1` and `SIZE2` positive integers;
//! `BYTE_ORDER` = `little_endian` or `big_endian`; `TYPE`, when present, = `unsigned_short`. [`parse_smv`]
//! further requires the data to be complete (extra trailing bytes are ignored). The C `GetFrame` is looser:
//! it only checks that the file starts with `{\nHEADER_BYT`, ignores `TYPE`, and — a C quirk — computes but
//! never applies the byte swap, always reading pixels in native order; we honour `BYTE_ORDER`.
//!
//! Key lookup comes in two flavours:
//! - [`SmvHeader::value_of`] mirrors the C `ValueOf` exactly: it finds the **last substring occurrence** of the
//!   key anywhere in the header (not a whole-key match), then the next `=` after it, and applies `atof` to
//!   what follows. Consequence: `value_of("DISTANCE")` finds the `DISTANCE` inside `CLOSE_DISTANCE=`, which
//!   the C program writes after `DISTANCE=`, so it returns the CLOSE_DISTANCE value — the C program's
//!   `-img`/`-mask` ingestion really does set the distance from CLOSE_DISTANCE. Use this to reproduce the C
//!   program's header ingestion.
//! - [`SmvHeader::value_of_exact`] / [`SmvHeader::string_value`] match whole keys of `KEY=VALUE` entries
//!   (entries separated by `;` or line breaks; last one wins).
//!
//! # Writer
//! [`smv_header_bytes`] produces the C program's header byte for byte from an [`SmvHeaderValues`] (every
//! number printed with C's `%g`, keys in C's order, `DIALS_ORIGIN` without a trailing `;`, `}\f`, spaces to
//! 512 bytes). We always write little-endian pixels and say so (`BYTE_ORDER=little_endian`), which is what the
//! C program writes on little-endian hosts.
//!
//! Deliberate deviation: when the header text is longer than 512 bytes (possible with long `%g` values, e.g.
//! beam centres and DIALS origin components of 7-8 characters each on a large detector), the C program
//! writes no padding and still claims `HEADER_BYTES=512`, producing a file whose data starts at the wrong
//! offset. We instead set `HEADER_BYTES` to the next multiple of 512 and pad to it. Whenever the C file is
//! well formed (header text <= 512 bytes), our bytes are identical to it.

use std::path::Path;

use super::atomic::write_atomic;
use super::cfmt::format_g;
use super::{c_atof, read_bytes, IoError, Roi};

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
fn entries_of(raw: &[u8]) -> Vec<(String, String)> {
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

fn last_entry(entries: &[(String, String)], key: &str) -> Option<String> {
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

/// Parse and validate an SMV header from the start of a file's bytes (the pixel data need not be present).
/// `path` is used only in error messages.
pub fn parse_smv_header(bytes: &[u8], path: &Path) -> Result<SmvHeader, IoError> {
    if bytes.first() != Some(&b'{') {
        return Err(IoError::format(
            path,
            "not an SMV file: does not start with '{'",
        ));
    }
    let cut_nul = |b: &[u8]| -> Vec<u8> {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        b[..end].to_vec()
    };
    let prelim = cut_nul(&bytes[..bytes.len().min(512)]);
    let header_bytes = positive_int(&entries_of(&prelim), "HEADER_BYTES", path)?;
    if header_bytes > bytes.len() {
        return Err(IoError::format(
            path,
            format!(
                "SMV header: HEADER_BYTES={header_bytes} but the file has only {} bytes",
                bytes.len()
            ),
        ));
    }
    let raw = cut_nul(&bytes[..header_bytes]);
    let entries = entries_of(&raw);
    let fpixels = positive_int(&entries, "SIZE1", path)?;
    let spixels = positive_int(&entries, "SIZE2", path)?;
    let byte_order = match last_entry(&entries, "BYTE_ORDER").as_deref() {
        Some("little_endian") => ByteOrder::LittleEndian,
        Some("big_endian") => ByteOrder::BigEndian,
        Some(other) => {
            let msg = format!(
                "SMV header: unsupported BYTE_ORDER={other} (expected little_endian or big_endian)"
            );
            return Err(IoError::format(path, msg));
        }
        None => return Err(IoError::format(path, "SMV header has no BYTE_ORDER key")),
    };
    if let Some(t) = last_entry(&entries, "TYPE") {
        if t != "unsigned_short" {
            return Err(IoError::format(
                path,
                format!("SMV header: unsupported TYPE={t} (only unsigned_short)"),
            ));
        }
    }
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

/// Values printed in the header of an SMV file written by the C program, already converted to the printed
/// units (the caller computes them; the writer only formats them with `%g`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmvHeaderValues {
    /// `SIZE1`: fast pixels.
    pub fpixels: usize,
    /// `SIZE2`: slow pixels.
    pub spixels: usize,
    /// `PIXEL_SIZE` (mm): C `pixel_size*1000`.
    pub pixel_size_mm: f64,
    /// `DISTANCE` (mm): C `distance*1000`.
    pub distance_mm: f64,
    /// `WAVELENGTH` (Å): C `lambda0*1e10`.
    pub wavelength_a: f64,
    /// `BEAM_CENTER_X` (mm): C `Xbeam*1000`.
    pub beam_center_x_mm: f64,
    /// `BEAM_CENTER_Y` (mm): C `Ybeam*1000`.
    pub beam_center_y_mm: f64,
    /// `ADXV_CENTER_X` (mm): C `Fbeam*1000`.
    pub adxv_center_x_mm: f64,
    /// `ADXV_CENTER_Y` (mm): C `(detsize_s-Sbeam)*1000`.
    pub adxv_center_y_mm: f64,
    /// `MOSFLM_CENTER_X` (mm): C `(Sbeam-0.5*pixel_size)*1000`.
    pub mosflm_center_x_mm: f64,
    /// `MOSFLM_CENTER_Y` (mm): C `(Fbeam-0.5*pixel_size)*1000`.
    pub mosflm_center_y_mm: f64,
    /// `DENZO_X_BEAM` (mm): C `Sbeam*1000`.
    pub denzo_x_beam_mm: f64,
    /// `DENZO_Y_BEAM` (mm): C `Fbeam*1000`.
    pub denzo_y_beam_mm: f64,
    /// `DIALS_ORIGIN` (mm), three components: C `dials_origin[1..=3]` (already in mm in the C program).
    pub dials_origin_mm: [f64; 3],
    /// `XDS_ORGX` (pixels).
    pub xds_orgx: f64,
    /// `XDS_ORGY` (pixels).
    pub xds_orgy: f64,
    /// `CLOSE_DISTANCE` (mm): C `close_distance*1000`.
    pub close_distance_mm: f64,
    /// `PHI` (degrees): C `phi0*RTD`.
    pub phi_deg: f64,
    /// `OSC_START` (degrees): C `phi0*RTD` (the C program prints the same value as PHI).
    pub osc_start_deg: f64,
    /// `OSC_RANGE` (degrees): C `osc*RTD`.
    pub osc_range_deg: f64,
    /// `TWOTHETA` (degrees): C `detector_twotheta*RTD`.
    pub twotheta_deg: f64,
}

impl SmvHeaderValues {
    /// Pick the values back out of a header written by the C program (or by [`smv_header_bytes`]), by exact
    /// key. Errors name `path` and the first missing or malformed key.
    pub fn from_header(h: &SmvHeader, path: &Path) -> Result<Self, IoError> {
        let entries = h.entries();
        let num = |key: &str| -> Result<f64, IoError> {
            let v = last_entry(&entries, key)
                .ok_or_else(|| IoError::format(path, format!("SMV header has no {key} key")))?;
            v.parse::<f64>().map_err(|_| {
                IoError::format(path, format!("SMV header: {key}={v} is not a number"))
            })
        };
        let dials = last_entry(&entries, "DIALS_ORIGIN")
            .ok_or_else(|| IoError::format(path, "SMV header has no DIALS_ORIGIN key"))?;
        let parts: Vec<Option<f64>> = dials
            .split(',')
            .map(|s| s.trim().parse::<f64>().ok())
            .collect();
        let dials_origin_mm = match parts.as_slice() {
            [Some(a), Some(b), Some(c)] => [*a, *b, *c],
            _ => {
                return Err(IoError::format(
                    path,
                    format!("SMV header: DIALS_ORIGIN={dials} is not 3 numbers"),
                ))
            }
        };
        Ok(SmvHeaderValues {
            fpixels: h.fpixels,
            spixels: h.spixels,
            pixel_size_mm: num("PIXEL_SIZE")?,
            distance_mm: num("DISTANCE")?,
            wavelength_a: num("WAVELENGTH")?,
            beam_center_x_mm: num("BEAM_CENTER_X")?,
            beam_center_y_mm: num("BEAM_CENTER_Y")?,
            adxv_center_x_mm: num("ADXV_CENTER_X")?,
            adxv_center_y_mm: num("ADXV_CENTER_Y")?,
            mosflm_center_x_mm: num("MOSFLM_CENTER_X")?,
            mosflm_center_y_mm: num("MOSFLM_CENTER_Y")?,
            denzo_x_beam_mm: num("DENZO_X_BEAM")?,
            denzo_y_beam_mm: num("DENZO_Y_BEAM")?,
            dials_origin_mm,
            xds_orgx: num("XDS_ORGX")?,
            xds_orgy: num("XDS_ORGY")?,
            close_distance_mm: num("CLOSE_DISTANCE")?,
            phi_deg: num("PHI")?,
            osc_start_deg: num("OSC_START")?,
            osc_range_deg: num("OSC_RANGE")?,
            twotheta_deg: num("TWOTHETA")?,
        })
    }
}

fn header_text(v: &SmvHeaderValues, header_bytes: usize) -> String {
    let g = |x: f64| format_g(x, 6);
    let mut s = String::with_capacity(512);
    s.push_str(&format!("{{\nHEADER_BYTES={header_bytes};\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"));
    s.push_str(&format!(
        "SIZE1={};\nSIZE2={};\nPIXEL_SIZE={};\nDISTANCE={};\n",
        v.fpixels,
        v.spixels,
        g(v.pixel_size_mm),
        g(v.distance_mm)
    ));
    s.push_str(&format!("WAVELENGTH={};\n", g(v.wavelength_a)));
    s.push_str(&format!(
        "BEAM_CENTER_X={};\nBEAM_CENTER_Y={};\n",
        g(v.beam_center_x_mm),
        g(v.beam_center_y_mm)
    ));
    s.push_str(&format!(
        "ADXV_CENTER_X={};\nADXV_CENTER_Y={};\n",
        g(v.adxv_center_x_mm),
        g(v.adxv_center_y_mm)
    ));
    s.push_str(&format!(
        "MOSFLM_CENTER_X={};\nMOSFLM_CENTER_Y={};\n",
        g(v.mosflm_center_x_mm),
        g(v.mosflm_center_y_mm)
    ));
    s.push_str(&format!(
        "DENZO_X_BEAM={};\nDENZO_Y_BEAM={};\n",
        g(v.denzo_x_beam_mm),
        g(v.denzo_y_beam_mm)
    ));
    let d = v.dials_origin_mm;
    s.push_str(&format!(
        "DIALS_ORIGIN={},{},{}\n",
        g(d[0]),
        g(d[1]),
        g(d[2])
    ));
    s.push_str(&format!(
        "XDS_ORGX={};\nXDS_ORGY={};\n",
        g(v.xds_orgx),
        g(v.xds_orgy)
    ));
    s.push_str(&format!("CLOSE_DISTANCE={};\n", g(v.close_distance_mm)));
    s.push_str(&format!(
        "PHI={};\nOSC_START={};\nOSC_RANGE={};\n",
        g(v.phi_deg),
        g(v.osc_start_deg),
        g(v.osc_range_deg)
    ));
    s.push_str(&format!("TWOTHETA={};\n", g(v.twotheta_deg)));
    s.push_str("DETECTOR_SN=000;\n");
    s.push_str("BEAMLINE=fake;\n");
    s.push_str("}\x0c");
    s
}

/// The SMV header bytes the C program writes for these values: 512 bytes (text, `}\f`, space padding).
/// If the text exceeds 512 bytes, the header grows to the next multiple of 512 and `HEADER_BYTES` says so
/// (the C program would write a malformed file; see the module documentation).
pub fn smv_header_bytes(v: &SmvHeaderValues) -> Vec<u8> {
    let mut header_bytes = 512;
    let mut text = header_text(v, header_bytes);
    while text.len() > header_bytes {
        header_bytes = text.len().div_ceil(512) * 512;
        text = header_text(v, header_bytes);
    }
    let mut out = text.into_bytes();
    out.resize(header_bytes, b' ');
    out
}

/// A complete SMV file: [`smv_header_bytes`] followed by `data` as little-endian u16. `data` is written as
/// given; [`write_smv`] checks that it holds `fpixels * spixels` values.
pub fn smv_bytes(v: &SmvHeaderValues, data: &[u16]) -> Vec<u8> {
    let mut out = smv_header_bytes(v);
    out.reserve(data.len() * 2);
    for d in data {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out
}

/// Write an SMV file (see [`smv_bytes`]) atomically. Errors when `data.len() != fpixels * spixels`.
pub fn write_smv(path: &Path, v: &SmvHeaderValues, data: &[u16]) -> Result<(), IoError> {
    let n = v.fpixels.checked_mul(v.spixels);
    if n != Some(data.len()) {
        return Err(IoError::invalid(
            path,
            format!(
                "{} pixel values for a {}x{} SMV image",
                data.len(),
                v.fpixels,
                v.spixels
            ),
        ));
    }
    write_atomic(path, &smv_bytes(v, data))
}

/// The C program's automatic `-intfile` scale: `intfile_scale` itself when `> 0`; otherwise
/// `55000 / max_i` when `max_i > 0`, else 1. `max_i` is the float image maximum (photons) over the pixels the
/// C statistics cover (inside the ROI, unmasked), starting from 0.
pub fn intfile_auto_scale(intfile_scale: f64, max_i: f64) -> f64 {
    if intfile_scale <= 0.0 {
        if max_i > 0.0 {
            55000.0 / max_i
        } else {
            1.0
        }
    } else {
        intfile_scale
    }
}

/// The C program's float → `-intfile` pixel conversion. For each pixel inside `roi`:
/// `t = f64(value) * scale + adc` (in f64), clamped to `[0, 65535]`, then `floorf(t + 0.5)`: the sum
/// `t + 0.5` is computed in f64, **rounded to f32** (C passes it to `floorf`), floored, and converted to u16
/// (NaN gives 0). Pixels outside `roi` are 0. `float_image` is fast-major with `fpixels` pixels per row;
/// `scale` is the final scale (see [`intfile_auto_scale`]) and `adc` the ADC offset (C default 40).
pub fn int_image(float_image: &[f32], fpixels: usize, scale: f64, adc: f64, roi: &Roi) -> Vec<u16> {
    let mut out = vec![0u16; float_image.len()];
    if fpixels == 0 {
        return out;
    }
    for (idx, (&v, o)) in float_image.iter().zip(out.iter_mut()).enumerate() {
        if !roi.contains(idx % fpixels, idx / fpixels) {
            continue;
        }
        // C: clamp to [0, 65535] (NaN stays NaN, and converts to 0 below).
        let t = (v as f64 * scale + adc).clamp(0.0, 65535.0);
        *o = ((t + 0.5) as f32).floor() as u16;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p() -> &'static Path {
        Path::new("x.img")
    }

    fn values() -> SmvHeaderValues {
        SmvHeaderValues {
            fpixels: 3,
            spixels: 2,
            pixel_size_mm: 0.1,
            distance_mm: 100.0,
            wavelength_a: 1.0,
            beam_center_x_mm: 6.45,
            beam_center_y_mm: 6.45,
            adxv_center_x_mm: 6.5,
            adxv_center_y_mm: 6.3,
            mosflm_center_x_mm: 6.45,
            mosflm_center_y_mm: 6.45,
            denzo_x_beam_mm: 6.5,
            denzo_y_beam_mm: 6.5,
            dials_origin_mm: [-6.5, 6.5, -100.0],
            xds_orgx: 65.5,
            xds_orgy: 65.5,
            close_distance_mm: 100.0,
            phi_deg: 0.0,
            osc_start_deg: 0.0,
            osc_range_deg: 0.0,
            twotheta_deg: 0.0,
        }
    }

    #[test]
    fn header_layout() {
        let h = smv_header_bytes(&values());
        assert_eq!(h.len(), 512);
        let text = String::from_utf8(h.clone()).unwrap();
        assert!(text.starts_with("{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\nSIZE1=3;\nSIZE2=2;\nPIXEL_SIZE=0.1;\n"));
        assert!(text.contains("\nDIALS_ORIGIN=-6.5,6.5,-100\nXDS_ORGX=65.5;\n"));
        assert!(text.contains("BEAMLINE=fake;\n}\x0c   "));
        assert!(text.ends_with(' '));
    }

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
        let e = read_smv(Path::new("/nonexistent/q.img"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/q.img"), "{e}");
    }

    #[test]
    fn long_header_grows_instead_of_corrupting() {
        let mut v = values();
        v.fpixels = 2463;
        v.spixels = 2527;
        for x in [
            &mut v.beam_center_x_mm,
            &mut v.beam_center_y_mm,
            &mut v.adxv_center_x_mm,
            &mut v.adxv_center_y_mm,
            &mut v.mosflm_center_x_mm,
            &mut v.mosflm_center_y_mm,
            &mut v.denzo_x_beam_mm,
            &mut v.denzo_y_beam_mm,
        ] {
            *x = -217.2561;
        }
        v.dials_origin_mm = [-1.234567e-100, -217.2561, -217.2561];
        v.xds_orgx = -1.234567e-100;
        v.xds_orgy = -1.234567e-100;
        v.pixel_size_mm = -1.234567e-100;
        v.wavelength_a = -1.234567e-100;
        let h = smv_header_bytes(&v);
        assert_eq!(h.len(), 1024);
        assert!(h.starts_with(b"{\nHEADER_BYTES=1024;\n"));
        let data = vec![7u16; 2463 * 2527];
        let img = parse_smv(&smv_bytes(&v, &data), p()).unwrap();
        assert_eq!(img.header.header_bytes, 1024);
        assert_eq!(img.data, data);
    }

    #[test]
    fn int_image_rules() {
        let roi = Roi::full(4, 1);
        let f = [0.0f32, 1.0, 1e9, -5.0];
        assert_eq!(int_image(&f, 4, 1.0, 40.0, &roi), vec![40, 41, 65535, 35]);
        assert_eq!(
            int_image(&[f32::NAN, -100.0], 2, 1.0, 40.0, &Roi::full(2, 1)),
            vec![0, 0]
        );
        // round half up via floorf(x+0.5)
        assert_eq!(
            int_image(&[0.5, 1.5, 2.49], 3, 1.0, 0.0, &Roi::full(3, 1)),
            vec![1, 2, 2]
        );
        // f64 sum rounded to f32 before floorf: 2.4999999999 + 0.5 -> 3.0f
        assert_eq!(
            int_image(&[1.0], 1, 2.4999999999, 0.0, &Roi::full(1, 1)),
            vec![3]
        );
        // ROI (inclusive)
        let roi = Roi {
            fast_min: 1,
            fast_max: 1,
            slow_min: 1,
            slow_max: 1,
        };
        assert_eq!(
            int_image(&[1.0; 6], 3, 1.0, 0.0, &roi),
            vec![0, 0, 0, 0, 1, 0]
        );
        assert_eq!(int_image(&[1.0; 3], 0, 1.0, 0.0, &roi), vec![0, 0, 0]);
        assert_eq!(intfile_auto_scale(0.0, 127.5), 55000.0 / 127.5);
        assert_eq!(intfile_auto_scale(-1.0, 0.0), 1.0);
        assert_eq!(intfile_auto_scale(500.0, 127.5), 500.0);
    }

    #[test]
    fn write_checks_size() {
        let e = write_smv(Path::new("/tmp/never-written.img"), &values(), &[0; 5]).unwrap_err();
        assert!(matches!(e, IoError::InvalidInput { .. }));
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

        #[test]
        fn truncations_never_panic(cut in 0usize..530) {
            let b = smv_bytes(&values(), &[3; 6]);
            let cut = cut.min(b.len());
            let r = parse_smv(&b[..cut], p());
            prop_assert_eq!(r.is_ok(), cut == b.len());
        }
    }
}
