//! Render real experiment geometry from DIALS models and write PNGs a person can look at.
//!
//! ```text
//! cargo run --release --example render_expt -- [REALDATA_DIR] [OUT_DIR]
//! ```
//!
//! 1. The real Rayonix still of `split_00.expt` (LCLS, one 2560 × 2560 panel): its crystal,
//!    beam and detector, rendered with F = 100 everywhere → `render_expt_rayonix.png`.
//! 2. The 60-panel Pilatus 6M of `datablock-0.json` (DLS I03) with the thaumatin crystal and
//!    beam of `experiments_thaum_0500.json` (the same beamline; one of its refined models) →
//!    `render_expt_pilatus.png`, the panels placed where they are in the lab frame as seen from
//!    the sample (gaps between modules stay black).
//!
//! `REALDATA_DIR` defaults to `../shared/realdata`, `OUT_DIR` to the current folder. Both renders
//! run at f32 on the CPU (Flex) with one sub-pixel; N is set to 10 cells per axis so that
//! spots are a few pixels wide.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn_flex::{Flex, FlexDevice};
use nanobragg::experiment::{apply_experiment, panel_scenes_of_file};
use nanobragg::io::png::{write_png_preview, PngPreviewOptions};
use nanobragg::scene::Scene;
use nanobragg::simulate::{panels_as_seen, render_panels};
use nanobragg::RenderOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(args.next().unwrap_or_else(|| "../shared/realdata".into()));
    let out = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));

    let mut rayonix = base_scene();
    apply_experiment(&mut rayonix, &data.join("split_00.expt"), 0)?;
    render(&rayonix, &out.join("render_expt_rayonix.png"))?;

    let mut pilatus = base_scene();
    apply_experiment(&mut pilatus, &data.join("experiments_thaum_0500.json"), 0)?;
    pilatus.detector.panels = panel_scenes_of_file(&data.join("datablock-0.json"), 0)?;
    render(&pilatus, &out.join("render_expt_pilatus.png"))?;
    Ok(())
}

/// What the models do not say: structure factors, crystal size, sampling.
fn base_scene() -> Scene {
    let mut s = Scene::default();
    s.structure.default_f = Some(100.0);
    s.crystal.n_cells = Some([10.0; 3]);
    s.sampling.oversample = Some(1);
    s
}

/// Render every panel of `scene` and write them, laid out as seen from the sample, to `png`.
fn render(scene: &Scene, png: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let images = render_panels::<Flex>(scene, Path::new("."), &FlexDevice, RenderOptions::default())?;
    let m = panels_as_seen(scene, &images, 2048)?;
    let opts = PngPreviewOptions { log_scale: true, ..Default::default() };
    write_png_preview(png, &m.data, m.width, m.height, &opts)?;
    let total: usize = images.iter().map(|i| i.data.len()).sum();
    println!(
        "{}: {} panel(s), {total} pixels in {:.2} s, PNG {} x {}",
        png.display(),
        images.len(),
        start.elapsed().as_secs_f64(),
        m.width,
        m.height
    );
    Ok(())
}
