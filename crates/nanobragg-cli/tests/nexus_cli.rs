//! `nanobragg -nxsfile` (feature `nexus`): the 4-panel electron-diffraction detector of
//! `experiments_ED.json` rendered, written as NeXus and read back with the library's reader —
//! the pixels are the `-floatfile` values of the same run, the panels the file's — one panel
//! (`-panel N`), and a single detector of the C program's MOSFLM flags placed in dxtbx's frame.
#![cfg(feature = "nexus")]

mod common;

use std::path::Path;

use common::{realdata, run, scratch, stderr};
use nanobragg::experiment::panel_scenes_of_file;
use nanobragg::io::nexus::read_nexus;

const COMMON: &str = "-default_F 100 -N 2 -oversample 1 -nonoise -nopgm -noprogress";

fn floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn close(a: [f64; 3], b: [f64; 3], tol: f64) -> bool {
    (0..3).all(|i| (a[i] - b[i]).abs() <= tol)
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    v.map(|x| x / n)
}

#[test]
fn every_panel_of_an_experiment_goes_to_nexus_as_in_the_float_file() {
    let expt = realdata("experiments_ED.json");
    let dir = scratch("nxs-all");
    let args = format!("-expt {} {COMMON} -dtype f32 -floatfile all.bin -nxsfile all.nxs", expt.display());
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let nxs = read_nexus(&dir.join("all.nxs")).unwrap();
    let all = floats(&dir.join("all.bin"));
    let want = panel_scenes_of_file(&expt, 0).unwrap();
    assert_eq!(nxs.panels.len(), 4);
    let n = 254 * 254;
    assert_eq!(all.len(), 4 * n);
    for (i, (p, w)) in nxs.panels.iter().zip(&want).enumerate() {
        assert_eq!((p.fpixels, p.spixels, p.pixel_mm), (w.fpixels, w.spixels, w.pixel_mm), "panel {i}");
        assert!(close(p.origin_mm, w.origin_mm, 1e-9), "panel {i} origin {:?} vs {:?}", p.origin_mm, w.origin_mm);
        assert!(close(p.fast_axis, unit(w.fast_axis), 1e-12) && close(p.slow_axis, unit(w.slow_axis), 1e-12), "panel {i} axes");
        assert_eq!(bits(&nxs.images[i]), bits(&all[i * n..(i + 1) * n]), "panel {i}: the -floatfile pixels");
    }
    assert!(all.iter().any(|&v| v > 0.0), "something was rendered");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&expt).unwrap()).unwrap();
    assert_eq!(Some(nxs.wavelength_a), json["beam"][0]["wavelength"].as_f64(), "the file's wavelength (Å)");
}

#[test]
fn one_panel_goes_to_nexus_as_one_module() {
    let expt = realdata("experiments_ED.json");
    let dir = scratch("nxs-one");
    let args = format!("-expt {} -panel 2 {COMMON} -floatfile p2.bin -nxsfile p2.nxs", expt.display());
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let nxs = read_nexus(&dir.join("p2.nxs")).unwrap();
    assert_eq!(nxs.panels.len(), 1);
    assert_eq!(bits(&nxs.images[0]), bits(&floats(&dir.join("p2.bin"))));
    let want = &panel_scenes_of_file(&expt, 0).unwrap()[2];
    let p = &nxs.panels[0];
    assert!(close(p.origin_mm, want.origin_mm, 1e-9), "{:?} vs {:?}", p.origin_mm, want.origin_mm);
    assert!(close(p.fast_axis, unit(want.fast_axis), 1e-12) && close(p.slow_axis, unit(want.slow_axis), 1e-12));
}

#[test]
fn a_mosflm_detector_is_written_in_dxtbx_frame() {
    let dir = scratch("nxs-mosflm");
    let args = format!("-cell 100 100 100 90 90 90 -lambda 1.5 -distance 100 -detpixels 64 -pixel 0.1 {COMMON} -floatfile d.bin -nxsfile d.nxs");
    let out = run(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let nxs = read_nexus(&dir.join("d.nxs")).unwrap();
    let p = &nxs.panels[0];
    // dxtbx reads the C program's MOSFLM images with fast +x, slow −y, the beam along −z; the
    // MOSFLM default beam centre is (6.4 + 0.1)/2 mm plus half a pixel along fast and slow.
    assert!(close(p.fast_axis, [1.0, 0.0, 0.0], 1e-15) && close(p.slow_axis, [0.0, -1.0, 0.0], 1e-15), "{p:?}");
    assert!(close(p.origin_mm, [-3.3, 3.3, -100.0], 1e-9), "{:?}", p.origin_mm);
    assert_eq!((p.fpixels, p.spixels, nxs.wavelength_a), (64, 64, 1.5));
    assert_eq!(bits(&nxs.images[0]), bits(&floats(&dir.join("d.bin"))));
}

#[test]
fn a_bad_nxsfile_is_refused_before_any_output() {
    let dir = scratch("nxs-refuse");
    let args = format!("-expt {} {COMMON} -floatfile never.bin -nxsfile no/such/dir/x.nxs", realdata("experiments_ED.json").display());
    let out = run(&dir, &args);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("-nxsfile") && err.contains("no/such/dir"), "{err}");
    assert!(!dir.join("never.bin").exists(), "an output was written");
}
