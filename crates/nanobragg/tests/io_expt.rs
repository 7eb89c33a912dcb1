//! DIALS/dxtbx experiment lists and DataBlock lists (`nanobragg::io::expt`) against the real files of
//! `shared/realdata` (see its SOURCES.md): counts, literal numbers copied from the files, read → write
//! → read, unit cells, the composition of the 60-module Pilatus 6M hierarchy, a hand-built two-level
//! hierarchy, and malformed files (in `io_expt/malformed.rs`).
//!
//! Folder: `$NANOBRAGG_REALDATA`, default `<CARGO_MANIFEST_DIR>/../../../shared/realdata`. A missing
//! folder is a test failure, not a skip.

#[path = "io_expt/hand_built.rs"]
mod hand_built;
#[path = "io_expt/malformed.rs"]
mod malformed;
#[path = "../../../tests/support/scratch.rs"]
mod scratch_dir;

use nanobragg::io::expt::{
    lab_beam, lab_crystal, lab_panels, read_experiments, write_experiments, ExptFile,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(crate) fn realdata(name: &str) -> PathBuf {
    let dir = match std::env::var_os("NANOBRAGG_REALDATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata"),
    };
    assert!(
        dir.is_dir(),
        "real-data folder {} is missing: set NANOBRAGG_REALDATA to the folder holding split_00.expt \
         (shared/realdata)",
        dir.display()
    );
    dir.join(name)
}

fn read(name: &str) -> ExptFile {
    read_experiments(&realdata(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh folder for test `name`'s files, removed when the test passes (see `Scratch`).
pub(crate) fn scratch(name: &str) -> scratch_dir::Scratch {
    scratch_dir::scratch_in_temp("nanobragg-io-expt", name)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{what}: got {got:?}, want {want:?}");
    }
}

const FILES: [&str; 4] = [
    "split_00.expt",
    "experiments_thaum_0500.json",
    "experiments_ED.json",
    "datablock-0.json",
];

/// Experiments and panels per file (SOURCES.md table), and which kind of file each is.
#[test]
fn counts_of_experiments_and_panels() {
    for (name, experiments, panels) in [
        ("split_00.expt", 1, 1),
        ("experiments_thaum_0500.json", 1, 1),
        ("experiments_ED.json", 1, 4),
    ] {
        let file = read(name);
        let list = file.as_experiments().expect("an ExperimentList");
        assert_eq!(list.experiment.len(), experiments, "{name}");
        assert_eq!(file.detectors().len(), 1, "{name}");
        assert_eq!(file.detectors()[0].panels.len(), panels, "{name}");
        assert_eq!(
            lab_panels(file.detectors()[0]).unwrap().len(),
            panels,
            "{name}"
        );
        assert_eq!(file.crystals().len(), 1, "{name}");
    }
    let file = read("datablock-0.json");
    let ExptFile::DataBlocks(blocks) = &file else {
        panic!("datablock-0.json: not a DataBlock list")
    };
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].imageset.len(), 1);
    assert_eq!(file.detectors()[0].panels.len(), 60);
    assert!(file.crystals().is_empty());
}

