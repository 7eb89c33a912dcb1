//! Detector: pixel grid, pivot, beam-centre and near-point rules, distances, rotations and the
//! sensor (absorption and layers). The convention's vectors are resolved in `axes`.

use super::axes::resolve_axes;
use super::header::HeaderDefaults;
use super::steps::{one_step_if_degenerate, thickness_steps};
use super::Axes;
use crate::error::{NanobraggError, Result};
use crate::linalg::{cross_f64, dot_f64, unit_f64};
use crate::scene::{Convention, DetectorScene, PanelGroup, Pivot, Scene};
use crate::units;

/// How the beam centre parameters map to the detector-frame beam spot (Fbeam, Sbeam).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeamCenterMapping {
    /// MOSFLM: Fbeam = Ybeam + ½ pixel, Sbeam = Xbeam + ½ pixel.
    Mosflm,
    /// DENZO: Fbeam = Ybeam, Sbeam = Xbeam.
    Denzo,
    /// ADXV: Fbeam = Xbeam, Sbeam = detsize_s − Ybeam.
    Adxv,
    /// XDS, DIALS, CUSTOM: Fbeam = Xbeam, Sbeam = Ybeam.
    Direct,
}

/// Where the beam centre / near point come from when not given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CenterDefault {
    /// Given explicitly (mm converted to m).
    Given(f64),
    /// Default `(detsize + k·pixel)/2` with the given `k` (∈ {−1, 0, 1}).
    HalfDetector {
        /// Coefficient of the pixel size.
        pixel_coeff: f64,
    },
    /// From the XDS origin in pixels: `(ORG − ½)·pixel`.
    FromOrg(f64),
}

/// Resolved detector description (SI units).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorSetup {
    /// Convention in force.
    pub convention: Convention,
    /// Pivot in force.
    pub pivot: Pivot,
    /// Basis, beam, polarization, spindle and 2θ axes (unit vectors, before rotations).
    pub axes: Axes,
    /// Beam-centre mapping rule.
    pub mapping: BeamCenterMapping,
    /// Fast pixels.
    pub fpixels: usize,
    /// Slow pixels.
    pub spixels: usize,
    /// Pixel size (m).
    pub pixel_m: f64,
    /// Fast detector size (m) when fixed by `-detsize` rather than the pixel count.
    pub detsize_f_m: Option<f64>,
    /// Slow detector size (m) when fixed by `-detsize` rather than the pixel count.
    pub detsize_s_m: Option<f64>,
    /// Distance along the beam (m).
    pub distance_m: f64,
    /// Close distance along the normal (m), if given.
    pub close_distance_m: Option<f64>,
    /// Xbeam (m): the value given to `-Xbeam` (or its default rule).
    pub xbeam: CenterDefault,
    /// Ybeam (m): the value given to `-Ybeam` (or its default rule).
    pub ybeam: CenterDefault,
    /// Fclose (m) rule (XDS origin or half detector).
    pub fclose: CenterDefault,
    /// Sclose (m) rule.
    pub sclose: CenterDefault,
    /// Rotations about X, Y, Z (rad).
    pub rot_rad: [f64; 3],
    /// 2θ (rad).
    pub twotheta_rad: f64,
    /// Lab-frame translation applied last (m), `-panel_shift`.
    pub panel_shift_m: [f64; 3],
    /// Rotations about the panel's own fast, slow, normal axes through its centre (rad), `-panel_rot`.
    pub panel_rot_rad: [f64; 3],
    /// Rotations of the panel's group about its axes through its pivot (rad), `-group_rot`.
    pub group_rot_rad: [f64; 3],
    /// The group's frame: pivot (m) and unit fast, slow, normal axes; `None`: the panel's own.
    pub group_frame: Option<GroupFrame>,
    /// Curved detector.
    pub curved: bool,
    /// Point-pixel solid angle.
    pub point_pixel: bool,
    /// Attenuation coefficient μ (m⁻¹); 0 when absorption is off.
    pub mu_per_m: f64,
    /// Sensor thickness (m); 0 when absorption is off.
    pub thick_m: f64,
    /// Number of sensor layers.
    pub thick_steps: usize,
    /// Layer step (m).
    pub thick_step_m: f64,
}

