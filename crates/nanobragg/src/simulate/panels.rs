//! Multi-panel detectors: one [`Simulator`] per panel, each the one-panel case of the
//! renderer ([`Scene::panel_scene`]), images `[panel][slow][fast]`.
//!
//! Every panel is resolved and checked (setup, plan, memory) before any is rendered, so a
//! refused panel stops the run before any output exists. Gradients and traces work per panel
//! through each panel's simulator, as for a single detector.

use std::path::Path;

use crate::error::{NanobraggError, Result};
use crate::kernel::RenderBackend;
use crate::io::panel_mosaic::{panel_mosaic, Mosaic, PanelPixels};
use crate::scene::{PanelFrame, Scene};
use crate::setup::Setup;

use super::{Image, RenderOptions, Simulator};

/// The simulators of every panel of `scene` (one for a single detector), resolved and
/// checked in panel order; relative file names are taken relative to `base_dir`. An error
/// names the panel it comes from.
pub fn panel_simulators<B: RenderBackend>(
    scene: &Scene,
    base_dir: &Path,
    device: &B::Device,
    options: RenderOptions,
) -> Result<Vec<Simulator<B>>> {
    check_total_pixels(scene)?;
    (0..scene.panel_count())
        .map(|i| {
            let one = scene.panel_scene(i)?;
            let setup = Setup::from_scene(&one, base_dir).map_err(|e| in_panel(scene, i, e))?;
            let sim = Simulator::new(setup, device, options).map_err(|e| in_panel(scene, i, e))?;
            sim.check_memory(false).map_err(|e| in_panel(scene, i, e))?;
            Ok(sim)
        })
        .collect()
}

/// Refuses panels that hold more than [`crate::validate::MAX_PIXELS`] pixels together (the
/// bound of one detector: every panel's image is kept until all are rendered).
fn check_total_pixels(scene: &Scene) -> Result<()> {
    let total = scene
        .detector
        .panels
        .iter()
        .fold(0_i64, |n, p| n.saturating_add(p.fpixels.max(0).saturating_mul(p.spixels.max(0))));
    let max = crate::validate::MAX_PIXELS as i64;
    if total > max {
        return Err(NanobraggError::Invalid {
            input: "scene key detector.panels (-expt)".into(),
            problem: format!("the {} panels hold {total} pixels together, at most {max}: render fewer with -panel N", scene.detector.panels.len()),
        });
    }
    Ok(())
}

/// Render every panel of `scene`: images in panel order, each `slow·fpixels + fast`.
pub fn render_panels<B: RenderBackend>(
    scene: &Scene,
    base_dir: &Path,
    device: &B::Device,
    options: RenderOptions,
) -> Result<Vec<Image>> {
    let sims = panel_simulators::<B>(scene, base_dir, device, options)?;
    sims.iter()
        .enumerate()
        .map(|(i, sim)| sim.render().map_err(|e| in_panel(scene, i, e)))
        .collect()
}

/// The panels' images laid out as seen from the sample ([`panel_mosaic`]) along the scene's
/// beam, for a PNG preview; `images` in panel order, as [`render_panels`] returns them.
pub fn panels_as_seen(scene: &Scene, images: &[Image], max_side: usize) -> Result<Mosaic> {
    let mut pixels = Vec::with_capacity(images.len());
    let placed = scene.placed_panels();
    for (i, (image, panel)) in images.iter().zip(&placed).enumerate() {
        let frame = PanelFrame::of(panel, i)?;
        pixels.push(PanelPixels {
            data: &image.data,
            fpixels: image.fpixels,
            spixels: image.spixels,
            origin: panel.origin_mm,
            fast: frame.fast,
            slow: frame.slow,
            pixel: panel.pixel_mm,
        });
    }
    let beam = scene.detector.beam_vector.unwrap_or(crate::setup::Axes::of(scene.detector.convention).beam);
    Ok(panel_mosaic(&pixels, beam, max_side))
}

/// `e` with the panel named in front (only for multi-panel scenes: a single detector's
/// messages stay the C program's).
fn in_panel(scene: &Scene, index: usize, e: NanobraggError) -> NanobraggError {
    let Some(panel) = scene.detector.panels.get(index) else {
        return e;
    };
    let tag = format!("panel {index} ({})", panel.name);
    match e {
        NanobraggError::Invalid { input, problem } => {
            NanobraggError::Invalid { input: format!("{tag}: {input}"), problem }
        }
        NanobraggError::Scene(m) => NanobraggError::Scene(format!("{tag}: {m}")),
        NanobraggError::Geometry(m) => NanobraggError::Geometry(format!("{tag}: {m}")),
        other => other,
    }
}
