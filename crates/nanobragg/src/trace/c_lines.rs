//! [`PixelReport`]s written as the C program writes them: the `TRACE_C:` / `TRACE_C_PHI` lines
//! of `-trace_pixel` and the per-pixel block of `-printout`.
//!
//! Key names, their order and the `%.15g` precision are the C program's, so that a C trace and
//! ours can be diffed line by line. The lines follow the C loop: sensor layers, then sub-pixels
//! (slow-major); for source 0 of each, the geometry lines; unless `-dmin` culled it, the cell
//! and Miller-index lines of φ step 0 / mosaic domain 0, one `TRACE_C_PHI` line per φ step, and
//! `F_cell` (skipped, as in C, where F_latt is 0 and there is no water background).

use crate::io::cfmt::{format_f, format_g};
use crate::units::R_E_SQR;

use super::{g15, vec15, EvaluationValues, PixelReport, SceneValues, StepValues, SubpixelValues};

/// Lines under construction.
struct Lines(Vec<String>);

impl Lines {
    /// A `TRACE_C: key value` line.
    fn line(&mut self, key: &str, value: String) {
        self.0.push(format!("TRACE_C: {key} {value}"));
    }

    /// Three lines, one per axis or factor, in order.
    fn lines3(&mut self, keys: [&str; 3], values: [String; 3]) {
        for (key, value) in keys.into_iter().zip(values) {
            self.line(key, value);
        }
    }
}

fn nearest(x: f64) -> i64 {
    (x - 0.5).ceil() as i64
}

/// The `TRACE_C` lines of one pixel (without the detector block, see
/// [`super::detector_trace_lines`]).
pub fn pixel_trace_lines(r: &PixelReport) -> Vec<String> {
    let s = &r.scene;
    let mut out = Lines(Vec::new());
    let first_omega = r.subpixels[0].omega;
    for e in r.evaluations.iter().filter(|e| e.source == 0) {
        let sub = &r.subpixels[e.subpixel];
        let omega = if s.oversample_flags[2] { sub.omega } else { first_omega };
        evaluation_geometry_lines(&mut out, s, sub, e, omega);
        if !e.active {
            continue;
        }
        phi_step_lines(&mut out, s, e);
    }
    closing_lines(&mut out, r);
    out.0
}

/// Positions, distances, solid angle and vectors of one evaluation (source 0 of a sub-pixel).
fn evaluation_geometry_lines(
    out: &mut Lines,
    s: &SceneValues,
    sub: &SubpixelValues,
    e: &EvaluationValues,
    omega: f64,
) {
    out.line("pix0_vector_meters", vec15(s.pix0));
    out.line("fdet_vec", vec15(s.fdet));
    out.line("sdet_vec", vec15(s.sdet));
    out.line("pixel_pos_meters", vec15(sub.position));
    out.line("R_distance_meters", g15(sub.airpath));
    out.line("omega_pixel_sr", g15(omega));
    out.line("close_distance_meters", g15(s.close_distance));
    out.line("obliquity_factor", g15(s.close_distance / sub.airpath));
    out.line("diffracted_vec", vec15(sub.diffracted));
    out.line("incident_vec", vec15(s.incident[0]));
    out.line("lambda_meters", g15(s.lambda_m[0]));
    out.line("lambda_angstroms", g15(s.lambda_m[0] * 1e10));
    out.line("scattering_vec_A_inv", vec15(e.scattering));
}

/// Per φ step (mosaic domain 0) of an active evaluation: step 0's cell, Miller-index and
/// F_latt lines, a `TRACE_C_PHI` line per step (SQUARE shape), and step 0's F_cell.
fn phi_step_lines(out: &mut Lines, s: &SceneValues, e: &EvaluationValues) {
    let domains = s.domains.max(1);
    for (phi_tic, phi_deg) in s.phi_deg.iter().enumerate() {
        let step: &StepValues = &e.steps[phi_tic * domains];
        if phi_tic == 0 {
            first_step_lines(out, s, step);
        }
        if let Some(axes) = step.f_latt_axes {
            if phi_tic == 0 {
                out.line("F_latt_a", g15(axes[0]));
                out.line("F_latt_b", g15(axes[1]));
                out.line("F_latt_c", g15(axes[2]));
                out.line("F_latt", g15(step.f_latt));
            }
            out.0.push(format!(
                "TRACE_C_PHI phi_tic={phi_tic} phi_deg={} k_frac={} F_latt_b={} F_latt={}",
                g15(*phi_deg),
                g15(step.hkl[1]),
                g15(axes[1]),
                g15(step.f_latt)
            ));
        }
        if step.f_latt == 0.0 && s.water_m == 0.0 {
            continue;
        }
        if phi_tic == 0 {
            out.line("F_cell", g15(step.f_cell));
        }
    }
}

