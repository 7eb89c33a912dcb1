//! Runs with a multi-panel detector (`-expt`, or `detector.panels` in a scene file).
//!
//! `-panel N` turns the scene into panel N's one-panel scene before anything else, so every
//! output of a single detector (SMV, CBF, PGM, noise, `grad`, `refine`) works on it.
//! `-panel all` (the default) renders every panel: `-floatfile` holds the panels one after the
//! other (`[panel][slow][fast]`, f32), `-nxsfile` writes them with the detector model (NeXus
//! NXmx), `-pngfile` lays them out as seen from the sample; the
//! single-image formats are refused rather than written for one panel only.

use std::path::{Path, PathBuf};

use nanobragg::kernel::RenderBackend;
use nanobragg::scene::Scene;
use nanobragg::simulate::{panels_as_seen, render_panels, Image};
use nanobragg::RenderOptions;
use nanobragg_cli::{CommandLine, PanelChoice};

use crate::backend::{dispatch, BackendJob};
use crate::outputs::{check, inputs, NamedFile};
use crate::run::Failure;

/// Longest side of the multi-panel PNG (screen pixels).
const MOSAIC_MAX_SIDE: usize = 2048;

/// Apply `-expt` to the scene (the file's models where flags leave fields unset), then
/// `-panel N` (the scene becomes that panel's one-panel scene).
pub fn resolve(cl: &mut CommandLine) -> Result<(), Failure> {
    let runtime = |e: nanobragg::NanobraggError| Failure::Runtime(e.to_string());
    if let Some(path) = cl.expt.clone() {
        nanobragg::experiment::apply_experiment(&mut cl.scene, &path, cl.experiment).map_err(runtime)?;
    }
    let one = match cl.panel {
        PanelChoice::One(n) => Some(n),
        // A detector of one panel is a single detector: every output works on it.
        PanelChoice::All => (cl.scene.detector.panels.len() == 1).then_some(0),
    };
    if let Some(n) = one {
        cl.scene = cl.scene.panel_scene(n).map_err(runtime)?;
    }
    Ok(())
}

/// The outputs of a multi-panel render; refuses the single-image formats when named.
fn outputs(cl: &CommandLine) -> Result<Vec<NamedFile>, Failure> {
    let io = &cl.scene.io;
    let single: [(&str, bool); 7] = [
        ("-trace_pixel", io.trace_pixel.is_some()),
        ("-printout_pixel", io.printout_pixel.is_some()),
        ("-intfile", io.intfile.is_some()),
        ("-noisefile", io.noisefile.is_some()),
        ("-pgmfile", io.pgmfile.is_some()),
        ("-cbffile", io.cbffile.is_some()),
        ("-floatfile_f64", io.floatfile_f64.is_some()),
    ];
    if let Some((flag, _)) = single.iter().find(|(_, given)| *given) {
        return Err(Failure::Usage(format!(
            "{flag}: works on one panel; with {} panels choose one with -panel N (or use -floatfile / -pngfile)",
            cl.scene.panel_count()
        )));
    }
    let float = io.floatfile.clone().unwrap_or_else(|| PathBuf::from(crate::outputs::DEFAULT_FLOATFILE));
    let mut out = vec![NamedFile { flag: "-floatfile", path: float }];
    if let Some(p) = &io.pngfile {
        out.push(NamedFile { flag: "-pngfile", path: p.clone() });
    }
    if let Some(p) = &cl.nxsfile {
        out.push(NamedFile { flag: "-nxsfile", path: p.clone() });
    }
    if let Some(p) = &cl.dump_scene {
        out.push(NamedFile { flag: "-dump_scene", path: p.clone() });
    }
    Ok(out)
}

struct PanelJob<'a> {
    scene: &'a Scene,
    options: RenderOptions,
}

impl BackendJob for PanelJob<'_> {
    type Output = Result<Vec<Image>, String>;
    fn run<B: RenderBackend>(self, device: B::Device) -> Self::Output {
        render_panels::<B>(self.scene, Path::new("."), &device, self.options).map_err(|e| e.to_string())
    }
}

/// Render every panel and write `-floatfile`, `-pngfile` and `-dump_scene`.
pub fn run_all(cl: &CommandLine) -> Result<(), Failure> {
    let planned = outputs(cl)?;
    check(&planned, &inputs(cl))?;
    let options = RenderOptions { tile_pixels: cl.tile_pixels, engine: cl.engine, ..RenderOptions::default() };
    let images = dispatch(&cl.backend, cl.dtype, PanelJob { scene: &cl.scene, options })
        .map_err(Failure::Usage)?
        .map_err(Failure::Runtime)?;
    let fail = |flag: &'static str| move |e: nanobragg::io::IoError| Failure::Runtime(format!("{flag}: {e}"));
    for (i, (image, panel)) in images.iter().zip(&cl.scene.detector.panels).enumerate() {
        let max = image.data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = image.data.iter().map(|&v| v as f64).sum();
        say!("panel {i} ({}): {} x {} pixels, max_I = {max}, sum = {sum}", panel.name, image.fpixels, image.spixels);
    }
    let all: Vec<f32> = images.iter().flat_map(|i| i.data.iter().copied()).collect();
    let float_path = &planned[0].path;
    say!("writing {} as {} 4-byte floats ({} panels, [panel][slow][fast])", float_path.display(), all.len(), images.len());
    nanobragg::io::float_image::write_float_image(float_path, &all).map_err(fail("-floatfile"))?;
    if let Some(path) = &cl.nxsfile {
        let pixels = images.iter().map(|i| i.data.clone()).collect();
        crate::nxs_out::write(path, crate::nxs_out::panels_of(&cl.scene), pixels, crate::nxs_out::wavelength_a(&cl.scene))?;
    }
    if let Some(png) = &cl.scene.io.pngfile {
        write_mosaic(cl, &images, png)?;
    }
    if let Some(path) = &cl.dump_scene {
        crate::run::write_scene(&cl.scene, path)?;
    }
    Ok(())
}

/// The panels laid out as seen from the sample, as a PNG preview.
fn write_mosaic(cl: &CommandLine, images: &[Image], png: &Path) -> Result<(), Failure> {
    let m = panels_as_seen(&cl.scene, images, MOSAIC_MAX_SIDE).map_err(|e| Failure::Runtime(e.to_string()))?;
    let opts = nanobragg::io::png::PngPreviewOptions { log_scale: cl.scene.io.png_log, ..Default::default() };
    nanobragg::io::png::write_png_preview(png, &m.data, m.width, m.height, &opts)
        .map_err(|e| Failure::Runtime(format!("-pngfile: {e}")))?;
    say!("writing {} (PNG preview, {} x {}, panels as seen from the sample)", png.display(), m.width, m.height);
    Ok(())
}
