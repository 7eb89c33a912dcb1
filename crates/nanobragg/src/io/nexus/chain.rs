//! NXtransformations: units, one axis's 4×4 matrix, and a `depends_on` chain composed into one.
//!
//! Conventions (nxmx's `Transformation.compose` and `get_cumulative_transformation`, as used by
//! dxtbx): an axis with value `x`, unit vector `v` and offset `o` is the matrix
//! `[I | x·v + o]` (translation) or `[R(x·v) | o]` (rotation by `x` about `v`, right-handed);
//! a chain `t1 → t2 → … → tn → "."` is `Tn ⋯ T2 T1`. Lengths are converted to mm, angles to
//! radians.

use hdf5_metno as hdf5;
use hdf5::File;

use super::h5::{attr_str, check_finite, scalar_f64, Ctx};
use crate::error::Result;

/// The most axes a chain may hold before it is refused (a loop of `depends_on`, say).
pub(crate) const MAX_CHAIN: usize = 64;

/// A homogeneous transformation (rows).
pub(crate) type Mat4 = [[f64; 4]; 4];

const IDENTITY: Mat4 = [[1., 0., 0., 0.], [0., 1., 0., 0.], [0., 0., 1., 0.], [0., 0., 0., 1.]];

/// Millimetres per `units` of length; `None` for a unit that is not a length.
pub(crate) fn mm_per(units: &str) -> Option<f64> {
    Some(match units.trim() {
        "m" | "metre" | "meter" | "metres" | "meters" => 1000.0,
        "cm" => 10.0,
        "mm" | "millimetre" | "millimeter" | "millimetres" | "millimeters" => 1.0,
        "um" | "µm" | "μm" | "micron" | "microns" | "micrometre" | "micrometer" | "micrometres" | "micrometers" => 1e-3,
        "nm" | "nanometre" | "nanometer" | "nanometres" | "nanometers" => 1e-6,
        "angstrom" | "Angstrom" | "angstroms" | "Angstroms" | "Å" | "A" => 1e-7,
        _ => return None,
    })
}

/// Micrometres per `units` of length (exactly 1 for µm, so µm values come back bit for bit).
pub(crate) fn um_per(units: &str) -> Option<f64> {
    mm_per(units).map(|f| if f == 1e-3 { 1.0 } else { f * 1000.0 })
}

/// Ångström per `units` of length (exactly 1 for Å).
pub(crate) fn angstrom_per(units: &str) -> Option<f64> {
    mm_per(units).map(|f| if f == 1e-7 { 1.0 } else { f * 1e7 })
}

/// Radians per `units` of angle; `None` for a unit that is not an angle.
pub(crate) fn rad_per(units: &str) -> Option<f64> {
    Some(match units.trim() {
        "deg" | "degree" | "degrees" => std::f64::consts::PI / 180.0,
        "rad" | "radian" | "radians" => 1.0,
        _ => return None,
    })
}

/// The `units` attribute of the object at `at`, converted by `per` (a factor to mm or rad).
pub(crate) fn units_factor(ctx: Ctx<'_>, loc: &hdf5::Location, at: &str, per: fn(&str) -> Option<f64>, what: &str) -> Result<f64> {
    let units = attr_str(loc, "units").ok_or_else(|| ctx.err(&format!("{at}@units"), "missing (a string naming the unit)"))?;
    per(&units).ok_or_else(|| ctx.err(&format!("{at}@units"), format!("{units:?} is not a unit of {what} this reader knows")))
}

/// `p` joined to the group holding `field` (a relative `depends_on`), or `p` if absolute.
pub(crate) fn resolve(field: &str, p: &str) -> String {
    if p.starts_with('/') {
        return p.to_string();
    }
    let group = field.rsplit_once('/').map_or("", |(g, _)| g);
    format!("{group}/{}", p.trim_start_matches("./"))
}

/// One axis read from the file: its matrix and what it depends on (`None` for `"."`).
struct Axis {
    matrix: Mat4,
    depends_on: Option<String>,
}

/// The axis at HDF5 path `at` (a dataset with `transformation_type`, `vector`, `units`, and
/// optionally `offset`, `offset_units`, `depends_on`).
fn read_axis(ctx: Ctx<'_>, file: &File, at: &str) -> Result<Axis> {
    if !file.link_exists(at) {
        return Err(ctx.err(at, "missing (named by a depends_on)"));
    }
    let ds = ctx.at(at, file.dataset(at))?;
    let kind = attr_str(&ds, "transformation_type").unwrap_or_default();
    let per: fn(&str) -> Option<f64> = match kind.as_str() {
        "translation" => mm_per,
        "rotation" => rad_per,
        _ => return Err(ctx.err(&format!("{at}@transformation_type"), format!("{kind:?}: expected \"translation\" or \"rotation\""))),
    };
    let value = scalar_f64(ctx, &ds, at)? * units_factor(ctx, &ds, at, per, &kind)?;
    let v = super::h5::f64s_attr(ctx, &ds, at, "vector", 3)?;
    let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if !(norm > 0.0) {
        return Err(ctx.err(&format!("{at}@vector"), format!("{v:?} is a zero vector")));
    }
    let v = [v[0] / norm, v[1] / norm, v[2] / norm];
    let offset = axis_offset(ctx, &ds, at, kind == "translation")?;
    let matrix = match kind.as_str() {
        "translation" => translation(std::array::from_fn(|i| value * v[i] + offset[i])),
        _ => with_translation(rotation(v, value), offset),
    };
    let depends_on = attr_str(&ds, "depends_on").filter(|d| d.trim() != ".").map(|d| resolve(at, d.trim()));
    Ok(Axis { matrix, depends_on })
}

