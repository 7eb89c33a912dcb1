//! `nanobragg refine -target frame.cbf`: a measured CBF frame as the target of one panel of the
//! real 60-panel Pilatus 6M model (`datablock-0.json`). The frame is made here: panel 27 of a
//! shifted copy of the model rendered with our `-cbffile` writer (counts = photons × 10⁶),
//! placed at the panel's `raw_image_offset` in a 2463 × 2527 frame of −1 (the Pilatus gap
//! value), with five −2 pixels (bad-pixel marks) and a masked rectangle of garbage. The model
//! given to `refine` carries gain 10⁶ and that mask rectangle.

mod common;

use std::path::PathBuf;

use common::{realdata, run, scratch, stderr};
use nanobragg::io::{read_cbf, write_cbf, CbfImage};

const COMMON: &str = "-cell 57.99 57.99 149.83 90 90 90 -misset 10 20 30 -N 5 -default_F 100 \
    -polar_vector 0 1 0 -polar 0 -detector_thick 1000 -detector_abs 255 -thicksteps 2 \
    -nonoise -nopgm -noprogress";
/// Panel 27's region: fast 150–213, slow 80–127 (64 × 48 = 3072 pixels).
const REGION: &str = "-panel 27 -roi 150 213 80 127 -oversample 1";
/// Panel 27's block in the raw frame (`raw_image_offset` in the file: row 5, column 2).
const OFFSET: [usize; 2] = [988, 1060];
/// Masked rectangle `[f0, s0, f1, s1]` (f1, s1 exclusive): 10 × 10 pixels inside the region.
const MASK: [usize; 4] = [160, 90, 170, 100];
/// Pixels (fast, slow) of panel 27 marked −2, inside the region and outside the mask.
const BAD: [[usize; 2]; 5] = [[150, 80], [200, 100], [213, 127], [180, 110], [155, 120]];

fn datablock() -> PathBuf {
    realdata("datablock-0.json")
}

fn model() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(datablock()).unwrap()).unwrap()
}

/// The full frame holding `panel` (487 × 195 counts) at [`OFFSET`], −1 elsewhere, with the
/// [`BAD`] pixels at −2 and the [`MASK`] rectangle at 200000 counts.
fn frame(panel: &CbfImage) -> CbfImage {
    let (w, h) = (2463, 2527);
    let mut data = vec![-1; w * h];
    let at = |f: usize, s: usize| (OFFSET[1] + s) * w + OFFSET[0] + f;
    for s in 0..195 {
        for f in 0..487 {
            data[at(f, s)] = panel.data[s * 487 + f];
        }
    }
    for [f, s] in BAD {
        data[at(f, s)] = -2;
    }
    for s in MASK[1]..MASK[3] {
        for f in MASK[0]..MASK[2] {
            data[at(f, s)] = 200_000;
        }
    }
    CbfImage { fpixels: w, spixels: h, data, header: panel.header.clone() }
}

#[test]
fn refine_fits_a_panel_to_a_cbf_frame_through_its_offset_gain_trusted_range_and_mask() {
    let dir = scratch("cbf-target");
    let mut truth = model();
    let origin = &mut truth[0]["detector"][0]["panels"][27]["origin"][0];
    let x0 = origin.as_f64().unwrap();
    *origin = serde_json::json!(x0 + 0.05);
    std::fs::write(dir.join("shifted.json"), serde_json::to_vec(&truth).unwrap()).unwrap();
    let made = run(&dir, &format!("-expt shifted.json {COMMON} {REGION} -scale 1e6 -adc 0 -cbffile panel.cbf"));
    assert!(made.status.success(), "{}", stderr(&made));
    let panel = read_cbf(&dir.join("panel.cbf")).unwrap();
    let max = *panel.data.iter().max().unwrap();
    assert!(max > 10_000 && max <= 244_795, "counts within the trusted range: max {max}");
    write_cbf(&dir.join("frame.cbf"), &frame(&panel)).unwrap();
    let mut given = model();
    let p27 = &mut given[0]["detector"][0]["panels"][27];
    p27["gain"] = serde_json::json!(1e6);
    p27["mask"] = serde_json::json!([MASK]);
    std::fs::write(dir.join("model.json"), serde_json::to_vec(&given).unwrap()).unwrap();
    let args = format!("refine -expt model.json {COMMON} {REGION} -target frame.cbf -refine beam_center_s -loss l2 -refined_expt r.expt");
    let out = run(&dir, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    // The region less the masked rectangle and the −2 pixels.
    let used = 64 * 48 - 100 - BAD.len();
    assert!(stdout.contains(&format!("on {used} pixels")), "{used} pixels used: {stdout}");
    let refined = nanobragg::io::expt::read_experiments(&dir.join("r.expt")).expect("the refined experiment");
    let x = refined.detectors()[0].panels[27].origin[0];
    assert!((x - (x0 + 0.05)).abs() < 2e-4, "panel 27 local x refined to {x}, truth {}", x0 + 0.05);
}

#[test]
fn a_cbf_target_whose_panel_block_is_outside_the_frame_is_refused() {
    let dir = scratch("cbf-target-refuse");
    let made = run(&dir, &format!("-expt {} {COMMON} {REGION} -adc 0 -cbffile panel.cbf", datablock().display()));
    assert!(made.status.success(), "{}", stderr(&made));
    // The panel's own 487 × 195 image: its block at (988, 1060) does not fit.
    let args = format!("refine -expt {} {COMMON} {REGION} -target panel.cbf -refine beam_center_s -refined_scene never.toml", datablock().display());
    let out = run(&dir, &args);
    let err = stderr(&out);
    assert!(!out.status.success(), "accepted: {err}");
    assert!(err.contains("panel.cbf") && err.contains("raw_image_offset") && err.contains("[988, 1060]"), "{err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("nanobragg: error:")).count(), 1, "{err}");
    assert!(!dir.join("never.toml").exists(), "nothing written");
}
