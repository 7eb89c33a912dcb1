//! Detectors made of several flat panels (Pilatus/Eiger modules, CSPAD or Jungfrau tiles).
//!
//! A panel is a detector of its own: an origin, a fast and a slow axis in the lab frame, a
//! pixel size and a pixel count. The renderer knows one kind of detector, the C program's
//! single flat panel; a panel of a multi-panel scene is rendered as that one-panel case
//! ([`Scene::panel_scene`]), with its frame written as the CUSTOM convention with the SAMPLE
//! pivot:
//!
//! * fast `f` and slow `s` are the panel's axes, the normal is `o = f × s / |f × s|` (dxtbx's
//!   normal, `Panel::get_normal`);
//! * the near point is `Fclose = −O·f`, `Sclose = −O·s` and the close distance `O·o`, where `O`
//!   is the panel's origin (the outer corner of pixel (0, 0), as in dxtbx and the C program's
//!   `pix0_vector`): the C program then places pix0 at `−Fclose·f − Sclose·s + close·o = O`.
//!
//! This is also how the C program renders such a panel (its `-pix0_vector` flag is read but
//! not used, see `shared/docs/c-quirks.md`), so a panel checks against the C program run with
//! the panel's `-fdet_vector -sdet_vector -odet_vector -Xbeam -Ybeam -close_distance
//! -pivot sample -convention CUSTOM`.
//!
//! Units: mm for positions, the lab frame of the scene (`-beam_vector` and the other vectors
//! are given in the same frame; a DIALS experiment's panels are in dxtbx's lab frame).

use serde::{Deserialize, Serialize};

use super::{Convention, DetectorScene, PanelReadout, Pivot, Scene};
use crate::error::{NanobraggError, Result};
use crate::detector::{moved_f64, PanelPlacement};
use crate::linalg::{cross_f64, dot_f64 as dot, unit_f64};

/// Largest |f̂·ŝ| accepted: the C program's pix0 reconstruction assumes orthogonal axes; at
/// this bound a panel 1 m from the sample moves by at most 1 µm.
pub const MAX_AXIS_SKEW: f64 = 1e-6;

/// One flat panel in the lab frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PanelScene {
    /// Name (dxtbx's panel name, e.g. `"row-03-col-02"`); used in messages.
    pub name: String,
    /// Outer corner of pixel (0, 0) in the lab frame (mm).
    pub origin_mm: [f64; 3],
    /// Fast axis (direction of increasing fast pixel index), lab frame; normalised on use.
    pub fast_axis: [f64; 3],
    /// Slow axis, lab frame; normalised on use.
    pub slow_axis: [f64; 3],
    /// Pixel size (mm), square pixels.
    pub pixel_mm: f64,
    /// Pixels along the fast axis.
    pub fpixels: i64,
    /// Pixels along the slow axis.
    pub spixels: i64,
    /// This panel's sensor thickness (µm), where it differs from `detector.thick_um`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thick_um: Option<f64>,
    /// This panel's attenuation depth (µm), where it differs from `detector.abs_depth_um`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abs_depth_um: Option<f64>,
    /// The group the panel belongs to (its parent in a dxtbx hierarchy), about whose frame the
    /// group rotations `group_rot_*` turn it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<PanelGroup>,
    /// How the panel's raw pixels are read out (gain, trusted range, mask, raw image offset;
    /// dxtbx's panel fields), used to read measured raw images.
    #[serde(skip_serializing_if = "PanelReadout::is_default")]
    pub readout: PanelReadout,
}


impl Default for PanelScene {
    fn default() -> Self {
        PanelScene {
            name: String::new(),
            origin_mm: [0.0; 3],
            fast_axis: [0.0; 3],
            slow_axis: [0.0; 3],
            pixel_mm: 0.0,
            fpixels: 0,
            spixels: 0,
            thick_um: None,
            abs_depth_um: None,
            group: None,
            readout: PanelReadout::default(),
        }
    }
}

