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
use crate::io::cfmt::format_g;
use crate::linalg::{dot, rotate_axis, rotate_xyz, scalar, to_vec, vec3};
use crate::params::Params;
use crate::scene::{Convention, Pivot};
use crate::setup::{BeamCenterMapping, DetectorSetup};

fn g15(x: f64) -> String {
    format_g(x, 15)
}

fn v15(t: &Tensor<impl Backend, 1>) -> String {
    let v = to_vec(t);
    format!("{} {} {}", g15(v[0]), g15(v[1]), g15(v[2]))
}

fn s15(t: &Tensor<impl Backend, 1>) -> String {
    g15(to_vec(t)[0])
}

/// `[a b c; d e f; g h i]` of a `[3, 3]` matrix.
fn m15<B: Backend>(m: &Tensor<B, 2>) -> String {
    let v = to_vec(m);
    let row = |i: usize| format!("{} {} {}", g15(v[3 * i]), g15(v[3 * i + 1]), g15(v[3 * i + 2]));
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

/// The detector block of `-trace_pixel` output for the detector `setup` and the parameters `p`
/// (a simulator's `setup.detector` and `params`).
pub fn detector_trace_lines<B: Backend>(setup: &DetectorSetup, p: &Params<B>) -> Result<Vec<String>> {
    let det = DetectorGeometry::new(setup, p)?;
    let device = p.pixel.device();
    let ax = &setup.axes;
    let [rx, ry, rz] = &p.rot;
    let (f0, s0, o0) = (vec3::<B>(ax.fdet, &device), vec3::<B>(ax.sdet, &device), vec3::<B>(ax.odet, &device));
    let beam = vec3::<B>(ax.beam, &device);
    let tt_axis = vec3::<B>(ax.twotheta, &device);
    let xyz = |v: &Tensor<B, 1>| rotate_xyz(v, rx, ry, rz);
    let mut out: Vec<String> = Vec::new();
    let mut kv = |key: &str, value: String| out.push(format!("TRACE_C:{key}={value}"));

    let convention = match setup.convention {
        Convention::Mosflm => "MOSFLM",
        Convention::Xds => "XDS",
        Convention::Adxv => "ADXV",
        Convention::Denzo => "DENZO",
        Convention::Dials => "DIALS",
        Convention::Custom => "CUSTOM",
    };
    let angles = format!(
        "rotx:{} roty:{} rotz:{} twotheta:{}",
        s15(rx),
        s15(ry),
        s15(rz),
        s15(&p.twotheta)
    );
    let pixel_mm = g15(to_vec(&p.pixel)[0] * 1000.0);
    let rotated_block = |kv: &mut dyn FnMut(&str, String)| {
        kv("fdet_after_rotz", v15(&xyz(&f0)));
        kv("sdet_after_rotz", v15(&xyz(&s0)));
        kv("odet_after_rotz", v15(&xyz(&o0)));
        kv("twotheta_axis", v15(&tt_axis));
        kv("fdet_after_twotheta", v15(&det.fdet));
        kv("sdet_after_twotheta", v15(&det.sdet));
        kv("odet_after_twotheta", v15(&det.odet));
    };
    let ratio = dot(&beam, &xyz(&o0));
    match setup.pivot {
        Pivot::Sample => {
            kv("detector_convention", convention.into());
            kv("angles_rad", angles);
            kv(
                "beam_center_m",
                format!("Xclose:{} Yclose:{} pixel_mm:{pixel_mm}", s15(&det.fclose), s15(&det.sclose)),
            );
            kv("initial_fdet", v15(&f0));
            kv("initial_sdet", v15(&s0));
            kv("initial_odet", v15(&o0));
            kv("Fclose_m", s15(&det.fclose));
            kv("Sclose_m", s15(&det.sclose));
            kv("close_distance_m", s15(&det.close_distance));
            kv("ratio", s15(&ratio));
            kv("distance_m", s15(&det.distance));
            let tf = f0.clone() * det.fclose.clone().neg();
            let ts = s0.clone() * det.sclose.clone().neg();
            let tc = o0.clone() * det.close_distance.clone();
            kv("term_fast_before_rot", v15(&tf));
            kv("term_slow_before_rot", v15(&ts));
            kv("term_close_before_rot", v15(&tc));
            let before = tf + ts + tc;
            kv("pix0_before_rotation", v15(&before));
            let after = xyz(&before);
            kv("pix0_after_rotz", v15(&after));
            kv("pix0_after_twotheta", v15(&rotate_axis(&after, &tt_axis, &p.twotheta)));
            rotated_block(&mut kv);
        }
        Pivot::Beam => {
            rotated_block(&mut kv);
            kv("detector_convention", convention.into());
            kv("angles_rad", angles);
            kv(
                "beam_center_m",
                format!("X:{} Y:{} pixel_mm:{pixel_mm}", s15(&det.xbeam), s15(&det.ybeam)),
            );
            kv("initial_fdet", v15(&f0));
            kv("initial_sdet", v15(&s0));
            kv("initial_odet", v15(&o0));
            let [mx, my, mz] = [rx, ry, rz].map(|a| axis_matrix(a));
            let total = mz[2].clone().matmul(my[1].clone()).matmul(mx[0].clone());
            kv("Rx", m15(&mx[0]));
            kv("Ry", m15(&my[1]));
            kv("Rz", m15(&mz[2]));
            kv("R_total", m15(&total));
            rotated_block(&mut kv);
            let mapping = match setup.mapping {
                BeamCenterMapping::Mosflm => "Fbeam←Ybeam_mm(+0.5px),Sbeam←Xbeam_mm(+0.5px)",
                BeamCenterMapping::Denzo => "Fbeam←Ybeam_mm,Sbeam←Xbeam_mm",
                BeamCenterMapping::Adxv => "Fbeam←Xbeam_mm,Sbeam←detsize_s−Ybeam_mm",
                BeamCenterMapping::Direct => "Fbeam←Xbeam_mm,Sbeam←Ybeam_mm",
            };
            let b = to_vec(&beam).iter().map(|&x| g15(x)).collect::<Vec<_>>().join(" ");
            kv("convention_mapping", format!("{mapping},beam_vec=[{b}]"));
            kv("Fbeam_m", s15(&det.fbeam));
            kv("Sbeam_m", s15(&det.sbeam));
            kv("distance_m", s15(&det.distance));
            kv("term_fast", v15(&(det.fdet.clone() * det.fbeam.clone().neg())));
            kv("term_slow", v15(&(det.sdet.clone() * det.sbeam.clone().neg())));
            kv("term_beam", v15(&(beam.clone() * det.distance.clone())));
            kv("pix0_vector", v15(&det.pix0));
        }
    }
    Ok(out)
}
