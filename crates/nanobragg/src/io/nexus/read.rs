//! Reading an NXmx file back into panels and their images: the NXdetector's modules in the
//! order of their `data_origin`, each placed by its `depends_on` chain ([`super::chain`]), its
//! block of the first frame of the detector's `data`, the wavelength and the sensor.

use std::path::Path;

use hdf5_metno as hdf5;
use hdf5::{File, Group};

use super::chain::{angstrom_per, apply_dir, apply_point, chain_matrix, flip_xz, mm_per, resolve, um_per, units_factor, Mat4};
use super::h5::{attr_str, dataset, dataset_str, f64s_attr, group, scalar_f64, Ctx};
use super::NexusImage;
use crate::error::Result;
use crate::io::IoError;
use crate::scene::PanelScene;

/// Largest relative difference between a module's fast and slow pixel sizes read as square.
const SQUARE_PIXEL_TOLERANCE: f64 = 1e-9;

/// One NXdetector_module: its block of the frame (slow, fast) and its panel.
struct Module {
    origin: [usize; 2],
    panel: PanelScene,
}

/// Read an NXmx file written by [`super::write_nexus`] (or any NXmx file of one frame whose
/// modules tile a 2-D frame): panels in dxtbx's lab frame, each panel's pixels, the wavelength
/// and the sensor material. Refuses, naming the file and the HDF5 path, a file that is not
/// HDF5, a missing group or dataset, a dataset of the wrong rank or shape, an unknown unit,
/// non-finite numbers, non-square pixels and a module outside the frame.
pub fn read_nexus(path: &Path) -> Result<NexusImage> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    if !meta.is_file() {
        return Err(IoError::format(path, "is not a regular file").into());
    }
    let ctx = Ctx { path };
    let file = hdf5::File::open(path).map_err(|e| ctx.err("/", format!("not an HDF5 file ({e})")))?;
    let entry = group(ctx, &file, "", "entry")?;
    check_definition(ctx, &entry)?;
    let instrument = group(ctx, &entry, "/entry", "instrument")?;
    let (det_path, detector) = child_of_class(ctx, &instrument, "/entry/instrument", "NXdetector")?;
    let mut modules = Vec::new();
    for (name, g) in classed(&detector, "NXdetector_module") {
        modules.push(read_module(ctx, &file, &format!("{det_path}/{name}"), &g)?);
    }
    if modules.is_empty() {
        return Err(ctx.err(&det_path, "holds no NXdetector_module"));
    }
    modules.sort_by_key(|m| m.origin);
    let images = read_images(ctx, &detector, &det_path, &modules)?;
    sensor_thickness(ctx, &detector, &det_path, &mut modules)?;
    let sensor_material = detector.dataset("sensor_material").ok().and_then(|d| dataset_str(&d));
    Ok(NexusImage {
        panels: modules.into_iter().map(|m| m.panel).collect(),
        images,
        wavelength_a: wavelength_a(ctx, &entry, &instrument)?,
        sensor_material,
    })
}

/// `/entry/definition`, when present, must be `NXmx`.
fn check_definition(ctx: Ctx<'_>, entry: &Group) -> Result<()> {
    let Ok(d) = entry.dataset("definition") else { return Ok(()) };
    match dataset_str(&d) {
        Some(s) if s.trim() == "NXmx" => Ok(()),
        other => Err(ctx.err("/entry/definition", format!("{other:?}: expected \"NXmx\""))),
    }
}

/// The groups of `parent` of NeXus class `class`, by name.
fn classed(parent: &Group, class: &str) -> Vec<(String, Group)> {
    let names = parent.member_names().unwrap_or_default();
    names
        .into_iter()
        .filter_map(|n| parent.group(&n).ok().map(|g| (n, g)))
        .filter(|(_, g)| attr_str(g, "NX_class").as_deref() == Some(class))
        .collect()
}

/// The first group of class `class` in `parent` (at `parent_path`), with its path.
fn child_of_class(ctx: Ctx<'_>, parent: &Group, parent_path: &str, class: &str) -> Result<(String, Group)> {
    classed(parent, class)
        .into_iter()
        .next()
        .map(|(n, g)| (format!("{parent_path}/{n}"), g))
        .ok_or_else(|| ctx.err(parent_path, format!("holds no {class} group")))
}

