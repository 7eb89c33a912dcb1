//! The serde model of a dxtbx experiment list (`.expt`) and of the legacy DataBlock list: beam,
//! crystal, image set and the experiments that tie them together by index. The detector's panels and
//! hierarchy are in [`super::panel`], the goniometer and scan in [`super::rotation`].
//!
//! Key names and units are dxtbx's own (`dxtbx/model/experiment_list.py`,
//! `ExperimentList.to_dict` / `ExperimentListDict._extract_models`; `boost_python/beam.cc`,
//! `to_dict<Beam>`; `dxtbx/model/__init__.py`, `Crystal.to_dict`). Every struct keeps the keys it
//! does not name in `extra`, and every optional key absent from the file stays absent when written, so
//! that read → write gives back the same JSON tree.

use super::nums;
use super::panel::Detector;
use super::rotation::{Goniometer, Scan};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Keys of a JSON object that no struct field names, kept for writing back.
pub type Extra = Map<String, Value>;

/// A DIALS experiment list: the top-level object with `"__id__": "ExperimentList"`. Each model list
/// is `None` when the file has no such key (and is then not written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentList {
    /// Always `"ExperimentList"` (checked by the reader).
    #[serde(rename = "__id__")]
    pub id: String,
    /// The experiments, each naming its models by index into the lists below.
    pub experiment: Vec<Experiment>,
    /// Beam models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam: Option<Vec<Beam>>,
    /// Detector models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<Vec<Detector>>,
    /// Crystal models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crystal: Option<Vec<Crystal>>,
    /// Goniometer models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goniometer: Option<Vec<Goniometer>>,
    /// Scan models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Vec<Scan>>,
    /// Image sets (the image files; none of them is read here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imageset: Option<Vec<ImageSet>>,
    /// Reflection-profile models (opaque here, e.g. `gaussian_rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Vec<Value>>,
    /// Scaling models (opaque here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_model: Option<Vec<Value>>,
    /// Other keys (`history`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One experiment: which beam, detector, ... it uses. dxtbx (`ExperimentListDict._extract_models`)
/// accepts an index into the model list or, in old files, a file name holding the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    /// `"Experiment"`.
    #[serde(rename = "__id__", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Unique identifier (a UUID in DIALS output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Index of the beam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam: Option<ModelRef>,
    /// Index of the detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<ModelRef>,
    /// Index of the crystal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crystal: Option<ModelRef>,
    /// Index of the goniometer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goniometer: Option<ModelRef>,
    /// Index of the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ModelRef>,
    /// Index of the image set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imageset: Option<ModelRef>,
    /// Index of the profile model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ModelRef>,
    /// Index of the scaling model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling_model: Option<ModelRef>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// How an experiment (or a DataBlock image set) names a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelRef {
    /// Index into the list of models of that kind.
    Index(usize),
    /// Name of a JSON file holding the model (old files; not followed by this reader).
    File(String),
}

impl Serialize for ModelRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ModelRef::Index(i) => s.serialize_u64(*i as u64),
            ModelRef::File(f) => s.serialize_str(f),
        }
    }
}

impl<'de> Deserialize<'de> for ModelRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        match Value::deserialize(d)? {
            Value::String(f) => Ok(ModelRef::File(f)),
            Value::Number(n) if n.as_u64().is_some() => {
                let i = n.as_u64().unwrap_or_default();
                usize::try_from(i)
                    .map(ModelRef::Index)
                    .map_err(D::Error::custom)
            }
            other => Err(D::Error::custom(format!(
                "expected a model index (integer ≥ 0) or a file name, found {other}"
            ))),
        }
    }
}