/// A group of panels moved as one rigid body by the group rotations (`-group_rot`, registry
/// rows `group_rot_f/s/o`): rotations about the group's fast, slow and normal axes (in that
/// order) through its pivot. Panels of one group share the same `PanelGroup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PanelGroup {
    /// Name (the dxtbx hierarchy key, e.g. `"hierarchy.children[2]"`); panels with the same
    /// name are one group.
    pub name: String,
    /// Pivot of the rotations (mm, lab frame): the centroid of the group's panel centres.
    pub pivot_mm: [f64; 3],
    /// The group's fast axis (lab frame); normalised on use.
    pub fast_axis: [f64; 3],
    /// The group's slow axis (lab frame); normalised on use. The normal is fast × slow.
    pub slow_axis: [f64; 3],
}

impl PanelScene {
    /// The centre of the panel (mm, lab frame): `origin + ½·pixel·(fpixels·f̂ + spixels·ŝ)`.
    pub fn centre_mm(&self) -> [f64; 3] {
        let (f, s) = (unit_f64(self.fast_axis), unit_f64(self.slow_axis));
        let half = 0.5 * self.pixel_mm;
        std::array::from_fn(|k| self.origin_mm[k] + half * (self.fpixels as f64 * f[k] + self.spixels as f64 * s[k]))
    }

    /// The `fpixels × spixels` region of this panel starting at pixel (`fast0`, `slow0`), as a
    /// panel of its own: same axes, origin moved by `fast0·pixel` along the fast axis and
    /// `slow0·pixel` along the slow axis. The readout follows: the mask rectangles move by
    /// (`−fast0`, `−slow0`) and are clipped to the region (one left empty is dropped), the raw
    /// image offset moves by (`fast0`, `slow0`) (from (0, 0) when the panel had none). Refuses
    /// a region that does not lie inside the panel.
    pub fn cropped(&self, fast0: i64, slow0: i64, fpixels: i64, spixels: i64) -> Result<PanelScene> {
        let inside = |start: i64, count: i64, size: i64| start >= 0 && count >= 1 && start.saturating_add(count) <= size;
        if !(inside(fast0, fpixels, self.fpixels) && inside(slow0, spixels, self.spixels)) {
            return Err(NanobraggError::Invalid {
                input: format!("panel {} crop", self.name),
                problem: format!(
                    "{fpixels} x {spixels} pixels from ({fast0}, {slow0}) do not fit in {} x {}",
                    self.fpixels, self.spixels
                ),
            });
        }
        let (f, s) = (unit_f64(self.fast_axis), unit_f64(self.slow_axis));
        let (df, ds) = (fast0 as f64 * self.pixel_mm, slow0 as f64 * self.pixel_mm);
        let origin_mm = std::array::from_fn(|i| self.origin_mm[i] + df * f[i] + ds * s[i]);
        let [x, y] = self.readout.raw_image_offset.unwrap_or([0, 0]);
        let readout = PanelReadout {
            mask: self.readout.cropped_mask(fast0, slow0, fpixels, spixels),
            raw_image_offset: Some([x.saturating_add(fast0), y.saturating_add(slow0)]),
            ..self.readout.clone()
        };
        Ok(PanelScene { origin_mm, fpixels, spixels, readout, ..self.clone() })
    }
}

/// The detector flags that a panel's frame replaces (flag, scene key, whether given): given
/// together with `detector.panels` they are refused rather than silently overridden.
type FrameFlag = (&'static str, &'static str, fn(&DetectorScene) -> bool);

