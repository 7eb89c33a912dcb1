//! Detector geometry as tensor ops: basis rotations, pivots, the r-factor distance update,
//! and the derived beam centre / near point / XDS and DIALS origins.
//!
//! Conventions (see `docs/parity.md`): rotations about lab X, Y, Z then 2θ about the 2θ axis;
//! `ratio = b·o` uses the normal after the X/Y/Z rotations only; BEAM pivot keeps the direct-beam
//! spot at (Fbeam, Sbeam), SAMPLE pivot keeps the near point (Fclose, Sclose). Then the panel
//! motion (`-panel_shift`, `-panel_rot`: rotations about the panel's own axes through its
//! centre, and a lab-frame translation), which is zero in every C scene.

use burn::tensor::{backend::Backend, Tensor};

use crate::error::{NanobraggError, Result};
use crate::linalg::{cross_f64, dot, rotate_axis, rotate_axis_f64, rotate_xyz, rows, scalar, to_f64, unit_f64, vec3};
use crate::params::Params;
use crate::scene::{Convention, Pivot};
use crate::setup::{BeamCenterMapping, CenterDefault, DetectorSetup};

/// The detector in the lab frame (metres), after all rotations.
#[derive(Debug, Clone)]
pub struct DetectorGeometry<B: Backend> {
    /// Fast axis `[3]`.
    pub fdet: Tensor<B, 1>,
    /// Slow axis `[3]`.
    pub sdet: Tensor<B, 1>,
    /// Normal `[3]`.
    pub odet: Tensor<B, 1>,
    /// Beam direction `[3]` (constant).
    pub beam: Tensor<B, 1>,
    /// Vector from the sample to the corner of pixel (0, 0) `[3]`.
    pub pix0: Tensor<B, 1>,
    /// Distance from the sample to the detector plane along the normal `[1]`.
    pub close_distance: Tensor<B, 1>,
    /// Distance along the beam, `close_distance / ratio` `[1]`.
    pub distance: Tensor<B, 1>,
    /// Direct-beam spot on the detector (fast, slow) in metres `[1]` each.
    pub fbeam: Tensor<B, 1>,
    /// Slow coordinate of the direct-beam spot.
    pub sbeam: Tensor<B, 1>,
    /// Near point (fast) in metres.
    pub fclose: Tensor<B, 1>,
    /// Near point (slow) in metres.
    pub sclose: Tensor<B, 1>,
    /// Xbeam (m) as used for headers.
    pub xbeam: Tensor<B, 1>,
    /// Ybeam (m) as used for headers.
    pub ybeam: Tensor<B, 1>,
    /// Fast detector size (m).
    pub detsize_f: Tensor<B, 1>,
    /// Slow detector size (m).
    pub detsize_s: Tensor<B, 1>,
}

#[derive(Clone, Copy)]
enum Along {
    X,
    Y,
}

/// Beam centre and near point in metres, before any rotation.
struct Centres<B: Backend> {
    xbeam: Tensor<B, 1>,
    ybeam: Tensor<B, 1>,
    fclose0: Tensor<B, 1>,
    sclose0: Tensor<B, 1>,
    fbeam0: Tensor<B, 1>,
    sbeam0: Tensor<B, 1>,
}

/// The rotated detector frame: unit axes, the beam, pix0 and `ratio = b·o`.
struct Frame<B: Backend> {
    fdet: Tensor<B, 1>,
    sdet: Tensor<B, 1>,
    odet: Tensor<B, 1>,
    beam: Tensor<B, 1>,
    pix0: Tensor<B, 1>,
    ratio: Tensor<B, 1>,
}

impl<B: Backend> DetectorGeometry<B> {
    /// Build the geometry from the resolved setup and the parameter tensors.
    pub fn new(setup: &DetectorSetup, p: &Params<B>) -> Result<Self> {
        let (detsize_f, detsize_s) = detector_sizes(setup, p);
        let centres = centres(setup, p, &detsize_f, &detsize_s);
        let frame = moved(rotated_frame(setup, p, &centres)?, setup, p, &detsize_f, &detsize_s);
        from_frame(frame, centres, detsize_f, detsize_s)
    }

