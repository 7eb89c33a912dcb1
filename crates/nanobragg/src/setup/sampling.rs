//! Sampling: oversampling choices, region of interest, resolution limit, water background and
//! the pixel mask.

use super::DetectorSetup;
use crate::scene::Scene;
use crate::units;

/// Resolved sampling, ROI, mask and background.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingSetup {
    /// `-oversample` if given (> 0); otherwise auto-selected later from the crystal size.
    pub oversample: Option<usize>,
    /// Per-sub-pixel capture fraction on the running sum.
    pub oversample_thick: bool,
    /// Per-sub-pixel polarization on the running sum.
    pub oversample_polar: bool,
    /// Per-sub-pixel solid angle on the running sum.
    pub oversample_omega: bool,
    /// Inclusive ROI: xmin, xmax, ymin, ymax (pixels).
    pub roi: [i64; 4],
    /// d_min (m), 0 = off.
    pub dmin_m: f64,
    /// Water droplet size (m).
    pub water_m: f64,
    /// Mask: `true` where the pixel is rendered (fast-major), if a mask file was given.
    pub mask: Option<Vec<bool>>,
}

/// Resolve sampling: `-oversample` (≤ 0: auto), the inclusive ROI in pixels (negative bounds
/// default to the whole detector, xmax/ymax = the pixel counts), d_min (Å → m), water size
/// (µm → m) and the `-mask` read with the headers.
pub(super) fn resolve_sampling(scene: &Scene, det: &DetectorSetup, mask: Option<Vec<bool>>) -> SamplingSetup {
    let s = &scene.sampling;
    let roi = s.roi.unwrap_or([-1, -1, -1, -1]);
    let roi = [
        if roi[0] < 0 { 0 } else { roi[0] },
        if roi[1] < 0 { det.fpixels as i64 } else { roi[1] },
        if roi[2] < 0 { 0 } else { roi[2] },
        if roi[3] < 0 { det.spixels as i64 } else { roi[3] },
    ];
    SamplingSetup {
        oversample: s.oversample.filter(|&n| n > 0).map(|n| n as usize),
        oversample_thick: s.oversample_thick,
        oversample_polar: s.oversample_polar,
        oversample_omega: s.oversample_omega,
        roi,
        dmin_m: units::angstrom(s.dmin_a.unwrap_or(0.0)),
        water_m: units::um(s.water_um.unwrap_or(0.0)),
        mask,
    }
}
