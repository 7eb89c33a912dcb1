//! Scene → setup: defaults, conventions, precedence rules and auto-selected step counts.
//!
//! Everything here is host-side and discrete or constant: which convention's vectors apply, how
//! many sources/φ steps/domains/layers there are, which pixels are rendered. The continuous
//! quantities are carried in SI units to [`crate::params::Params`], where they become tensors.
//! The rules mirror the C program (see `docs/parity.md`).
//!
//! [`Setup::from_scene`] resolves one subject per file, in this order: `header` (values from the
//! `-img`/`-mask` files), `detector` (with `axes`, the convention's vectors), `crystal`, `beam`,
//! `structure` and `sampling`; `steps` holds the C program's count/range/step auto-selections.

use std::path::{Path, PathBuf};

use crate::error::{NanobraggError, Result};
use crate::scene::Scene;

mod axes;
mod beam;
mod crystal;
mod detector;
mod header;
mod sampling;
mod steps;
mod structure;

pub use axes::Axes;
pub use beam::{BeamSetup, Source};
pub use crystal::{CellSource, CrystalSetup};
pub use detector::{BeamCenterMapping, CenterDefault, DetectorSetup, GroupFrame};
pub use sampling::SamplingSetup;
pub use steps::auto_steps;
pub use structure::{resolve_structure, StructureSetup};

use header::HeaderDefaults;

/// A fully resolved scene, ready to become tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// Detector.
    pub detector: DetectorSetup,
    /// Beam.
    pub beam: BeamSetup,
    /// Crystal.
    pub crystal: CrystalSetup,
    /// Structure factors.
    pub structure: StructureSetup,
    /// Sampling.
    pub sampling: SamplingSetup,
    /// Warnings the C program would print, in order.
    pub warnings: Vec<String>,
}

impl Setup {
    /// Resolve a scene; relative file names are taken relative to `base_dir`.
    pub fn from_scene(scene: &Scene, base_dir: &Path) -> Result<Self> {
        Self::resolve(scene, base_dir, None)
    }

    /// As [`Setup::from_scene`], with the structure factors already resolved (`structure`, from
    /// a scene with the same `-hkl`, `-default_F` and interpolation flags): the shots of a list
    /// over one scene then read its HKL file once. Refuses a `structure` whose `default_F` or
    /// interpolation differ from the scene's.
    pub fn from_scene_with_structure(scene: &Scene, base_dir: &Path, structure: StructureSetup) -> Result<Self> {
        let s = &scene.structure;
        if structure.default_f != s.default_f.unwrap_or(0.0) || structure.interpolate != s.interpolate {
            return Err(crate::error::NanobraggError::Scene(
                "the structure factors given were resolved for another -default_F or interpolation".into(),
            ));
        }
        Self::resolve(scene, base_dir, Some(structure))
    }

    fn resolve(scene: &Scene, base_dir: &Path, structure: Option<StructureSetup>) -> Result<Self> {
        crate::validate::check_scene(scene)?;
        let mut warnings = Vec::new();
        let (hdr, mask) = HeaderDefaults::read(scene, base_dir)?;
        let detector = detector::resolve_detector(scene, &hdr, &mut warnings)?;
        if let Some(m) = &mask {
            check_mask_size(m, scene.io.mask_file.as_deref().unwrap_or(Path::new("")), &detector)?;
        }
        let wavelength_m = beam::resolve_wavelength(scene, &hdr);
        let crystal = crystal::resolve_crystal(scene, &hdr, base_dir, &mut warnings)?;
        let beam = beam::resolve_beam(scene, &detector, wavelength_m, base_dir)?;
        let structure = match structure {
            Some(given) => given,
            None => structure::resolve_structure(scene, base_dir)?,
        };
        let sampling = sampling::resolve_sampling(scene, &detector, mask);
        Ok(Setup {
            detector,
            beam,
            crystal,
            structure,
            sampling,
            warnings,
        })
    }

    /// Total number of inner-loop steps the intensity is divided by:
    /// sources × mosaic domains × φ steps × oversample².
    pub fn steps(&self, oversample: usize) -> usize {
        self.beam.sources.len()
            * self.crystal.mosaic_umats.len()
            * self.crystal.phi_steps
            * oversample
            * oversample
    }
}

/// Refuses a `-mask` (`file`) whose pixel count (fast-major) differs from the resolved
/// detector's.
fn check_mask_size(mask: &[bool], file: &Path, detector: &DetectorSetup) -> Result<()> {
    if mask.len() != detector.fpixels * detector.spixels {
        return Err(NanobraggError::Scene(format!(
            "-mask {}: mask has {} pixels but the detector has {}x{}",
            file.display(),
            mask.len(),
            detector.fpixels,
            detector.spixels
        )));
    }
    Ok(())
}

/// A file name from the scene: absolute as given, relative ones taken relative to `base`.
fn resolve_path(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The C program's default seed value (before negation): the wall-clock time in seconds.
pub fn time_seed() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(1)
}
