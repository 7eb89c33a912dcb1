//! The `-nxsfile` image: every panel rendered, as `f32` photons (the `-floatfile` values), with
//! the detector model and the wavelength, in NeXus/HDF5 NXmx ([`nanobragg::io::nexus`], cargo
//! feature `nexus`). A binary built without the feature refuses the flag before anything runs.
//!
//! The NeXus file places panels in dxtbx's lab frame (beam along −z, converted to McStas by the
//! library). Panels of an experiment (`-expt`, `detector.panels`) are already in that frame and
//! are written as they are. A single detector of the C program's flags lives in the C
//! program's lab frame (MOSFLM: beam along +x, spindle along +z), so its frame is first turned
//! by the rotation that takes the beam to dxtbx's −z and the spindle axis to dxtbx's +x (its
//! part across the beam; the polarization axis when the spindle lies along the beam). For the
//! MOSFLM convention this maps fast (0, 0, 1) → (1, 0, 0) and slow (0, −1, 0) → (0, −1, 0),
//! the axes dxtbx gives the C program's SMV images.

use nanobragg::linalg::{cross_f64, dot_f64, unit_f64};
use nanobragg::scene::{PanelScene, Scene};
use nanobragg::Setup;
use nanobragg_cli::CommandLine;

use crate::run::{Failure, Rendered};

/// `-nxsfile` given to a binary built without NeXus support: refused with how to build one.
pub fn check_supported(cl: &CommandLine) -> Result<(), Failure> {
    match (cl.nxsfile.is_some(), cfg!(feature = "nexus")) {
        (true, false) => Err(Failure::Usage(
            "-nxsfile: this nanobragg was built without NeXus support; build it with \
             `cargo build --release -p nanobragg-cli --features nexus` (needs the system HDF5 \
             library: apt-get install libhdf5-dev pkg-config)"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// The panels of a multi-panel scene as written: where the render placed them (the panel
/// motion applied, [`Scene::placed_panels`]), each with its own sensor, else the detector's
/// (`-detector_thick`, `-detector_abs`), where positive.
pub fn panels_of(scene: &Scene) -> Vec<PanelScene> {
    let d = &scene.detector;
    let positive = |v: Option<f64>| v.filter(|x| *x > 0.0 && x.is_finite());
    scene
        .placed_panels()
        .iter()
        .map(|p| PanelScene {
            thick_um: positive(p.thick_um.or(d.thick_um)),
            abs_depth_um: positive(p.abs_depth_um.or(d.abs_depth_um)),
            ..p.clone()
        })
        .collect()
}

/// The wavelength (Å) of a multi-panel render: the scene's, else the C default of 1 Å (as
/// `setup::beam` resolves it).
pub fn wavelength_a(scene: &Scene) -> f64 {
    scene.beam.wavelength_a.unwrap_or(1.0)
}

/// The single detector of a render as one panel in dxtbx's lab frame: as it is when the scene
/// came from `-expt` (`dxtbx_frame`), else turned as the [module documentation](self) says.
pub fn single_panel(r: &Rendered, setup: &Setup, dxtbx_frame: bool) -> Result<PanelScene, Failure> {
    let f = &r.frame;
    let turn = match dxtbx_frame {
        true => [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        false => to_dxtbx(f.beam, setup.detector.axes.spindle, setup.detector.axes.polar)?,
    };
    let apply = |v: [f64; 3]| -> [f64; 3] { std::array::from_fn(|i| dot_f64(turn[i], v)) };
    let d = &setup.detector;
    Ok(PanelScene {
        name: "detector".into(),
        origin_mm: apply(f.pix0_mm),
        fast_axis: apply(f.fast),
        slow_axis: apply(f.slow),
        pixel_mm: d.pixel_m * 1000.0,
        fpixels: d.fpixels as i64,
        spixels: d.spixels as i64,
        thick_um: (d.thick_m > 0.0).then_some(d.thick_m * 1e6),
        abs_depth_um: (d.mu_per_m > 0.0 && d.thick_m > 0.0).then_some(1e6 / d.mu_per_m),
        group: None,
        ..PanelScene::default()
    })
}

/// The rotation (rows x′, y′, z′) with z′ = −beam, x′ = the part of `spindle` across the beam
/// (else of `polar`), y′ = z′ × x′.
fn to_dxtbx(beam: [f64; 3], spindle: [f64; 3], polar: [f64; 3]) -> Result<[[f64; 3]; 3], Failure> {
    let b = unit_f64(beam);
    let across = |v: [f64; 3]| {
        let k = dot_f64(v, b);
        let w = [v[0] - k * b[0], v[1] - k * b[1], v[2] - k * b[2]];
        (dot_f64(w, w).sqrt() > 1e-6).then(|| unit_f64(w))
    };
    let x = across(spindle).or_else(|| across(polar)).ok_or_else(|| {
        Failure::Runtime("-nxsfile: the spindle and polarization axes both lie along the beam: no frame to write the detector in".into())
    })?;
    let z = b.map(|c| -c);
    Ok([x, cross_f64(z, x), z])
}

/// Write `images` (one per panel, fast-major) with `panels` and the wavelength to `path`.
#[cfg(feature = "nexus")]
pub fn write(path: &std::path::Path, panels: Vec<PanelScene>, images: Vec<Vec<f32>>, wavelength_a: f64) -> Result<(), Failure> {
    let image = nanobragg::io::nexus::NexusImage { panels, images, wavelength_a, sensor_material: None };
    say!("writing {} as NeXus/HDF5 NXmx ({} panel(s), f32 photons)", path.display(), image.panels.len());
    nanobragg::io::nexus::write_nexus(path, &image).map_err(|e| Failure::Runtime(format!("-nxsfile: {e}")))
}

/// Never reached: [`check_supported`] refuses `-nxsfile` first in a binary without the feature.
#[cfg(not(feature = "nexus"))]
pub fn write(_: &std::path::Path, _: Vec<PanelScene>, _: Vec<Vec<f32>>, _: f64) -> Result<(), Failure> {
    Err(Failure::Usage("-nxsfile: this nanobragg was built without NeXus support".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "nexus"))]
    #[test]
    fn without_the_feature_nxsfile_is_refused_with_how_to_build() {
        let cl = nanobragg_cli::parse_args(["-nxsfile", "x.nxs"]).unwrap();
        match check_supported(&cl) {
            Err(Failure::Usage(msg)) => assert!(msg.contains("--features nexus") && msg.lines().count() == 1, "{msg}"),
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_mosflm_frame_turns_into_dxtbx_axes() {
        // MOSFLM: beam +x, spindle +z; dxtbx reads the C program's SMV images with fast +x
        // and slow −y, the beam along −z.
        let r = to_dxtbx([1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]).unwrap();
        let apply = |v: [f64; 3]| -> [f64; 3] { std::array::from_fn(|i| dot_f64(r[i], v)) };
        assert_eq!(apply([0.0, 0.0, 1.0]), [1.0, 0.0, 0.0]);
        assert_eq!(apply([0.0, -1.0, 0.0]), [0.0, -1.0, 0.0]);
        assert_eq!(apply([1.0, 0.0, 0.0]), [0.0, 0.0, -1.0]);
    }
}