/// Numbers copied by hand from the files equal what the reader gives.
#[test]
fn numbers_read_off_the_files() {
    let f = read("split_00.expt");
    let p = &f.detectors()[0].panels[0];
    assert_eq!(
        p.origin,
        [-170.1070553941832, 170.1923289145582, -198.4110369068717]
    );
    assert_eq!(
        (p.image_size, p.pixel_size),
        ([2560, 2560], [0.1328125, 0.1328125])
    );
    assert_eq!(f.beams()[0].wavelength, Some(1.3059854075545219));
    assert_eq!(
        f.crystals()[0].real_space_a,
        [-222.2972955511683, -41.2965106348623, 174.1467507090153]
    );
    assert_eq!(
        f.crystals()[0].space_group_hall_symbol.as_deref(),
        Some(" P 2yb")
    );

    let f = read("experiments_thaum_0500.json");
    let p = &f.detectors()[0].panels[0];
    assert_eq!(
        p.fast_axis,
        [
            0.9999978056991751,
            0.0008319640400143375,
            0.0019226108995804294
        ]
    );
    assert_eq!((p.mu, p.thickness), (Some(3.9220322752480934), Some(1.0)));
    assert_eq!(p.mask.as_ref().unwrap()[4], [1, 196, 2463, 212]);
    assert_eq!(f.beams()[0].wavelength, Some(0.9762499999999998));
    assert_eq!(
        f.beams()[0].direction,
        [-0.0023870185538645834, -0.0, 0.9999971510671536]
    );
    assert_eq!(f.crystals()[0].ml_half_mosaicity_deg, Some(None));

    let f = read("experiments_ED.json");
    let d = f.detectors()[0];
    let root = d.hierarchy.as_ref().unwrap();
    assert_eq!(
        root.origin,
        Some([-14.630585567432856, 12.67001710344506, -1112.9681723751003])
    );
    assert_eq!(d.panels[1].origin, [14.465, 0.165, 0.0]);
    let list = f.as_experiments().unwrap();
    let scan = &list.scan.as_ref().unwrap()[0];
    assert_eq!(
        (scan.image_range, scan.oscillation),
        (Some([1, 62]), Some([-43.4, 0.9]))
    );
    let gonio = &list.goniometer.as_ref().unwrap()[0];
    assert_eq!(
        gonio.rotation_axis,
        Some([-0.7548637593860369, -0.6558816240493247, 0.0])
    );
    assert_eq!(f.beams()[0].wavelength, Some(0.025099999999999994));

    let f = read("datablock-0.json");
    let d = f.detectors()[0];
    assert_eq!(
        d.hierarchy.as_ref().unwrap().origin,
        Some([-215.31648, 208.37628, -502.19])
    );
    assert_eq!(d.panels[59].origin, [339.872, 401.10400000000004, 0.0]);
    assert_eq!(f.beams()[0].wavelength, Some(0.97625));
}

