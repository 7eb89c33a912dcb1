//! Lab-frame geometry from a dxtbx model: every panel's corner, axes and normal composed through the
//! detector hierarchy, the beam's incident wave vector, and the crystal's cell and reciprocal matrix.
//!
//! **Hierarchy composition** (`dxtbx/model/virtual_panel.h`, `VirtualPanelFrame::update_global_frame`;
//! `detector.h`, `Detector::Node::add_group` / `add_panel` call `set_parent_frame` with the parent's
//! *global* fast, slow and origin). With the parent's global unit axes `p_f`, `p_s` (normalised by
//! `set_parent_frame`), `p_n = p_f × p_s`, its origin `p_o`, and `P = [p_f p_s p_n]` (columns), a node
//! whose file frame (local, see [`super::panel`]) is `(l_f, l_s, l_o)` with `l_f`, `l_s` normalised
//! (`set_local_frame`) has the global frame
//!
//! ```text
//! fast = P·l_f,   slow = P·l_s,   origin = P·l_o + p_o        (d = P·d_local, then + p_o on column 3)
//! ```
//!
//! The root group's parent is the lab frame (identity, origin 0), and so is the parent of every panel
//! of a detector without a hierarchy (`detector_from_dict` adds them to the default root).

use super::model::{Beam, Crystal};
use super::panel::{Detector, Node, Panel};
use super::vec3::{add, cross, dot, inverse, mat_vec, norm, scale, unit, Mat3, Vec3};

/// A geometry that cannot be composed (zero-length axis, bad hierarchy, singular cell, ...). The
/// message names the JSON key, relative to the model it came from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct GeometryError(pub String);

/// One panel in the lab frame (mm), ready for a renderer. Pixel `(f, s)` (pixel units, 0 at the outer
/// corner of the first pixel) lies at [`LabPanel::lab_mm`]; its centre is at `(f + ½, s + ½)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabPanel {
    /// Panel name (empty when the file has none).
    pub name: String,
    /// Corner of the first pixel (mm, lab frame).
    pub origin_mm: Vec3,
    /// Unit fast axis (lab frame).
    pub fast: Vec3,
    /// Unit slow axis (lab frame).
    pub slow: Vec3,
    /// Unit normal `fast × slow` (dxtbx's `Panel::get_normal`, normalised); it points away from the
    /// sample when the sample sees the panel's front (`origin · normal > 0`).
    pub normal: Vec3,
    /// Pixel size (mm): [fast, slow].
    pub pixel_mm: [f64; 2],
    /// Pixels: [fast, slow].
    pub image_size: [usize; 2],
    /// Sensor thickness (mm; 0 when absent).
    pub thickness_mm: f64,
    /// Linear attenuation coefficient of the sensor (mm⁻¹, dxtbx's unit; 0 when absent).
    pub mu_per_mm: f64,
    /// Sensor material (empty when absent).
    pub material: String,
    /// Gain (ADU per photon; 1 when absent, dxtbx's default).
    pub gain: f64,
    /// Trusted raw value range (ADU, inclusive), if the file gives one.
    pub trusted_range: Option<[f64; 2]>,
    /// Untrusted rectangles `[f0, s0, f1, s1]` (pixels, `f1`/`s1` exclusive; empty when absent).
    pub mask: Vec<[i64; 4]>,
    /// Raw-image pixel `[fast, slow]` of the panel's pixel (0, 0), if the file gives one.
    pub raw_image_offset: Option<[i64; 2]>,
    /// The hierarchy group the panel hangs from (none without a hierarchy).
    pub group: Option<ParentGroup>,
}

/// The group of a detector hierarchy a panel hangs from: its key in the file and its global
/// unit axes (lab frame).
#[derive(Debug, Clone, PartialEq)]
pub struct ParentGroup {
    /// The group's JSON key (`hierarchy`, `hierarchy.children[2]`, …).
    pub key: String,
    /// Unit fast axis (lab frame).
    pub fast: Vec3,
    /// Unit slow axis (lab frame).
    pub slow: Vec3,
}

