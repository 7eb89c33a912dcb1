//! How a panel reads out: its gain, trusted range and masked rectangles, and where its pixels
//! sit in the raw image the detector writes (dxtbx's `Panel` readout fields). [`panel_pixels`]
//! turns a raw image (ADU, e.g. a CBF's pixels) into each panel's photons and the pixels that
//! may be trusted, for refinement against measured images.
//!
//! Conventions (dxtbx, `cctbx/dxtbx` at 59ea1c67):
//!
//! * **Trusted range** `[min, max]` in raw ADU, **both bounds inclusive**: a pixel is valid
//!   iff `min ≤ v ≤ max` (`src/dxtbx/model/panel.h`, `Panel::is_value_in_trusted_range` and
//!   `apply_trusted_range_mask`, since dxtbx 3.12, PR #536 "Consistently define
//!   trusted_range"). Before that, `apply_trusted_range_mask` took `min < v < max`, and the
//!   Pilatus format classes wrote `min = −1` (now 0): an older file such as the 2016
//!   `datablock-0.json` (`[−1, 244795]`) read today, as here, trusts a raw value of −1.
//! * **Mask** rectangles `[f0, s0, f1, s1]` in the panel's pixels (`Panel.add_mask(f0, s0, f1,
//!   s1)`, `src/dxtbx/model/panel_data.h`): fast from `f0` (inclusive) to `f1` (exclusive),
//!   slow from `s0` to `s1` likewise, clipped to the panel (`Panel::apply_untrusted_rectangle_mask`,
//!   `panel.h`; `FormatCBFMiniPilatus.py` turns the 1-based inclusive Pilatus ranges into it
//!   with `add_mask(f0 - 1, s0 - 1, f1, s1)`).
//! * **Raw image offset** `[fast, slow]`: the panel's pixel (0, 0) is raw pixel
//!   (`fast`, `slow`), and its block is `raw[slow..slow + spixels][fast..fast + fpixels]`
//!   (`FormatCBFMiniPilatus.py`: `set_raw_image_offset((xmin, ymin))` and
//!   `raw_data[ymin:ymax, xmin:xmax]`). Without an offset, the raw image is the panel's own
//!   and must have the panel's size.
//! * **Gain**: ADU per photon; photons = raw / gain (dxtbx's default gain is 1).

use serde::{Deserialize, Serialize};

use super::Scene;
use crate::error::{NanobraggError, Result};

/// The readout of one panel (see the module doc for each field's convention).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PanelReadout {
    /// ADU per photon (dxtbx `gain`); 1 when absent.
    pub gain: f64,
    /// Lowest and highest trusted raw value (ADU), both inclusive; `None`: every finite value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_range: Option<[f64; 2]>,
    /// Untrusted rectangles `[f0, s0, f1, s1]` (pixels, `f0`/`s0` inclusive, `f1`/`s1` exclusive).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<[i64; 4]>,
    /// Raw pixel `[fast, slow]` of the panel's pixel (0, 0); `None`: the raw image is this panel's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_image_offset: Option<[i64; 2]>,
}

impl Default for PanelReadout {
    fn default() -> Self {
        PanelReadout { gain: 1.0, trusted_range: None, mask: Vec::new(), raw_image_offset: None }
    }
}

/// A raw detector image: `width × height` values (ADU), fast-major (`y·width + x`).
#[derive(Debug, Clone, Copy)]
pub struct RawImage<'a> {
    /// The values (ADU).
    pub values: &'a [f64],
    /// Pixels along fast.
    pub width: usize,
    /// Pixels along slow.
    pub height: usize,
    /// Name in messages (the file, e.g. `-target run.cbf`).
    pub name: &'a str,
}

/// One panel's pixels from a raw image: photons (raw / gain; 0 where not valid) and whether
/// each pixel may be trusted, both `spixels × fpixels`, fast-major.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelPixels {
    /// Photons per pixel; 0 for a pixel that is not valid.
    pub photons: Vec<f64>,
    /// `true` where the raw value is inside the trusted range and outside every mask rectangle.
    pub valid: Vec<bool>,
}

impl PanelReadout {
    /// Whether this is the default readout (gain 1, every finite value trusted, no mask, no
    /// offset): a scene file leaves it out.
    pub fn is_default(&self) -> bool {
        *self == PanelReadout::default()
    }

    /// The mask rectangles of a `fpixels × spixels` crop starting at panel pixel (`fast0`,
    /// `slow0`): moved by the crop and clipped to it; a rectangle left empty is dropped.
    pub fn cropped_mask(&self, fast0: i64, slow0: i64, fpixels: i64, spixels: i64) -> Vec<[i64; 4]> {
        self.mask
            .iter()
            .map(|&[f0, s0, f1, s1]| {
                let c = |v: i64, start: i64, n: i64| v.saturating_sub(start).clamp(0, n);
                [c(f0, fast0, fpixels), c(s0, slow0, spixels), c(f1, fast0, fpixels), c(s1, slow0, spixels)]
            })
            .filter(|[f0, s0, f1, s1]| f0 < f1 && s0 < s1)
            .collect()
    }

