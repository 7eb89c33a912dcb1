//! NeXus/HDF5 images in the NXmx application definition (feature `nexus`): a writer of an image
//! of every panel with the detector model, and a reader of such a file.
//!
//! # What is written
//! ```text
//! /entry                                NXentry, definition = "NXmx"
//!   data/                               NXdata, @signal = "data"
//!     data        f32 [1][rows][cols]   the image, photons (a hard link of detector/data)
//!   instrument/                         NXinstrument
//!     beam/       incident_wavelength   NXbeam, Å (@units "angstrom")
//!     detector/                         NXdetector, depends_on → transformations/origin
//!       data                            hard link to /entry/data/data
//!       sensor_material, sensor_thickness   where known (thickness in µm, when all panels share it)
//!       transformations/origin          NXtransformations: a zero translation, the root of every chain
//!       module_000/ …                   NXdetector_module, one per panel, in panel order
//!         data_origin [2], data_size [2]    (slow, fast) pixels: the panel's block of `data`
//!         module_offset                 translation |O| (mm) along O/|O|, depends_on → …/origin
//!         fast_pixel_direction          translation pixel (mm) along the unit fast axis, depends_on → module_offset
//!         slow_pixel_direction          the same along the slow axis
//!   sample/                             NXsample, depends_on = ".", beam (a hard link of the NXbeam)
//! ```
//! `O` is the panel's `origin_mm` (the outer corner of pixel (0, 0), [`PanelScene`]). The panels'
//! images are stacked along the slow direction of one frame: panel `p` occupies rows
//! `Σ_{q<p} spixels_q ..` and columns `0 .. fpixels_p`; columns beyond a narrower panel hold
//! [`GAP_VALUE`]. This is the layout of multi-module Eiger/Jungfrau files that dxtbx reads
//! (`dxtbx/nexus/__init__.py`, `get_detector_module_slices`: each module's `data_origin`,
//! `data_size` slice the 2-D frame `data[0]`).
//!
//! Pixels are `f32` photons (the values of `-floatfile`), so a render goes to NeXus without
//! rounding; a write → read round trip is bit-identical.
//!
//! # Frames and units
//! NeXus vectors are in the McStas frame (`manual.nexusformat.org/design.html`, "Coordinate
//! systems": z along the beam, y up); dxtbx's lab frame (the imgCIF frame, in which `-expt`
//! panels are given) has x and z reversed: dxtbx converts with `MCSTAS_TO_IMGCIF =
//! diag(−1, 1, −1)` (`dxtbx/nexus/__init__.py`). Panels passed to [`write_nexus`] are in
//! dxtbx's lab frame (beam propagating along −z) and every vector is written as
//! `(−x, y, −z)`; [`read_nexus`] flips them back.
//!
//! A transformation's 4×4 matrix is `[R | value·v + offset]` for a translation and
//! `[R(value·v) | offset]` for a rotation, and a chain `t1 → t2 → … → tn → "."` composes as
//! `Tn ⋯ T2 T1` (nxmx's `Transformation.compose`, `get_cumulative_transformation`). The panel
//! origin is that chain from `fast_pixel_direction/@depends_on` applied to the pixel
//! directions' offsets; its axes are the chain's rotation applied to their vectors.
//!
//! Lengths are written in mm (thicknesses in µm), wavelengths in Å, so the numbers are the
//! scene's own and the round trip is exact; the reader converts `m`, `cm`, `mm`, `um`/`µm`/
//! `micron(s)`, `nm` and `angstrom`, and rotations in `deg`/`degree(s)`/`rad`/`radian(s)`.
//!
//! # Source files
//! `write.rs`: the writer (through a temporary file renamed over the destination);
//! `read.rs`: the reader and its checks; `chain.rs`: transformation chains and units;
//! `h5.rs`: small typed accessors with errors naming the HDF5 path.
//!
//! Every failure is a [`NanobraggError`] naming the file and the HDF5 path at fault, e.g.
//! `out.nxs: /entry/instrument/detector/module_003/fast_pixel_direction@vector: [NaN, 0, 1] is not finite`.

mod chain;
mod h5;
mod read;
mod write;

pub use read::read_nexus;
pub use write::write_nexus;

use std::path::Path;

use crate::error::NanobraggError;
use crate::io::IoError;
use crate::scene::PanelScene;

/// Value of the frame's pixels that belong to no panel (the Pilatus convention for gaps).
pub const GAP_VALUE: f32 = -1.0;

/// An image of every panel of a detector with the model that places them.
#[derive(Debug, Clone, PartialEq)]
pub struct NexusImage {
    /// The panels, dxtbx's lab frame (mm): origin at the outer corner of pixel (0, 0), unit
    /// fast and slow axes (normalised by the writer), square pixels.
    pub panels: Vec<PanelScene>,
    /// Each panel's pixels, photons, fast-major (`index = slow * fpixels + fast`):
    /// `images[p]` holds `fpixels × spixels` values of `panels[p]`.
    pub images: Vec<Vec<f32>>,
    /// Wavelength of the incident beam (Å).
    pub wavelength_a: f64,
    /// Sensor material (NXdetector `sensor_material`, e.g. `"Si"`), where known.
    pub sensor_material: Option<String>,
}

/// The error of file `path` at HDF5 path `at` (one line).
pub(crate) fn fail(path: &Path, at: &str, problem: impl std::fmt::Display) -> NanobraggError {
    let text = problem.to_string();
    let first = text.lines().next().unwrap_or("").trim();
    NanobraggError::Io(IoError::format(path, format!("{at}: {first}")))
}
