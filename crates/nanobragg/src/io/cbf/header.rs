//! The Pilatus miniCBF header: the `# Key value` lines of `_array_data.header_contents`.
//!
//! Keys and units follow what dxtbx reads (cctbx/dxtbx, `src/dxtbx/format/FormatCBFMini.py`
//! `_start`, `_detector`, `_beam`, `_scan` and `as_file`, with the timestamp formats of
//! `FormatCBFMiniPilatusHelpers.py`; read at commit 59ea1c67, 2026-05-27). As there, a line's key is
//! its first word with `:` and `=` removed, the value is the rest, a number is the value's first word,
//! and a line whose first word starts with a digit is the timestamp. Two keys differ: the sensor line
//! `# Silicon sensor, thickness 0.000320 m` (key = the material) and `Beam_xy (x, y) pixels`,
//! `Pixel_size x m x y m` (two numbers).

use std::path::Path;

use crate::io::IoError;

/// The header of a Pilatus (or Eiger) miniCBF. Every number is optional (files differ in which lines
/// they have); lines the struct does not name are kept in [`PilatusHeader::other_lines`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PilatusHeader {
    /// `_array_data.header_convention` without quotes (`PILATUS_1.2`, `SLS_1.0`, ...).
    pub convention: Option<String>,
    /// `# Detector: ...`, e.g. `PILATUS 6M, 60-0001, X06SA@SLS`.
    pub detector: Option<String>,
    /// The timestamp line, as written (`2011-07-21T11:59:03.203`, `2007/Oct/22 15:32:16.289`).
    pub timestamp: Option<String>,
    /// `# Pixel_size x m x y m`: fast and slow pixel size, metres.
    pub pixel_size_m: Option<[f64; 2]>,
    /// The sensor line's first word (`Silicon`, `CdTe`).
    pub sensor_material: Option<String>,
    /// The sensor line's thickness, metres.
    pub sensor_thickness_m: Option<f64>,
    /// `# Beam_xy (x, y) pixels`: beam centre, fast and slow, pixels.
    pub beam_xy_px: Option<[f64; 2]>,
    /// `# Exposure_time`, seconds.
    pub exposure_time_s: Option<f64>,
    /// `# Exposure_period` (frame time, dxtbx's exposure time), seconds.
    pub exposure_period_s: Option<f64>,
    /// `# Tau =` (dead time of the count-rate correction), seconds.
    pub tau_s: Option<f64>,
    /// `# Count_cutoff` (dxtbx's highest trusted value), counts.
    pub count_cutoff_counts: Option<f64>,
    /// `# Threshold_setting:`, eV.
    pub threshold_setting_ev: Option<f64>,
    /// `# Gain_setting: ...`, as written.
    pub gain_setting: Option<String>,
    /// `# N_excluded_pixels =`, a count.
    pub n_excluded_pixels: Option<f64>,
    /// `# Wavelength`, Å.
    pub wavelength_a: Option<f64>,
    /// `# Detector_distance`, metres.
    pub detector_distance_m: Option<f64>,
    /// `# Detector_Voffset`, metres.
    pub detector_voffset_m: Option<f64>,
    /// `# Flux`, photons per second.
    pub flux_ph_per_s: Option<f64>,
    /// `# Filter_transmission`, a fraction.
    pub filter_transmission: Option<f64>,
    /// `# Start_angle` of the oscillation, degrees.
    pub start_angle_deg: Option<f64>,
    /// `# Angle_increment` (oscillation width), degrees.
    pub angle_increment_deg: Option<f64>,
    /// `# Detector_2theta`, degrees.
    pub detector_2theta_deg: Option<f64>,
    /// `# Polarization` (fraction of horizontal polarization), dimensionless.
    pub polarization: Option<f64>,
    /// `# Alpha` (kappa goniometer angle), degrees.
    pub alpha_deg: Option<f64>,
    /// `# Kappa`, degrees.
    pub kappa_deg: Option<f64>,
    /// `# Phi`, degrees.
    pub phi_deg: Option<f64>,
    /// `# Phi_increment`, degrees.
    pub phi_increment_deg: Option<f64>,
    /// `# Chi`, degrees.
    pub chi_deg: Option<f64>,
    /// `# Chi_increment`, degrees.
    pub chi_increment_deg: Option<f64>,
    /// `# Oscillation_axis ...`, as written (`X, CW`).
    pub oscillation_axis: Option<String>,
    /// `# N_oscillations`, a count.
    pub n_oscillations: Option<f64>,
    /// Header lines of no field above, without the leading `# `, in file order.
    pub other_lines: Vec<String>,
    /// `_array_data.header_contents` as read, line ends `\n` (empty for a header built in code).
    pub raw: String,
}

