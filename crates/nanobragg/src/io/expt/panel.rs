//! The serde model of a dxtbx detector: a list of panels and, optionally, a hierarchy of groups whose
//! leaves name panels by index (`dxtbx/model/boost_python/detector.cc`, `to_dict<Detector>` and
//! `detector_from_dict` / `node_from_dict`; `boost_python/panel.cc`, `to_dict<Panel>` /
//! `basic_panel_from_dict`).
//!
//! **Frames are local.** `to_dict<Panel>` writes `get_local_fast_axis`, `get_local_slow_axis` and
//! `get_local_origin`, and `basic_panel_from_dict` reads them back with `set_local_frame`: a panel's
//! (or group's) `fast_axis`, `slow_axis` and `origin` are relative to its parent group's frame. Only
//! the root group (whose parent is the lab frame) and panels of a detector without hierarchy hold lab
//! coordinates directly. [`super::frames`] composes them. Lengths are mm.

use super::model::Extra;
use super::nums;
use serde::{Deserialize, Serialize};

/// A detector: its panels and, in every file dxtbx writes, a hierarchy rooted in one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// The panels; hierarchy leaves name them by index.
    pub panels: Vec<Panel>,
    /// Root group of the hierarchy (absent in some old files: then every panel hangs from the lab
    /// frame directly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hierarchy: Option<Node>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One panel (`to_dict<Panel>`, `panel.cc`). Pixel `(f, s)` (pixel units, 0 at the corner of the first
/// pixel) lies at `origin + f·pixel_size[0]·fast_axis + s·pixel_size[1]·slow_axis` in the parent frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// Panel name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sensor type: `"SENSOR_PAD"`, `"SENSOR_CCD"`, `"SENSOR_UNKNOWN"`, ...
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Fast axis (unit vector, local frame).
    #[serde(deserialize_with = "nums::arr")]
    pub fast_axis: [f64; 3],
    /// Slow axis (unit vector, local frame).
    #[serde(deserialize_with = "nums::arr")]
    pub slow_axis: [f64; 3],
    /// Corner of the first pixel (mm, local frame).
    #[serde(deserialize_with = "nums::arr")]
    pub origin: [f64; 3],
    /// Offset of this panel's pixels in the raw image (pixels).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub raw_image_offset: Option<[i64; 2]>,
    /// Size in pixels: [fast, slow].
    #[serde(deserialize_with = "nums::arr")]
    pub image_size: [usize; 2],
    /// Pixel size (mm): [fast, slow].
    #[serde(deserialize_with = "nums::arr")]
    pub pixel_size: [f64; 2],
    /// Lowest and highest trusted raw pixel value.
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub trusted_range: Option<[f64; 2]>,
    /// Sensor thickness (mm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thickness: Option<f64>,
    /// Sensor material, e.g. `"Si"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// Linear attenuation coefficient of the sensor (**mm⁻¹**: dxtbx fills it with
    /// `attenuation_coefficient.get_table(material).mu_at_angstrom(λ) / 10`, cm⁻¹ → mm⁻¹,
    /// `dxtbx/format/FormatCBFCspad.py`, "mu: mm^-1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<f64>,
    /// Identifier (often empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Masked rectangles `[f0, s0, f1, s1]` (pixels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<Vec<[i64; 4]>>,
    /// Gain (ADU per photon).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    /// Pedestal (ADU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pedestal: Option<f64>,
    /// Pixel ↔ mm mapping (`SimplePxMmStrategy`, `ParallaxCorrectedPxMmStrategy`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub px_mm_strategy: Option<PxMmStrategy>,
    /// Other keys (`projection_2d`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The pixel ↔ mm mapping of a panel (`to_dict<std::shared_ptr<PxMmStrategy>>`, `panel.cc`). A
/// parallax-corrected strategy carries the sensor's `mu` (mm⁻¹) and thickness `t0` (mm). The geometry
/// of [`super::frames`] is the simple (parallax-free) mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PxMmStrategy {
    /// Strategy name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Attenuation coefficient (mm⁻¹), parallax strategies only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<f64>,
    /// Sensor thickness (mm), parallax strategies only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0: Option<f64>,
    /// Other keys.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A node of the hierarchy: a **leaf** `{"panel": i}` naming `panels[i]`, or a **group** with its own
/// local frame and `children`. dxtbx's `node_from_dict` treats any object with a `"panel"` key as a
/// leaf; a group is a full panel dictionary (pixel size 0, image size 0) plus `children`. dxtbx sets a
/// group's frame only when `fast_axis`, `slow_axis` and `origin` are all present, and otherwise keeps
/// the identity frame (`[1,0,0]`, `[0,1,0]`, origin 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Leaf: index into [`Detector::panels`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panel: Option<usize>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Group type (usually empty).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Fast axis of the group (local to its parent).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub fast_axis: Option<[f64; 3]>,
    /// Slow axis of the group (local to its parent).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub slow_axis: Option<[f64; 3]>,
    /// Origin of the group (mm, local to its parent).
    #[serde(
        default,
        deserialize_with = "nums::opt_arr",
        skip_serializing_if = "Option::is_none"
    )]
    pub origin: Option<[f64; 3]>,
    /// Children of a group: leaves or groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<Node>>,
    /// Other keys (the panel-like keys dxtbx writes for a group: `pixel_size`, `mask`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Node {
    /// A leaf naming panel `index`.
    pub fn leaf(index: usize) -> Self {
        Node {
            panel: Some(index),
            name: None,
            kind: None,
            fast_axis: None,
            slow_axis: None,
            origin: None,
            children: None,
            extra: Extra::new(),
        }
    }

    /// A group with the given local frame and children.
    pub fn group(fast: [f64; 3], slow: [f64; 3], origin: [f64; 3], children: Vec<Node>) -> Self {
        Node {
            panel: None,
            fast_axis: Some(fast),
            slow_axis: Some(slow),
            origin: Some(origin),
            children: Some(children),
            ..Node::leaf(0)
        }
    }

    /// This node's local frame `(fast, slow, origin)` as dxtbx sets it: the three keys when all are
    /// present, else the identity frame.
    pub fn local_frame(&self) -> ([f64; 3], [f64; 3], [f64; 3]) {
        match (self.fast_axis, self.slow_axis, self.origin) {
            (Some(f), Some(s), Some(o)) => (f, s, o),
            _ => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0; 3]),
        }
    }
}