/// Resolve the detector (SI units: m, rad, m⁻¹) from the flags, then the `-img`/`-mask` header
/// values, then the C program's defaults; pushes the C program's warnings in its order (odet,
/// then attenuation depth).
pub(super) fn resolve_detector(
    scene: &Scene,
    hdr: &HeaderDefaults,
    warnings: &mut Vec<String>,
) -> Result<DetectorSetup> {
    let d = &scene.detector;
    let grid = resolve_pixel_grid(d, hdr)?;
    let axes = resolve_axes(d, warnings)?;
    let centres = resolve_centres(d, hdr);
    let sensor = resolve_sensor(d, warnings);
    Ok(DetectorSetup {
        convention: d.convention,
        pivot: pivot_of(d),
        axes,
        mapping: mapping_of(d.convention),
        fpixels: grid.fpixels,
        spixels: grid.spixels,
        pixel_m: grid.pixel_m,
        detsize_f_m: grid.detsize_f_m,
        detsize_s_m: grid.detsize_s_m,
        distance_m: units::mm(d.distance_mm.or(hdr.distance_mm).unwrap_or(100.0)),
        close_distance_m: d.close_distance_mm.or(hdr.close_distance_mm).map(units::mm),
        xbeam: centres.xbeam,
        ybeam: centres.ybeam,
        fclose: centres.fclose,
        sclose: centres.sclose,
        rot_rad: [
            units::deg(d.rotx_deg.unwrap_or(0.0)),
            units::deg(d.roty_deg.unwrap_or(0.0)),
            units::deg(d.rotz_deg.unwrap_or(0.0)),
        ],
        twotheta_rad: units::deg(d.twotheta_deg.unwrap_or(0.0)),
        panel_shift_m: d.panel_shift_mm.unwrap_or([0.0; 3]).map(units::mm),
        panel_rot_rad: d.panel_rot_deg.unwrap_or([0.0; 3]).map(units::deg),
        group_rot_rad: d.group_rot_deg.unwrap_or([0.0; 3]).map(units::deg),
        group_frame: d.group.as_ref().map(GroupFrame::of).transpose()?,
        curved: d.curved_det,
        point_pixel: d.point_pixel,
        mu_per_m: sensor.mu_per_m,
        thick_m: sensor.thick_m,
        thick_steps: sensor.thick_steps,
        thick_step_m: sensor.thick_step_m,
    })
}

/// The frame of a panel group (SI units): the pivot of its rotations and its unit axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupFrame {
    /// Pivot (m, lab frame).
    pub pivot_m: [f64; 3],
    /// Unit fast axis.
    pub fast: [f64; 3],
    /// Unit slow axis.
    pub slow: [f64; 3],
    /// Unit normal, fast × slow.
    pub normal: [f64; 3],
}

impl GroupFrame {
    /// The frame of `group`; refuses zero, non-finite or parallel axes, naming the group.
    fn of(group: &PanelGroup) -> Result<Self> {
        let bad = || NanobraggError::Invalid {
            input: format!("detector group {:?}", group.name),
            problem: "its fast and slow axes must be finite, non-zero and not parallel".into(),
        };
        let unit = |v: [f64; 3]| {
            let n = dot_f64(v, v).sqrt();
            (n.is_finite() && n > 1e-12).then(|| unit_f64(v)).ok_or_else(bad)
        };
        let fast = unit(group.fast_axis)?;
        let slow = unit(group.slow_axis)?;
        let normal = unit(cross_f64(fast, slow))?;
        Ok(GroupFrame { pivot_m: group.pivot_mm.map(units::mm), fast, slow, normal })
    }
}

/// Pixel size and counts, with the detector size when `-detsize` rather than a count fixed it.
struct PixelGrid {
    pixel_m: f64,
    fpixels: usize,
    spixels: usize,
    detsize_f_m: Option<f64>,
    detsize_s_m: Option<f64>,
}