const FRAME_FLAGS: [FrameFlag; 14] = [
    ("-pixel", "detector.pixel_mm", |d| d.pixel_mm.is_some()),
    ("-detpixels_f", "detector.fpixels", |d| d.fpixels.is_some()),
    ("-detpixels_s", "detector.spixels", |d| d.spixels.is_some()),
    ("-detsize_f", "detector.detsize_f_mm", |d| d.detsize_f_mm.is_some()),
    ("-detsize_s", "detector.detsize_s_mm", |d| d.detsize_s_mm.is_some()),
    ("-distance", "detector.distance_mm", |d| d.distance_mm.is_some()),
    ("-close_distance", "detector.close_distance_mm", |d| d.close_distance_mm.is_some()),
    ("-Xbeam", "detector.xbeam_mm", |d| d.xbeam_mm.is_some()),
    ("-Ybeam", "detector.ybeam_mm", |d| d.ybeam_mm.is_some()),
    ("-Xclose", "detector.xclose_mm", |d| d.xclose_mm.is_some()),
    ("-Yclose", "detector.yclose_mm", |d| d.yclose_mm.is_some()),
    ("-fdet_vector", "detector.fdet_vector", |d| d.fdet_vector.is_some()),
    ("-sdet_vector", "detector.sdet_vector", |d| d.sdet_vector.is_some()),
    ("-odet_vector", "detector.odet_vector", |d| d.odet_vector.is_some()),
];

impl Scene {
    /// Number of panels: those of `detector.panels`, or 1 for the C program's single detector.
    pub fn panel_count(&self) -> usize {
        self.detector.panels.len().max(1)
    }

    /// The one-panel scene that renders panel `index`: this scene itself when it has no
    /// `detector.panels`, else the panel's frame as the CUSTOM convention with the SAMPLE
    /// pivot (module doc). Refuses an index out of range, a panel whose axes are zero,
    /// non-finite or not orthogonal, one whose plane is behind the sample, and any flag of
    /// the single detector's frame (`-Xbeam`, `-distance`, …) given together with panels.
    pub fn panel_scene(&self, index: usize) -> Result<Scene> {
        if self.detector.panels.is_empty() {
            return match index {
                0 => Ok(self.clone()),
                _ => Err(out_of_range(index, 1)),
            };
        }
        let panel = self
            .detector
            .panels
            .get(index)
            .ok_or_else(|| out_of_range(index, self.detector.panels.len()))?;
        self.check_no_frame_flags()?;
        let frame = PanelFrame::of(panel, index)?;
        let mut scene = self.clone();
        let d = &mut scene.detector;
        d.panels.clear();
        d.convention = Convention::Custom;
        d.pivot = Some(Pivot::Sample);
        d.fdet_vector = Some(frame.fast);
        d.sdet_vector = Some(frame.slow);
        d.odet_vector = Some(frame.normal);
        d.xbeam_mm = Some(frame.fclose_mm);
        d.ybeam_mm = Some(frame.sclose_mm);
        d.close_distance_mm = Some(frame.close_mm);
        d.pixel_mm = Some(panel.pixel_mm);
        d.fpixels = Some(panel.fpixels);
        d.spixels = Some(panel.spixels);
        if let Some(t) = panel.thick_um {
            d.thick_um = Some(t);
        }
        if let Some(a) = panel.abs_depth_um {
            d.abs_depth_um = Some(a);
        }
        d.group = panel.group.clone();
        d.readout = Some(panel.readout.clone());
        Ok(scene)
    }

    /// The panels as rendered: each moved by the scene's panel motion (`-panel_rot`,
    /// `-group_rot`, `-panel_shift`, [`crate::detector::moved_f64`]), for file writers and
    /// previews. The panels' groups are kept as given.
    pub fn placed_panels(&self) -> Vec<PanelScene> {
        let d = &self.detector;
        let rad = |v: Option<[f64; 3]>| v.unwrap_or([0.0; 3]).map(f64::to_radians);
        d.panels
            .iter()
            .map(|p| {
                let group = p.group.as_ref().map(|g| {
                    let (f, s) = (unit_f64(g.fast_axis), unit_f64(g.slow_axis));
                    (g.pivot_mm, [f, s, unit_f64(cross_f64(f, s))])
                });
                let at = PanelPlacement { origin: p.origin_mm, fast: unit_f64(p.fast_axis), slow: unit_f64(p.slow_axis) };
                let size = [p.fpixels as f64 * p.pixel_mm, p.spixels as f64 * p.pixel_mm];
                let shift = d.panel_shift_mm.unwrap_or([0.0; 3]);
                let moved = moved_f64(at, size, rad(d.panel_rot_deg), group, rad(d.group_rot_deg), shift);
                PanelScene { origin_mm: moved.origin, fast_axis: moved.fast, slow_axis: moved.slow, ..p.clone() }
            })
            .collect()
    }