    /// DIALS origin (mm): pix0 projected on lab (0,0,1), (0,1,0), (−1,0,0).
    pub fn dials_origin_mm(&self) -> [f64; 3] {
        let p = crate::linalg::to_vec(&self.pix0);
        [1000.0 * p[2], 1000.0 * p[1], -1000.0 * p[0]]
    }
}

/// Detector sizes (fast, slow) in metres: given, or pixel size times pixel count.
fn detector_sizes<B: Backend>(setup: &DetectorSetup, p: &Params<B>) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let device = p.pixel.device();
    let pixel = p.pixel.clone();
    let detsize_f = match setup.detsize_f_m {
        Some(v) => scalar(v, &device),
        None => pixel.clone() * setup.fpixels as f64,
    };
    let detsize_s = match setup.detsize_s_m {
        Some(v) => scalar(v, &device),
        None => pixel.clone() * setup.spixels as f64,
    };
    (detsize_f, detsize_s)
}

/// Xbeam/Ybeam, the near point and the direct-beam spot from the setup's defaults and mapping.
fn centres<B: Backend>(
    setup: &DetectorSetup,
    p: &Params<B>,
    detsize_f: &Tensor<B, 1>,
    detsize_s: &Tensor<B, 1>,
) -> Centres<B> {
    let device = p.pixel.device();
    let pixel = p.pixel.clone();
    let named_mosflm = matches!(setup.convention, Convention::Mosflm | Convention::Denzo);
    let eval = |c: CenterDefault, along: Along, given: &Option<Tensor<B, 1>>| -> Tensor<B, 1> {
        match c {
            CenterDefault::Given(v) => given.clone().unwrap_or_else(|| scalar(v, &device)),
            CenterDefault::FromOrg(org) => pixel.clone() * (org - 0.5),
            CenterDefault::HalfDetector { pixel_coeff } => {
                // MOSFLM/DENZO put Xbeam along the slow axis, the others along the fast axis.
                let size = match (along, named_mosflm) {
                    (Along::X, true) | (Along::Y, false) => detsize_s.clone(),
                    (Along::X, false) | (Along::Y, true) => detsize_f.clone(),
                };
                (size + pixel.clone() * pixel_coeff) / 2.0
            }
        }
    };
    let xbeam = eval(setup.xbeam, Along::X, &p.xbeam);
    let ybeam = eval(setup.ybeam, Along::Y, &p.ybeam);
    let (fclose0, sclose0) = if setup.convention == Convention::Custom {
        (xbeam.clone(), ybeam.clone())
    } else {
        (
            eval(setup.fclose, Along::X, &None),
            eval(setup.sclose, Along::Y, &None),
        )
    };
    let (fbeam0, sbeam0) = match setup.mapping {
        BeamCenterMapping::Mosflm => (
            ybeam.clone() + pixel.clone() * 0.5,
            xbeam.clone() + pixel.clone() * 0.5,
        ),
        BeamCenterMapping::Denzo => (ybeam.clone(), xbeam.clone()),
        BeamCenterMapping::Adxv => (xbeam.clone(), detsize_s.clone() - ybeam.clone()),
        BeamCenterMapping::Direct => (xbeam.clone(), ybeam.clone()),
    };
    Centres { xbeam, ybeam, fclose0, sclose0, fbeam0, sbeam0 }
}

