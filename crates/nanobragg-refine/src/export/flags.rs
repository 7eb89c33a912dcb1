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

use crate::error::{RefineError, Result};
use nanobragg::scene::{
    BeamScene, Convention, CrystalScene, DetectorScene, IoScene, LatticeShape, Pivot,
    SamplingScene, Scene, SpindleScene,
};

/// The command line being written, one argument per entry.
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
    /// The flag followed by its values.
    fn list(&mut self, name: &str, values: impl IntoIterator<Item = String>) {
        self.flag(name);
        self.0.extend(values);
    }
    fn num(&mut self, name: &str, v: Option<f64>) {
        if let Some(v) = v {
            self.list(name, [number(v)]);
        }
    }
    fn int(&mut self, name: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.list(name, [format!("{v}")]);
        }
    }
    fn vec3(&mut self, name: &str, v: Option<[f64; 3]>) {
        if let Some(v) = v {
            self.list(name, v.iter().map(|&x| number(x)));
        }
    }
    fn path(&mut self, name: &str, p: &Option<std::path::PathBuf>) {
        if let Some(p) = p {
            self.list(name, [p.display().to_string()]);
        }
    }
    fn switch(&mut self, name: &str, on: bool) {
        if on {
            self.flag(name);
        }
    }
    /// The switch paired with `value` in `choices`; none where `value` is not listed (a
    /// default, or a state other flags set). One helper for every enum or `Option<bool>`
    /// that maps to a switch: conventions, `-interpolate`/`-nointerpolate` …
    fn choice<T: PartialEq>(&mut self, value: T, choices: &[(T, &str)]) {
        if let Some((_, name)) = choices.iter().find(|(v, _)| *v == value) {
            self.flag(name);
        }
    }
}

fn integer(what: &str, v: f64) -> Result<i64> {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Ok(v as i64)
    } else {
        Err(RefineError::Refinement(format!(
            "{what} = {v}: nanoBragg flags take an integer here; use the scene file"
        )))
    }
}

/// The nanoBragg flags that describe `scene` (see the module documentation).
pub fn nanobragg_flags(scene: &Scene) -> Result<Vec<String>> {
    let mut f = Flags(Vec::new());
    f.axes(&scene.detector)?;
    f.inputs(scene);
    f.crystal(&scene.crystal)?;
    f.spindle(&scene.spindle);
    f.beam(&scene.beam);
    f.detector(&scene.detector);
    f.sampling(&scene.sampling);
    f.output(&scene.io);
    f.pivot(&scene.detector);
    Ok(f.0)
}

/// The steps of [`nanobragg_flags`], in the order they write.
impl Flags {
    /// Convention and custom vectors (first: the vectors switch the convention to CUSTOM).
    fn axes(&mut self, d: &DetectorScene) -> Result<()> {
        // MOSFLM is the default and CUSTOM is what the vectors set: neither has a switch.
        self.choice(
            d.convention,
            &[
                (Convention::Xds, "-xds"),
                (Convention::Adxv, "-adxv"),
                (Convention::Denzo, "-denzo"),
                (Convention::Dials, "-dials"),
            ],
        );
        let before = self.0.len();
        self.vec3("-fdet_vector", d.fdet_vector);
        self.vec3("-sdet_vector", d.sdet_vector);
        self.vec3("-odet_vector", d.odet_vector);
        self.vec3("-beam_vector", d.beam_vector);
        self.vec3("-polar_vector", d.polar_vector);
        self.vec3("-spindle_axis", d.spindle_axis);
        self.vec3("-twotheta_axis", d.twotheta_axis);
        self.vec3("-pix0_vector", d.pix0_vector_m);
        if d.convention == Convention::Custom && self.0.len() == before {
            return Err(RefineError::Refinement(
                "convention CUSTOM without any custom vector cannot be written as flags".into(),
            ));
        }
        Ok(())
    }

    /// Structure factors and input files.
    fn inputs(&mut self, scene: &Scene) {
        let (st, io) = (&scene.structure, &scene.io);
        self.path("-hkl", &st.hkl_file);
        self.path("-mat", &scene.crystal.mat_file);
        self.num("-default_F", st.default_f);
        let interpolate = [(Some(true), "-interpolate"), (Some(false), "-nointerpolate")];
        self.choice(st.interpolate, &interpolate);
        self.path("-img", &io.img_file);
        self.path("-mask", &io.mask_file);
        self.path("-sourcefile", &scene.beam.source_file);
        self.path("-stol", &io.stol_file);
        self.path("-stolout", &io.stolout_file);
    }

    /// Cell, orientation, size, shape and mosaicity; a non-integer N is an error.
    fn crystal(&mut self, c: &CrystalScene) -> Result<()> {
        if let Some(cell) = c.cell {
            self.list("-cell", cell.iter().map(|&x| number(x)));
        }
        if c.misset_random {
            self.list("-misset", ["random".into()]);
        } else {
            self.vec3("-misset", c.misset_deg);
        }
        self.int("-misset_seed", c.misset_seed);
        if let Some(n) = c.n_cells {
            self.int("-Na", Some(integer("N_a", n[0])?));
            self.int("-Nb", Some(integer("N_b", n[1])?));
            self.int("-Nc", Some(integer("N_c", n[2])?));
        }
        for (name, w) in ["-sample_x", "-sample_y", "-sample_z"].iter().zip(c.sample_size_mm) {
            if w != 0.0 {
                self.num(name, Some(w));
            }
        }
        if c.shape != LatticeShape::Square {
            self.flag(c.shape.flag());
        }
        self.num("-fudge", c.fudge);
        self.num("-mosaic", c.mosaic_spread_deg);
        self.int("-mosaic_dom", c.mosaic_domains);
        self.int("-mosaic_seed", c.mosaic_seed);
        Ok(())
    }

