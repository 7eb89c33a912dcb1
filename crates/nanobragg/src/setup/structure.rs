//! Structure factors: an HKL file, a `Fdump.bin` cache beside the scene, or `-default_F` alone.

use std::path::Path;
use std::sync::Arc;

use super::resolve_path;
use crate::error::{NanobraggError, Result};
use crate::io;
use crate::scene::Scene;

/// Resolved structure factors.
#[derive(Debug, Clone, PartialEq)]
pub struct StructureSetup {
    /// The HKL grid, if any was loaded; shared by the clones of a setup (the shots of a
    /// batch or an ensemble hold one grid, not one each).
    pub grid: Option<Arc<io::hkl::HklGrid>>,
    /// Reflections read (the C program's `hkls`; interpolation needs at least one).
    pub reflections: usize,
    /// default_F.
    pub default_f: f64,
    /// Interpolation choice: `Some` when forced by a flag, `None` for auto (any N ≤ 2).
    pub interpolate: Option<bool>,
}

/// Resolve the structure factors: `-hkl` (relative to `base_dir`, missing reflections at
/// `-default_F`), else `base_dir/Fdump.bin` if present; refuses a scene whose every structure
/// factor would be 0.
pub fn resolve_structure(scene: &Scene, base_dir: &Path) -> Result<StructureSetup> {
    let s = &scene.structure;
    let default_f = s.default_f.unwrap_or(0.0);
    let mut reflections = 0;
    let grid = match &s.hkl_file {
        Some(p) => {
            let data = io::hkl::read_hkl(&resolve_path(base_dir, p), default_f)?;
            reflections = data.reflections;
            Some(data.grid)
        }
        None => {
            let dump = base_dir.join("Fdump.bin");
            if dump.exists() {
                let grid = io::fdump::read_fdump(&dump)?;
                reflections = grid.values.len();
                Some(grid)
            } else {
                None
            }
        }
    };
    if grid.is_none() && default_f == 0.0 {
        let why = if s.default_f.is_some() {
            "-default_F 0 and no -hkl file (nor Fdump.bin): every structure factor is 0, which gives an empty image; give -hkl file or a non-zero -default_F"
        } else {
            "no structure factors: give -hkl file or -default_F (and no Fdump.bin was found)"
        };
        return Err(NanobraggError::Scene(why.into()));
    }
    Ok(StructureSetup {
        grid: grid.map(Arc::new),
        reflections,
        default_f,
        interpolate: s.interpolate,
    })
}