impl LabPanel {
    /// Lab position (mm) of the pixel coordinate `(f, s)`: `origin + f·p_f·fast + s·p_s·slow`
    /// (dxtbx's simple px → mm mapping; parallax corrections are not applied).
    pub fn lab_mm(&self, f: f64, s: f64) -> Vec3 {
        let along_f = scale(self.fast, f * self.pixel_mm[0]);
        let along_s = scale(self.slow, s * self.pixel_mm[1]);
        add(self.origin_mm, add(along_f, along_s))
    }

    /// This panel moved by the rotation (or any linear map) `r` about the lab origin.
    pub fn rotated(&self, r: &Mat3) -> Self {
        LabPanel {
            origin_mm: mat_vec(r, self.origin_mm),
            fast: mat_vec(r, self.fast),
            slow: mat_vec(r, self.slow),
            normal: mat_vec(r, self.normal),
            ..self.clone()
        }
    }
}

/// A global frame: fast, slow, normal (`fast × slow`) and origin.
#[derive(Debug, Clone, Copy)]
struct Frame {
    f: Vec3,
    s: Vec3,
    n: Vec3,
    o: Vec3,
}

const LAB: Frame = Frame {
    f: [1.0, 0.0, 0.0],
    s: [0.0, 1.0, 0.0],
    n: [0.0, 0.0, 1.0],
    o: [0.0; 3],
};

/// Compose a local frame with its parent's global frame (see the module doc); `key` names the node.
fn compose(
    parent: &Frame,
    lf: Vec3,
    ls: Vec3,
    lo: Vec3,
    key: &str,
) -> Result<Frame, GeometryError> {
    let bad = |what: &str| GeometryError(format!("{key}.{what}: zero length or not finite"));
    let lf = unit(lf).ok_or_else(|| bad("fast_axis"))?;
    let ls = unit(ls).ok_or_else(|| bad("slow_axis"))?;
    if !lo.iter().all(|x| x.is_finite()) {
        return Err(GeometryError(format!("{key}.origin: not finite")));
    }
    // P·v with P's columns the parent's (unit) fast, slow and normal.
    let p = |v: Vec3| {
        add(
            add(scale(parent.f, v[0]), scale(parent.s, v[1])),
            scale(parent.n, v[2]),
        )
    };
    let (f, s) = (p(lf), p(ls));
    Ok(Frame {
        f,
        s,
        n: cross(f, s),
        o: add(p(lo), parent.o),
    })
}

/// The frame a node hands to its children (`set_parent_frame` normalises fast and slow).
fn as_parent(g: &Frame, key: &str) -> Result<Frame, GeometryError> {
    let f = unit(g.f).ok_or_else(|| GeometryError(format!("{key}: degenerate frame")))?;
    let s = unit(g.s).ok_or_else(|| GeometryError(format!("{key}: degenerate frame")))?;
    Ok(Frame {
        f,
        s,
        n: cross(f, s),
        o: g.o,
    })
}

fn lab_panel(p: &Panel, g: &Frame, key: &str) -> Result<LabPanel, GeometryError> {
    let bad = |what: &str| GeometryError(format!("{key}: degenerate {what}"));
    Ok(LabPanel {
        name: p.name.clone().unwrap_or_default(),
        origin_mm: g.o,
        fast: unit(g.f).ok_or_else(|| bad("fast axis"))?,
        slow: unit(g.s).ok_or_else(|| bad("slow axis"))?,
        normal: unit(g.n).ok_or_else(|| bad("normal (fast ∥ slow)"))?,
        pixel_mm: p.pixel_size,
        image_size: p.image_size,
        thickness_mm: p.thickness.unwrap_or(0.0),
        mu_per_mm: p.mu.unwrap_or(0.0),
        material: p.material.clone().unwrap_or_default(),
        gain: p.gain.unwrap_or(1.0),
        trusted_range: p.trusted_range,
        mask: p.mask.clone().unwrap_or_default(),
        raw_image_offset: p.raw_image_offset,
        group: None,
    })
}

