//! Scenes on which the fused CPU kernel is compared with the tensor-op reference path
//! (`tests/fused_kernel_f64.rs`, `tests/fused_kernel_f32.rs`): together they reach every branch
//! of the kernel — both forward paths (vectorised and per-pixel), every lattice shape, nearest
//! and tricubic F (including the fallback when interpolation leaves the grid), sensor layers
//! with per-sub-pixel factors, point pixels, d_min culling, sources, mosaic and φ steps, water,
//! ROI — on detectors of at most 32² pixels.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An HKL file with h, k, l in `-n..=n` and F = 100·(1 + 0.5·sin(h + 2k + 3l)): its path in
/// one shared folder of the temp folder, the same file for every test and process (its text
/// depends on `n` alone). It is written once, under a name of its own, then renamed into place:
/// a test never reads a file another is still writing, and no folder is left per run.
pub fn hkl_file(tag: &str, n: i32) -> PathBuf {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join("nanobragg-test-hkl");
    let path = dir.join(format!("{tag}-{n}.hkl"));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let mut text = String::new();
    for h in -n..=n {
        for k in -n..=n {
            for l in -n..=n {
                let f = 100.0 * (1.0 + 0.5 * ((h + 2 * k + 3 * l) as f64).sin());
                text.push_str(&format!("{h} {k} {l} {f:.4}\n"));
            }
        }
    }
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let partial = dir.join(format!("{tag}-{n}.{}-{call}.partial", std::process::id()));
    std::fs::write(&partial, text).expect("write hkl");
    std::fs::rename(&partial, &path).expect("rename hkl");
    path
}

/// `(label, flags)` of every comparison scene; `{hkl}` / `{small_hkl}` stand for HKL files with
/// |h|, |k|, |l| ≤ 8 and ≤ 2.
pub const SCENES: &[(&str, &str)] = &[
    ("triclinic", "-default_F 100 -cell 70 80 90 85 95 105 -misset 10 5 3 -N 5 -lambda 1.5 -distance 80 -detpixels 24 -pixel 0.2"),
    ("layers_per_subpixel", "-default_F 90 -cell 60 62 64 89 91 90.5 -N 4 -lambda 1.5 -distance 80 -detpixels 20 -pixel 0.15 -oversample 2 -detector_abs 300 -detector_thick 120 -detector_thicksteps 3 -oversample_thick -oversample_polar -oversample_omega -twotheta 5"),
    ("layers_once", "-default_F 90 -cell 60 62 64 89 91 90.5 -N 4 -lambda 1.5 -distance 80 -detpixels 20 -pixel 0.15 -oversample 2 -detector_abs 300 -detector_thick 120 -detector_thicksteps 3 -detector_rotx 3"),
    ("omega_only", "-default_F 90 -cell 60 62 64 89 91 90.5 -N 4 -lambda 1.5 -distance 80 -detpixels 20 -pixel 0.15 -oversample 2 -oversample_omega"),
    ("point_pixel_dmin", "-default_F 100 -cell 50 50 50 90 90 90 -N 6 -lambda 1.0 -distance 60 -detpixels 28 -pixel 0.3 -point_pixel -dmin 2.5"),
    ("round", "-default_F 100 -cell 70 80 90 85 95 105 -N 5 -lambda 1.5 -distance 80 -detpixels 24 -pixel 0.2 -round_xtal -fudge 1.5"),
    ("gauss", "-default_F 100 -cell 70 80 90 85 95 105 -N 5 -lambda 1.5 -distance 80 -detpixels 24 -pixel 0.2 -gauss_xtal"),
    ("tophat", "-default_F 100 -cell 70 80 90 85 95 105 -N 5 -lambda 1.5 -distance 80 -detpixels 24 -pixel 0.2 -tophat_spots"),
    ("sources", "-default_F 100 -cell 100 100 100 90 90 90 -N 5 -lambda 6.2 -distance 100 -detpixels 24 -pixel 0.4 -divergence 0.3 -divsteps 2 -dispersion 2 -dispsteps 3 -polar 0.8"),
    ("mosaic_phi", "-default_F 100 -cell 100 100 100 90 90 90 -N 10 -lambda 1 -distance 100 -detpixels 24 -pixel 0.5 -mosaic 0.5 -mosaic_dom 4 -phi 0.5 -osc 1 -phisteps 3 -oversample 2"),
    ("water_nopolar_roi", "-default_F 100 -cell 70 80 90 85 95 105 -N 5 -lambda 1.5 -distance 80 -detpixels 24 -pixel 0.2 -water 20 -nopolar -roi 3 20 2 17"),
    ("nearest_grid", "-hkl {hkl} -nointerpolate -cell 40 42 44 90 90 90 -N 4 -lambda 1.2 -distance 60 -detpixels 24 -pixel 0.5 -misset 5 7 9"),
    ("tricubic_grid", "-hkl {hkl} -interpolate -cell 40 42 44 90 90 90 -N 4 -lambda 1.2 -distance 60 -detpixels 24 -pixel 0.3 -misset 5 7 9"),
    ("tricubic_leaves_grid", "-hkl {small_hkl} -interpolate -cell 40 42 44 90 90 90 -N 4 -lambda 1.2 -distance 60 -detpixels 24 -pixel 0.5 -misset 5 7 9"),
];

/// Flags of a scene with the HKL placeholders replaced.
pub fn flags(template: &str) -> String {
    let hkl = hkl_file("grid", 8);
    let small = hkl_file("small", 2);
    template
        .replace("{hkl}", &hkl.display().to_string())
        .replace("{small_hkl}", &small.display().to_string())
}

/// Largest |a − b| relative to max |b|.
pub fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "reference image is empty");
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}