/// The pixel grid: pixel size (m; flag, header, 0.1 mm), then each axis's size (m) from a pixel
/// count (flag or header, which fix the size as in C) or `-detsize` (default 102.4 mm), and the
/// pixel counts `ceil(size/pixel − ½)`. Refuses a non-positive pixel and counts outside
/// 1..=[`crate::validate::MAX_PIXELS`] in all.
fn resolve_pixel_grid(d: &DetectorScene, hdr: &HeaderDefaults) -> Result<PixelGrid> {
    let pixel_m = units::mm(d.pixel_mm.or(hdr.pixel_mm).unwrap_or(0.1));
    if !(pixel_m > 0.0) || !pixel_m.is_finite() {
        return Err(NanobraggError::Scene("-pixel must be positive".into()));
    }
    let fpix_given = d.fpixels.or(hdr.fpixels).filter(|&n| n != 0);
    let spix_given = d.spixels.or(hdr.spixels).filter(|&n| n != 0);
    // Header pixel counts fix the detector size in the C program as well.
    let detsize_f_flag = d.detsize_f_mm.map(units::mm);
    let detsize_s_flag = d.detsize_s_mm.map(units::mm);
    let detsize_f = match fpix_given {
        Some(n) => pixel_m * n as f64,
        None => detsize_f_flag.unwrap_or(102.4e-3),
    };
    let detsize_s = match spix_given {
        Some(n) => pixel_m * n as f64,
        None => detsize_s_flag.unwrap_or(102.4e-3),
    };
    let fpixels = (detsize_f / pixel_m - 0.5).ceil();
    let spixels = (detsize_s / pixel_m - 0.5).ceil();
    if !(fpixels >= 1.0 && spixels >= 1.0) || fpixels * spixels > crate::validate::MAX_PIXELS as f64 {
        let mm = |m: f64| m * 1e3;
        return Err(NanobraggError::Invalid {
            input: "-detpixels/-detsize/-pixel".into(),
            problem: format!(
                "a detector of {} x {} mm in {} mm pixels has {} x {} pixels (at least 1, at most {} in all)",
                mm(detsize_f),
                mm(detsize_s),
                mm(pixel_m),
                fpixels.max(0.0),
                spixels.max(0.0),
                crate::validate::MAX_PIXELS
            ),
        });
    }
    Ok(PixelGrid {
        pixel_m,
        fpixels: fpixels as usize,
        spixels: spixels as usize,
        detsize_f_m: if fpix_given.is_some() { None } else { Some(detsize_f) },
        detsize_s_m: if spix_given.is_some() { None } else { Some(detsize_s) },
    })
}

/// The pivot: BEAM for MOSFLM, ADXV and DENZO, SAMPLE for XDS and DIALS, and for CUSTOM the
/// last pivot flag (default BEAM).
fn pivot_of(d: &DetectorScene) -> Pivot {
    match d.convention {
        Convention::Mosflm | Convention::Adxv | Convention::Denzo => Pivot::Beam,
        Convention::Xds | Convention::Dials => Pivot::Sample,
        Convention::Custom => d.pivot.unwrap_or(Pivot::Beam),
    }
}

/// The convention's rule from (Xbeam, Ybeam) to the detector-frame beam spot (Fbeam, Sbeam).
fn mapping_of(convention: Convention) -> BeamCenterMapping {
    match convention {
        Convention::Mosflm => BeamCenterMapping::Mosflm,
        Convention::Denzo => BeamCenterMapping::Denzo,
        Convention::Adxv => BeamCenterMapping::Adxv,
        _ => BeamCenterMapping::Direct,
    }
}

/// The beam-centre and near-point rules (values in m, as given to the flags or headers).
struct Centres {
    xbeam: CenterDefault,
    ybeam: CenterDefault,
    fclose: CenterDefault,
    sclose: CenterDefault,
}