/// The rotated cell (Å), reciprocal vectors and Miller indices of φ step 0.
fn first_step_lines(out: &mut Lines, s: &SceneValues, step: &StepValues) {
    let ang = |v: [f64; 3]| vec15(v.map(|x| x * 1e10));
    out.lines3(["rot_a_angstroms", "rot_b_angstroms", "rot_c_angstroms"], step.cell_m.map(ang));
    out.lines3(["rot_a_star_A_inv", "rot_b_star_A_inv", "rot_c_star_A_inv"], s.reciprocal.map(vec15));
    out.line("hkl_frac", vec15(step.hkl));
    let [h0, k0, l0] = step.hkl.map(nearest);
    out.line("hkl_rounded", format!("{h0} {k0} {l0}"));
}

/// Intensity, constants, oversampling flags, the pixel's factors and its final value.
fn closing_lines(out: &mut Lines, r: &PixelReport) {
    let s = &r.scene;
    let last_sub = r.subpixels.last().expect("at least one sub-pixel");
    let last_incident = *s.incident.last().expect("at least one source");
    let cos2theta: f64 = (0..3).map(|i| last_incident[i] * last_sub.diffracted[i]).sum();
    let flag = |b: bool| i32::from(b).to_string();
    out.line("I_before_scaling", g15(r.intensity));
    out.line("r_e_meters", g15(R_E_SQR.sqrt()));
    out.line("r_e_sqr", g15(R_E_SQR));
    out.line("fluence_photons_per_m2", g15(s.fluence));
    out.line("steps", s.steps.to_string());
    out.lines3(["oversample_thick", "oversample_polar", "oversample_omega"], s.oversample_flags.map(flag));
    out.lines3(["capture_fraction", "polar", "omega_pixel"], r.factors.map(g15));
    out.line("cos_2theta", g15(cos2theta));
    out.line("I_pixel_final", g15(r.value));
    out.line("floatimage_accumulated", g15(r.value as f32 as f64));
}

/// The `-printout` block of one pixel, with the C program's formats. Values are the C program's
/// "last computed" ones: the last sub-pixel's position, the last evaluation's sin θ/λ, and the
/// Miller indices, lattice and structure factors of the last φ step / domain that reached them.
pub fn printout_lines(r: &PixelReport) -> Vec<String> {
    let s = &r.scene;
    let last_sub = r.subpixels.last().expect("at least one sub-pixel");
    let last_eval = r.evaluations.last().expect("at least one evaluation");
    let stol = 0.5 * norm(last_eval.scattering);
    let p = last_sub.position;
    let twotheta = (p[1] * p[1] + p[2] * p[2]).sqrt().atan2(p[0]);
    let test = (twotheta / 2.0).sin() / (s.lambda0_m * 1e10);
    let ran: Vec<&StepValues> = r
        .evaluations
        .iter()
        .filter(|e| e.active)
        .flat_map(|e| e.steps.iter())
        .collect();
    let last = ran.last().copied();
    let with_f_cell = ran
        .iter()
        .rev()
        .find(|st| st.f_latt != 0.0 || s.water_m != 0.0)
        .copied();
    let hkl = last.map_or([0.0; 3], |st| st.hkl);
    let [h0, k0, l0] = hkl.map(nearest);
    let f_cell = with_f_cell.map_or(0.0, |st| st.f_cell);
    let f_latt = last.map_or(0.0, |st| st.f_latt);
    let cell = last.map_or([[0.0; 3]; 3], |st| st.cell_m);
    let g = |x: f64| format_g(x, 6);
    let g10 = |x: f64| format!("{:>15}", format_g(x, 10));
    let mut out = vec![
        format!("{:4} {:4} : stol = {} or {}", r.fast, r.slow, g(stol), g(test)),
        format!("at {} {} {}", g(p[0]), g(p[1]), g(p[2])),
        format!(
            "hkl= {} {} {}  hkl0= {h0} {k0} {l0}",
            format_f(hkl[0], 6),
            format_f(hkl[1], 6),
            format_f(hkl[2], 6)
        ),
        format!(" F_cell={}  F_latt={}   I = {}", g(f_cell), g(f_latt), g(r.intensity)),
        format!("I/steps {}", g10(r.intensity / s.steps as f64)),
        format!("polar   {}", g10(r.factors[1])),
        format!("omega   {}", g10(r.factors[2])),
        format!("capfrac {}", g10(r.factors[0])),
        format!("pixel   {}", g10(r.value as f32 as f64)),
        "real-space cell vectors (Angstrom):".to_string(),
        format!("     {:<10}  {:<10}  {:<10}", "a", "b", "c"),
    ];
    for (axis, i) in [("X", 0), ("Y", 1), ("Z", 2)] {
        let f = |v: f64| format!("{:>11}", format_f(v * 1e10, 8));
        out.push(format!("{axis}: {} {} {}", f(cell[0][i]), f(cell[1][i]), f(cell[2][i])));
    }
    out
}

fn norm(v: [f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}
