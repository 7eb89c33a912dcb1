//! Many shots against one detector (serial crystallography): a shot is the crystal and beam
//! state of one still — orientation, cell, crystal size, mosaicity, fluence, wavelength or
//! spectrum, noise seed — applied to a base scene that holds the shared detector, beam and
//! structure factors ([`Shot::apply`]).
//!
//! A shot list is a TOML or JSON file with one `[[shot]]` table per shot:
//!
//! ```toml
//! [[shot]]
//! name = "shot_00001"          # output file stem: letters, digits, '.', '_', '-'
//! misset_deg = [10.0, 20.0, 30.0]
//! n_cells = [12.0, 12.0, 8.0]
//! fluence = 2e24               # photons/m²
//! seed = 7                     # noise seed (-seed)
//! image = "shot_00001.cbf"     # measured image, for `nanobragg ensemble`
//! mask = "shot_00001.mask.img" # pixels to render and fit (SMV, 0 = skip), e.g. shoeboxes
//! ```
//!
//! Every key but `name` is optional and leaves the base scene's value where absent. Units are
//! those of the scene's fields (degrees, Å, photons/m²).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Scene;
use crate::error::{NanobraggError, Result};

/// Most shots in one list.
pub const MAX_SHOTS: usize = 1_000_000;

/// One still: what differs from the base scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Shot {
    /// Output file stem (letters, digits, `.`, `_`, `-`; not starting with `.`), unique in the list.
    pub name: String,
    /// Crystal misset about X, Y, Z (deg), as `-misset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misset_deg: Option<[f64; 3]>,
    /// The crystal's reciprocal matrix `A = U·B` (rows x, y, z; columns a*, b*, c*; Å⁻¹, not
    /// scaled by λ: a DIALS crystal's A). Replaces the base scene's cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a_matrix_per_a: Option<[[f64; 3]; 3]>,
    /// Unit cell a, b, c (Å), α, β, γ (deg), as `-cell`. Replaces the base scene's cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell: Option<[f64; 6]>,
    /// Unit cells along a, b, c, as `-Na -Nb -Nc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_cells: Option<[f64; 3]>,
    /// Mosaic spread (deg), as `-mosaic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mosaic_spread_deg: Option<f64>,
    /// Fluence (photons/m²), as `-fluence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fluence: Option<f64>,
    /// Central wavelength (Å), as `-lambda`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wavelength_a: Option<f64>,
    /// Spectrum / source list (`-sourcefile` columns), relative to the shot list's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_file: Option<PathBuf>,
    /// Noise seed, as `-seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// The shot's measured image (`nanobragg ensemble`; SMV, CBF or raw 4-byte floats),
    /// relative to the shot list's folder. A render ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<PathBuf>,
    /// The shot's pixel mask (SMV, as `-mask`: pixels that are 0 are neither rendered nor
    /// fitted), relative to the shot list's folder: e.g. the shoeboxes around its spots.
    /// Replaces the base scene's mask. Unlike `-mask`, its header's geometry keys are not
    /// read (`IoScene::mask_pixels_only`): the shot's geometry is the scene's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<PathBuf>,
}

/// A list of shots (`[[shot]]` tables).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ShotList {
    /// The shots, in order.
    pub shot: Vec<Shot>,
}

