//! The flag table: every flag the parser accepts, in usage order, with its setter.

use nanobragg::scene::{Convention, LatticeShape, Pivot};

use super::spec::{Arity, FlagGroup, FlagSpec, Values};
use super::{CommandLine, PanelChoice};
use crate::error::Result;

/// `n_cells` with unset entries at the C default (1).
fn n_cells(c: &mut CommandLine) -> &mut [f64; 3] {
    c.scene.crystal.n_cells.get_or_insert([1.0; 3])
}

macro_rules! flag {
    ($names:expr, $arity:expr, $group:ident, $values:expr, $help:expr, $apply:expr $(,)?) => {
        FlagSpec {
            names: &$names,
            arity: $arity,
            group: FlagGroup::$group,
            values: $values,
            help: $help,
            apply: $apply,
        }
    };
}

use Arity::{Switch, Values as V};

/// The flag table: every flag the parser accepts, in usage order.
static FLAGS: &[FlagSpec] = &[
    // ---------------------------------------------------------------- input files
    flag!(["-hkl"], V(1), Input, "<file>",
        "text file of h k l F (P1 structure factors)",
        |c, v| { c.scene.structure.hkl_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-mat", "-matrix"], V(1), Input, "<file>",
        "MOSFLM-style A matrix: reciprocal cell vectors scaled by 1/lambda; alternative to -cell",
        |c, v| { c.scene.crystal.mat_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-default_F"], V(1), Input, "<F>",
        "structure factor of reflections outside the -hkl grid (default 0)",
        |c, v| { c.scene.structure.default_f = Some(v.f64(0)?); Ok(()) }),
    flag!(["-interpolate"], Switch, Input, "",
        "force tricubic interpolation of F between Bragg peaks (default: on if any N <= 2)",
        |c, _| { c.scene.structure.interpolate = Some(true); Ok(()) }),
    flag!(["-nointerpolate"], Switch, Input, "",
        "disable interpolation of F between Bragg peaks",
        |c, _| { c.scene.structure.interpolate = Some(false); Ok(()) }),
    flag!(["-img"], V(1), Input, "<file>",
        "SMV image whose header initialises the geometry (pixels, distance, beam centre, lambda, phi, 2theta)",
        |c, v| { c.scene.io.img_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-mask"], V(1), Input, "<file>",
        "SMV mask: pixels that are 0 are skipped; its header also initialises the geometry",
        |c, v| { c.scene.io.mask_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-sourcefile"], V(1), Input, "<file>",
        "source list, columns X Y Z weight lambda(m) (default: one source on the beam axis)",
        |c, v| { c.scene.beam.source_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-stol", "-4stol", "-Q"], V(1), Input, "<file>",
        "S(Q) table: accepted and recorded, not used (as in nanoBragg)",
        |c, v| { c.scene.io.stol_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-stolout"], V(1), Input, "<file>",
        "S(Q) output file name: accepted and recorded, not written (as in nanoBragg)",
        |c, v| { c.scene.io.stolout_file = Some(v.path(0)?); Ok(()) }),
    // ---------------------------------------------------------------- crystal
    flag!(["-cell"], Arity::Cell, Crystal, "<a> <b> <c> <alpha> <beta> <gamma>",
        "unit cell (A, deg); alternative to -mat. Missing b, c default to a, missing angles to 90",
        |c, v| {
            let mut cell = c.scene.crystal.cell.unwrap_or([0.0; 6]);
            for (k, slot) in cell.iter_mut().enumerate().take(v.len()) {
                *slot = v.f64(k)?;
            }
            c.scene.crystal.cell = Some(cell);
            Ok(())
        }),
    flag!(["-misset"], Arity::Misset, Crystal, "<rotx> <roty> <rotz> | random",
        "crystal rotations about lab x, y, z (deg), or a random orientation (default 0 0 0)",
        |c, v| {
            if v.len() == 1 {
                c.scene.crystal.misset_random = true;
                c.scene.crystal.misset_deg = None;
            } else {
                c.scene.crystal.misset_deg = Some(v.vec3()?);
                c.scene.crystal.misset_random = false;
            }
            Ok(())
        }),
    flag!(["-misset_seed"], V(1), Crystal, "<int>",
        "seed of -misset random (default: the noise seed)",
        |c, v| { c.scene.crystal.misset_seed = Some(v.int(0)?); Ok(()) }),
    flag!(["-N"], V(1), Crystal, "<int>",
        "unit cells along a, b and c (default 1; values <= 1 count as 1)",
        |c, v| { let n = v.int(0)? as f64; *n_cells(c) = [n; 3]; Ok(()) }),
    flag!(["-Na"], V(1), Crystal, "<int>", "unit cells along a (default 1)",
        |c, v| { let n = v.int(0)? as f64; n_cells(c)[0] = n; Ok(()) }),
    flag!(["-Nb"], V(1), Crystal, "<int>", "unit cells along b (default 1)",
        |c, v| { let n = v.int(0)? as f64; n_cells(c)[1] = n; Ok(()) }),
    flag!(["-Nc"], V(1), Crystal, "<int>", "unit cells along c (default 1)",
        |c, v| { let n = v.int(0)? as f64; n_cells(c)[2] = n; Ok(()) }),
    flag!(["-xtalsize", "-xtal_size", "-samplesize", "-sample_size"], V(1), Crystal, "<mm>",
        "crystal full width in x, y and z (mm); overrides -N (default: from N)",
        |c, v| { let w = v.f64(0)?; c.scene.crystal.sample_size_mm = [w; 3]; Ok(()) }),
    flag!(["-xtal_thick", "-xtal_x", "-sample_thick", "-sample_x"], V(1), Crystal, "<mm>",
        "crystal full width along x, the beam (mm)",
        |c, v| { c.scene.crystal.sample_size_mm[0] = v.f64(0)?; Ok(()) }),
    flag!(["-xtal_width", "-xtal_y", "-sample_width", "-sample_y", "-width"], V(1), Crystal, "<mm>",
        "crystal full width along y (mm)",
        |c, v| { c.scene.crystal.sample_size_mm[1] = v.f64(0)?; Ok(()) }),
    flag!(["-xtal_height", "-xtal_z", "-sample_height", "-sample_z", "-height"], V(1), Crystal, "<mm>",
        "crystal full width along z (mm)",
        |c, v| { c.scene.crystal.sample_size_mm[2] = v.f64(0)?; Ok(()) }),
    flag!([LatticeShape::Square.flag()], Switch, Crystal, "",
        "parallelepiped crystal: sincg lattice transform (default)",
        |c, _| { c.scene.crystal.shape = LatticeShape::Square; Ok(()) }),
    flag!([LatticeShape::Round.flag()], Switch, Crystal, "",
        "ellipsoidal crystal: sinc3 lattice transform",
        |c, _| { c.scene.crystal.shape = LatticeShape::Round; Ok(()) }),
    flag!([LatticeShape::Gauss.flag()], Switch, Crystal, "",
        "Gaussian spots: no inter-Bragg maxima",
        |c, _| { c.scene.crystal.shape = LatticeShape::Gauss; Ok(()) }),
    flag!([LatticeShape::GaussArgchk.flag()], Switch, Crystal, "",
        "Gaussian spots set to 0 where the exponent reaches 35 (simtbx's Gauss_argchk)",
        |c, _| { c.scene.crystal.shape = LatticeShape::GaussArgchk; Ok(()) }),
    flag!([LatticeShape::Tophat.flag(), "-binary_spots"], Switch, Crystal, "",
        "flat-top spots clipped at the FWHM: no inter-Bragg maxima",
        |c, _| { c.scene.crystal.shape = LatticeShape::Tophat; Ok(()) }),
    flag!(["-fudge"], V(1), Crystal, "<factor>",
        "scale of the spot-shape argument (default 1)",
        |c, v| { c.scene.crystal.fudge = Some(v.f64(0)?); Ok(()) }),
    flag!(["-mosaic", "-mosaici", "-mosaic_spr"], V(1), Crystal, "<deg>",
        "isotropic mosaic spread (deg; 90 for a powder) (default 0)",
        |c, v| { c.scene.crystal.mosaic_spread_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-mosaic_dom", "-mosaic_domains"], V(1), Crystal, "<int>",
        "number of randomly oriented mosaic domains (default: 10 with a spread, else 1)",
        |c, v| { c.scene.crystal.mosaic_domains = Some(v.int(0)?); Ok(()) }),
    flag!(["-mosaic_seed"], V(1), Crystal, "<int>",
        "seed of the mosaic-domain generator (default 12345678)",
        |c, v| { c.scene.crystal.mosaic_seed = Some(v.int(0)?); Ok(()) }),
    flag!(["-density", "-sample_density"], V(1), Crystal, "<g/cm^3>",
        "crystal density: accepted, no effect (as in nanoBragg)",
        |_, v| { v.f64(0)?; Ok(()) }),
    flag!(["-MW", "-molecules"], V(1), Crystal, "<g/mol>",
        "molecular weight: accepted, no effect (as in nanoBragg)",
        |_, v| { v.f64(0)?; Ok(()) }),
    // ---------------------------------------------------------------- beam
    flag!(["-lambda", "-wave", "-wavelength"], V(1), Beam, "<A>",
        "central wavelength (A) (default 1)",
        |c, v| { c.scene.beam.wavelength_a = Some(v.f64(0)?); Ok(()) }),
    flag!(["-energy"], V(1), Beam, "<eV>",
        "central photon energy (eV); sets lambda = 12398.42/E A",
        |c, v| {
            let e = v.f64(0)?;
            if e <= 0.0 {
                return Err(v.invalid(0, "a positive energy in eV"));
            }
            c.scene.beam.wavelength_a = Some(12398.42 / e);
            Ok(())
        }),
    flag!(["-dispersion"], V(1), Beam, "<percent>",
        "spectral width delta-lambda/lambda (%) (default 0)",
        |c, v| { c.scene.beam.dispersion_percent = Some(v.f64(0)?); Ok(()) }),
    flag!(["-dispsteps"], V(1), Beam, "<int>",
        "number of wavelengths across the dispersion (default: auto)",
        |c, v| { c.scene.beam.disp_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-divergence"], V(1), Beam, "<mrad>",
        "horizontal and vertical divergence range (mrad) (default 0)",
        |c, v| {
            let d = v.f64(0)?;
            c.scene.beam.hdiv_range_mrad = Some(d);
            c.scene.beam.vdiv_range_mrad = Some(d);
            Ok(())
        }),
    flag!(["-hdivrange"], V(1), Beam, "<mrad>", "horizontal divergence range (mrad) (default 0)",
        |c, v| { c.scene.beam.hdiv_range_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-vdivrange"], V(1), Beam, "<mrad>", "vertical divergence range (mrad) (default 0)",
        |c, v| { c.scene.beam.vdiv_range_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-hdivstep"], V(1), Beam, "<mrad>", "horizontal divergence step (mrad) (default: auto)",
        |c, v| { c.scene.beam.hdiv_step_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-vdivstep"], V(1), Beam, "<mrad>", "vertical divergence step (mrad) (default: auto)",
        |c, v| { c.scene.beam.vdiv_step_mrad = Some(v.f64(0)?); Ok(()) }),
    flag!(["-hdivsteps"], V(1), Beam, "<int>", "horizontal divergence step count (default: auto)",
        |c, v| { c.scene.beam.hdiv_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-vdivsteps"], V(1), Beam, "<int>", "vertical divergence step count (default: auto)",
        |c, v| { c.scene.beam.vdiv_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-divsteps"], V(1), Beam, "<int>", "horizontal and vertical divergence step counts",
        |c, v| {
            let n = v.int(0)?;
            c.scene.beam.hdiv_steps = Some(n);
            c.scene.beam.vdiv_steps = Some(n);
            Ok(())
        }),
    flag!(["-round_div"], Switch, Beam, "",
        "trim the divergence grid to an ellipse (default)",
        |c, _| { c.scene.beam.round_div = Some(true); Ok(()) }),
    flag!(["-square_div"], Switch, Beam, "",
        "keep the full rectangular divergence grid",
        |c, _| { c.scene.beam.round_div = Some(false); Ok(()) }),
    flag!(["-polar"], V(1), Beam, "<K>",
        "Kahn polarization factor (default 0); re-enables polarization after -nopolar",
        |c, v| {
            c.scene.beam.polarization_k = Some(v.f64(0)?);
            c.scene.beam.nopolar = false;
            Ok(())
        }),
    flag!(["-nopolar"], Switch, Beam, "",
        "no polarization correction (factor 1)",
        |c, _| { c.scene.beam.nopolar = true; Ok(()) }),
    flag!(["-fluence"], V(1), Beam, "<photons/m^2>",
        "incident fluence (default 1.25932e29)",
        |c, v| { c.scene.beam.fluence = Some(v.f64(0)?); Ok(()) }),
    flag!(["-flux"], V(1), Beam, "<photons/s>",
        "incident flux; with -exposure and -beamsize sets fluence = flux*exposure/beamsize^2 (default 0)",
        |c, v| { c.scene.beam.flux = Some(v.f64(0)?); Ok(()) }),
    flag!(["-exposure"], V(1), Beam, "<s>", "exposure time (s) (default 1)",
        |c, v| { c.scene.beam.exposure_s = Some(v.f64(0)?); Ok(()) }),
    flag!(["-beamsize"], V(1), Beam, "<mm>",
        "beam size (mm); also clips the crystal's y and z widths (default 0.1)",
        |c, v| { c.scene.beam.beamsize_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-coherent"], Switch, Beam, "",
        "coherent sources: accepted, no effect (as in nanoBragg)",
        |_, _| Ok(())),
    // ---------------------------------------------------------------- detector
    flag!(["-pixel"], V(1), Detector, "<mm>", "pixel size (mm) (default 0.1)",
        |c, v| { c.scene.detector.pixel_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detpixels"], V(1), Detector, "<int>",
        "pixels along fast and slow axes (default: detsize/pixel = 1024)",
        |c, v| {
            let n = v.int(0)?;
            c.scene.detector.fpixels = Some(n);
            c.scene.detector.spixels = Some(n);
            Ok(())
        }),
    flag!(["-detpixels_f", "-detpixels_x"], V(1), Detector, "<int>", "pixels along the fast axis",
        |c, v| { c.scene.detector.fpixels = Some(v.int(0)?); Ok(()) }),
    flag!(["-detpixels_s", "-detpixels_y"], V(1), Detector, "<int>", "pixels along the slow axis",
        |c, v| { c.scene.detector.spixels = Some(v.int(0)?); Ok(()) }),
    flag!(["-detsize"], V(1), Detector, "<mm>",
        "detector side along fast and slow (mm) (default 102.4; pixel counts take precedence)",
        |c, v| {
            let s = v.f64(0)?;
            c.scene.detector.detsize_f_mm = Some(s);
            c.scene.detector.detsize_s_mm = Some(s);
            Ok(())
        }),
    flag!(["-detsize_f"], V(1), Detector, "<mm>", "detector side along the fast axis (mm)",
        |c, v| { c.scene.detector.detsize_f_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detsize_s"], V(1), Detector, "<mm>", "detector side along the slow axis (mm)",
        |c, v| { c.scene.detector.detsize_s_mm = Some(v.f64(0)?); Ok(()) }),
    flag!(["-distance"], V(1), Detector, "<mm>",
        "sample to detector centre along the beam (mm) (default 100); sets pivot BEAM",
        |c, v| {
            c.scene.detector.distance_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Beam);
            Ok(())
        }),
    flag!(["-close_distance"], V(1), Detector, "<mm>",
        "sample to detector plane along its normal (mm); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.close_distance_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-Xbeam"], V(1), Detector, "<mm>",
        "direct-beam position (mm) (default: detector centre); sets pivot BEAM",
        |c, v| {
            c.scene.detector.xbeam_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Beam);
            Ok(())
        }),
    flag!(["-Ybeam"], V(1), Detector, "<mm>",
        "direct-beam position (mm) (default: detector centre); sets pivot BEAM",
        |c, v| {
            c.scene.detector.ybeam_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Beam);
            Ok(())
        }),
    flag!(["-Xclose"], V(1), Detector, "<mm>",
        "point of closest approach on the detector (mm); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.xclose_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-Yclose"], V(1), Detector, "<mm>",
        "point of closest approach on the detector (mm); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.yclose_mm = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-ORGX"], V(1), Detector, "<pixels>",
        "XDS-style beam centre, fast (pixels); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.orgx_px = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-ORGY"], V(1), Detector, "<pixels>",
        "XDS-style beam centre, slow (pixels); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.orgy_px = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-pivot"], V(1), Detector, "beam|sample",
        "point held fixed by detector rotations (default: the convention's)",
        |c, v| {
            let p = match v.str(0).trim().to_ascii_lowercase().as_str() {
                "beam" => Pivot::Beam,
                "sample" => Pivot::Sample,
                _ => return Err(v.invalid(0, "beam or sample")),
            };
            c.scene.detector.pivot = Some(p);
            Ok(())
        }),
    flag!(["-mosflm"], Switch, Detector, "",
        "MOSFLM convention: beam +x, fast +z, slow -y, pivot BEAM (default)",
        |c, _| { set_convention(c, Convention::Mosflm, Pivot::Beam); Ok(()) }),
    flag!(["-xds"], Switch, Detector, "",
        "XDS convention: beam +z, fast +x, slow +y, pivot SAMPLE",
        |c, _| { set_convention(c, Convention::Xds, Pivot::Sample); Ok(()) }),
    flag!(["-adxv"], Switch, Detector, "",
        "ADXV convention: beam +z, fast +x, slow -y, pivot BEAM",
        |c, _| { set_convention(c, Convention::Adxv, Pivot::Beam); Ok(()) }),
    flag!(["-denzo"], Switch, Detector, "",
        "DENZO convention: MOSFLM axes without the half-pixel shift, pivot BEAM",
        |c, _| { set_convention(c, Convention::Denzo, Pivot::Beam); Ok(()) }),
    flag!(["-dials"], Switch, Detector, "",
        "DIALS convention: beam +z, fast +x, slow +y (the flag records pivot BEAM, as nanoBragg's does)",
        |c, _| { set_convention(c, Convention::Dials, Pivot::Beam); Ok(()) }),
    flag!(["-fdet_vector"], V(3), Detector, "<x> <y> <z>",
        "fast-axis unit vector (default: the convention's, MOSFLM 0 0 1); sets convention CUSTOM",
        |c, v| { c.scene.detector.fdet_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-sdet_vector"], V(3), Detector, "<x> <y> <z>",
        "slow-axis unit vector (MOSFLM 0 -1 0); sets convention CUSTOM",
        |c, v| { c.scene.detector.sdet_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-odet_vector"], V(3), Detector, "<x> <y> <z>",
        "detector normal, away from the sample (MOSFLM 1 0 0); sets convention CUSTOM",
        |c, v| { c.scene.detector.odet_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-beam_vector"], V(3), Detector, "<x> <y> <z>",
        "x-ray beam direction (MOSFLM 1 0 0); sets convention CUSTOM",
        |c, v| { c.scene.detector.beam_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-polar_vector"], V(3), Detector, "<x> <y> <z>",
        "E-vector polarization axis (MOSFLM 0 0 1); sets convention CUSTOM",
        |c, v| { c.scene.detector.polar_vector = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-spindle_axis"], V(3), Detector, "<x> <y> <z>",
        "right-handed phi rotation axis (MOSFLM 0 0 1); sets convention CUSTOM",
        |c, v| { c.scene.detector.spindle_axis = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-twotheta_axis"], V(3), Detector, "<x> <y> <z>",
        "2theta rotation axis (MOSFLM 0 0 -1); sets convention CUSTOM. nanoBragg quirk kept: also sets -twotheta to x and pivot SAMPLE",
        |c, v| {
            let axis = custom_vec(c, v)?;
            c.scene.detector.twotheta_axis = Some(axis);
            // C quirk: strstr(argv[i], "-twotheta") also matches "-twotheta_axis".
            c.scene.detector.twotheta_deg = Some(axis[0]);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-pix0_vector"], V(3), Detector, "<x> <y> <z>",
        "sample to first pixel (m): recorded but, as in nanoBragg, recomputed from the beam centre; sets convention CUSTOM",
        |c, v| { c.scene.detector.pix0_vector_m = Some(custom_vec(c, v)?); Ok(()) }),
    flag!(["-detector_rotx"], V(1), Detector, "<deg>", "detector rotation about lab x (deg) (default 0)",
        |c, v| { c.scene.detector.rotx_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detector_roty"], V(1), Detector, "<deg>", "detector rotation about lab y (deg) (default 0)",
        |c, v| { c.scene.detector.roty_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detector_rotz"], V(1), Detector, "<deg>", "detector rotation about lab z (deg) (default 0)",
        |c, v| { c.scene.detector.rotz_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-twotheta"], V(1), Detector, "<deg>",
        "detector rotation about the 2theta axis (deg) (default 0); sets pivot SAMPLE",
        |c, v| {
            c.scene.detector.twotheta_deg = Some(v.f64(0)?);
            c.scene.detector.pivot = Some(Pivot::Sample);
            Ok(())
        }),
    flag!(["-curved_det"], Switch, Detector, "",
        "pixels on a sphere about the sample: all equidistant",
        |c, _| { c.scene.detector.curved_det = true; Ok(()) }),
    flag!(["-point_pixel"], Switch, Detector, "",
        "solid angle 1/R^2 without the obliquity factor",
        |c, _| { c.scene.detector.point_pixel = true; Ok(()) }),
    flag!(["-detector_abs", "-detector_absorb"], V(1), Detector, "<um>|inf|0",
        "sensor attenuation depth (um); 'inf' or 0 disable absorption (default: disabled)",
        |c, v| {
            let depth = if v.str(0).to_ascii_lowercase().contains("inf") {
                f64::INFINITY
            } else {
                v.f64(0)?
            };
            c.scene.detector.abs_depth_um = Some(depth);
            if depth.is_infinite() || depth == 0.0 {
                // C: `-detector_abs inf|0` also zeroes the thickness given so far; a later
                // `-detector_thick` sets it again (with μ = 0: an all-zero image).
                c.scene.detector.thick_um = Some(0.0);
            }
            Ok(())
        }),
    flag!(["-detector_thick"], V(1), Detector, "<um>", "sensor thickness (um) (default 0)",
        |c, v| { c.scene.detector.thick_um = Some(v.f64(0)?); Ok(()) }),
    flag!(["-detector_thicksteps", "-thicksteps"], V(1), Detector, "<int>",
        "layers through the sensor thickness (default 1)",
        |c, v| { c.scene.detector.thick_steps = Some(v.int(0)?); Ok(()) }),
    // ---------------------------------------------------------------- sampling
    flag!(["-phi"], V(1), Sampling, "<deg>", "starting spindle angle (deg) (default 0)",
        |c, v| { c.scene.spindle.phi_start_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-osc"], V(1), Sampling, "<deg>", "oscillation range (deg) (default 0)",
        |c, v| { c.scene.spindle.osc_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-phistep"], V(1), Sampling, "<deg>", "spindle step (deg) (default: auto)",
        |c, v| { c.scene.spindle.phi_step_deg = Some(v.f64(0)?); Ok(()) }),
    flag!(["-phisteps"], V(1), Sampling, "<int>", "number of spindle steps (default: auto)",
        |c, v| { c.scene.spindle.phi_steps = Some(v.int(0)?); Ok(()) }),
    flag!(["-oversample"], V(1), Sampling, "<int>",
        "sub-pixels per pixel axis (default: auto from crystal size)",
        |c, v| { c.scene.sampling.oversample = Some(v.int(0)?); Ok(()) }),
    flag!(["-oversample_thick"], Switch, Sampling, "",
        "apply the absorption capture fraction per sub-pixel (not the default)",
        |c, _| { c.scene.sampling.oversample_thick = true; Ok(()) }),
    flag!(["-oversample_polar"], Switch, Sampling, "",
        "apply polarization per sub-pixel (not the default)",
        |c, _| { c.scene.sampling.oversample_polar = true; Ok(()) }),
    flag!(["-oversample_omega"], Switch, Sampling, "",
        "apply the solid angle per sub-pixel (not the default)",
        |c, _| { c.scene.sampling.oversample_omega = true; Ok(()) }),
    flag!(["-roi"], V(4), Sampling, "<xmin> <xmax> <ymin> <ymax>",
        "render only fast pixels xmin..=xmax, slow pixels ymin..=ymax (default: all)",
        |c, v| {
            c.scene.sampling.roi = Some([v.int(0)?, v.int(1)?, v.int(2)?, v.int(3)?]);
            Ok(())
        }),
    flag!(["-dmin"], V(1), Sampling, "<A>",
        "skip contributions with d-spacing below this (A) (default 0: off)",
        |c, v| { c.scene.sampling.dmin_a = Some(v.f64(0)?); Ok(()) }),
    flag!(["-water"], V(1), Sampling, "<um>",
        "water background: droplet size (um) (default 0: none)",
        |c, v| { c.scene.sampling.water_um = Some(v.f64(0)?); Ok(()) }),
    // ---------------------------------------------------------------- output
    flag!(["-floatfile", "-floatimage"], V(1), Output, "<file>",
        "raw 4-byte float image, fast-major",
        |c, v| { c.scene.io.floatfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-intfile", "-intimage"], V(1), Output, "<file>",
        "noiseless SMV image (unsigned short, scaled by -scale, offset by -adc)",
        |c, v| { c.scene.io.intfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-noisefile", "-noiseimage"], V(1), Output, "<file>",
        "SMV image with Poisson noise; re-enables noise after -nonoise",
        |c, v| {
            c.scene.io.noisefile = Some(v.path(0)?);
            c.scene.io.nonoise = false;
            Ok(())
        }),
    flag!(["-pgmfile", "-pgmimage"], V(1), Output, "<file>",
        "8-bit PGM image; re-enables the PGM after -nopgm",
        |c, v| {
            c.scene.io.pgmfile = Some(v.path(0)?);
            c.scene.io.nopgm = false;
            Ok(())
        }),
    flag!(["-scale"], V(1), Output, "<factor>",
        "scale of the -intfile pixels (default <= 0: auto, max pixel -> 55000)",
        |c, v| { c.scene.io.int_scale = Some(v.f64(0)?); Ok(()) }),
    flag!(["-adc"], V(1), Output, "<counts>",
        "offset added to SMV and noise pixels (default 40)",
        |c, v| { c.scene.io.adc_offset = Some(v.f64(0)?); Ok(()) }),
    flag!(["-pgmscale"], V(1), Output, "<factor>",
        "scale of the PGM pixels (default <= 0: auto); re-enables the PGM after -nopgm",
        |c, v| {
            c.scene.io.pgm_scale = Some(v.f64(0)?);
            c.scene.io.nopgm = false;
            Ok(())
        }),
    flag!(["-nopgm"], Switch, Output, "", "do not write the PGM image",
        |c, _| { c.scene.io.nopgm = true; Ok(()) }),
    flag!(["-nonoise"], Switch, Output, "", "do not write the noise image",
        |c, _| { c.scene.io.nonoise = true; Ok(()) }),
    flag!(["-seed"], V(1), Output, "<int>",
        "seed of the Poisson noise (default: from the clock)",
        |c, v| { c.scene.io.seed = Some(v.int(0)?); Ok(()) }),
    flag!(["-noise_rng"], V(1), Ours, "c|philox",
        "noise generator: 'c' the C program's stream, byte-identical (default); 'philox' counter-based, \
         drawn on the render's device, the same image for a seed whatever the threads or batch",
        |c, v| {
            c.scene.io.noise_rng = v.str(0).trim().parse().map_err(|_| v.invalid(0, "c or philox"))?;
            Ok(())
        }),
    flag!(["-printout"], Switch, Output, "", "print pixel values to the screen",
        |c, _| { c.scene.io.printout = true; Ok(()) }),
    flag!(["-printout_pixel"], V(2), Output, "<fast> <slow>",
        "limit -printout to one pixel (turns -printout on, as in nanoBragg)",
        |c, v| {
            c.scene.io.printout_pixel = Some([v.int(0)?, v.int(1)?]);
            c.scene.io.printout = true;
            Ok(())
        }),
    flag!(["-trace_pixel", "-dump_pixel"], V(2), Output, "<slow> <fast>",
        "print an instrumented trace of one pixel",
        |c, v| { c.scene.io.trace_pixel = Some([v.int(0)?, v.int(1)?]); Ok(()) }),
    flag!(["-progress"], Switch, Output, "", "show the progress meter (default)",
        |c, _| { c.scene.io.progress = Some(true); Ok(()) }),
    flag!(["-noprogress"], Switch, Output, "", "hide the progress meter",
        |c, _| { c.scene.io.progress = Some(false); Ok(()) }),
    // ---------------------------------------------------------------- ours
    flag!(["-h", "-help", "--help"], Switch, Ours, "", "print this help and exit",
        |c, _| { c.help = true; Ok(()) }),
    flag!(["-dtype"], V(1), Ours, "f32|f64", "float precision of the render (default f64)",
        |c, v| {
            c.dtype = v.str(0).trim().parse().map_err(|_| v.invalid(0, "f32 or f64"))?;
            Ok(())
        }),
    flag!(["-backend"], V(1), Ours, "<name>", "Burn backend: ndarray (default), flex (f32 only), cuda (built with --features cuda)",
        |c, v| {
            let name = v.str(0).trim();
            if name.is_empty() {
                return Err(v.invalid(0, "a backend name"));
            }
            c.backend = name.to_string();
            Ok(())
        }),
    flag!(["-wrt"], V(1), Ours, "<name,name,...>",
        "nanobragg grad: parameters to differentiate with respect to (names and units: see GRADIENT PARAMETERS)",
        |c, v| {
            c.wrt = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-loss"], V(1), Ours, "sum|l2:target.bin|poisson:target.bin",
        "nanobragg grad: loss over the rendered pixels (default sum = the sum of the float image); nanobragg refine and ensemble: poisson (default), l2[:sigma] or huber[:c] (robust Poisson: Huber on the deviance residual, c = 1.345 by default)",
        |c, v| { c.loss = Some(v.str(0).to_string()); Ok(()) }),
    flag!(["-target"], V(1), Ours, "<file.img|file.bin>",
        "nanobragg refine: measured image, SMV (ADC offset -adc removed) or raw 4-byte floats",
        |c, v| { c.refine.target = Some(v.path(0)?); Ok(()) }),
    flag!(["-refine"], V(1), Ours, "<name,name,...>",
        "nanobragg refine: parameters to refine (GRADIENT PARAMETERS names, and scale)",
        |c, v| {
            c.refine.names = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-refine_per_panel"], V(1), Ours, "<name,name,...>",
        "nanobragg refine with several panels (-expt, -panel all): parameters refined once per panel (e.g. panel_shift_x,panel_shift_y); -refine's are shared",
        |c, v| {
            c.refine.per_panel = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-refine_per_group"], V(1), Ours, "<name,name,...>",
        "nanobragg refine with several panels: parameters refined once per panel group, the panels' dxtbx hierarchy parent (e.g. group_rot_o to turn a module, panel_shift_x to move it)",
        |c, v| {
            c.refine.per_group = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-background"], V(1), Ours, "<file.bin>",
        "nanobragg refine: known background (raw 4-byte floats, photons) added to the model",
        |c, v| { c.refine.background = Some(v.path(0)?); Ok(()) }),
    flag!(["-optimizer"], V(1), Ours, "lbfgs|adam",
        "nanobragg refine: optimiser (default lbfgs)",
        |c, v| {
            let o = v.str(0).trim().to_ascii_lowercase();
            if o != "lbfgs" && o != "adam" {
                return Err(v.invalid(0, "lbfgs or adam"));
            }
            c.refine.optimizer = Some(o);
            Ok(())
        }),
    flag!(["-max_iter"], V(1), Ours, "<int>",
        "nanobragg refine: iteration limit (default 200); nanobragg ensemble: per step (default 100, 50 per shot)",
        |c, v| {
            c.refine.max_iter = Some(v.positive(0)?);
            Ok(())
        }),
    flag!(["-refined_scene"], V(1), Ours, "<out.toml>",
        "nanobragg refine: write the refined scene here (default: the -dump_scene file, else refined_scene.toml)",
        |c, v| { c.refine.refined_scene = Some(v.path(0)?); Ok(()) }),
    flag!(["-refined_mat"], V(1), Ours, "<out.mat>",
        "nanobragg refine: also write the refined orientation as a MOSFLM A matrix",
        |c, v| { c.refine.refined_mat = Some(v.path(0)?); Ok(()) }),
    flag!(["-refined_expt"], V(1), Ours, "<out.expt>",
        "nanobragg refine with -expt: also write the experiment list with the refined panel, wavelength and crystal",
        |c, v| { c.refine.refined_expt = Some(v.path(0)?); Ok(()) }),
    flag!(["-default_scene"], Switch, Ours, "",
        "start from the built-in default scene (100 A cubic cell, 256x256 detector); other flags apply on top",
        |_c, _v| Ok(())),
    flag!(["-scene"], V(1), Ours, "<file.toml>",
        "load a scene file first; every other flag applies on top of it",
        |c, v| { c.scene_file = Some(v.path(0)?); Ok(()) }),
    flag!(["-dump_scene"], V(1), Ours, "<out.toml>", "write the final scene as TOML",
        |c, v| { c.dump_scene = Some(v.path(0)?); Ok(()) }),
    flag!(["-phi_carryover_mode"], V(1), Ours, "spec|c-parity",
        "phi = 0 steps: 'spec' rotates each step (default); 'c-parity' reproduces nanoBragg's phi cache",
        |c, v| {
            c.phi_carryover_mode =
                v.str(0).trim().parse().map_err(|_| v.invalid(0, "spec or c-parity"))?;
            Ok(())
        }),
    flag!(["-tile_pixels"], V(1), Ours, "<int>",
        "pixels per render tile (default: the renderer's choice)",
        |c, v| {
            c.tile_pixels = Some(v.positive(0)?);
            Ok(())
        }),
    flag!(["-engine"], V(1), Ours, "auto|tensor|cpu-batch|cpu-pixel|cuda",
        "tile renderer: 'auto' uses the backend's fused kernel where it covers the scene (default); \
         'tensor' always runs the tensor-op reference path; a kernel's name pins that kernel \
         (refused where it does not implement the scene)",
        |c, v| {
            use nanobragg::kernel::{Engine, KernelId};
            c.engine = match v.str(0).trim() {
                "auto" => Engine::Auto,
                "tensor" => Engine::Tensor,
                "cpu-batch" => Engine::Kernel(KernelId::CpuBatch),
                "cpu-pixel" => Engine::Kernel(KernelId::CpuPixel),
                "cuda" => Engine::Kernel(KernelId::Cuda),
                _ => return Err(v.invalid(0, "auto, tensor, cpu-batch, cpu-pixel or cuda")),
            };
            Ok(())
        }),
    flag!(["-floatfile_f64"], V(1), Ours, "<file>",
        "raw 8-byte float (f64, little-endian) image, fast-major: the render's values before \
         rounding to -floatfile's f32",
        |c, v| { c.scene.io.floatfile_f64 = Some(v.path(0)?); Ok(()) }),
    flag!(["-cbffile"], V(1), Ours, "<file>",
        "miniCBF image (Pilatus layout): the -intfile values as signed 32-bit counts, not saturated at 65535",
        |c, v| { c.scene.io.cbffile = Some(v.path(0)?); Ok(()) }),
    flag!(["-nxsfile"], V(1), Ours, "<file>",
        "NeXus/HDF5 NXmx image: every panel rendered (f32 photons, the -floatfile values) with the \
         detector model and wavelength; needs a binary built with --features nexus",
        |c, v| { c.nxsfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-shots"], V(1), Ours, "<list.toml|list.json>",
        "nanobragg batch: the shots ([[shot]] tables: name, misset_deg, a_matrix_per_a, cell, n_cells, mosaic_spread_deg, fluence, wavelength_a, source_file, seed) rendered against the scene the other flags describe",
        |c, v| { c.shots = Some(v.path(0)?); Ok(()) }),
    flag!(["-outdir"], V(1), Ours, "<dir>",
        "nanobragg batch: folder of each shot's files <name>.bin, <name>.img, … (default .)",
        |c, v| { c.outdir = Some(v.path(0)?); Ok(()) }),
    flag!(["-refine_shot"], V(1), Ours, "<name,name,...>",
        "nanobragg ensemble: each shot's own variables (GRADIENT PARAMETERS names, and scale), e.g. misset_x,misset_y,misset_z",
        |c, v| {
            c.ensemble.own = v.str(0).split(',').filter(|s| !s.is_empty()).map(String::from).collect();
            Ok(())
        }),
    flag!(["-cycles"], V(1), Ours, "<int>",
        "nanobragg ensemble: cycles of the schedule, each up to -max_iter iterations (default 1)",
        |c, v| {
            c.ensemble.cycles = Some(v.positive(0)?);
            Ok(())
        }),
    flag!(["-schedule"], V(1), Ours, "joint|alternating|shots",
        "nanobragg ensemble: each cycle refines all variables at once (joint, default), the shots' own variables then the structure factors (alternating: memory per rank bounded by its own shots), or the shots' own variables only, the structure factors held (shots: per-shot refinement, with each shot's sigma in shots.json)",
        |c, v| {
            use crate::args::ScheduleArg;
            c.ensemble.schedule = match v.str(0).trim() {
                "alternating" => ScheduleArg::Alternating,
                "joint" => ScheduleArg::Joint,
                "shots" => ScheduleArg::Shots,
                _ => return Err(v.invalid(0, "joint, alternating or shots")),
            };
            Ok(())
        }),
    flag!(["-checkpoint_every"], V(1), Ours, "<int>",
        "nanobragg ensemble: write <outdir>/checkpoint.json every K cycles (default: at the end)",
        |c, v| {
            c.ensemble.checkpoint_every = Some(v.positive(0)?);
            Ok(())
        }),
    flag!(["-restart"], V(1), Ours, "<checkpoint.json>",
        "nanobragg ensemble: continue the run that wrote this checkpoint (same flags and shots)",
        |c, v| { c.ensemble.restart = Some(v.path(0)?); Ok(()) }),
    flag!(["-F_prior"], V(1), Ours, "<fraction>",
        "nanobragg ensemble: restrain each F to its start value with sigma = fraction x max(F, 1)",
        |c, v| {
            let f = v.f64(0)?;
            if !(f > 0.0 && f.is_finite()) {
                return Err(v.invalid(0, "a positive number"));
            }
            c.ensemble.f_prior = Some(f);
            Ok(())
        }),
    flag!(["-skip_bad_shots"], Switch, Ours, "",
        "nanobragg ensemble: leave out a shot whose image or scene is refused (reported on stderr) instead of stopping",
        |c, _v| { c.ensemble.skip_bad_shots = true; Ok(()) }),
    flag!(["-expt"], V(1), Ours, "<file.expt>",
        "render a DIALS experiment list (or legacy DataBlock list): its detector panels, beam and crystal; \
         other flags override its values (-N, -lambda, ...); the detector's frame flags are refused",
        |c, v| { c.expt = Some(v.path(0)?); Ok(()) }),
    flag!(["-experiment"], V(1), Ours, "<int>",
        "which experiment of -expt (or image set of a DataBlock list), numbered from 0 (default 0)",
        |c, v| {
            c.experiment = usize::try_from(v.int(0)?).map_err(|_| v.invalid(0, "an integer >= 0"))?;
            Ok(())
        }),
    flag!(["-panel_shift"], V(3), Ours, "<x> <y> <z>",
        "translate the detector (each panel) in the lab frame (mm), after every other placement rule (default 0 0 0)",
        |c, v| { c.scene.detector.panel_shift_mm = Some(v.vec3()?); Ok(()) }),
    flag!(["-panel_rot"], V(3), Ours, "<f> <s> <o>",
        "rotate the detector (each panel) about its own fast, slow and normal axes through its centre (deg, in that order), before -panel_shift (default 0 0 0)",
        |c, v| { c.scene.detector.panel_rot_deg = Some(v.vec3()?); Ok(()) }),
    flag!(["-group_rot"], V(3), Ours, "<f> <s> <o>",
        "rotate each panel's group (its dxtbx hierarchy parent, from -expt) as a rigid body about the group's fast, slow and normal axes through the centroid of its panels (deg, in that order), after -panel_rot; a panel without a group turns about its own axes and centre (default 0 0 0)",
        |c, v| { c.scene.detector.group_rot_deg = Some(v.vec3()?); Ok(()) }),
    flag!(["-panel"], V(1), Ours, "<int>|all",
        "with a multi-panel detector: render one panel as a single detector (every output format), \
         or all of them (default; -floatfile holds [panel][slow][fast], -pngfile lays them out)",
        |c, v| {
            c.panel = match v.str(0).trim() {
                "all" => PanelChoice::All,
                _ => PanelChoice::One(usize::try_from(v.int(0)?).map_err(|_| v.invalid(0, "a panel number >= 0 or all"))?),
            };
            Ok(())
        }),
    flag!(["-pngfile"], V(1), Ours, "<file>", "PNG preview image",
        |c, v| { c.scene.io.pngfile = Some(v.path(0)?); Ok(()) }),
    flag!(["-png_log"], Switch, Ours, "", "log-scale the PNG preview",
        |c, _| { c.scene.io.png_log = true; Ok(()) }),
];

/// A named convention sets its axes and records its pivot (as the C argument loop does).
fn set_convention(c: &mut CommandLine, convention: Convention, pivot: Pivot) {
    c.scene.detector.convention = convention;
    c.scene.detector.pivot = Some(pivot);
}

/// Three components of a custom vector; switches the convention to CUSTOM.
fn custom_vec(c: &mut CommandLine, v: &Values<'_>) -> Result<[f64; 3]> {
    let xyz = v.vec3()?;
    c.scene.detector.convention = Convention::Custom;
    Ok(xyz)
}

/// Every flag the parser accepts, in usage order. Each entry's `names` are its spellings.
pub fn flag_table() -> &'static [FlagSpec] {
    FLAGS
}

/// The table entry whose names include `name` exactly, if any.
pub fn lookup(name: &str) -> Option<&'static FlagSpec> {
    FLAGS.iter().find(|spec| spec.names.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for spec in FLAGS {
            for name in spec.names {
                assert!(seen.insert(*name), "duplicate flag name {name}");
            }
        }
    }
}
