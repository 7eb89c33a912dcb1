//! `refine -target measured.cbf[.gz]`: a measured CBF image (raw ADU, the whole detector
//! frame) as refinement targets. Each panel's block is cut from the frame at its
//! `raw_image_offset`, divided by its gain, and only its valid pixels (inside the trusted
//! range, outside every mask rectangle: [`nanobragg::scene::PanelReadout`]) enter the loss.
//! Raw-float and SMV targets are photons already and are used as they are.

use std::path::Path;

use nanobragg::scene::{panel_pixels, PanelPixels, PanelReadout, RawImage, Scene};
use nanobragg_refine::Observation;

use crate::run::Failure;

/// Whether `path` names a CBF image (`.cbf`, or `.cbf.gz`), by its name.
pub fn is_cbf(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    name.ends_with(".cbf") || name.ends_with(".cbf.gz")
}

/// The CBF at `path` as raw values (ADU, f64) with its width and height.
fn raw(path: &Path) -> Result<(Vec<f64>, usize, usize), Failure> {
    let image = nanobragg::io::cbf::read_cbf(path).map_err(|e| Failure::Runtime(format!("-target {}: {e}", path.display())))?;
    Ok((image.data.iter().map(|&v| f64::from(v)).collect(), image.fpixels, image.spixels))
}

/// The observation of one panel: its photons, with its valid pixels as the mask. Refuses a
/// valid pixel below 0 photons (a trusted range that lets the Pilatus gap or bad-pixel marks
/// −1/−2 through).
fn observation(pixels: PanelPixels, name: &str, panel: &str, fpixels: usize) -> Result<Observation, Failure> {
    let negative = pixels.photons.iter().zip(&pixels.valid).position(|(&v, &ok)| ok && v < 0.0);
    if let Some(i) = negative {
        return Err(Failure::Runtime(format!(
            "{name} ({panel}): pixel (fast {}, slow {}) is {} photons yet inside the trusted range: \
             raise the trusted_range's lower bound (dxtbx reads it inclusive since 3.12) or mask it",
            i % fpixels.max(1),
            i / fpixels.max(1),
            pixels.photons[i]
        )));
    }
    Ok(Observation::new(pixels.photons).with_mask(pixels.valid))
}

/// The single detector's observation (`fpixels × spixels`) from the CBF at `path`, with the
/// readout [`Scene::panel_scene`] left in `detector.readout` (none: the frame is the
/// detector's own, gain 1, every value trusted).
pub fn single(path: &Path, scene: &Scene, fpixels: usize, spixels: usize) -> Result<Observation, Failure> {
    let name = format!("-target {}", path.display());
    let (values, width, height) = raw(path)?;
    let image = RawImage { values: &values, width, height, name: &name };
    let readout = scene.detector.readout.clone().unwrap_or_else(PanelReadout::default);
    let pixels = readout.pixels(&image, fpixels, spixels, "the detector").map_err(|e| Failure::Runtime(e.to_string()))?;
    nanobragg::validate::check_image(&name, &pixels.photons, false).map_err(|e| Failure::Runtime(e.to_string()))?;
    observation(pixels, &name, "the detector", fpixels)
}

/// Every panel's observation from the CBF at `path`, in the order of `detector.panels`.
pub fn panels(path: &Path, scene: &Scene) -> Result<Vec<Observation>, Failure> {
    let name = format!("-target {}", path.display());
    let (values, width, height) = raw(path)?;
    let image = RawImage { values: &values, width, height, name: &name };
    let all = panel_pixels(scene, &image).map_err(|e| Failure::Runtime(e.to_string()))?;
    if all.iter().all(|p| p.photons.iter().all(|&v| v == 0.0)) {
        return Err(Failure::Runtime(format!("{name}: every valid pixel of every panel is 0: there is nothing to fit")));
    }
    all.into_iter()
        .zip(&scene.detector.panels)
        .enumerate()
        .map(|(i, (pixels, p))| observation(pixels, &name, &format!("panel {i} {}", p.name), p.fpixels.max(1) as usize))
        .collect()
}