    /// The φ sweep.
    fn spindle(&mut self, s: &SpindleScene) {
        self.num("-phi", s.phi_start_deg);
        self.num("-osc", s.osc_deg);
        self.num("-phistep", s.phi_step_deg);
        self.int("-phisteps", s.phi_steps);
    }

    /// Wavelength, spectrum, divergence, polarization (`-polar` before `-nopolar`), intensity.
    fn beam(&mut self, b: &BeamScene) {
        self.num("-lambda", b.wavelength_a);
        self.num("-dispersion", b.dispersion_percent);
        self.int("-dispsteps", b.disp_steps);
        self.num("-hdivrange", b.hdiv_range_mrad);
        self.num("-vdivrange", b.vdiv_range_mrad);
        self.num("-hdivstep", b.hdiv_step_mrad);
        self.num("-vdivstep", b.vdiv_step_mrad);
        self.int("-hdivsteps", b.hdiv_steps);
        self.int("-vdivsteps", b.vdiv_steps);
        self.choice(b.round_div, &[(Some(true), "-round_div"), (Some(false), "-square_div")]);
        self.num("-polar", b.polarization_k);
        self.switch("-nopolar", b.nopolar);
        self.num("-fluence", b.fluence);
        self.num("-flux", b.flux);
        self.num("-exposure", b.exposure_s);
        self.num("-beamsize", b.beamsize_mm);
    }

    /// Pixels, geometry, orientation and absorption (`-detector_abs` before `-detector_thick`).
    fn detector(&mut self, d: &DetectorScene) {
        self.num("-pixel", d.pixel_mm);
        self.int("-detpixels_f", d.fpixels);
        self.int("-detpixels_s", d.spixels);
        self.num("-detsize_f", d.detsize_f_mm);
        self.num("-detsize_s", d.detsize_s_mm);
        self.num("-distance", d.distance_mm);
        self.num("-close_distance", d.close_distance_mm);
        self.num("-Xbeam", d.xbeam_mm);
        self.num("-Ybeam", d.ybeam_mm);
        self.num("-Xclose", d.xclose_mm);
        self.num("-Yclose", d.yclose_mm);
        self.num("-ORGX", d.orgx_px);
        self.num("-ORGY", d.orgy_px);
        self.num("-detector_rotx", d.rotx_deg);
        self.num("-detector_roty", d.roty_deg);
        self.num("-detector_rotz", d.rotz_deg);
        self.num("-twotheta", d.twotheta_deg);
        self.switch("-curved_det", d.curved_det);
        self.switch("-point_pixel", d.point_pixel);
        if let Some(depth) = d.abs_depth_um {
            let depth = if depth.is_infinite() { "inf".into() } else { number(depth) };
            self.list("-detector_abs", [depth]);
        }
        self.num("-detector_thick", d.thick_um);
        self.int("-detector_thicksteps", d.thick_steps);
    }

    /// Oversampling, region of interest, resolution limit, water background.
    fn sampling(&mut self, sa: &SamplingScene) {
        self.int("-oversample", sa.oversample);
        self.switch("-oversample_thick", sa.oversample_thick);
        self.switch("-oversample_polar", sa.oversample_polar);
        self.switch("-oversample_omega", sa.oversample_omega);
        if let Some(r) = sa.roi {
            self.list("-roi", r.iter().map(|x| x.to_string()));
        }
        self.num("-dmin", sa.dmin_a);
        self.num("-water", sa.water_um);
    }

    /// Output files, scaling, noise and diagnostics (each re-enabling file before its `-no…`).
    fn output(&mut self, io: &IoScene) {
        self.path("-floatfile", &io.floatfile);
        self.path("-floatfile_f64", &io.floatfile_f64);
        self.path("-intfile", &io.intfile);
        self.path("-noisefile", &io.noisefile);
        self.switch("-nonoise", io.nonoise);
        self.path("-pgmfile", &io.pgmfile);
        self.num("-pgmscale", io.pgm_scale);
        self.switch("-nopgm", io.nopgm);
        self.path("-pngfile", &io.pngfile);
        self.switch("-png_log", io.png_log);
        self.num("-scale", io.int_scale);
        self.num("-adc", io.adc_offset);
        self.int("-seed", io.seed);
        if let Some([sl, fa]) = io.trace_pixel {
            self.list("-trace_pixel", [sl.to_string(), fa.to_string()]);
        }
        if let Some([fa, sl]) = io.printout_pixel {
            self.list("-printout_pixel", [fa.to_string(), sl.to_string()]);
        } else {
            self.switch("-printout", io.printout);
        }
        self.choice(io.progress, &[(Some(true), "-progress"), (Some(false), "-noprogress")]);
    }

    /// The pivot last: earlier flags set it as a side effect.
    fn pivot(&mut self, d: &DetectorScene) {
        match d.pivot {
            Some(Pivot::Beam) => self.list("-pivot", ["beam".into()]),
            Some(Pivot::Sample) => self.list("-pivot", ["sample".into()]),
            // Only a CUSTOM convention reads the pivot (named ones force their own), and it
            // defaults to BEAM there; say so, since -twotheta and others set it as they go.
            None if d.convention == Convention::Custom => self.list("-pivot", ["beam".into()]),
            None => {}
        }
    }
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
