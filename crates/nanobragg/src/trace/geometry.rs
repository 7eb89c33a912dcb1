//! The detector-setup block of a trace (`TRACE_C:key=value` lines), in the C program's order
//! for the scene's pivot, computed from the render's parameter tensors.
//!
//! Where the C program's instrumented lines print something other than their key says, ours
//! print what the key says (see `docs/debugging.md`): `beam_center_m` is in metres (C divides the
//! metre value by 1000 once more), `*_after_rotz` are the vectors after the X/Y/Z rotations and
//! before 2θ (the C BEAM-pivot block repeats the final vectors), and the convention and initial
//! vectors are the scene's (C's BEAM-pivot block always says MOSFLM).

use burn::tensor::{backend::Backend, Tensor};

use crate::detector::DetectorGeometry;
use crate::error::Result;
use crate::linalg::{dot, rotate_axis, rotate_xyz, scalar, to_vec, vec3};
use crate::params::Params;
use crate::scene::{Convention, Pivot};
use crate::setup::{BeamCenterMapping, DetectorSetup};

use super::{g15, vec15};

/// A `[3]` tensor in [`vec15`].
fn v15(t: &Tensor<impl Backend, 1>) -> String {
    let v = to_vec(t);
    vec15([v[0], v[1], v[2]])
}

fn s15(t: &Tensor<impl Backend, 1>) -> String {
    g15(to_vec(t)[0])
}

/// `[a b c; d e f; g h i]` of a `[3, 3]` matrix.
fn m15<B: Backend>(m: &Tensor<B, 2>) -> String {
    let v = to_vec(m);
    let row = |i: usize| vec15([v[3 * i], v[3 * i + 1], v[3 * i + 2]]);
    format!("[{}; {}; {}]", row(0), row(1), row(2))
}

/// The rotation matrices about X, Y and Z by `angle` (rad), `[3, 3]` each, written out entry
/// by entry as the C trace writes them (so a zero angle shows the same signed zeros).
fn axis_matrix<B: Backend>(angle: &Tensor<B, 1>) -> [Tensor<B, 2>; 3] {
    let device = angle.device();
    let (s, c) = (angle.clone().sin(), angle.clone().cos());
    let (one, zero) = (scalar::<B>(1.0, &device), scalar::<B>(0.0, &device));
    let m = |e: [&Tensor<B, 1>; 9]| Tensor::cat(e.map(Clone::clone).to_vec(), 0).reshape([3, 3]);
    let ns = s.clone().neg();
    [
        m([&one, &zero, &zero, &zero, &c, &ns, &zero, &s, &c]),
        m([&c, &zero, &s, &zero, &one, &zero, &ns, &zero, &c]),
        m([&c, &ns, &zero, &s, &c, &zero, &zero, &zero, &one]),
    ]
}

/// The unrotated axes, the beam and the built geometry that the trace lines print from.
struct TraceFrame<'a, B: Backend> {
    p: &'a Params<B>,
    det: DetectorGeometry<B>,
    f0: Tensor<B, 1>,
    s0: Tensor<B, 1>,
    o0: Tensor<B, 1>,
    beam: Tensor<B, 1>,
    tt_axis: Tensor<B, 1>,
}

impl<B: Backend> TraceFrame<'_, B> {
    /// A vector after the X/Y/Z rotations (before 2θ).
    fn xyz(&self, v: &Tensor<B, 1>) -> Tensor<B, 1> {
        let [rx, ry, rz] = &self.p.rot;
        rotate_xyz(v, rx, ry, rz)
    }
}

/// The detector block of `-trace_pixel` output for the detector `setup` and the parameters `p`
/// (a simulator's `setup.detector` and `params`).
pub fn detector_trace_lines<B: Backend>(setup: &DetectorSetup, p: &Params<B>) -> Result<Vec<String>> {
    let t = trace_frame(setup, p)?;
    let mut out: Vec<String> = Vec::new();
    match setup.pivot {
        Pivot::Sample => sample_pivot_lines(&mut out, setup, &t),
        Pivot::Beam => beam_pivot_lines(&mut out, setup, &t),
    }
    Ok(out)
}

