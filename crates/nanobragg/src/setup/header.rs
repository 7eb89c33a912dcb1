//! Values that the `-img` and `-mask` SMV headers contribute, applied before the flags.

use std::path::Path;

use super::resolve_path;
use crate::error::{NanobraggError, Result};
use crate::io;
use crate::scene::Scene;

/// Header values that `-img`/`-mask` contribute (in the scene's units), applied before flags.
#[derive(Debug, Default, Clone)]
pub(super) struct HeaderDefaults {
    pub(super) fpixels: Option<i64>,
    pub(super) spixels: Option<i64>,
    pub(super) pixel_mm: Option<f64>,
    pub(super) distance_mm: Option<f64>,
    pub(super) close_distance_mm: Option<f64>,
    pub(super) wavelength_a: Option<f64>,
    pub(super) xbeam_mm: Option<f64>,
    pub(super) ybeam_mm: Option<f64>,
    pub(super) orgx: Option<f64>,
    pub(super) orgy: Option<f64>,
    pub(super) phi_deg: Option<f64>,
    pub(super) osc_deg: Option<f64>,
}

impl HeaderDefaults {
    /// Reads the `-mask` file (header with BEAM_CENTER_Y flipped, unless
    /// `io.mask_pixels_only`; pixels as the render mask: `true` where non-zero), then the
    /// `-img` file's header, whose values win.
    pub(super) fn read(scene: &Scene, base_dir: &Path) -> Result<(Self, Option<Vec<bool>>)> {
        let mut hdr = HeaderDefaults::default();
        let mut mask = None;
        if let Some(p) = &scene.io.mask_file {
            let path = resolve_path(base_dir, p);
            let smv = io::smv::read_smv(&path)?;
            if !scene.io.mask_pixels_only {
                hdr.ingest(&smv, true, &path)?;
            }
            mask = Some(smv.data.iter().map(|&v| v != 0).collect::<Vec<bool>>());
        }
        if let Some(p) = &scene.io.img_file {
            let path = resolve_path(base_dir, p);
            let smv = io::smv::read_smv(&path)?;
            hdr.ingest(&smv, false, &path)?;
        }
        Ok((hdr, mask))
    }

    /// Copies one SMV header's values (pixels, mm, Å, degrees) over those read so far, after
    /// refusing non-positive sizes/distances/wavelengths and non-finite centres/angles;
    /// `flip_y` stores BEAM_CENTER_Y as `detsize_s − Y` (mm).
    fn ingest(&mut self, smv: &io::smv::SmvImage, flip_y: bool, path: &Path) -> Result<()> {
        for key in ["PIXEL_SIZE", "DISTANCE", "CLOSE_DISTANCE", "WAVELENGTH"] {
            if let Some(v) = smv.header.value_of(key).filter(|v| !(*v > 0.0 && v.is_finite())) {
                return Err(NanobraggError::Invalid {
                    input: format!("{} (header {key})", path.display()),
                    problem: format!("{v} must be > 0"),
                });
            }
        }
        for key in ["BEAM_CENTER_X", "BEAM_CENTER_Y", "ORGX", "ORGY", "PHI", "OSC_RANGE"] {
            if let Some(v) = smv.header.value_of(key).filter(|v| !v.is_finite()) {
                return Err(NanobraggError::Invalid {
                    input: format!("{} (header {key})", path.display()),
                    problem: format!("{v} is not a finite number"),
                });
            }
        }
        let (fpixels, spixels) = (smv.header.fpixels, smv.header.spixels);
        self.fpixels = Some(fpixels as i64);
        self.spixels = Some(spixels as i64);
        let smv = &smv.header;
        if let Some(p) = smv.value_of("PIXEL_SIZE") {
            self.pixel_mm = Some(p);
        }
        let pixel_mm = self.pixel_mm.unwrap_or(0.1);
        let detsize_s_mm = pixel_mm * spixels as f64;
        let set = |slot: &mut Option<f64>, key: &str| {
            if let Some(v) = smv.value_of(key) {
                *slot = Some(v);
            }
        };
        set(&mut self.distance_mm, "DISTANCE");
        set(&mut self.close_distance_mm, "CLOSE_DISTANCE");
        set(&mut self.wavelength_a, "WAVELENGTH");
        set(&mut self.xbeam_mm, "BEAM_CENTER_X");
        if let Some(v) = smv.value_of("BEAM_CENTER_Y") {
            self.ybeam_mm = Some(if flip_y { detsize_s_mm - v } else { v });
        }
        set(&mut self.orgx, "ORGX");
        set(&mut self.orgy, "ORGY");
        set(&mut self.phi_deg, "PHI");
        set(&mut self.osc_deg, "OSC_RANGE");
        // TWOTHETA is read by the C program into a variable the geometry never uses.
        Ok(())
    }
}