/// Beam centre (Xbeam, Ybeam) and near point (Fclose, Sclose) rules, in m: given values (flag,
/// then header, mm → m), XDS origins (pixels), or the convention's half-detector defaults.
fn resolve_centres(d: &DetectorScene, hdr: &HeaderDefaults) -> Centres {
    let convention = d.convention;
    let given = |v: Option<f64>| v.map(|x| CenterDefault::Given(units::mm(x)));
    let orgx = d.orgx_px.or(hdr.orgx);
    let orgy = d.orgy_px.or(hdr.orgy);
    let fclose = orgx
        .map(CenterDefault::FromOrg)
        .unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 0.0 });
    let sclose = orgy
        .map(CenterDefault::FromOrg)
        .unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 0.0 });
    let xbeam_given = given(d.xbeam_mm.or(hdr.xbeam_mm));
    let ybeam_given = given(d.ybeam_mm.or(hdr.ybeam_mm));
    let xclose = given(d.xclose_mm);
    let yclose = given(d.yclose_mm);
    // Default beam centres per convention (C: only when Xbeam/Ybeam are NaN).
    let (xbeam, ybeam) = match convention {
        Convention::Adxv => (
            xbeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 1.0 }),
            ybeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: -1.0 }),
        ),
        Convention::Mosflm | Convention::Denzo => (
            xbeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 1.0 }),
            ybeam_given.unwrap_or(CenterDefault::HalfDetector { pixel_coeff: 1.0 }),
        ),
        // XDS, DIALS, CUSTOM: Xbeam defaults to Xclose, which defaults to Fclose.
        _ => (
            xbeam_given.or(xclose).unwrap_or(fclose),
            ybeam_given.or(yclose).unwrap_or(sclose),
        ),
    };
    // CUSTOM: the near point is the beam centre (Fclose = Xbeam, Sclose = Ybeam).
    let (fclose, sclose) = if convention == Convention::Custom {
        (xbeam, ybeam)
    } else {
        (fclose, sclose)
    };
    Centres {
        xbeam,
        ybeam,
        fclose,
        sclose,
    }
}

/// Sensor absorption and layers (m⁻¹, m).
struct Sensor {
    mu_per_m: f64,
    thick_m: f64,
    thick_steps: usize,
    thick_step_m: f64,
}

/// Sensor: attenuation μ (m⁻¹; 0 when absorption is off) from `-detector_abs` (µm), thickness
/// (m) from `-detector_thick` (µm) and its layers; a thick sensor without μ gets μ = 1/thickness
/// (with the C program's warning).
fn resolve_sensor(d: &DetectorScene, warnings: &mut Vec<String>) -> Sensor {
    // Absorption: -detector_abs inf/0 disables (μ = 0, thickness = 0) at the point it is given.
    let (mut mu, mut thick) = (-1.0_f64, 0.0_f64);
    if let Some(t) = d.thick_um {
        thick = units::um(t);
    }
    if let Some(depth) = d.abs_depth_um {
        if depth.is_infinite() || depth == 0.0 {
            // `-detector_abs inf|0` switches absorption off: μ = 0 and the thickness given so far
            // is dropped. The parser records that drop by setting `thick_um = Some(0)` at that
            // point, so a later `-detector_thick` (C: an all-zero image) still takes effect.
            mu = 0.0;
        } else {
            mu = 1.0 / units::um(depth);
        }
    }
    // Thickness auto-selection differs from divergence in the "range only" branch.
    let (tsteps, tthick, tstep) = thickness_steps(d.thick_steps.unwrap_or(-1), thick);
    if tthick > 0.0 && mu < 0.0 {
        mu = 1.0 / tthick;
        warnings.push(format!("WARNING: setting detector attenuation depth to {mu} m"));
    }
    let (thick_steps, thick_m, thick_step_m) = one_step_if_degenerate(tsteps, tthick, tstep);
    Sensor {
        mu_per_m: mu.max(0.0),
        thick_m,
        thick_steps,
        thick_step_m,
    }
}