/// The detector geometry and the setup's unrotated vectors.
fn trace_frame<'a, B: Backend>(setup: &DetectorSetup, p: &'a Params<B>) -> Result<TraceFrame<'a, B>> {
    let det = DetectorGeometry::new(setup, p)?;
    let device = p.pixel.device();
    let ax = &setup.axes;
    let (f0, s0, o0) = (vec3::<B>(ax.fdet, &device), vec3::<B>(ax.sdet, &device), vec3::<B>(ax.odet, &device));
    let beam = vec3::<B>(ax.beam, &device);
    let tt_axis = vec3::<B>(ax.twotheta, &device);
    Ok(TraceFrame { p, det, f0, s0, o0, beam, tt_axis })
}

/// Appends one `TRACE_C:key=value` line.
fn kv(out: &mut Vec<String>, key: &str, value: String) {
    out.push(format!("TRACE_C:{key}={value}"));
}

/// The convention's name as the trace prints it.
fn convention_name(convention: Convention) -> &'static str {
    match convention {
        Convention::Mosflm => "MOSFLM",
        Convention::Xds => "XDS",
        Convention::Adxv => "ADXV",
        Convention::Denzo => "DENZO",
        Convention::Dials => "DIALS",
        Convention::Custom => "CUSTOM",
    }
}

/// Convention, angles, beam centre (`beam_center`, after `beam_center_m=`) and initial vectors.
fn header_lines<B: Backend>(out: &mut Vec<String>, setup: &DetectorSetup, t: &TraceFrame<'_, B>, beam_center: String) {
    let [rx, ry, rz] = &t.p.rot;
    let angles = format!(
        "rotx:{} roty:{} rotz:{} twotheta:{}",
        s15(rx),
        s15(ry),
        s15(rz),
        s15(&t.p.twotheta)
    );
    kv(out, "detector_convention", convention_name(setup.convention).into());
    kv(out, "angles_rad", angles);
    kv(out, "beam_center_m", beam_center);
    kv(out, "initial_fdet", v15(&t.f0));
    kv(out, "initial_sdet", v15(&t.s0));
    kv(out, "initial_odet", v15(&t.o0));
}

/// The pixel size in mm as the beam-centre line prints it.
fn pixel_mm<B: Backend>(p: &Params<B>) -> String {
    g15(to_vec(&p.pixel)[0] * 1000.0)
}

/// The axes after the X/Y/Z rotations, the 2θ axis, and the axes after 2θ.
fn rotated_lines<B: Backend>(out: &mut Vec<String>, t: &TraceFrame<'_, B>) {
    kv(out, "fdet_after_rotz", v15(&t.xyz(&t.f0)));
    kv(out, "sdet_after_rotz", v15(&t.xyz(&t.s0)));
    kv(out, "odet_after_rotz", v15(&t.xyz(&t.o0)));
    kv(out, "twotheta_axis", v15(&t.tt_axis));
    kv(out, "fdet_after_twotheta", v15(&t.det.fdet));
    kv(out, "sdet_after_twotheta", v15(&t.det.sdet));
    kv(out, "odet_after_twotheta", v15(&t.det.odet));
}

