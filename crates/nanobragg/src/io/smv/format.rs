//! The header the C program writes: the values it prints ([`SmvHeaderValues`], also picked back
//! out of a header) and its bytes, `%g` for `%g` ([`smv_header_bytes`]).

use std::fmt::Write as _;
use std::path::Path;

use super::header::{last_entry, SmvHeader};
use crate::io::cfmt::format_g;
use crate::io::IoError;

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

/// The header's `KEY=VALUE` entries in the C program's order, its numbers printed with `%g`.
fn header_entries(v: &SmvHeaderValues, header_bytes: usize) -> [(&'static str, String); 27] {
    let g = |x: f64| format_g(x, 6);
    let d = v.dials_origin_mm;
    [
        ("HEADER_BYTES", header_bytes.to_string()),
        ("DIM", "2".into()),
        ("BYTE_ORDER", "little_endian".into()),
        ("TYPE", "unsigned_short".into()),
        ("SIZE1", v.fpixels.to_string()),
        ("SIZE2", v.spixels.to_string()),
        ("PIXEL_SIZE", g(v.pixel_size_mm)),
        ("DISTANCE", g(v.distance_mm)),
        ("WAVELENGTH", g(v.wavelength_a)),
        ("BEAM_CENTER_X", g(v.beam_center_x_mm)),
        ("BEAM_CENTER_Y", g(v.beam_center_y_mm)),
        ("ADXV_CENTER_X", g(v.adxv_center_x_mm)),
        ("ADXV_CENTER_Y", g(v.adxv_center_y_mm)),
        ("MOSFLM_CENTER_X", g(v.mosflm_center_x_mm)),
        ("MOSFLM_CENTER_Y", g(v.mosflm_center_y_mm)),
        ("DENZO_X_BEAM", g(v.denzo_x_beam_mm)),
        ("DENZO_Y_BEAM", g(v.denzo_y_beam_mm)),
        ("DIALS_ORIGIN", format!("{},{},{}", g(d[0]), g(d[1]), g(d[2]))),
        ("XDS_ORGX", g(v.xds_orgx)),
        ("XDS_ORGY", g(v.xds_orgy)),
        ("CLOSE_DISTANCE", g(v.close_distance_mm)),
        ("PHI", g(v.phi_deg)),
        ("OSC_START", g(v.osc_start_deg)),
        ("OSC_RANGE", g(v.osc_range_deg)),
        ("TWOTHETA", g(v.twotheta_deg)),
        ("DETECTOR_SN", "000".into()),
        ("BEAMLINE", "fake".into()),
    ]
}

/// The header text: `{`, one entry a line (each ended by `;` but `DIALS_ORIGIN`, as the C
/// program writes it), `}\f`.
fn header_text(v: &SmvHeaderValues, header_bytes: usize) -> String {
    let mut s = String::with_capacity(512);
    s.push_str("{\n");
    for (key, value) in header_entries(v, header_bytes) {
        let end = if key == "DIALS_ORIGIN" { "" } else { ";" };
        let _ = writeln!(s, "{key}={value}{end}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::fixtures::{p, values};
    use super::super::{parse_smv, smv_bytes};

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
}
