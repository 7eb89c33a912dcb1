//! Writing an NXmx file (layout in the [module documentation](super)): checked first, then
//! written to `<name>.tmp-<pid>` beside the destination, closed, fsynced and renamed over it,
//! so that a failed write leaves any existing file as it was.

use std::path::{Path, PathBuf};

use hdf5_metno as hdf5;
use hdf5::Group;

use super::chain::flip_xz;
use super::h5::{f64_dataset, nx_group, set_f64s_attr, set_str_attr, str_dataset, Ctx};
use super::{NexusImage, GAP_VALUE};
use crate::error::Result;
use crate::io::atomic::{final_target, folder_of};
use crate::io::IoError;
use crate::linalg::unit_f64;
use crate::scene::PanelScene;

/// HDF5 path of the NXdetector.
pub(crate) const DETECTOR: &str = "/entry/instrument/detector";
/// HDF5 path of the image dataset.
pub(crate) const DATA: &str = "/entry/data/data";
/// HDF5 path of the root of every module's chain.
pub(crate) const ORIGIN: &str = "/entry/instrument/detector/transformations/origin";

/// Write `image` as an NXmx file at `path` (a regular file, replaced atomically; layout and
/// conventions in the [module documentation](super)). Refuses, before touching `path`, an image
/// whose panels and pixel lists disagree, a panel with non-finite or zero axes, a non-positive
/// pixel size or pixel count, non-finite pixels, or a non-positive wavelength.
pub fn write_nexus(path: &Path, image: &NexusImage) -> Result<()> {
    check(path, image)?;
    let target = final_target(path)?;
    if let Ok(m) = std::fs::metadata(&target) {
        if !m.is_file() {
            return Err(IoError::invalid(path, "is not a regular file (an HDF5 file is written by name, then renamed)").into());
        }
    }
    let tmp = temp_path(&target, path)?;
    let result = write_to(&tmp, path, image).and_then(|()| finish(&tmp, &target, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `<name>.tmp-<pid>` in the destination's folder.
fn temp_path(target: &Path, path: &Path) -> Result<PathBuf> {
    let name = target.file_name().ok_or_else(|| IoError::invalid(path, "output path has no file name"))?;
    let mut tmp = name.to_os_string();
    tmp.push(format!(".tmp-{}", std::process::id()));
    Ok(folder_of(target).join(tmp))
}

/// Fsync the finished temporary file, give it the permissions of the file it replaces, rename.
fn finish(tmp: &Path, target: &Path, path: &Path) -> Result<()> {
    let os = |e| IoError::os(path, e);
    let f = std::fs::File::open(tmp).map_err(os)?;
    f.sync_all().map_err(os)?;
    if let Ok(m) = std::fs::metadata(target) {
        f.set_permissions(m.permissions()).map_err(os)?;
    }
    drop(f);
    std::fs::rename(tmp, target).map_err(os)?;
    if let Ok(d) = std::fs::File::open(folder_of(target)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The whole file at `tmp` (`path` names it in messages).
fn write_to(tmp: &Path, path: &Path, image: &NexusImage) -> Result<()> {
    let ctx = Ctx { path };
    let file = ctx.at("/", hdf5::File::create(tmp))?;
    let entry = ctx.at("/entry", nx_group(&file, "entry", "NXentry"))?;
    ctx.at("/entry/definition", str_dataset(&entry, "definition", "NXmx").map(drop))?;
    let instrument = ctx.at("/entry/instrument", nx_group(&entry, "instrument", "NXinstrument"))?;
    write_beam(ctx, &entry, &instrument, image.wavelength_a)?;
    let detector = ctx.at(DETECTOR, nx_group(&instrument, "detector", "NXdetector"))?;
    write_sensor(ctx, &detector, image)?;
    write_data(ctx, &entry, &detector, image)?;
    ctx.at(ORIGIN, write_origin(&detector))?;
    let width = module_name_width(image.panels.len());
    let mut row = 0;
    for (i, panel) in image.panels.iter().enumerate() {
        let name = format!("module_{i:0width$}");
        let at = format!("{DETECTOR}/{name}");
        ctx.at(&at, write_module(&detector, &name, panel, row, uniform_thickness(image).is_none()))?;
        row += panel.spixels as usize;
    }
    drop((detector, instrument, entry));
    ctx.at("/", file.close())
}

/// Digits of the module numbers: at least 3, enough for every panel (names sort in panel order).
fn module_name_width(count: usize) -> usize {
    count.saturating_sub(1).to_string().len().max(3)
}

/// NXbeam with `incident_wavelength` (Å), and NXsample holding a link to it.
fn write_beam(ctx: Ctx<'_>, entry: &Group, instrument: &Group, wavelength_a: f64) -> Result<()> {
    let at = "/entry/instrument/beam";
    let beam = ctx.at(at, nx_group(instrument, "beam", "NXbeam"))?;
    ctx.at(&format!("{at}/incident_wavelength"), f64_dataset(&beam, "incident_wavelength", wavelength_a, "angstrom").map(drop))?;
    let sample = ctx.at("/entry/sample", nx_group(entry, "sample", "NXsample"))?;
    ctx.at("/entry/sample/depends_on", str_dataset(&sample, "depends_on", ".").map(drop))?;
    ctx.at("/entry/sample/beam", sample.link_hard(at, "beam"))
}

/// The thickness every panel shares (µm), if they all carry the same one.
fn uniform_thickness(image: &NexusImage) -> Option<f64> {
    let first = image.panels.first()?.thick_um?;
    image.panels.iter().all(|p| p.thick_um == Some(first)).then_some(first)
}

/// `sensor_material` and, when the panels share it, `sensor_thickness` (µm).
fn write_sensor(ctx: Ctx<'_>, detector: &Group, image: &NexusImage) -> Result<()> {
    if let Some(m) = &image.sensor_material {
        ctx.at(&format!("{DETECTOR}/sensor_material"), str_dataset(detector, "sensor_material", m).map(drop))?;
    }
    if let Some(t) = uniform_thickness(image) {
        ctx.at(&format!("{DETECTOR}/sensor_thickness"), f64_dataset(detector, "sensor_thickness", t, "um").map(drop))?;
    }
    ctx.at(&format!("{DETECTOR}/depends_on"), str_dataset(detector, "depends_on", ORIGIN).map(drop))
}

/// The frame `[1][Σ spixels][max fpixels]` (f32), panels stacked along slow, gaps [`GAP_VALUE`];
/// NXdata at `/entry/data` and a hard link from the detector.
fn write_data(ctx: Ctx<'_>, entry: &Group, detector: &Group, image: &NexusImage) -> Result<()> {
    let rows: usize = image.panels.iter().map(|p| p.spixels as usize).sum();
    let cols = image.panels.iter().map(|p| p.fpixels as usize).max().unwrap_or(0);
    let mut frame = vec![GAP_VALUE; rows * cols];
    let mut row = 0;
    for (panel, pixels) in image.panels.iter().zip(&image.images) {
        let f = panel.fpixels as usize;
        for (s, line) in pixels.chunks_exact(f).enumerate() {
            let start = (row + s) * cols;
            frame[start..start + f].copy_from_slice(line);
        }
        row += panel.spixels as usize;
    }
    let data = ctx.at("/entry/data", nx_group(entry, "data", "NXdata"))?;
    ctx.at("/entry/data@signal", set_str_attr(&data, "signal", "data"))?;
    let ds = ctx.at(DATA, data.new_dataset::<f32>().shape([1, rows, cols]).create("data"))?;
    ctx.at(DATA, ds.write_raw(&frame))?;
    ctx.at(DATA, set_str_attr(&ds, "units", "photons"))?;
    ctx.at(&format!("{DETECTOR}/data"), detector.link_hard(DATA, "data"))
}

/// The root of every module's chain: a zero translation along McStas z.
fn write_origin(detector: &Group) -> hdf5::Result<()> {
    let t = nx_group(detector, "transformations", "NXtransformations")?;
    let ds = f64_dataset(&t, "origin", 0.0, "mm")?;
    axis_attrs(&ds, "translation", [0.0, 0.0, 1.0], ".")
}

/// `transformation_type`, `vector`, a zero `offset` (mm) and `depends_on` of an axis.
fn axis_attrs(ds: &hdf5::Dataset, kind: &str, vector: [f64; 3], depends_on: &str) -> hdf5::Result<()> {
    set_str_attr(ds, "transformation_type", kind)?;
    set_f64s_attr(ds, "vector", &vector)?;
    set_f64s_attr(ds, "offset", &[0.0; 3])?;
    set_str_attr(ds, "offset_units", "mm")?;
    set_str_attr(ds, "depends_on", depends_on)
}

/// One NXdetector_module: its block of the frame from row `row`, its offset and pixel directions
/// (McStas frame), and, where the panels' sensors differ, its own thickness (µm).
fn write_module(detector: &Group, name: &str, p: &PanelScene, row: usize, own_thickness: bool) -> hdf5::Result<()> {
    let m = nx_group(detector, name, "NXdetector_module")?;
    set_str_attr(&m, "panel_name", &p.name)?;
    let ints = |n: &str, v: [i64; 2]| m.new_dataset::<i64>().shape(2).create(n)?.write_raw(&v);
    ints("data_origin", [row as i64, 0])?;
    ints("data_size", [p.spixels, p.fpixels])?;
    let o = flip_xz(p.origin_mm);
    let norm = (o[0] * o[0] + o[1] * o[1] + o[2] * o[2]).sqrt();
    let dir = if norm > 0.0 { [o[0] / norm, o[1] / norm, o[2] / norm] } else { [0.0, 0.0, 1.0] };
    let offset = f64_dataset(&m, "module_offset", norm, "mm")?;
    axis_attrs(&offset, "translation", dir, ORIGIN)?;
    let offset_path = format!("{DETECTOR}/{name}/module_offset");
    for (field, axis) in [("fast_pixel_direction", p.fast_axis), ("slow_pixel_direction", p.slow_axis)] {
        let ds = f64_dataset(&m, field, p.pixel_mm, "mm")?;
        axis_attrs(&ds, "translation", flip_xz(unit_f64(axis)), &offset_path)?;
    }
    if let (true, Some(t)) = (own_thickness, p.thick_um) {
        f64_dataset(&m, "sensor_thickness", t, "um")?;
    }
    if let Some(a) = p.abs_depth_um {
        f64_dataset(&m, "sensor_attenuation_length", a, "um")?;
    }
    Ok(())
}

/// Refuse an image that cannot be written (see [`write_nexus`]).
fn check(path: &Path, image: &NexusImage) -> Result<()> {
    let bad = |msg: String| -> Result<()> { Err(IoError::invalid(path, msg).into()) };
    if image.panels.is_empty() || image.panels.len() != image.images.len() {
        return bad(format!("{} panels with {} images: one image a panel, at least one", image.panels.len(), image.images.len()));
    }
    if !(image.wavelength_a.is_finite() && image.wavelength_a > 0.0) {
        return bad(format!("wavelength {} Å: must be finite and positive", image.wavelength_a));
    }
    for (i, (p, pixels)) in image.panels.iter().zip(&image.images).enumerate() {
        if let Err(msg) = check_panel(p, pixels) {
            return bad(format!("panel {i} ({}): {msg}", p.name));
        }
    }
    Ok(())
}

fn check_panel(p: &PanelScene, pixels: &[f32]) -> std::result::Result<(), String> {
    let finite_nonzero = |v: [f64; 3]| v.iter().all(|x| x.is_finite()) && v.iter().any(|&x| x != 0.0);
    if !(finite_nonzero(p.fast_axis) && finite_nonzero(p.slow_axis)) {
        return Err(format!("axes {:?}, {:?} must be finite and non-zero", p.fast_axis, p.slow_axis));
    }
    if !p.origin_mm.iter().all(|x| x.is_finite()) {
        return Err(format!("origin {:?} mm is not finite", p.origin_mm));
    }
    if !(p.pixel_mm.is_finite() && p.pixel_mm > 0.0) {
        return Err(format!("pixel size {} mm must be finite and positive", p.pixel_mm));
    }
    let count = (p.fpixels >= 1 && p.spixels >= 1).then(|| (p.fpixels as usize).checked_mul(p.spixels as usize)).flatten();
    if count != Some(pixels.len()) {
        return Err(format!("{} pixel values for {} x {} pixels", pixels.len(), p.fpixels, p.spixels));
    }
    for (what, v) in [("thick_um", p.thick_um), ("abs_depth_um", p.abs_depth_um)] {
        if v.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(format!("{what} {v:?} must be finite and positive"));
        }
    }
    match pixels.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(format!("pixel (fast {}, slow {}) is {}", k % p.fpixels as usize, k / p.fpixels as usize, pixels[k])),
        None => Ok(()),
    }
}