/// The SAMPLE-pivot block: near point, distances, pix0 built from its terms, then the axes.
fn sample_pivot_lines<B: Backend>(out: &mut Vec<String>, setup: &DetectorSetup, t: &TraceFrame<'_, B>) {
    let det = &t.det;
    let ratio = dot(&t.beam, &t.xyz(&t.o0));
    let beam_center = format!(
        "Xclose:{} Yclose:{} pixel_mm:{}",
        s15(&det.fclose),
        s15(&det.sclose),
        pixel_mm(t.p)
    );
    header_lines(out, setup, t, beam_center);
    kv(out, "Fclose_m", s15(&det.fclose));
    kv(out, "Sclose_m", s15(&det.sclose));
    kv(out, "close_distance_m", s15(&det.close_distance));
    kv(out, "ratio", s15(&ratio));
    kv(out, "distance_m", s15(&det.distance));
    let tf = t.f0.clone() * det.fclose.clone().neg();
    let ts = t.s0.clone() * det.sclose.clone().neg();
    let tc = t.o0.clone() * det.close_distance.clone();
    kv(out, "term_fast_before_rot", v15(&tf));
    kv(out, "term_slow_before_rot", v15(&ts));
    kv(out, "term_close_before_rot", v15(&tc));
    let before = tf + ts + tc;
    kv(out, "pix0_before_rotation", v15(&before));
    let after = t.xyz(&before);
    kv(out, "pix0_after_rotz", v15(&after));
    kv(out, "pix0_after_twotheta", v15(&rotate_axis(&after, &t.tt_axis, &t.p.twotheta)));
    rotated_lines(out, t);
}

/// The BEAM-pivot block: axes, header, rotation matrices, axes again, mapping and pix0's terms.
fn beam_pivot_lines<B: Backend>(out: &mut Vec<String>, setup: &DetectorSetup, t: &TraceFrame<'_, B>) {
    let det = &t.det;
    rotated_lines(out, t);
    let beam_center = format!("X:{} Y:{} pixel_mm:{}", s15(&det.xbeam), s15(&det.ybeam), pixel_mm(t.p));
    header_lines(out, setup, t, beam_center);
    rotation_matrix_lines(out, t.p);
    rotated_lines(out, t);
    let b = to_vec(&t.beam).iter().map(|&x| g15(x)).collect::<Vec<_>>().join(" ");
    kv(out, "convention_mapping", format!("{},beam_vec=[{b}]", mapping_name(setup.mapping)));
    kv(out, "Fbeam_m", s15(&det.fbeam));
    kv(out, "Sbeam_m", s15(&det.sbeam));
    kv(out, "distance_m", s15(&det.distance));
    kv(out, "term_fast", v15(&(det.fdet.clone() * det.fbeam.clone().neg())));
    kv(out, "term_slow", v15(&(det.sdet.clone() * det.sbeam.clone().neg())));
    kv(out, "term_beam", v15(&(t.beam.clone() * det.distance.clone())));
    kv(out, "pix0_vector", v15(&det.pix0));
}

/// Rx, Ry, Rz and their product R_total = Rz·Ry·Rx.
fn rotation_matrix_lines<B: Backend>(out: &mut Vec<String>, p: &Params<B>) {
    let [rx, ry, rz] = &p.rot;
    let [mx, my, mz] = [rx, ry, rz].map(|a| axis_matrix(a));
    let total = mz[2].clone().matmul(my[1].clone()).matmul(mx[0].clone());
    kv(out, "Rx", m15(&mx[0]));
    kv(out, "Ry", m15(&my[1]));
    kv(out, "Rz", m15(&mz[2]));
    kv(out, "R_total", m15(&total));
}

/// How the beam centre maps to (Fbeam, Sbeam), as the trace prints it.
fn mapping_name(mapping: BeamCenterMapping) -> &'static str {
    match mapping {
        BeamCenterMapping::Mosflm => "Fbeam←Ybeam_mm(+0.5px),Sbeam←Xbeam_mm(+0.5px)",
        BeamCenterMapping::Denzo => "Fbeam←Ybeam_mm,Sbeam←Xbeam_mm",
        BeamCenterMapping::Adxv => "Fbeam←Xbeam_mm,Sbeam←detsize_s−Ybeam_mm",
        BeamCenterMapping::Direct => "Fbeam←Xbeam_mm,Sbeam←Ybeam_mm",
    }
}
