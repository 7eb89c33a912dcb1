//! A scene as a nanoBragg command line.
//!
//! Every field that is set becomes its flag, in an order that survives the argument loop's
//! side effects: custom vectors first (they switch the convention to CUSTOM; `-twotheta_axis`
//! also sets 2θ, so `-twotheta` follows it), `-polar` before `-nopolar`, `-noisefile` before
//! `-nonoise`, `-pgmfile`/`-pgmscale` before `-nopgm`, `-detector_abs` before
//! `-detector_thick`, and the explicit `-pivot` last (flags such as `-distance` and
//! `-twotheta` set the pivot as they go). Numbers are written in Rust's shortest round-trip
//! form (scientific for magnitudes outside 1e-4 … 1e7), so parsing the flags gives back the
//! same scene, except where a command line cannot say it: an unset pivot comes back as the
//! one flags like `-distance` or `-twotheta` set (named conventions force their own pivot, so
//! the resolved setup is the same), and a non-integer N is an error.

use crate::error::{NanobraggError, Result};
use crate::scene::{Convention, LatticeShape, Pivot, Scene};

struct Flags(Vec<String>);

/// Shortest round-trip form; scientific notation for very large or small magnitudes.
fn number(v: f64) -> String {
    let a = v.abs();
    if v != 0.0 && !(1e-4..1e7).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

impl Flags {
    fn flag(&mut self, name: &str) {
        self.0.push(name.to_string());
    }
    fn num(&mut self, name: &str, v: Option<f64>) {
        if let Some(v) = v {
            self.flag(name);
            self.0.push(number(v));
        }
    }
    fn int(&mut self, name: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.flag(name);
            self.0.push(format!("{v}"));
        }
    }
    fn vec3(&mut self, name: &str, v: Option<[f64; 3]>) {
        if let Some(v) = v {
            self.flag(name);
            self.0.extend(v.iter().map(|&x| number(x)));
        }
    }
    fn path(&mut self, name: &str, p: &Option<std::path::PathBuf>) {
        if let Some(p) = p {
            self.flag(name);
            self.0.push(p.display().to_string());
        }
    }
    fn switch(&mut self, name: &str, on: bool) {
        if on {
            self.flag(name);
        }
    }
}

fn integer(what: &str, v: f64) -> Result<i64> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Ok(v as i64)
    } else {
        Err(NanobraggError::Refinement(format!(
            "{what} = {v}: nanoBragg flags take an integer here; use the scene file"
        )))
    }
}

