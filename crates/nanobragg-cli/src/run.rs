//! The main job: parse flags, resolve the scene, render on the chosen backend, report and write
//! the output files (each written atomically, none when an error occurs first).

use nanobragg::kernel::RenderBackend;
use std::path::{Path, PathBuf};

use nanobragg::io::smv::SmvHeaderValues;
use nanobragg::io::Roi;
use nanobragg::linalg::to_f64;
use nanobragg::simulate::{Image, Plan};
use nanobragg::stats::{image_stats, ImageStats};
use nanobragg::units::RTD;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg::phi::{FreshPhiRotation, PhiRotation};
use nanobragg_cli::{parse_args, usage, CommandLine, PhiCarryoverMode};
use nanobragg_parity::phi_cache::PhiCarryover;

use crate::backend::{dispatch, BackendJob};
use crate::observe::CliObserver;
use nanobragg::trace::detector_trace_lines;
use crate::report;

/// Why the program stops.
#[derive(Debug)]
pub enum Failure {
    /// Bad command line (exit 2).
    Usage(String),
    /// Bad input file, impossible geometry, I/O failure (exit 1).
    Runtime(String),
}

/// Geometry values the headers and the report need, read back from the tensors.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub image: Image,
    pub plan: Plan,
    pub header: SmvHeaderValues,
    pub frame: DetectorFrame,
    /// The noise image drawn on the render's device (`-noise_rng philox`), if any.
    pub counter_noise: Option<nanobragg::random::noise::NoiseResult>,
}

/// The rendered detector in the scene's lab frame (after all rotations), for `-nxsfile`.
#[derive(Debug, Clone, Copy)]
pub struct DetectorFrame {
    /// Outer corner of pixel (0, 0) (mm).
    pub pix0_mm: [f64; 3],
    /// Unit fast axis.
    pub fast: [f64; 3],
    /// Unit slow axis.
    pub slow: [f64; 3],
    /// Unit beam direction (propagation).
    pub beam: [f64; 3],
}

struct RenderJob<'a> {
    setup: &'a Setup,
    io: &'a nanobragg::scene::IoScene,
    options: RenderOptions,
    carryover: PhiCarryoverMode,
    /// The stream of `-noise_rng philox`.
    noise_stream: u32,
}

impl BackendJob for RenderJob<'_> {
    type Output = Result<Rendered, String>;
    fn run<B: RenderBackend>(self, device: B::Device) -> Self::Output {
        let policy: Box<dyn PhiRotation<B>> = match self.carryover {
            PhiCarryoverMode::Spec => Box::new(FreshPhiRotation),
            PhiCarryoverMode::CParity => Box::new(PhiCarryover),
        };
        let sim = Simulator::<B>::with_phi_rotation(self.setup.clone(), &device, self.options, policy)
            .map_err(|e| e.to_string())?;
        let det_setup = &self.setup.detector;
        let mut observer = CliObserver::new(self.io, det_setup.fpixels, det_setup.spixels);
        if observer.traces() {
            for line in detector_trace_lines(&sim.setup.detector, &sim.params).map_err(|e| e.to_string())? {
                say!("{line}");
            }
        }
        // Printed before the render, where the C program prints them.
        for n in &sim.plan.notes {
            say!("{n}");
        }
        if let (true, Some([s, f])) = (observer.traces(), self.io.trace_pixel) {
            say!("TRACE_CONFIG: tracing pixel (spixel={s}, fpixel={f})");
        }
        let image = sim.render_observed(&mut observer).map_err(|e| e.to_string())?;
        observer.finish();
        let det = sim.detector().map_err(|e| e.to_string())?;
        let s = self.setup;
        let mm = |t: &burn::tensor::Tensor<B, 1>| to_f64(t) * 1000.0;
        let pixel = s.detector.pixel_m;
        let (fbeam, sbeam) = (to_f64(&det.fbeam), to_f64(&det.sbeam));
        let header = SmvHeaderValues {
            fpixels: s.detector.fpixels,
            spixels: s.detector.spixels,
            pixel_size_mm: pixel * 1000.0,
            distance_mm: mm(&det.distance),
            wavelength_a: s.beam.wavelength_m * 1e10,
            beam_center_x_mm: mm(&det.xbeam),
            beam_center_y_mm: mm(&det.ybeam),
            adxv_center_x_mm: fbeam * 1000.0,
            adxv_center_y_mm: (to_f64(&det.detsize_s) - sbeam) * 1000.0,
            mosflm_center_x_mm: (sbeam - 0.5 * pixel) * 1000.0,
            mosflm_center_y_mm: (fbeam - 0.5 * pixel) * 1000.0,
            denzo_x_beam_mm: sbeam * 1000.0,
            denzo_y_beam_mm: fbeam * 1000.0,
            dials_origin_mm: det.dials_origin_mm(),
            xds_orgx: to_f64(&det.fclose) / pixel + 0.5,
            xds_orgy: to_f64(&det.sclose) / pixel + 0.5,
            close_distance_mm: mm(&det.close_distance),
            phi_deg: s.crystal.phi0_rad * RTD,
            osc_start_deg: s.crystal.phi0_rad * RTD,
            osc_range_deg: s.crystal.osc_rad * RTD,
            twotheta_deg: s.detector.twotheta_rad * RTD,
        };
        let v3 = |t: &burn::tensor::Tensor<B, 1>| {
            let v = nanobragg::linalg::to_vec(t);
            [v[0], v[1], v[2]]
        };
        let frame = DetectorFrame {
            pix0_mm: v3(&det.pix0).map(|x| x * 1000.0),
            fast: v3(&det.fdet),
            slow: v3(&det.sdet),
            beam: v3(&det.beam),
        };
        let counter_noise = crate::noise::counter_noise::<B>(
            self.io,
            &image.data,
            image.fpixels,
            &roi_of(self.setup),
            self.noise_stream,
            &device,
        )?;
        Ok(Rendered {
            image,
            plan: sim.plan.clone(),
            header,
            frame,
            counter_noise,
        })
    }
}