/// A beam (`to_dict<Beam>` in `dxtbx/model/boost_python/beam.cc`). `direction` points from the sample
/// **towards the source** (`get_sample_to_source_direction`), so the incident wave vector is
/// `s0 = −direction/λ` (`beam.h`: `Beam(s0)` sets `direction_ = -s0.normalize()`, `wavelength_ =
/// 1/|s0|`). Divergences are stored in degrees (`rad_as_deg`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Beam {
    /// `"monochromatic"` or `"polychromatic"`; absent in older files (monochromatic).
    #[serde(rename = "__id__", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Sample → source direction (normalised by dxtbx on reading).
    #[serde(deserialize_with = "nums::arr")]
    pub direction: [f64; 3],
    /// Wavelength (Å); required unless `id` is `"polychromatic"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wavelength: Option<f64>,
    /// Wavelength range of a polychromatic beam (Å).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub wavelength_range: Option<[f64; 2]>,
    /// Beam divergence (degrees in the file; dxtbx default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<f64>,
    /// Standard deviation of the divergence (degrees; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_divergence: Option<f64>,
    /// Normal of the polarization plane (dxtbx default `[0, 1, 0]`).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub polarization_normal: Option<[f64; 3]>,
    /// Polarization fraction (dxtbx default 0.999).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polarization_fraction: Option<f64>,
    /// Flux (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<f64>,
    /// Transmission (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmission: Option<f64>,
    /// Probe name: `"x-ray"` (default), `"electron"` or `"neutron"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<String>,
    /// Sample-to-source distance (mm, like every dxtbx length; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_to_source_distance: Option<f64>,
    /// Other keys (`s0_at_scan_points`, a spectrum, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A crystal (`Crystal.to_dict` in `dxtbx/model/__init__.py`): the real-space cell vectors are the
/// **rows of A⁻¹**, where `A = UB` has the reciprocal vectors a*, b*, c* as columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crystal {
    /// `"crystal"`.
    #[serde(rename = "__id__", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Real-space vector a (Å, lab frame).
    #[serde(deserialize_with = "nums::arr")]
    pub real_space_a: [f64; 3],
    /// Real-space vector b (Å).
    #[serde(deserialize_with = "nums::arr")]
    pub real_space_b: [f64; 3],
    /// Real-space vector c (Å).
    #[serde(deserialize_with = "nums::arr")]
    pub real_space_c: [f64; 3],
    /// Hall symbol of the space group, e.g. `" P 2yb"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_group_hall_symbol: Option<String>,
    /// Kabsch (2010) mosaicity (degrees; `MosaicCrystalKabsch2010`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mosaicity: Option<f64>,
    /// Sauter (2014) half mosaic angle (degrees); `Some(None)` for a `null` in the file.
    #[serde(
        rename = "ML_half_mosaicity_deg",
        default,
        deserialize_with = "nums::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub ml_half_mosaicity_deg: Option<Option<f64>>,
    /// Sauter (2014) mosaic domain size (Å); `Some(None)` for a `null`.
    #[serde(
        rename = "ML_domain_size_ang",
        default,
        deserialize_with = "nums::nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub ml_domain_size_ang: Option<Option<f64>>,
    /// Unit cell recalculated after refinement: a, b, c (Å), α, β, γ (degrees).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub recalculated_unit_cell: Option<[f64; 6]>,
    /// Other keys (`B_covariance`, `A_at_scan_points`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// An image set: which image files (not read here). In a DataBlock it also names its models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSet {
    /// `"ImageSet"`, `"ImageSequence"`, `"ImageSweep"`, `"ImageGrid"`, ...
    #[serde(rename = "__id__")]
    pub id: String,
    /// File names (ImageSet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// File name template with `#` for the image number (ImageSequence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// DataBlock only: index of the beam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam: Option<ModelRef>,
    /// DataBlock only: index of the detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<ModelRef>,
    /// DataBlock only: index of the goniometer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goniometer: Option<ModelRef>,
    /// DataBlock only: index of the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ModelRef>,
    /// Other keys (`mask`, `gain`, `params`, `single_file_indices`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One block of a legacy DataBlock file (a top-level JSON **list** of these, `"__id__": "DataBlock"`;
/// old `dxtbx/datablock.py`, `DataBlock.to_dict` / `datablocks_from_dict`, removed from dxtbx in 2023).
/// There is no crystal; the image sets name their models by index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataBlock {
    /// Always `"DataBlock"` (checked by the reader).
    #[serde(rename = "__id__")]
    pub id: String,
    /// The image sets, each naming beam/detector/goniometer/scan by index.
    pub imageset: Vec<ImageSet>,
    /// Beam models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beam: Option<Vec<Beam>>,
    /// Detector models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<Vec<Detector>>,
    /// Goniometer models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goniometer: Option<Vec<Goniometer>>,
    /// Scan models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Vec<Scan>>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Extra,
}
