//! Multi-panel parity with the C program, at f64: eight panels of the real 60-panel Pilatus 6M
//! model (`shared/realdata/datablock-0.json`, read and composed by `nanobragg::io::expt`),
//! each cropped to 64 × 48 pixels, rendered as one multi-panel scene and compared panel by
//! panel with the C program run with that panel's frame (`tests/data/pilatus_panels/`, whose
//! README says how the C runs were made). Exact at f64: max |Δ| ≤ 1e-5 · max.

mod realdata;

use realdata::realdata;
use std::path::{Path, PathBuf};

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::scene::PanelScene;
use nanobragg::simulate::render_panels;
use nanobragg::RenderOptions;
use nanobragg_cli::parse_args;

type B = NdArray<f64>;

/// The scene every case shares: the C runs' arguments without the panel's frame.
const COMMON: &str = "-lambda 0.97625 -cell 57.99 57.99 149.83 90 90 90 -misset 10 20 30 -N 5 \
    -default_F 100 -beam_vector 0 0 -1 -polar_vector 0 1 0 -spindle_axis 1 0 0 -oversample 2 \
    -detector_thick 1000 -detector_abs 255 -thicksteps 2 -pivot sample";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pilatus_panels")
}


/// One row of `crops.tsv`: panel index, first fast and slow pixel, size.
struct Crop {
    panel: usize,
    fast0: i64,
    slow0: i64,
    fpixels: i64,
    spixels: i64,
}

fn crops() -> Vec<Crop> {
    let text = std::fs::read_to_string(data_dir().join("crops.tsv")).expect("tests/data/pilatus_panels/crops.tsv");
    text.lines()
        .skip(1)
        .map(|line| {
            let v: Vec<i64> = line.split('\t').map(|x| x.parse().expect("an integer")).collect();
            Crop { panel: v[0] as usize, fast0: v[1], slow0: v[2], fpixels: v[3], spixels: v[4] }
        })
        .collect()
}

fn reference(panel: usize) -> Vec<f32> {
    let path = data_dir().join(format!("panel_{panel:02}/float.bin"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn pilatus_panels() -> Vec<PanelScene> {
    let path = realdata("datablock-0.json");
    nanobragg::experiment::panel_scenes_of_file(&path, 0).expect("datablock-0.json's detector")
}

#[test]
fn eight_cropped_pilatus_panels_match_the_c_program_at_f64() {
    let panels = pilatus_panels();
    assert_eq!(panels.len(), 60, "the Pilatus 6M model has 60 panels");
    let crops = crops();
    assert_eq!(crops.len(), 8);
    let mut scene = parse_args(COMMON.split_whitespace()).expect("the common flags").scene;
    scene.detector.panels = crops
        .iter()
        .map(|c| panels[c.panel].cropped(c.fast0, c.slow0, c.fpixels, c.spixels).expect("a crop inside the panel"))
        .collect();
    let images = render_panels::<B>(&scene, &data_dir(), &NdArrayDevice::Cpu, RenderOptions::default())
        .expect("the multi-panel render");
    let mut failures = Vec::new();
    for (crop, image) in crops.iter().zip(&images) {
        let want = reference(crop.panel);
        assert_eq!((image.fpixels, image.spixels), (crop.fpixels as usize, crop.spixels as usize));
        let max = want.iter().fold(0.0_f64, |m, &x| m.max(x as f64));
        let worst = image.data.iter().zip(&want).map(|(&a, &b)| (a as f64 - b as f64).abs()).fold(0.0, f64::max);
        println!("panel {:2}: max {max:.6e}, max |Δ| {worst:.3e} ({:.2e} of max)", crop.panel, worst / max);
        if !(max > 0.0 && worst <= 1e-5 * max) {
            failures.push(crop.panel);
        }
    }
    assert!(failures.is_empty(), "panels differing from the C program: {failures:?}");
}