/// Run the program on an argument list (without the program name).
pub fn run(mut args: Vec<std::ffi::OsString>) -> Result<(), Failure> {
    let first = args.first().and_then(|a| a.to_str());
    let grad_mode = first == Some("grad");
    let refine_mode = first == Some("refine");
    let batch_mode = first == Some("batch");
    let ensemble_mode = first == Some("ensemble");
    if grad_mode || refine_mode || batch_mode || ensemble_mode {
        args.remove(0);
    }
    let mut cl: CommandLine = parse_args(args).map_err(|e| Failure::Usage(e.to_string()))?;
    if cl.help {
        say!("{}{}", usage(), crate::grad::parameter_help());
        return Ok(());
    }
    crate::nxs_out::check_supported(&cl)?;
    if (grad_mode || refine_mode || ensemble_mode) && cl.nxsfile.is_some() {
        return Err(Failure::Usage("-nxsfile: only a render writes images (not grad, refine or ensemble)".into()));
    }
    if !ensemble_mode && cl.ensemble != nanobragg_cli::EnsembleArgs::default() {
        return Err(Failure::Usage("-refine_shot, -cycles, -schedule, -checkpoint_every, -restart, -F_prior and -skip_bad_shots belong to nanobragg ensemble".into()));
    }
    crate::panels::resolve(&mut cl)?;
    if grad_mode {
        return crate::grad::run(cl);
    }
    if refine_mode {
        return crate::refine::run(cl);
    }
    if ensemble_mode {
        return crate::ensemble::run(cl);
    }
    if batch_mode || cl.shots.is_some() || cl.outdir.is_some() {
        return match batch_mode {
            true => crate::batch::run(cl),
            false => Err(Failure::Usage("-shots and -outdir belong to nanobragg batch".into())),
        };
    }
    if !cl.scene.detector.panels.is_empty() {
        return crate::panels::run_all(&cl);
    }
    crate::outputs::check(&crate::outputs::render_outputs(&cl), &crate::outputs::inputs(&cl))?;
    let setup = Setup::from_scene(&cl.scene, &PathBuf::from(".")).map_err(|e| Failure::Runtime(e.to_string()))?;
    render_one(&cl, &setup).map(|_| ())
}

/// Render the single-detector scene of `cl` (resolved as `setup`, outputs checked) and write
/// its outputs; returns the image's statistics.
pub fn render_one(cl: &CommandLine, setup: &Setup) -> Result<ImageStats, Failure> {
    if let Some(path) = &cl.dump_scene {
        write_scene(&cl.scene, path)?;
    }
    write_fdump_cache(cl, setup);
    for w in &setup.warnings {
        say!("{w}");
    }
    let options = RenderOptions {
        tile_pixels: cl.tile_pixels,
        engine: cl.engine,
        keep_f64: cl.scene.io.floatfile_f64.is_some(),
        ..RenderOptions::default()
    };
    let rendered = dispatch(
        &cl.backend,
        cl.dtype,
        RenderJob {
            setup,
            io: &cl.scene.io,
            options,
            carryover: cl.phi_carryover_mode,
            noise_stream: cl.noise_stream,
        },
    )
        .map_err(Failure::Usage)?
        .map_err(Failure::Runtime)?;
    for n in &rendered.image.notes {
        say!("{n}");
    }
    let stats = image_stats(
        &rendered.image,
        &rendered.plan.pixels,
        setup.sampling.roi,
        setup.detector.pixel_m,
        rendered.plan.oversample,
    );
    write_outputs(cl, setup, &rendered, &stats)?;
    Ok(stats)
}