/// Two non-negative integers (slow, fast) of a module's `data_origin` or `data_size`.
fn pair(ctx: Ctx<'_>, g: &Group, at: &str, name: &str) -> Result<[usize; 2]> {
    let here = format!("{at}/{name}");
    let v = ctx.at(&here, dataset(ctx, g, at, name)?.read_raw::<i64>())?;
    match v.as_slice() {
        [s, f] if *s >= 0 && *f >= 0 => Ok([*s as usize, *f as usize]),
        _ => Err(ctx.err(&here, format!("{v:?}: expected two integers >= 0 (slow, fast)"))),
    }
}

/// A pixel direction of a module (McStas frame): its size (mm), its unit vector after its
/// chain's rotation, its own offset (mm) and its chain's matrix.
fn direction(ctx: Ctx<'_>, file: &File, g: &Group, at: &str, name: &str) -> Result<(f64, [f64; 3], [f64; 3], Mat4)> {
    let here = format!("{at}/{name}");
    let ds = dataset(ctx, g, at, name)?;
    let size = scalar_f64(ctx, &ds, &here)? * units_factor(ctx, &ds, &here, mm_per, "length")?;
    if !(size > 0.0) {
        return Err(ctx.err(&here, format!("pixel size {size} mm must be positive")));
    }
    let v = f64s_attr(ctx, &ds, &here, "vector", 3)?;
    let offset = match ds.attr("offset") {
        Ok(_) => {
            let o = f64s_attr(ctx, &ds, &here, "offset", 3)?;
            let units = attr_str(&ds, "offset_units").or_else(|| attr_str(&ds, "units")).unwrap_or_default();
            let f = mm_per(&units).ok_or_else(|| ctx.err(&format!("{here}@offset_units"), format!("{units:?} is not a unit of length this reader knows")))?;
            [o[0] * f, o[1] * f, o[2] * f]
        }
        Err(_) => [0.0; 3],
    };
    let depends_on = attr_str(&ds, "depends_on").ok_or_else(|| ctx.err(&format!("{here}@depends_on"), "missing (the module's placement)"))?;
    let m = match depends_on.trim() {
        "." => chain_identity(),
        d => chain_matrix(ctx, file, &resolve(&here, d))?,
    };
    let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if !(norm > 0.0) {
        return Err(ctx.err(&format!("{here}@vector"), format!("{v:?} is a zero vector")));
    }
    let axis = apply_dir(&m, [v[0] / norm, v[1] / norm, v[2] / norm]);
    Ok((size, axis, offset, m))
}

