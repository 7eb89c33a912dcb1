//! Panel readout (gain, trusted range, mask, raw image offset; `nanobragg::scene::PanelReadout`):
//! the values of the real 60-panel Pilatus 6M model `datablock-0.json`, a mask rectangle moved
//! by `cropped`, and the real Pilatus 6M frame `run2_1_00148.cbf.gz` cut into that model's 60
//! module panels.
//!
//! Where the pinned numbers come from: the readout values were read from the JSON with Python's
//! `json` module; the counts over the CBF (526,101 pixels outside every panel block, all −1;
//! 954 pixels inside the blocks outside the trusted range [−1, 244795], of which 949 are −2 and
//! 5 above 244795; panel 0: 122 untrusted pixels, 158,424 ADU over its trusted pixels) by an
//! independent byte-offset decoder in Python (gzip, struct, numpy; not part of the repository).
//! The test also recounts them here over the raw pixels, without the library's slicing.

mod realdata;
use realdata::realdata;

use nanobragg::experiment::panel_scenes_of_file;
use nanobragg::io::expt::{lab_panels, read_experiments};
use nanobragg::scene::{panel_pixels, PanelReadout, PanelScene, RawImage};
use nanobragg::Scene;

const TRUSTED: [f64; 2] = [-1.0, 244795.0];

fn pilatus_panels() -> Vec<PanelScene> {
    panel_scenes_of_file(&realdata("datablock-0.json"), 0).expect("the 60-panel model")
}

#[test]
fn the_readout_of_the_60_panel_pilatus_comes_from_the_file() {
    let panels = pilatus_panels();
    assert_eq!(panels.len(), 60);
    for p in &panels {
        assert_eq!((p.readout.gain, p.readout.trusted_range, p.readout.mask.len()), (1.0, Some(TRUSTED), 0), "{}", p.name);
    }
    assert_eq!(panels[0].readout.raw_image_offset, Some([0, 0]));
    assert_eq!(panels[1].readout.raw_image_offset, Some([494, 0]));
    assert_eq!(panels[5].readout.raw_image_offset, Some([0, 212]));
    assert_eq!(panels[59].readout.raw_image_offset, Some([1976, 2332]));
    let file = read_experiments(&realdata("datablock-0.json")).unwrap();
    let lab = lab_panels(file.detectors()[0]).unwrap();
    assert!(lab.iter().all(|p| p.material == "Si"), "the sensor material");
    // A scene file of before the readout fields still reads, with the defaults.
    let old = "[detector]\n[[detector.panels]]\nname = \"p\"\npixel_mm = 0.1\nfpixels = 4\nspixels = 3\n";
    let scene = Scene::from_toml_str(old).expect("an old scene file");
    let p = &scene.detector.panels[0];
    assert_eq!((p.readout.gain, p.readout.trusted_range, p.readout.mask.is_empty(), p.readout.raw_image_offset), (1.0, None, true, None));
}

#[test]
fn cropped_moves_and_clips_the_mask_and_moves_the_raw_offset() {
    let panel = PanelScene {
        name: "hand".into(),
        origin_mm: [0.0, 0.0, 100.0],
        fast_axis: [1.0, 0.0, 0.0],
        slow_axis: [0.0, 1.0, 0.0],
        pixel_mm: 0.1,
        fpixels: 40,
        spixels: 30,
        readout: PanelReadout {
            trusted_range: Some([0.0, 50.0]),
            mask: vec![[10, 20, 30, 28], [0, 0, 5, 5]],
            raw_image_offset: Some([3, 2]),
            gain: 2.0,
        },
        ..PanelScene::default()
    };
    let crop = panel.cropped(8, 25, 20, 4).unwrap();
    // [10, 20, 30, 28] less (8, 25) is [2, −5, 22, 3], clipped to [0, 20) × [0, 4); [0, 0, 5, 5]
    // falls outside the crop and is dropped.
    assert_eq!(crop.readout.mask, vec![[2, 0, 20, 3]]);
    assert_eq!(crop.readout.raw_image_offset, Some([11, 27]));
    assert_eq!((crop.readout.gain, crop.readout.trusted_range), (2.0, Some([0.0, 50.0])));
    // The crop reads the same pixels as the whole panel does: a raw image with values 0..=99
    // cycling (some above the trusted 50), 60 x 40.
    let values: Vec<f64> = (0..60 * 40).map(|i| (i % 100) as f64).collect();
    let raw = RawImage { values: &values, width: 60, height: 40, name: "raw" };
    let whole = panel.readout.pixels(&raw, 40, 30, "whole").unwrap();
    let part = crop.readout.pixels(&raw, 20, 4, "crop").unwrap();
    for s in 0..4 {
        for f in 0..20 {
            let (i, j) = (s * 20 + f, (25 + s) * 40 + 8 + f);
            assert_eq!((part.valid[i], part.photons[i]), (whole.valid[j], whole.photons[j]), "crop pixel ({f}, {s})");
        }
    }
    // Whole panel pixel (12, 21) is masked; (35, 0) is raw (38, 2) = 158 % 100 = 58 ADU, above
    // the trusted 50; (0, 7) is raw (3, 9) = 543 % 100 = 43 ADU, trusted: 21.5 photons at gain 2.
    assert!(!whole.valid[21 * 40 + 12] && whole.photons[21 * 40 + 12] == 0.0);
    assert!(!whole.valid[35]);
    assert!(whole.valid[7 * 40] && whole.photons[7 * 40] == 21.5);
}