/// An axis's `offset` in mm (zero when absent); `offset_units` default to the axis's own
/// units for a translation.
fn axis_offset(ctx: Ctx<'_>, ds: &hdf5::Dataset, at: &str, translation: bool) -> Result<[f64; 3]> {
    if ds.attr("offset").is_err() {
        return Ok([0.0; 3]);
    }
    let o = super::h5::f64s_attr(ctx, ds, at, "offset", 3)?;
    let units = attr_str(ds, "offset_units").or_else(|| translation.then(|| attr_str(ds, "units")).flatten());
    let units = units.ok_or_else(|| ctx.err(&format!("{at}@offset_units"), "missing (the offset's unit of length)"))?;
    let f = mm_per(&units).ok_or_else(|| ctx.err(&format!("{at}@offset_units"), format!("{units:?} is not a unit of length this reader knows")))?;
    let o = [o[0] * f, o[1] * f, o[2] * f];
    check_finite(ctx, &format!("{at}@offset"), &o)?;
    Ok(o)
}

/// The composed matrix of the chain that starts at the axis `start` (an absolute HDF5 path).
pub(crate) fn chain_matrix(ctx: Ctx<'_>, file: &File, start: &str) -> Result<Mat4> {
    let mut m = IDENTITY;
    let mut next = Some(start.to_string());
    for _ in 0..MAX_CHAIN {
        let Some(at) = next else { return Ok(m) };
        let axis = read_axis(ctx, file, &at)?;
        m = mul(&axis.matrix, &m);
        next = axis.depends_on;
    }
    match next {
        None => Ok(m),
        Some(at) => Err(ctx.err(&at, format!("the depends_on chain from {start} is longer than {MAX_CHAIN} axes (a loop?)"))),
    }
}

/// `a · b`.
pub(crate) fn mul(a: &Mat4, b: &Mat4) -> Mat4 {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..4).map(|k| a[i][k] * b[k][j]).sum()))
}

/// The point `p` transformed by `m`.
pub(crate) fn apply_point(m: &Mat4, p: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3])
}

/// The direction `v` rotated by `m` (its translation ignored).
pub(crate) fn apply_dir(m: &Mat4, v: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

fn translation(t: [f64; 3]) -> Mat4 {
    with_translation(IDENTITY, t)
}

fn with_translation(mut m: Mat4, t: [f64; 3]) -> Mat4 {
    for (row, x) in m.iter_mut().zip(t) {
        row[3] = x;
    }
    m
}

/// Rotation by `angle` (rad) about the unit axis `u`, right-handed (Rodrigues).
fn rotation(u: [f64; 3], angle: f64) -> Mat4 {
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    let [x, y, z] = u;
    [
        [c + x * x * t, x * y * t - z * s, x * z * t + y * s, 0.0],
        [y * x * t + z * s, c + y * y * t, y * z * t - x * s, 0.0],
        [z * x * t - y * s, z * y * t + x * s, c + z * z * t, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
}

/// dxtbx's lab frame (imgCIF) ↔ NeXus's McStas frame: x and z reversed (its own inverse;
/// `MCSTAS_TO_IMGCIF = diag(−1, 1, −1)`, `dxtbx/nexus/__init__.py`).
pub(crate) fn flip_xz(v: [f64; 3]) -> [f64; 3] {
    [-v[0], v[1], -v[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_right_handed_quarter_turn_about_z_takes_x_to_y() {
        let m = rotation([0.0, 0.0, 1.0], std::f64::consts::FRAC_PI_2);
        let y = apply_dir(&m, [1.0, 0.0, 0.0]);
        assert!((y[0]).abs() < 1e-15 && (y[1] - 1.0).abs() < 1e-15 && y[2] == 0.0, "{y:?}");
    }

    #[test]
    fn a_chain_applies_the_first_axis_first() {
        // t1 = rotate 90° about z, t2 = translate +10 along x: T2·T1 rotates, then moves.
        let t1 = rotation([0.0, 0.0, 1.0], std::f64::consts::FRAC_PI_2);
        let t2 = translation([10.0, 0.0, 0.0]);
        let p = apply_point(&mul(&t2, &t1), [1.0, 0.0, 0.0]);
        assert!((p[0] - 10.0).abs() < 1e-14 && (p[1] - 1.0).abs() < 1e-14, "{p:?}");
    }

    #[test]
    fn units_and_relative_paths() {
        assert_eq!(mm_per("m"), Some(1000.0));
        assert_eq!(mm_per("um"), Some(1e-3));
        assert_eq!(mm_per("furlong"), None);
        assert_eq!(rad_per("rad"), Some(1.0));
        assert_eq!(resolve("/a/b/field", "c"), "/a/b/c");
        assert_eq!(resolve("/a/b/field", "/x/y"), "/x/y");
    }
}