/// Rotate the axes (and, with the sample pivot, pix0) through X/Y/Z then 2θ; place pix0.
fn rotated_frame<B: Backend>(setup: &DetectorSetup, p: &Params<B>, c: &Centres<B>) -> Result<Frame<B>> {
    let device = p.pixel.device();
    let ax = &setup.axes;
    let beam = vec3::<B>(ax.beam, &device);
    let f0 = vec3::<B>(ax.fdet, &device);
    let s0 = vec3::<B>(ax.sdet, &device);
    let o0 = vec3::<B>(ax.odet, &device);
    let tt_axis = vec3::<B>(ax.twotheta, &device);
    let [rx, ry, rz] = &p.rot;
    // The detector rotations turn every vector the same way: the unit vectors (and, with
    // the sample pivot, pix0's unrotated position) go through them together as the rows of
    // one batch — the same arithmetic per vector, a fraction of the graph's ops.
    let mut xyz = rotate_xyz(&Tensor::stack::<2>(vec![f0.clone(), s0.clone(), o0.clone()], 0), rx, ry, rz);
    let ratio = dot(&beam, &rows(&xyz)[2]);
    let ratio_value = to_f64(&ratio);
    if !ratio_value.is_finite() || ratio_value.abs() < 1e-12 {
        return Err(NanobraggError::Geometry(
            "the beam is parallel to the detector plane (check -detector_rot*, -twotheta and the vectors)".into(),
        ));
    }
    let close0 = match &p.close_distance {
        Some(c) => c.clone(),
        None => (ratio.clone() * p.distance.clone()).abs(),
    };
    let distance0 = close0.clone() / ratio.clone();
    if setup.pivot == Pivot::Sample {
        // pix0's unrotated position needs close0, which needs the rotated o (the ratio)
        // unless given: it joins the batch after the lab rotations, before 2θ.
        let start = f0.clone() * c.fclose0.clone().neg() - s0.clone() * c.sclose0.clone() + o0.clone() * close0.clone();
        xyz = Tensor::cat(vec![xyz, rotate_xyz(&start.unsqueeze_dim::<2>(0), rx, ry, rz)], 0);
    }
    let turned = rows(&rotate_axis(&xyz, &tt_axis, &p.twotheta));
    let (fdet, sdet, odet) = (turned[0].clone(), turned[1].clone(), turned[2].clone());
    let pix0 = match setup.pivot {
        Pivot::Sample => turned[3].clone(),
        Pivot::Beam => fdet.clone() * c.fbeam0.clone().neg() - sdet.clone() * c.sbeam0.clone() + beam.clone() * distance0,
    };
    Ok(Frame { fdet, sdet, odet, beam, pix0, ratio })
}

/// The panel motion, applied after every placement rule of the C program, in three steps:
///
/// 1. rotations about the panel's own fast, slow and normal axes (as they stand before the
///    motion, in that order) through the panel's centre `pix0 + ½(detsize_f·f + detsize_s·s)`;
/// 2. rotations of the panel's group as a rigid body about the group's fast, slow and normal
///    axes through the group's pivot ([`crate::setup::GroupFrame`]; without a group, the panel's own axes
///    and centre as in step 1);
/// 3. the lab-frame translation.
///
/// Each rotation moves pix0 by `d′ − d` (`d` the pivot-to-pix0 vector), so that zero motion
/// leaves every vector bit for bit as it was (the C parity of the one-panel case). `ratio`
/// follows the normal: `ratio·(b·o′)/(b·o)`, exactly `ratio` when `o′ = o`.
fn moved<B: Backend>(
    frame: Frame<B>,
    setup: &DetectorSetup,
    p: &Params<B>,
    detsize_f: &Tensor<B, 1>,
    detsize_s: &Tensor<B, 1>,
) -> Frame<B> {
    let Frame { fdet, sdet, odet, beam, pix0, ratio } = frame;
    let device = p.pixel.device();
    let corner = (fdet.clone() * detsize_f.clone() + sdet.clone() * detsize_s.clone()) * -0.5;
    let (group_axes, group_pivot) = match &setup.group_frame {
        Some(g) => ([g.fast, g.slow, g.normal].map(|v| vec3::<B>(v, &device)), vec3::<B>(g.pivot_m, &device)),
        None => ([fdet.clone(), sdet.clone(), odet.clone()], pix0.clone() - corner.clone()),
    };
    let turn = |axes: [Tensor<B, 1>; 3], angles: &[Tensor<B, 1>; 3], basis: [Tensor<B, 1>; 3], arm: Tensor<B, 1>| {
        let [f, s, o] = basis;
        let mut batch = Tensor::stack::<2>(vec![f, s, o, arm.clone()], 0);
        for (axis, angle) in axes.iter().zip(angles) {
            batch = rotate_axis(&batch, axis, angle);
        }
        let r = rows(&batch);
        ([r[0].clone(), r[1].clone(), r[2].clone()], r[3].clone() - arm)
    };
    let own = [fdet.clone(), sdet.clone(), odet.clone()];
    let (basis, moved_by) = turn(own.clone(), &p.panel_rot, own, corner);
    let pix0 = pix0 + moved_by;
    let arm = pix0.clone() - group_pivot;
    let ([f, s, o], moved_by) = turn(group_axes, &p.group_rot, basis, arm);
    let [sx, sy, sz] = &p.panel_shift;
    let pix0 = pix0 + moved_by + Tensor::cat(vec![sx.clone(), sy.clone(), sz.clone()], 0);
    let ratio = ratio * (dot(&beam, &o) / dot(&beam, &odet));
    Frame { fdet: f, sdet: s, odet: o, beam, pix0, ratio }
}