/// Every panel of `det` in the lab frame, in the order of `det.panels`. With a hierarchy, each panel
/// must be named by exactly one leaf (as `detector_from_dict` asserts) and the root must be a group.
pub fn lab_panels(det: &Detector) -> Result<Vec<LabPanel>, GeometryError> {
    Ok(placed(det)?.into_iter().map(|(panel, _)| panel).collect())
}

/// The frames of `lab` (origin mm, unit fast, unit slow; lab frame, one per panel of `det`)
/// written as `det` stores them: local to each panel's parent group, `l = P⁻¹·(g − p_o)` for the
/// origin and `P⁻¹·g` for the axes, the inverse of the composition in the module doc.
pub fn local_frames(det: &Detector, lab: &[(Vec3, Vec3, Vec3)]) -> Result<Vec<(Vec3, Vec3, Vec3)>, GeometryError> {
    let placed = placed(det)?;
    if placed.len() != lab.len() {
        return Err(GeometryError(format!("{} panel frames for a detector of {} panels", lab.len(), placed.len())));
    }
    placed
        .iter()
        .zip(lab)
        .enumerate()
        .map(|(i, ((_, parent), &(origin, fast, slow)))| {
            let columns = [parent.f, parent.s, parent.n];
            let p: Mat3 = std::array::from_fn(|r| std::array::from_fn(|c| columns[c][r]));
            let inv = inverse(&p).ok_or_else(|| GeometryError(format!("panels[{i}]: the parent frame is singular")))?;
            let back = |v: Vec3| mat_vec(&inv, v);
            Ok((back(add(origin, scale(parent.o, -1.0))), back(fast), back(slow)))
        })
        .collect()
}

/// Every panel in the lab frame with the global frame of its parent (the lab for a detector
/// without a hierarchy).
fn placed(det: &Detector) -> Result<Vec<(LabPanel, Frame)>, GeometryError> {
    let n = det.panels.len();
    let Some(root) = &det.hierarchy else {
        let panel = |(i, p): (usize, &Panel)| {
            let key = format!("panels[{i}]");
            let g = compose(&LAB, p.fast_axis, p.slow_axis, p.origin, &key)?;
            Ok((lab_panel(p, &g, &key)?, LAB))
        };
        return det.panels.iter().enumerate().map(panel).collect();
    };
    if root.panel.is_some() {
        return Err(GeometryError(
            "hierarchy.panel: the root must be a group, not a panel".into(),
        ));
    }
    let mut out: Vec<Option<(LabPanel, Frame)>> = vec![None; n];
    walk(det, root, &LAB, "hierarchy", &mut out)?;
    out.into_iter()
        .enumerate()
        .map(|(i, p)| {
            p.ok_or_else(|| {
                GeometryError(format!("panels[{i}]: named by no leaf of the hierarchy"))
            })
        })
        .collect()
}

/// Place the panels under group `node` (whose parent's global frame is `parent`) into `out`.
fn walk(
    det: &Detector,
    node: &Node,
    parent: &Frame,
    key: &str,
    out: &mut [Option<(LabPanel, Frame)>],
) -> Result<(), GeometryError> {
    let present = [
        ("fast_axis", node.fast_axis.is_some()),
        ("slow_axis", node.slow_axis.is_some()),
        ("origin", node.origin.is_some()),
    ];
    if present.iter().any(|(_, has)| *has) {
        if let Some((missing, _)) = present.iter().find(|(_, has)| !has) {
            return Err(GeometryError(format!(
                "{key}: missing field \"{missing}\" (a group gives all of fast_axis, slow_axis, origin or none)"
            )));
        }
    }
    let (lf, ls, lo) = node.local_frame();
    let global = compose(parent, lf, ls, lo, key)?;
    let frame = as_parent(&global, key)?;
    let children = node.children.as_deref().ok_or_else(|| {
        GeometryError(format!(
            "{key}: missing field \"children\" (a group needs its children)"
        ))
    })?;
    for (c, child) in children.iter().enumerate() {
        let ckey = format!("{key}.children[{c}]");
        let Some(i) = child.panel else {
            walk(det, child, &frame, &ckey, out)?;
            continue;
        };
        let n = det.panels.len();
        let p = det.panels.get(i).ok_or_else(|| {
            GeometryError(format!("{ckey}.panel: index {i} out of range ({n} panels)"))
        })?;
        if out[i].is_some() {
            return Err(GeometryError(format!(
                "{ckey}.panel: panel {i} named twice"
            )));
        }
        let pkey = format!("panels[{i}]");
        let g = compose(&frame, p.fast_axis, p.slow_axis, p.origin, &pkey)?;
        let group = ParentGroup { key: key.to_string(), fast: frame.f, slow: frame.s };
        out[i] = Some((LabPanel { group: Some(group), ..lab_panel(p, &g, &pkey)? }, frame));
    }
    Ok(())
}