impl ShotList {
    /// Read a shot list (`.json`: JSON, anything else: TOML) and check it; a shot's
    /// `source_file` is made relative to the list's folder.
    pub fn read(path: &Path) -> Result<Self> {
        let input = format!("-shots {}", path.display());
        let refuse = |problem: String| NanobraggError::Invalid { input: input.clone(), problem };
        let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
        let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let mut list: ShotList = if is_json {
            serde_json::from_str(&text).map_err(|e| refuse(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| refuse(e.to_string().lines().next().unwrap_or("").to_string()))?
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        for s in &mut list.shot {
            for f in [&mut s.source_file, &mut s.image, &mut s.mask].into_iter().flatten() {
                *f = dir.join(&*f);
            }
        }
        list.check().map_err(|problem| refuse(problem))?;
        Ok(list)
    }

    /// At least one shot and at most [`MAX_SHOTS`], names valid and unique; the problem named.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.shot.is_empty() || self.shot.len() > MAX_SHOTS {
            return Err(format!("{} shots: give 1 to {MAX_SHOTS} [[shot]] tables", self.shot.len()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, s) in self.shot.iter().enumerate() {
            let ok = !s.name.is_empty()
                && !s.name.starts_with('.')
                && s.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                return Err(format!("shot[{i}].name {:?}: a file stem of letters, digits, '.', '_', '-' (not starting with '.')", s.name));
            }
            if !seen.insert(s.name.as_str()) {
                return Err(format!("shot[{i}].name {:?}: given to two shots", s.name));
            }
        }
        Ok(())
    }
}

impl Shot {
    /// The base scene with this shot's values written in (its cell or A matrix replaces the
    /// base's cell source; given crystal cell counts replace a crystal size).
    pub fn apply(&self, base: &Scene) -> Scene {
        let mut scene = base.clone();
        let c = &mut scene.crystal;
        if let Some(m) = self.misset_deg {
            c.misset_deg = Some(m);
            c.misset_random = false;
        }
        if let Some(a) = self.a_matrix_per_a {
            (c.a_matrix_per_a, c.cell, c.mat_file) = (Some(a), None, None);
        }
        if let Some(cell) = self.cell {
            (c.cell, c.a_matrix_per_a, c.mat_file) = (Some(cell), None, None);
        }
        if let Some(n) = self.n_cells {
            c.n_cells = Some(n);
            c.sample_size_mm = [0.0; 3];
        }
        if let Some(m) = self.mosaic_spread_deg {
            c.mosaic_spread_deg = Some(m);
        }
        if let Some(f) = self.fluence {
            (scene.beam.fluence, scene.beam.flux) = (Some(f), None);
        }
        if let Some(w) = self.wavelength_a {
            scene.beam.wavelength_a = Some(w);
        }
        if let Some(f) = &self.source_file {
            scene.beam.source_file = Some(f.clone());
        }
        if let Some(s) = self.seed {
            scene.io.seed = Some(s);
        }
        if let Some(m) = &self.mask {
            scene.io.mask_file = Some(m.clone());
            scene.io.mask_pixels_only = true;
        }
        scene
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shot_writes_its_values_over_the_base_and_leaves_the_rest() {
        let mut base = Scene::builtin_default();
        base.crystal.cell = Some([50.0, 60.0, 70.0, 90.0, 90.0, 90.0]);
        base.crystal.sample_size_mm = [0.01, 0.0, 0.0];
        let shot = Shot {
            name: "s".into(),
            misset_deg: Some([1.0, 2.0, 3.0]),
            n_cells: Some([4.0, 5.0, 6.0]),
            fluence: Some(1e24),
            seed: Some(9),
            mask: Some("m.img".into()),
            ..Default::default()
        };
        let s = shot.apply(&base);
        assert_eq!(s.crystal.misset_deg, Some([1.0, 2.0, 3.0]));
        assert_eq!((s.crystal.n_cells, s.crystal.sample_size_mm), (Some([4.0, 5.0, 6.0]), [0.0; 3]));
        assert_eq!((s.beam.fluence, s.beam.flux, s.io.seed), (Some(1e24), None, Some(9)));
        assert_eq!(s.io.mask_file.as_deref(), Some(Path::new("m.img")));
        assert!(s.io.mask_pixels_only, "a shot's mask gives pixels, not geometry");
        assert_eq!(s.crystal.cell, base.crystal.cell, "the cell stays");
        let a = [[0.02, 0.0, 0.0], [0.0, 0.02, 0.0], [0.0, 0.0, 0.01]];
        let s = Shot { name: "t".into(), a_matrix_per_a: Some(a), ..Default::default() }.apply(&base);
        assert_eq!((s.crystal.a_matrix_per_a, s.crystal.cell), (Some(a), None), "an A matrix replaces the cell");
    }

    #[test]
    fn bad_names_and_empty_lists_are_refused_naming_the_shot() {
        let list = |names: &[&str]| ShotList { shot: names.iter().map(|n| Shot { name: n.to_string(), ..Default::default() }).collect() };
        assert!(list(&["a", "b.1", "c_d-e"]).check().is_ok());
        assert!(list(&[]).check().unwrap_err().contains("0 shots"));
        assert!(list(&["a", "../x"]).check().unwrap_err().contains("shot[1].name"));
        assert!(list(&[".hidden"]).check().unwrap_err().contains("shot[0]"));
        assert!(list(&["a", "a"]).check().unwrap_err().contains("two shots"));
    }
}