fn chain_identity() -> Mat4 {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

/// One module (group `g` at `at`) as a panel in dxtbx's lab frame.
fn read_module(ctx: Ctx<'_>, file: &File, at: &str, g: &Group) -> Result<Module> {
    let origin = pair(ctx, g, at, "data_origin")?;
    let [spixels, fpixels] = pair(ctx, g, at, "data_size")?;
    if spixels == 0 || fpixels == 0 || spixels.saturating_mul(fpixels) > crate::validate::MAX_PIXELS {
        return Err(ctx.err(&format!("{at}/data_size"), format!("{spixels} x {fpixels} pixels: at least 1 each, at most {} in all", crate::validate::MAX_PIXELS)));
    }
    let (pf, fast, offset_f, chain) = direction(ctx, file, g, at, "fast_pixel_direction")?;
    let (ps, slow, offset_s, _) = direction(ctx, file, g, at, "slow_pixel_direction")?;
    if (pf - ps).abs() > SQUARE_PIXEL_TOLERANCE * pf {
        return Err(ctx.err(&format!("{at}/slow_pixel_direction"), format!("pixels of {pf} x {ps} mm are not square, which the renderer does not model")));
    }
    // The corner of pixel (0, 0): the fast direction's chain applied to both directions'
    // offsets (dxtbx's hierarchical reader adds the two offsets; written offsets are zero).
    let corner = apply_point(&chain, std::array::from_fn(|i| offset_f[i] + offset_s[i]));
    let thick = own_length_um(ctx, g, at, "sensor_thickness")?;
    let panel = PanelScene {
        name: attr_str(g, "panel_name").unwrap_or_else(|| at.rsplit('/').next().unwrap_or(at).to_string()),
        origin_mm: flip_xz(corner),
        fast_axis: flip_xz(fast),
        slow_axis: flip_xz(slow),
        pixel_mm: pf,
        fpixels: fpixels as i64,
        spixels: spixels as i64,
        thick_um: thick,
        abs_depth_um: own_length_um(ctx, g, at, "sensor_attenuation_length")?,
        // NXmx has no panel groups (only transformation chains): none is read back.
        group: None,
        ..PanelScene::default()
    };
    Ok(Module { origin, panel })
}

/// A positive length (µm) in dataset `name` of `g`, if present.
fn own_length_um(ctx: Ctx<'_>, g: &Group, at: &str, name: &str) -> Result<Option<f64>> {
    let Ok(ds) = g.dataset(name) else { return Ok(None) };
    let here = format!("{at}/{name}");
    let um = scalar_f64(ctx, &ds, &here)? * units_factor(ctx, &ds, &here, um_per, "length")?;
    match um > 0.0 && um.is_finite() {
        true => Ok(Some(um)),
        false => Err(ctx.err(&here, format!("{um} µm must be positive"))),
    }
}

/// The detector's `sensor_thickness` for every module that has none of its own.
fn sensor_thickness(ctx: Ctx<'_>, detector: &Group, at: &str, modules: &mut [Module]) -> Result<()> {
    if let Some(t) = own_length_um(ctx, detector, at, "sensor_thickness")? {
        for m in modules.iter_mut().filter(|m| m.panel.thick_um.is_none()) {
            m.panel.thick_um = Some(t);
        }
    }
    Ok(())
}

/// Each module's block of frame 0 of the detector's `data` (`[frames][rows][cols]`, one frame).
fn read_images(ctx: Ctx<'_>, detector: &Group, det_path: &str, modules: &[Module]) -> Result<Vec<Vec<f32>>> {
    let at = format!("{det_path}/data");
    let ds = dataset(ctx, detector, det_path, "data")?;
    let shape = ds.shape();
    let [frames, rows, cols] = shape.as_slice() else {
        return Err(ctx.err(&at, format!("has shape {shape:?}: expected 3 dimensions [frame][slow][fast]")));
    };
    if *frames != 1 {
        return Err(ctx.err(&at, format!("holds {frames} frames: one is read")));
    }
    let most = (crate::io::MAX_INPUT_BYTES / 4) as usize;
    if rows.saturating_mul(*cols) > most {
        return Err(ctx.err(&at, format!("a frame of {rows} x {cols} pixels is more than {most}, the most read")));
    }
    let frame = ctx.at(&at, ds.read_raw::<f32>())?;
    let mut images = Vec::with_capacity(modules.len());
    for m in modules {
        let [s0, f0] = m.origin;
        let (f, s) = (m.panel.fpixels as usize, m.panel.spixels as usize);
        if s0 + s > *rows || f0 + f > *cols {
            return Err(ctx.err(&at, format!("module {} ({s} x {f} pixels from ({s0}, {f0})) lies outside the {rows} x {cols} frame", m.panel.name)));
        }
        let mut pixels = Vec::with_capacity(f * s);
        for row in s0..s0 + s {
            pixels.extend_from_slice(&frame[row * cols + f0..row * cols + f0 + f]);
        }
        if let Some(k) = pixels.iter().position(|v| !v.is_finite()) {
            return Err(ctx.err(&at, format!("pixel (fast {}, slow {}) of module {} is {}", k % f, k / f, m.panel.name, pixels[k])));
        }
        images.push(pixels);
    }
    Ok(images)
}

/// `incident_wavelength` (Å) of the instrument's NXbeam, else of `/entry/sample/beam`.
fn wavelength_a(ctx: Ctx<'_>, entry: &Group, instrument: &Group) -> Result<f64> {
    let (at, beam) = match child_of_class(ctx, instrument, "/entry/instrument", "NXbeam") {
        Ok(found) => found,
        Err(e) => match entry.group("sample").and_then(|s| s.group("beam")) {
            Ok(b) => ("/entry/sample/beam".to_string(), b),
            Err(_) => return Err(e),
        },
    };
    let here = format!("{at}/incident_wavelength");
    let ds = dataset(ctx, &beam, &at, "incident_wavelength")?;
    let a = scalar_f64(ctx, &ds, &here)? * units_factor(ctx, &ds, &here, angstrom_per, "length")?;
    match a > 0.0 && a.is_finite() {
        true => Ok(a),
        false => Err(ctx.err(&here, format!("{a} Å must be positive"))),
    }
}