/// Two JSON trees are equal: same keys, lengths, strings, booleans and nulls; numbers to 1e-12 relative.
fn same_tree(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                "{at}: {x} != {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: list lengths");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                same_tree(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(x), keys(y), "{at}: keys");
            for (k, v) in x {
                same_tree(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

/// read → write → read keeps the whole JSON tree of every real file (every key, every number).
#[test]
fn read_write_read_keeps_every_number() {
    for name in FILES {
        let path = realdata(name);
        let original: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let first = read(name);
        let dir = scratch(&format!("roundtrip-{name}"));
        let out = dir.join(name);
        write_experiments(&out, &first).unwrap();
        let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        same_tree(&original, &written, name);
        assert_eq!(
            read_experiments(&out).unwrap(),
            first,
            "{name}: second read differs"
        );
    }
}

/// Unit cells of SOURCES.md (to 0.01 Å), and A = (rows a, b, c)⁻¹ gives a·a* = 1, a·b* = 0, ...
#[test]
fn unit_cells_match_sources() {
    for (name, want) in [
        ("split_00.expt", [285.39, 166.04, 285.85]),
        ("experiments_thaum_0500.json", [57.99, 57.99, 149.83]),
        ("experiments_ED.json", [33.10, 71.17, 108.42]),
    ] {
        let c = lab_crystal(read(name).crystals()[0]).unwrap();
        assert_close(&c.cell[..3], &want, 0.01, name);
        for (i, r) in c.real.iter().enumerate() {
            for j in 0..3 {
                let d: f64 = (0..3).map(|k| r[k] * c.a_matrix[k][j]).sum();
                assert!(
                    (d - f64::from(u8::from(i == j))).abs() < 1e-12,
                    "{name}: a_i·a*_j = {d}"
                );
            }
        }
    }
    let thaum = lab_crystal(read("experiments_thaum_0500.json").crystals()[0]).unwrap();
    assert_close(
        &thaum.cell[3..],
        &[90.0, 90.0, 90.0],
        0.01,
        "thaumatin angles (P 4)",
    );
}

/// The beam: s0 = −direction/λ (dxtbx `Beam(s0)`: direction = −ŝ0, λ = 1/|s0|).
#[test]
fn beam_s0_points_from_source_to_sample() {
    let b = lab_beam(read("split_00.expt").beams()[0]).unwrap();
    let lambda = 1.3059854075545219;
    assert_eq!(b.wavelength_a, lambda);
    assert_close(&b.propagation, &[0.0, 0.0, -1.0], 0.0, "propagation");
    assert_close(&b.s0, &[0.0, 0.0, -1.0 / lambda], 1e-15, "s0");
    let b = lab_beam(read("experiments_thaum_0500.json").beams()[0]).unwrap();
    let n: f64 = b.s0.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((n - 1.0 / 0.9762499999999998).abs() < 1e-12 && b.s0[2] < 0.0);
}

/// The 60 modules of datablock-0.json, composed through the hierarchy, tile one plane as a Pilatus
/// 6M does: 5 × 12 modules of 487 × 195 pixels with gaps of 7 (fast) and 17 (slow) pixels, pitch
/// (487+7)·0.172 = 84.968 mm and (195+17)·0.172 = 36.464 mm. The numbers are dxtbx's
/// (`dxtbx/format/FormatPilatusHelpers.py`, `_DetectorDatabase["Pilatus"]`: module 487 × 195, gaps
/// 7 and 17; `FormatCBFMiniPilatusDLS12M.py` uses the same `487 + 7` and `195 + 17` shifts); they
/// agree with the 2463 × 2527 full image (5·487 + 4·7, 12·195 + 11·17). Expected positions are built
/// here from the root's frame alone, so a wrong composition rule (e.g. adding a local origin without
/// turning it into the root's axes, whose slow axis is −y) fails.
#[test]
fn pilatus_6m_modules_tile_one_plane() {
    let f = read("datablock-0.json");
    let det = f.detectors()[0];
    let root = det.hierarchy.as_ref().unwrap();
    let (rf, rs, ro) = (
        root.fast_axis.unwrap(),
        root.slow_axis.unwrap(),
        root.origin.unwrap(),
    );
    assert_eq!((rf, rs), ([1.0, 0.0, 0.0], [0.0, -1.0, 0.0]));
    let panels = lab_panels(det).unwrap();
    assert_eq!(panels.len(), 60);
    let (pitch_f, pitch_s) = ((487.0 + 7.0) * 0.172, (195.0 + 17.0) * 0.172);
    for (i, p) in panels.iter().enumerate() {
        let (row, col) = ((i / 5) as f64, (i % 5) as f64);
        let want: Vec<f64> = (0..3)
            .map(|k| ro[k] + col * pitch_f * rf[k] + row * pitch_s * rs[k])
            .collect();
        assert_close(&p.origin_mm, &want, 1e-9, &format!("module {i} origin"));
        assert_close(
            &p.normal,
            &[0.0, 0.0, -1.0],
            0.0,
            &format!("module {i} normal"),
        );
        assert_close(&p.fast, &rf, 0.0, "fast");
        assert_close(&p.slow, &rs, 0.0, "slow");
        // The file writes 0.17200000000000001, one f64 step above 0.172.
        assert_eq!(
            (p.image_size, p.pixel_mm),
            ([487, 195], [0.17200000000000001, 0.17200000000000001])
        );
        assert!((p.mu_per_mm - 3.9220322752480934).abs() < 1e-15 && p.material == "Si");
    }
    for i in 0..60 {
        let d = |j: usize| {
            (0..3)
                .map(|k| panels[j].origin_mm[k] - panels[i].origin_mm[k])
                .collect::<Vec<_>>()
        };
        if i % 5 < 4 {
            assert_close(&d(i + 1), &[pitch_f, 0.0, 0.0], 1e-9, "fast neighbour");
        }
        if i < 55 {
            assert_close(&d(i + 5), &[0.0, -pitch_s, 0.0], 1e-9, "slow neighbour");
        }
    }
    // The far corner of the last module is the far corner of a 2463 × 2527 image.
    let far = panels[59].lab_mm(487.0, 195.0);
    let want = [ro[0] + 2463.0 * 0.172, ro[1] - 2527.0 * 0.172, ro[2]];
    assert_close(&far, &want, 1e-9, "far corner");
}