/// A beam in the lab frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabBeam {
    /// Unit vector from the sample towards the source (dxtbx's `direction`, normalised).
    pub to_source: Vec3,
    /// Unit propagation direction of the incident beam, source → sample (`−to_source`).
    pub propagation: Vec3,
    /// Wavelength (Å).
    pub wavelength_a: f64,
    /// Incident wave vector `s0 = −direction/λ` (Å⁻¹; dxtbx's `Beam::get_s0`).
    pub s0: Vec3,
}

/// The lab-frame beam of a monochromatic dxtbx beam.
pub fn lab_beam(beam: &Beam) -> Result<LabBeam, GeometryError> {
    let to_source = unit(beam.direction)
        .ok_or_else(|| GeometryError("direction: zero length or not finite".into()))?;
    let wavelength_a = beam.wavelength.ok_or_else(|| {
        GeometryError("wavelength: missing (a monochromatic beam needs one)".into())
    })?;
    if !(wavelength_a > 0.0 && wavelength_a.is_finite()) {
        return Err(GeometryError(format!(
            "wavelength: {wavelength_a} is not a positive length"
        )));
    }
    let propagation = scale(to_source, -1.0);
    Ok(LabBeam {
        to_source,
        propagation,
        wavelength_a,
        s0: scale(propagation, 1.0 / wavelength_a),
    })
}

/// A crystal's cell in the lab frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabCrystal {
    /// Real-space cell vectors a, b, c (Å, lab frame): the rows of `A⁻¹`.
    pub real: [Vec3; 3],
    /// Unit cell: a, b, c (Å), α, β, γ (degrees), α = ∠(b, c), β = ∠(c, a), γ = ∠(a, b).
    pub cell: [f64; 6],
    /// Cell volume `a · (b × c)` (Å³; negative for a left-handed basis).
    pub volume_a3: f64,
    /// dxtbx's `A = UB` (Å⁻¹, row-major): columns are a*, b*, c*, so that `A · (h, k, l)` is the
    /// reciprocal-lattice vector of reflection hkl (in the lab frame, without the 2π).
    pub a_matrix: Mat3,
}

/// The cell, volume and reciprocal matrix of a dxtbx crystal.
pub fn lab_crystal(c: &Crystal) -> Result<LabCrystal, GeometryError> {
    let real = [c.real_space_a, c.real_space_b, c.real_space_c];
    let a_matrix = inverse(&real)
        .ok_or_else(|| GeometryError("real_space_a/b/c: singular or not finite".into()))?;
    let angle = |u: Vec3, v: Vec3| (dot(u, v) / (norm(u) * norm(v))).acos().to_degrees();
    let [a, b, cc] = real;
    Ok(LabCrystal {
        real,
        cell: [
            norm(a),
            norm(b),
            norm(cc),
            angle(b, cc),
            angle(cc, a),
            angle(a, b),
        ],
        volume_a3: dot(a, cross(b, cc)),
        a_matrix,
    })
}