/// The nanoBragg flags that describe `scene` (see the module documentation).
pub fn nanobragg_flags(scene: &Scene) -> Result<Vec<String>> {
    let mut f = Flags(Vec::new());
    let (c, s, b, d, st, sa, io) = (
        &scene.crystal,
        &scene.spindle,
        &scene.beam,
        &scene.detector,
        &scene.structure,
        &scene.sampling,
        &scene.io,
    );
    // Convention and custom vectors.
    match d.convention {
        Convention::Mosflm | Convention::Custom => {}
        Convention::Xds => f.flag("-xds"),
        Convention::Adxv => f.flag("-adxv"),
        Convention::Denzo => f.flag("-denzo"),
        Convention::Dials => f.flag("-dials"),
    }
    f.vec3("-fdet_vector", d.fdet_vector);
    f.vec3("-sdet_vector", d.sdet_vector);
    f.vec3("-odet_vector", d.odet_vector);
    f.vec3("-beam_vector", d.beam_vector);
    f.vec3("-polar_vector", d.polar_vector);
    f.vec3("-spindle_axis", d.spindle_axis);
    f.vec3("-twotheta_axis", d.twotheta_axis);
    f.vec3("-pix0_vector", d.pix0_vector_m);
    if d.convention == Convention::Custom && f.0.is_empty() {
        return Err(NanobraggError::Refinement(
            "convention CUSTOM without any custom vector cannot be written as flags".into(),
        ));
    }
    // Structure factors and input files.
    f.path("-hkl", &st.hkl_file);
    f.path("-mat", &c.mat_file);
    f.num("-default_F", st.default_f);
    match st.interpolate {
        Some(true) => f.flag("-interpolate"),
        Some(false) => f.flag("-nointerpolate"),
        None => {}
    }
    f.path("-img", &io.img_file);
    f.path("-mask", &io.mask_file);
    f.path("-sourcefile", &b.source_file);
    f.path("-stol", &io.stol_file);
    f.path("-stolout", &io.stolout_file);
    // Crystal.
    if let Some(cell) = c.cell {
        f.flag("-cell");
        f.0.extend(cell.iter().map(|&x| number(x)));
    }
    if c.misset_random {
        f.flag("-misset");
        f.0.push("random".into());
    } else {
        f.vec3("-misset", c.misset_deg);
    }
    f.int("-misset_seed", c.misset_seed);
    if let Some(n) = c.n_cells {
        f.int("-Na", Some(integer("N_a", n[0])?));
        f.int("-Nb", Some(integer("N_b", n[1])?));
        f.int("-Nc", Some(integer("N_c", n[2])?));
    }
    for (name, w) in ["-sample_x", "-sample_y", "-sample_z"].iter().zip(c.sample_size_mm) {
        if w != 0.0 {
            f.num(name, Some(w));
        }
    }
    match c.shape {
        LatticeShape::Square => {}
        LatticeShape::Round => f.flag("-round_xtal"),
        LatticeShape::Gauss => f.flag("-gauss_xtal"),
        LatticeShape::Tophat => f.flag("-tophat_spots"),
    }
    f.num("-fudge", c.fudge);
    f.num("-mosaic", c.mosaic_spread_deg);
    f.int("-mosaic_dom", c.mosaic_domains);
    f.int("-mosaic_seed", c.mosaic_seed);
    // Spindle.
    f.num("-phi", s.phi_start_deg);
    f.num("-osc", s.osc_deg);
    f.num("-phistep", s.phi_step_deg);
    f.int("-phisteps", s.phi_steps);
    // Beam.
    f.num("-lambda", b.wavelength_a);
    f.num("-dispersion", b.dispersion_percent);
    f.int("-dispsteps", b.disp_steps);
    f.num("-hdivrange", b.hdiv_range_mrad);
    f.num("-vdivrange", b.vdiv_range_mrad);
    f.num("-hdivstep", b.hdiv_step_mrad);
    f.num("-vdivstep", b.vdiv_step_mrad);
    f.int("-hdivsteps", b.hdiv_steps);
    f.int("-vdivsteps", b.vdiv_steps);
    match b.round_div {
        Some(true) => f.flag("-round_div"),
        Some(false) => f.flag("-square_div"),
        None => {}
    }
    f.num("-polar", b.polarization_k);
    f.switch("-nopolar", b.nopolar);
    f.num("-fluence", b.fluence);
    f.num("-flux", b.flux);
    f.num("-exposure", b.exposure_s);
    f.num("-beamsize", b.beamsize_mm);
    // Detector.
    f.num("-pixel", d.pixel_mm);
    f.int("-detpixels_f", d.fpixels);
    f.int("-detpixels_s", d.spixels);
    f.num("-detsize_f", d.detsize_f_mm);
    f.num("-detsize_s", d.detsize_s_mm);
    f.num("-distance", d.distance_mm);
    f.num("-close_distance", d.close_distance_mm);
    f.num("-Xbeam", d.xbeam_mm);
    f.num("-Ybeam", d.ybeam_mm);
    f.num("-Xclose", d.xclose_mm);
    f.num("-Yclose", d.yclose_mm);
    f.num("-ORGX", d.orgx_px);
    f.num("-ORGY", d.orgy_px);
    f.num("-detector_rotx", d.rotx_deg);
    f.num("-detector_roty", d.roty_deg);
    f.num("-detector_rotz", d.rotz_deg);
    f.num("-twotheta", d.twotheta_deg);
    f.switch("-curved_det", d.curved_det);
    f.switch("-point_pixel", d.point_pixel);
    if let Some(depth) = d.abs_depth_um {
        f.flag("-detector_abs");
        f.0.push(if depth.is_infinite() { "inf".into() } else { number(depth) });
    }
    f.num("-detector_thick", d.thick_um);
    f.int("-detector_thicksteps", d.thick_steps);
    // Sampling.
    f.int("-oversample", sa.oversample);
    f.switch("-oversample_thick", sa.oversample_thick);
    f.switch("-oversample_polar", sa.oversample_polar);
    f.switch("-oversample_omega", sa.oversample_omega);
    if let Some(r) = sa.roi {
        f.flag("-roi");
        f.0.extend(r.iter().map(|x| x.to_string()));
    }
    f.num("-dmin", sa.dmin_a);
    f.num("-water", sa.water_um);
    // Output.
    f.path("-floatfile", &io.floatfile);
    f.path("-floatfile_f64", &io.floatfile_f64);
    f.path("-intfile", &io.intfile);
    f.path("-noisefile", &io.noisefile);
    f.switch("-nonoise", io.nonoise);
    f.path("-pgmfile", &io.pgmfile);
    f.num("-pgmscale", io.pgm_scale);
    f.switch("-nopgm", io.nopgm);
    f.path("-pngfile", &io.pngfile);
    f.switch("-png_log", io.png_log);
    f.num("-scale", io.int_scale);
    f.num("-adc", io.adc_offset);
    f.int("-seed", io.seed);
    if let Some([sl, fa]) = io.trace_pixel {
        f.flag("-trace_pixel");
        f.0.extend([sl.to_string(), fa.to_string()]);
    }
    if let Some([fa, sl]) = io.printout_pixel {
        f.flag("-printout_pixel");
        f.0.extend([fa.to_string(), sl.to_string()]);
    } else {
        f.switch("-printout", io.printout);
    }
    match io.progress {
        Some(true) => f.flag("-progress"),
        Some(false) => f.flag("-noprogress"),
        None => {}
    }
    // The pivot last: earlier flags set it as a side effect.
    match d.pivot {
        Some(Pivot::Beam) => f.0.extend(["-pivot".into(), "beam".into()]),
        Some(Pivot::Sample) => f.0.extend(["-pivot".into(), "sample".into()]),
        // Only a CUSTOM convention reads the pivot (named ones force their own), and it
        // defaults to BEAM there; say so, since -twotheta and others set it as they go.
        None if d.convention == Convention::Custom => f.0.extend(["-pivot".into(), "beam".into()]),
        None => {}
    }
    Ok(f.0)
}

/// Flags joined into one shell line, quoting the arguments that need it.
pub fn shell_line(program: &str, flags: &[String]) -> String {
    let quote = |a: &str| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,/+=:".contains(c)) {
            a.to_string()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    std::iter::once(program.to_string())
        .chain(flags.iter().map(|a| quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}