#[test]
fn a_block_outside_the_raw_image_a_bad_gain_and_a_nan_are_refused() {
    let values = vec![1.0; 100 * 50];
    let raw = RawImage { values: &values, width: 100, height: 50, name: "-target t.cbf" };
    let at = |offset: [i64; 2]| PanelReadout { raw_image_offset: Some(offset), ..PanelReadout::default() };
    let panel = PanelScene { fpixels: 20, spixels: 10, readout: at([90, 0]), ..PanelScene::default() };
    let err = panel.readout.pixels(&raw, 20, 10, "panel 3").unwrap_err().to_string();
    assert!(err.contains("-target t.cbf") && err.contains("panel 3") && err.contains("raw_image_offset"), "{err}");
    let none = PanelScene { fpixels: 20, spixels: 10, ..PanelScene::default() };
    let err = none.readout.pixels(&raw, 20, 10, "panel 0").unwrap_err().to_string();
    assert!(err.contains("raw_image_offset") && err.contains("100 x 50"), "{err}");
    let zero_gain = PanelScene { readout: PanelReadout { gain: 0.0, ..at([0, 0]) }, ..panel.clone() };
    let err = zero_gain.readout.pixels(&raw, 20, 10, "panel 3").unwrap_err().to_string();
    assert!(err.contains("gain"), "{err}");
    let mut nan = values.clone();
    nan[5 * 100 + 2] = f64::NAN;
    let raw = RawImage { values: &nan, ..raw };
    let err = PanelScene { readout: at([0, 0]), ..panel }.readout.pixels(&raw, 20, 10, "panel 3").unwrap_err().to_string();
    assert!(err.contains("(2, 5)") && err.contains("NaN"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn the_real_pilatus_6m_frame_cuts_into_its_60_module_panels() {
    let cbf = nanobragg::io::read_cbf(&realdata("run2_1_00148.cbf.gz")).expect("the real CBF");
    let (w, h) = (cbf.fpixels, cbf.spixels);
    assert_eq!((w, h), (2463, 2527));
    let values: Vec<f64> = cbf.data.iter().map(|&v| f64::from(v)).collect();
    let mut scene = Scene::default();
    scene.detector.panels = pilatus_panels();
    let raw = RawImage { values: &values, width: w, height: h, name: "run2_1_00148.cbf.gz" };
    let panels = panel_pixels(&scene, &raw).expect("the 60 panels");
    assert_eq!(panels.len(), 60);
    assert!(panels.iter().all(|p| p.photons.len() == 487 * 195 && p.valid.len() == 487 * 195));
    // Which raw pixels the blocks cover, recounted here from the offsets.
    let mut covered = vec![false; w * h];
    for p in &scene.detector.panels {
        let [x, y] = p.readout.raw_image_offset.unwrap().map(|v| v as usize);
        for s in y..y + 195 {
            covered[s * w + x..s * w + x + 487].iter_mut().for_each(|c| *c = true);
        }
    }
    let outside: Vec<i32> = (0..w * h).filter(|&i| !covered[i]).map(|i| cbf.data[i]).collect();
    assert_eq!(outside.len(), 526_101, "the gap rows and columns between modules");
    assert!(outside.iter().all(|&v| v == -1), "every gap pixel is −1 in the CBF, and none is in a block");
    let untrusted_raw = (0..w * h).filter(|&i| covered[i] && !(-1..=244_795).contains(&cbf.data[i])).count();
    let untrusted: usize = panels.iter().map(|p| p.valid.iter().filter(|&&v| !v).count()).sum();
    assert_eq!((untrusted, untrusted_raw), (954, 954), "untrusted pixels: −2 marks and counts above 244795");
    let block_sum: f64 = (0..195)
        .flat_map(|s| cbf.data[s * w..s * w + 487].iter())
        .filter(|&&v| (-1..=244_795).contains(&v))
        .map(|&v| f64::from(v))
        .sum();
    let photons: f64 = panels[0].photons.iter().zip(&panels[0].valid).filter(|(_, &ok)| ok).map(|(v, _)| v).sum();
    assert_eq!((photons, block_sum), (158_424.0, 158_424.0), "panel 0: gain 1, its trusted pixels");
    assert_eq!(panels[0].valid.iter().filter(|&&v| !v).count(), 122);
}
