//! The serde model of a dxtbx goniometer and scan (the rotation of a rotation experiment). Keys not
//! named here are kept in `extra` (see [`super::model`]).

use super::model::Extra;
use super::nums;
use serde::{Deserialize, Serialize};

/// A goniometer (`dxtbx/model/boost_python/goniometer.cc`, `to_dict<Goniometer>`): the rotation axis in
/// the lab frame and the fixed (F) and setting (S) rotations as 9 numbers, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goniometer {
    /// Rotation axis (unit vector).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub rotation_axis: Option<[f64; 3]>,
    /// Fixed rotation F (3×3 row-major).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub fixed_rotation: Option<[f64; 9]>,
    /// Setting rotation S (3×3 row-major).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub setting_rotation: Option<[f64; 9]>,
    /// Other keys (a multi-axis goniometer's `axes`, `angles`, `names`, `scan_axis`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// A scan: image numbers (1-based, inclusive) and the oscillation of each image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scan {
    /// First and last image number (inclusive).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_range: Option<[i64; 2]>,
    /// Start angle and width of one image (degrees).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub oscillation: Option<[f64; 2]>,
    /// Other keys (`exposure_time`, `epochs`, `batch_offset`, `properties`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