/// Write `scene` as TOML to `path` (`-dump_scene`), atomically.
pub fn write_scene(scene: &nanobragg::Scene, path: &Path) -> Result<(), Failure> {
    let text = scene.to_toml_string().map_err(|e| Failure::Runtime(format!("-dump_scene: {e}")))?;
    nanobragg::io::atomic::write_atomic(path, text.as_bytes())
        .map_err(|e| Failure::Runtime(format!("-dump_scene: {e}")))
}

/// Like the C program, cache the grid read from `-hkl` as `Fdump.bin` in the working directory
/// (written atomically) for later runs without `-hkl`; failure to write is only a warning.
fn write_fdump_cache(cl: &CommandLine, setup: &Setup) {
    if cl.scene.structure.hkl_file.is_none() {
        return;
    }
    if let Some(grid) = &setup.structure.grid {
        let path = Path::new("Fdump.bin");
        match nanobragg::io::fdump::write_fdump(path, grid) {
            Ok(()) => say!("writing dump file for next time: {}", path.display()),
            Err(e) => say!("WARNING: unable to open dump file: {e}"),
        }
    }
}

fn roi_of(setup: &Setup) -> Roi {
    let r = setup.sampling.roi.map(|v| v.max(0) as usize);
    Roi {
        fast_min: r[0],
        fast_max: r[1],
        slow_min: r[2],
        slow_max: r[3],
    }
}

fn write_outputs(
    cl: &CommandLine,
    setup: &Setup,
    r: &Rendered,
    stats: &ImageStats,
) -> Result<(), Failure> {
    let io = &cl.scene.io;
    let img = &r.image;
    let fail = |flag: &'static str| move |e: nanobragg::io::IoError| Failure::Runtime(format!("{flag}: {e}"));
    let float_path = io.floatfile.clone().unwrap_or_else(|| crate::outputs::DEFAULT_FLOATFILE.into());
    say!(
        "writing {} as {} 4-byte floats",
        float_path.display(),
        img.data.len()
    );
    nanobragg::io::float_image::write_float_image(&float_path, &img.data).map_err(fail("-floatfile"))?;
    if let Some(path) = &io.floatfile_f64 {
        say!("writing {} as {} 8-byte floats", path.display(), img.data_f64.len());
        nanobragg::io::float_image::write_float64_image(path, &img.data_f64)
            .map_err(fail("-floatfile_f64"))?;
    }
    report::print_stats(stats);

    let roi = roi_of(setup);
    let scale = nanobragg::io::smv::intfile_auto_scale(io.int_scale.unwrap_or(0.0), stats.max);
    say!("intfile_scale = {}", nanobragg::io::cfmt::format_g(scale, 6));
    let adc = io.adc_offset.unwrap_or(crate::outputs::DEFAULT_ADC);
    let int_path = io.intfile.clone().unwrap_or_else(|| "intimage.img".into());
    let ints = nanobragg::io::smv::int_image(&img.data, img.fpixels, scale, adc, &roi);
    say!("writing {} as 2-byte integers", int_path.display());
    nanobragg::io::smv::write_smv(&int_path, &r.header, &ints).map_err(fail("-intfile"))?;
    if let Some(path) = &io.cbffile {
        let counts = nanobragg::io::smv::int_counts(&img.data, img.fpixels, scale, adc, &roi);
        let cbf = crate::cbf_out::cbf_image(r, counts, setup);
        say!("writing {} as a miniCBF of 4-byte integers", path.display());
        nanobragg::io::cbf::write_cbf(path, &cbf).map_err(fail("-cbffile"))?;
    }
    if let Some(path) = &cl.nxsfile {
        let panel = crate::nxs_out::single_panel(r, setup, cl.expt.is_some())?;
        crate::nxs_out::write(path, vec![panel], vec![img.data.clone()], r.header.wavelength_a)?;
    }

    if !io.nopgm {
        let pgm_path = io.pgmfile.clone().unwrap_or_else(|| "image.pgm".into());
        let pgm_scale =
            nanobragg::io::pgm::pgm_auto_scale(io.pgm_scale.unwrap_or(0.0), stats.rmsd, scale);
        say!("pgm_scale = {}", nanobragg::io::cfmt::format_g(pgm_scale, 6));
        nanobragg::io::pgm::write_pgm_from_float(
            &pgm_path,
            &img.data,
            img.fpixels,
            img.spixels,
            pgm_scale,
            &roi,
        )
        .map_err(fail("-pgmfile"))?;
    }
    if let Some(png) = &io.pngfile {
        let opts = nanobragg::io::png::PngPreviewOptions {
            log_scale: io.png_log,
            ..Default::default()
        };
        nanobragg::io::png::write_png_preview(png, &img.data, img.fpixels, img.spixels, &opts)
            .map_err(fail("-pngfile"))?;
        say!("writing {} (PNG preview)", png.display());
    }
    if !io.nonoise {
        crate::noise::write_noise(io, r, &roi, adc)?;
    }
    Ok(())
}