    /// The pixels of a `fpixels × spixels` panel (`panel` names it in messages) in `raw`:
    /// its block at [`Self::raw_image_offset`], divided by the gain, with the validity of
    /// every pixel. Refuses a gain that is not positive and finite, a block outside the raw
    /// image, a raw value that is not finite and a trusted range that is not finite.
    pub fn pixels(&self, raw: &RawImage<'_>, fpixels: usize, spixels: usize, panel: &str) -> Result<PanelPixels> {
        let bad = |key: &str, problem: String| NanobraggError::Invalid { input: format!("{} ({panel}, {key})", raw.name), problem };
        if !(self.gain.is_finite() && self.gain > 0.0) {
            return Err(bad("gain", format!("{} ADU per photon: must be positive", self.gain)));
        }
        if raw.values.len() != raw.width.saturating_mul(raw.height) {
            return Err(bad("raw image", format!("{} values for {} x {} pixels", raw.values.len(), raw.width, raw.height)));
        }
        let [x0, y0] = self.block_origin(raw, fpixels, spixels).map_err(|p| bad("raw_image_offset", p))?;
        let [lo, hi] = self.trusted_range.unwrap_or([f64::NEG_INFINITY, f64::INFINITY]);
        if lo.is_nan() || hi.is_nan() || lo == f64::INFINITY || hi == f64::NEG_INFINITY {
            return Err(bad("trusted_range", format!("[{lo}, {hi}] is not a range of numbers")));
        }
        let mut photons = vec![0.0; fpixels * spixels];
        let mut valid = vec![false; fpixels * spixels];
        for s in 0..spixels {
            let row = &raw.values[(y0 + s) * raw.width + x0..][..fpixels];
            for (f, &v) in row.iter().enumerate() {
                if !v.is_finite() {
                    return Err(bad("raw image", format!("raw pixel ({}, {}) is {v}: every value must be finite", x0 + f, y0 + s)));
                }
                if lo <= v && v <= hi {
                    valid[s * fpixels + f] = true;
                    photons[s * fpixels + f] = v / self.gain;
                }
            }
        }
        for [f0, s0, f1, s1] in self.cropped_mask(0, 0, fpixels as i64, spixels as i64) {
            for s in s0 as usize..s1 as usize {
                for f in f0 as usize..f1 as usize {
                    valid[s * fpixels + f] = false;
                    photons[s * fpixels + f] = 0.0;
                }
            }
        }
        Ok(PanelPixels { photons, valid })
    }

    /// The raw pixel `[x, y]` of the panel's pixel (0, 0), checked: the block fits in `raw`
    /// (without an offset, the raw image must be the panel's size).
    fn block_origin(&self, raw: &RawImage<'_>, fpixels: usize, spixels: usize) -> std::result::Result<[usize; 2], String> {
        let size = format!("{fpixels} x {spixels}");
        let Some([x, y]) = self.raw_image_offset else {
            return match (raw.width, raw.height) == (fpixels, spixels) {
                true => Ok([0, 0]),
                false => Err(format!(
                    "none given, so the raw image must be the panel's {size} pixels, not {} x {}",
                    raw.width, raw.height
                )),
            };
        };
        let fits = |start: i64, n: usize, size: usize| usize::try_from(start).ok().filter(|&s| s.saturating_add(n) <= size);
        match (fits(x, fpixels, raw.width), fits(y, spixels, raw.height)) {
            (Some(x), Some(y)) => Ok([x, y]),
            _ => Err(format!(
                "[{x}, {y}]: the panel's {size} pixels from there do not fit in the raw image of {} x {}",
                raw.width, raw.height
            )),
        }
    }
}

/// Every panel's pixels in `raw` (module doc): the panels of `detector.panels`, or for a
/// single detector one panel of the scene's `fpixels × spixels` with the readout
/// [`Scene::panel_scene`] left in `detector.readout` (the default readout when none: the raw
/// image is the detector's own).
pub fn panel_pixels(scene: &Scene, raw: &RawImage<'_>) -> Result<Vec<PanelPixels>> {
    let d = &scene.detector;
    if d.panels.is_empty() {
        let size = |v: Option<i64>, key: &str| {
            v.and_then(|n| usize::try_from(n).ok()).filter(|&n| n > 0).ok_or_else(|| NanobraggError::Invalid {
                input: format!("{} (scene key detector.{key})", raw.name),
                problem: "the detector's pixel count must be given to read a raw image".into(),
            })
        };
        let (f, s) = (size(d.fpixels, "fpixels")?, size(d.spixels, "spixels")?);
        let readout = d.readout.clone().unwrap_or_default();
        return Ok(vec![readout.pixels(raw, f, s, "the detector")?]);
    }
    d.panels
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = |v: i64| usize::try_from(v).unwrap_or(0);
            p.readout.pixels(raw, n(p.fpixels), n(p.spixels), &format!("panel {i} {}", p.name))
        })
        .collect()
}