    fn check_no_frame_flags(&self) -> Result<()> {
        match FRAME_FLAGS.iter().find(|(_, _, given)| given(&self.detector)) {
            Some((flag, key, _)) => Err(NanobraggError::Invalid {
                input: format!("{flag} (scene key {key})"),
                problem: "cannot be combined with a multi-panel detector (detector.panels, -expt): each panel's frame sets it".into(),
            }),
            None => Ok(()),
        }
    }
}

/// A panel's frame as the C program's CUSTOM/SAMPLE-pivot detector takes it (mm, unit axes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelFrame {
    /// Unit fast axis.
    pub fast: [f64; 3],
    /// Unit slow axis.
    pub slow: [f64; 3],
    /// Unit normal `f × s`.
    pub normal: [f64; 3],
    /// Near point along fast, `−O·f` (mm): the CUSTOM convention's `-Xbeam`.
    pub fclose_mm: f64,
    /// Near point along slow, `−O·s` (mm): `-Ybeam`.
    pub sclose_mm: f64,
    /// Distance from the sample to the panel's plane along the normal, `O·o` (mm).
    pub close_mm: f64,
}

impl PanelFrame {
    /// The frame of `panel` (number `index` in messages), checked: finite non-zero axes,
    /// orthogonal within [`MAX_AXIS_SKEW`], a positive pixel size and counts, the plane in
    /// front of the sample.
    pub fn of(panel: &PanelScene, index: usize) -> Result<Self> {
        let bad = |key: &str, problem: String| NanobraggError::Invalid {
            input: format!("panel {index} ({}) (scene key detector.panels[{index}].{key})", panel.name),
            problem,
        };
        for (key, v) in [("fast_axis", panel.fast_axis), ("slow_axis", panel.slow_axis)] {
            let norm = dot(v, v).sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                return Err(bad(key, format!("{v:?} is not a finite non-zero vector")));
            }
        }
        if !panel.origin_mm.iter().all(|x| x.is_finite()) {
            return Err(bad("origin_mm", format!("{:?} is not finite", panel.origin_mm)));
        }
        if !(panel.pixel_mm.is_finite() && panel.pixel_mm > 0.0) {
            return Err(bad("pixel_mm", format!("{} must be positive", panel.pixel_mm)));
        }
        let max = crate::validate::MAX_PIXELS as i64;
        if panel.fpixels < 1 || panel.spixels < 1 || panel.fpixels.saturating_mul(panel.spixels) > max {
            return Err(bad("fpixels", format!("{} x {} pixels: at least 1 each, at most {max} in all", panel.fpixels, panel.spixels)));
        }
        let fast = unit_f64(panel.fast_axis);
        let slow = unit_f64(panel.slow_axis);
        let skew = dot(fast, slow);
        if skew.abs() > MAX_AXIS_SKEW {
            return Err(bad("slow_axis", format!("fast·slow = {skew:e}: the axes must be orthogonal (|f·s| ≤ {MAX_AXIS_SKEW:e})")));
        }
        let normal = unit_f64(cross_f64(fast, slow));
        let o = panel.origin_mm;
        let close_mm = dot(o, normal);
        if !(close_mm > 0.0) {
            return Err(bad("origin_mm", format!("the panel's plane is {close_mm} mm from the sample along its normal f × s: it must be in front (> 0)")));
        }
        Ok(PanelFrame { fast, slow, normal, fclose_mm: -dot(o, fast), sclose_mm: -dot(o, slow), close_mm })
    }
}

fn out_of_range(index: usize, count: usize) -> NanobraggError {
    NanobraggError::Invalid {
        input: "-panel (scene key detector.panels)".into(),
        problem: format!("panel {index} does not exist: the detector has {count} panel(s), numbered from 0"),
    }
}