/// A panel's frame in the lab (any length unit): the corner of pixel (0, 0) and unit axes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelPlacement {
    /// Corner of pixel (0, 0).
    pub origin: [f64; 3],
    /// Unit fast axis.
    pub fast: [f64; 3],
    /// Unit slow axis.
    pub slow: [f64; 3],
}

/// The motion of `moved` (the tensor form) in scalar form (host f64, for file writers and previews): `size` is
/// the panel's extent along fast and slow, `group` its group's pivot and unit axes (fast,
/// slow, normal) in the unit of `p.origin`, angles in rad, `shift` in that unit.
pub fn moved_f64(
    p: PanelPlacement,
    size: [f64; 2],
    panel_rot: [f64; 3],
    group: Option<([f64; 3], [[f64; 3]; 3])>,
    group_rot: [f64; 3],
    shift: [f64; 3],
) -> PanelPlacement {
    let normal = unit_f64(cross_f64(p.fast, p.slow));
    let own = [p.fast, p.slow, normal];
    let half: [f64; 3] = std::array::from_fn(|k| 0.5 * (size[0] * p.fast[k] + size[1] * p.slow[k]));
    let centre: [f64; 3] = std::array::from_fn(|k| p.origin[k] + half[k]);
    let (pivot, axes) = group.unwrap_or((centre, own));
    let turn = |v: [f64; 3], axes: &[[f64; 3]; 3], angles: [f64; 3]| {
        (0..3).fold(v, |v, i| rotate_axis_f64(v, axes[i], angles[i]))
    };
    let corner = turn(half.map(|x| -x), &own, panel_rot);
    let origin: [f64; 3] = std::array::from_fn(|k| centre[k] + corner[k]);
    let arm = turn(std::array::from_fn(|k| origin[k] - pivot[k]), &axes, group_rot);
    PanelPlacement {
        origin: std::array::from_fn(|k| pivot[k] + arm[k] + shift[k]),
        fast: turn(turn(p.fast, &own, panel_rot), &axes, group_rot),
        slow: turn(turn(p.slow, &own, panel_rot), &axes, group_rot),
    }
}

/// Near point, close distance, beam spot and distance read back from the rotated frame.
fn from_frame<B: Backend>(
    frame: Frame<B>,
    c: Centres<B>,
    detsize_f: Tensor<B, 1>,
    detsize_s: Tensor<B, 1>,
) -> Result<DetectorGeometry<B>> {
    let Frame { fdet, sdet, odet, beam, pix0, ratio } = frame;
    let fclose = dot(&pix0, &fdet).neg();
    let sclose = dot(&pix0, &sdet).neg();
    let close_distance = dot(&pix0, &odet);
    let to_beam = beam.clone() * (close_distance.clone() / ratio.clone()) - pix0.clone();
    let fbeam = dot(&fdet, &to_beam);
    let sbeam = dot(&sdet, &to_beam);
    let distance = close_distance.clone() / ratio;
    if to_f64(&close_distance) <= 0.0 {
        return Err(NanobraggError::Geometry(
            "the detector plane is behind the sample (close distance ≤ 0)".into(),
        ));
    }
    Ok(DetectorGeometry {
        fdet,
        sdet,
        odet,
        beam,
        pix0,
        close_distance,
        distance,
        fbeam,
        sbeam,
        fclose,
        sclose,
        xbeam: c.xbeam,
        ybeam: c.ybeam,
        detsize_f,
        detsize_s,
    })
}
