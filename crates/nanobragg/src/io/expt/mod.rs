//! DIALS/dxtbx experiment lists (`.expt` JSON) and legacy DataBlock lists: read, write, and the
//! lab-frame geometry a renderer needs.
//!
//! - [`model`], [`panel`] and [`rotation`]: serde structs for every model (beam, detector with panels and
//!   hierarchy, crystal, goniometer, scan, image set). Keys the structs do not name are kept in
//!   each struct's `extra`, so read → write keeps the whole file.
//! - [`read_experiments`] / [`parse_experiments`]: an [`ExptFile`], which says whether the file was
//!   an ExperimentList or a DataBlock list. Errors are [`IoError::Format`] naming the file and the
//!   JSON key (`detector[0].panels[3].fast_axis: expected 3 numbers, found 2`); any bytes give an
//!   error, never a panic.
//! - [`write_experiments`]: JSON through [`crate::io::write_atomic`].
//! - [`frames`]: panels composed through the hierarchy into the lab frame ([`LabPanel`]), the beam's
//!   `s0`, the crystal's cell and `A` matrix.
//!
//! Conventions are dxtbx's (lengths mm, wavelengths Å, angles degrees in the file); each doc comment
//! names the dxtbx source file and function that fixes its convention. No image is read.
//!
//! [`IoError::Format`]: crate::io::IoError::Format

pub mod frames;
pub mod model;
mod nums;
pub mod panel;
mod read;
pub mod rotation;
pub mod vec3;
mod write;

pub use frames::{lab_beam, lab_crystal, lab_panels, local_frames, GeometryError, LabBeam, LabCrystal, LabPanel, ParentGroup};
pub use model::{Beam, Crystal, DataBlock, Experiment, ExperimentList, Extra, ImageSet, ModelRef};
pub use panel::{Detector, Node, Panel, PxMmStrategy};
pub use read::{parse_experiments, read_experiments};
pub use rotation::{Goniometer, Scan};
pub use write::{experiments_json_bytes, write_experiments};

/// What an experiment file held.
#[derive(Debug, Clone, PartialEq)]
pub enum ExptFile {
    /// A DIALS experiment list (`"__id__": "ExperimentList"`), boxed (it is ten times the size of a list).
    Experiments(Box<ExperimentList>),
    /// A legacy DataBlock list (a JSON list of `"__id__": "DataBlock"` objects).
    DataBlocks(Vec<DataBlock>),
}

impl ExptFile {
    /// The detectors of the file, in order (all blocks' detectors for a DataBlock list).
    pub fn detectors(&self) -> Vec<&Detector> {
        match self {
            ExptFile::Experiments(l) => l.detector.iter().flatten().collect(),
            ExptFile::DataBlocks(b) => b.iter().flat_map(|b| b.detector.iter().flatten()).collect(),
        }
    }

    /// The beams of the file, in order.
    pub fn beams(&self) -> Vec<&Beam> {
        match self {
            ExptFile::Experiments(l) => l.beam.iter().flatten().collect(),
            ExptFile::DataBlocks(b) => b.iter().flat_map(|b| b.beam.iter().flatten()).collect(),
        }
    }

    /// The crystals of the file (none in a DataBlock list).
    pub fn crystals(&self) -> Vec<&Crystal> {
        match self {
            ExptFile::Experiments(l) => l.crystal.iter().flatten().collect(),
            ExptFile::DataBlocks(_) => Vec::new(),
        }
    }

    /// The experiment list, if the file was one.
    pub fn as_experiments(&self) -> Option<&ExperimentList> {
        match self {
            ExptFile::Experiments(l) => Some(l),
            ExptFile::DataBlocks(_) => None,
        }
    }
}