/// A one-number header line: its key, how the writer spells the line, and its field.
struct Scalar {
    key: &'static str,
    /// Writer's text before and after the number.
    before: &'static str,
    after: &'static str,
    field: fn(&mut PilatusHeader) -> &mut Option<f64>,
}

/// The one-number lines, in the order Pilatus detectors write them.
#[rustfmt::skip]
static SCALARS: [Scalar; 22] = [
    Scalar { key: "Exposure_time", before: "Exposure_time ", after: " s", field: |h| &mut h.exposure_time_s },
    Scalar { key: "Exposure_period", before: "Exposure_period ", after: " s", field: |h| &mut h.exposure_period_s },
    Scalar { key: "Tau", before: "Tau = ", after: " s", field: |h| &mut h.tau_s },
    Scalar { key: "Count_cutoff", before: "Count_cutoff ", after: " counts", field: |h| &mut h.count_cutoff_counts },
    Scalar { key: "Threshold_setting", before: "Threshold_setting: ", after: " eV", field: |h| &mut h.threshold_setting_ev },
    Scalar { key: "N_excluded_pixels", before: "N_excluded_pixels = ", after: "", field: |h| &mut h.n_excluded_pixels },
    Scalar { key: "Wavelength", before: "Wavelength ", after: " A", field: |h| &mut h.wavelength_a },
    Scalar { key: "Detector_distance", before: "Detector_distance ", after: " m", field: |h| &mut h.detector_distance_m },
    Scalar { key: "Detector_Voffset", before: "Detector_Voffset ", after: " m", field: |h| &mut h.detector_voffset_m },
    Scalar { key: "Flux", before: "Flux ", after: " ph/s", field: |h| &mut h.flux_ph_per_s },
    Scalar { key: "Filter_transmission", before: "Filter_transmission ", after: "", field: |h| &mut h.filter_transmission },
    Scalar { key: "Start_angle", before: "Start_angle ", after: " deg.", field: |h| &mut h.start_angle_deg },
    Scalar { key: "Angle_increment", before: "Angle_increment ", after: " deg.", field: |h| &mut h.angle_increment_deg },
    Scalar { key: "Detector_2theta", before: "Detector_2theta ", after: " deg.", field: |h| &mut h.detector_2theta_deg },
    Scalar { key: "Polarization", before: "Polarization ", after: "", field: |h| &mut h.polarization },
    Scalar { key: "Alpha", before: "Alpha ", after: " deg.", field: |h| &mut h.alpha_deg },
    Scalar { key: "Kappa", before: "Kappa ", after: " deg.", field: |h| &mut h.kappa_deg },
    Scalar { key: "Phi", before: "Phi ", after: " deg.", field: |h| &mut h.phi_deg },
    Scalar { key: "Phi_increment", before: "Phi_increment ", after: " deg.", field: |h| &mut h.phi_increment_deg },
    Scalar { key: "Chi", before: "Chi ", after: " deg.", field: |h| &mut h.chi_deg },
    Scalar { key: "Chi_increment", before: "Chi_increment ", after: " deg.", field: |h| &mut h.chi_increment_deg },
    Scalar { key: "N_oscillations", before: "N_oscillations ", after: "", field: |h| &mut h.n_oscillations },
];

/// The numbers among the words of `value` (after removing `(`, `)` and `,`).
fn numbers_in(value: &str) -> Vec<f64> {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ','))
        .filter_map(|w| w.parse::<f64>().ok())
        .collect()
}

/// `line` (a header line after `#`) split as dxtbx does: (key, value).
fn key_value(line: &str) -> (String, String) {
    let line = line.trim();
    let (first, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let key: String = first.chars().filter(|c| !matches!(c, ':' | '=')).collect();
    let rest = rest.trim_start();
    let value = rest.strip_prefix('=').unwrap_or(rest).trim();
    (key, value.to_string())
}

impl PilatusHeader {
    /// Parse the text of `_array_data.header_contents` (lines not starting with `#` are ignored).
    /// A known key whose value lacks its number is an error naming the line; `path` names the file.
    pub fn parse(text: &str, path: &Path) -> Result<Self, IoError> {
        let mut h = PilatusHeader {
            raw: text.replace("\r\n", "\n"),
            ..Default::default()
        };
        for line in text.lines() {
            let Some(body) = line.strip_prefix('#') else {
                continue;
            };
            let bad = || {
                IoError::format(
                    path,
                    format!("CBF header line {line:?}: no number where one is expected"),
                )
            };
            let (key, value) = key_value(body);
            if key.is_empty() {
                continue;
            }
            if key.starts_with(|c: char| c.is_ascii_digit()) {
                h.timestamp = Some(body.trim().to_string());
            } else if key == "Detector" {
                h.detector = Some(value);
            } else if key == "Gain_setting" {
                h.gain_setting = Some(value);
            } else if key == "Oscillation_axis" {
                h.oscillation_axis = Some(value);
            } else if key == "Pixel_size" || key == "Beam_xy" {
                let n = numbers_in(&value);
                let pair = Some([*n.first().ok_or_else(bad)?, *n.get(1).ok_or_else(bad)?]);
                *(if key == "Beam_xy" {
                    &mut h.beam_xy_px
                } else {
                    &mut h.pixel_size_m
                }) = pair;
            } else if let Some(rest) = value.strip_prefix("sensor, thickness") {
                h.sensor_material = Some(key);
                h.sensor_thickness_m = Some(*numbers_in(rest).first().ok_or_else(bad)?);
            } else if let Some(s) = SCALARS.iter().find(|s| s.key == key) {
                let first = value.split_whitespace().next().unwrap_or("");
                *(s.field)(&mut h) = Some(first.parse::<f64>().map_err(|_| bad())?);
            } else {
                h.other_lines.push(body.trim().to_string());
            }
        }
        Ok(h)
    }

    /// The header lines as a Pilatus detector writes them (`# Key value unit`, no line ends): detector,
    /// timestamp, pixel size, sensor, the one-number lines (with `Gain_setting` before
    /// `N_excluded_pixels` and `Beam_xy` before `Flux`, as Pilatus orders them), oscillation axis, then
    /// [`PilatusHeader::other_lines`]. Numbers are printed with `{}` (Rust's shortest decimal that reads back to
    /// the same `f64`, never an exponent, so `Count_cutoff` stays an integer), so a round trip through a file keeps every value. Text
    /// values are read trimmed, and control characters are written as spaces.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        // Control characters (line ends, and the 0x0C 0x1A 0x04 of the binary marker) become spaces.
        let text = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        if let Some(d) = &self.detector {
            out.push(format!("# Detector: {}", text(d)));
        }
        if let Some(t) = &self.timestamp {
            out.push(format!("# {}", text(t)));
        }
        if let Some([x, y]) = self.pixel_size_m {
            out.push(format!("# Pixel_size {x} m x {y} m"));
        }
        if let Some(t) = self.sensor_thickness_m {
            let material = self.sensor_material.as_deref().unwrap_or("Silicon");
            out.push(format!("# {} sensor, thickness {t} m", text(material)));
        }
        let mut copy = self.clone();
        for s in &SCALARS {
            // Pilatus order: gain before the excluded pixels, beam centre before the flux.
            if let (Some(g), "N_excluded_pixels") = (&self.gain_setting, s.key) {
                out.push(format!("# Gain_setting: {}", text(g)));
            }
            if let (Some([x, y]), "Flux") = (self.beam_xy_px, s.key) {
                out.push(format!("# Beam_xy ({x}, {y}) pixels"));
            }
            if let Some(v) = *(s.field)(&mut copy) {
                out.push(format!("# {}{v}{}", s.before, s.after));
            }
        }
        if let Some(a) = &self.oscillation_axis {
            out.push(format!("# Oscillation_axis {}", text(a)));
        }
        out.extend(self.other_lines.iter().map(|l| format!("# {}", text(l))));
        out
    }

    /// The same header with [`PilatusHeader::raw`] cleared: what a written file preserves.
    pub fn without_raw(&self) -> Self {
        PilatusHeader {
            raw: String::new(),
            ..self.clone()
        }
    }
}
