//! NeXus/HDF5 NXmx images (feature `nexus`): the McStas frame pinned against the numbers of a
//! real DIALS file, lossless write → read of the 60-panel Pilatus, malformed files refused
//! naming the HDF5 path, and a failed write leaving the old file alone.
#![cfg(feature = "nexus")]

mod realdata;
use realdata::realdata;
use std::path::{Path, PathBuf};

use hdf5_metno as hdf5;
use nanobragg::experiment::panel_scenes_of_file;
use nanobragg::io::nexus::{read_nexus, write_nexus, NexusImage, GAP_VALUE};
use nanobragg::scene::PanelScene;

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nanobragg-nexus-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Finite f32 values with varied bit patterns (signs, subnormals, large exponents), `n` of them.
fn pixels(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| loop {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = f32::from_bits((x >> 32) as u32);
            if v.is_finite() {
                break v;
            }
        })
        .collect()
}

fn image_of(panels: Vec<PanelScene>, seed: u64) -> NexusImage {
    let images = panels.iter().enumerate().map(|(i, p)| pixels((p.fpixels * p.spixels) as usize, seed + i as u64)).collect();
    NexusImage { panels, images, wavelength_a: 0.97625, sensor_material: Some("Si".into()) }
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    [v[0] / n, v[1] / n, v[2] / n]
}

fn assert_close(a: [f64; 3], b: [f64; 3], tol: f64, what: &str) {
    let worst = (0..3).map(|i| (a[i] - b[i]).abs()).fold(0.0, f64::max);
    assert!(worst <= tol, "{what}: {a:?} vs {b:?} (|Δ| {worst:e})");
}

/// Every pixel bit for bit, every vector to 1e-12, every scalar exactly.
fn assert_same(read: &NexusImage, written: &NexusImage) {
    assert_eq!(read.panels.len(), written.panels.len());
    assert_eq!(read.wavelength_a, written.wavelength_a);
    assert_eq!(read.sensor_material, written.sensor_material);
    for (i, (r, w)) in read.panels.iter().zip(&written.panels).enumerate() {
        let what = format!("panel {i} ({})", w.name);
        assert_eq!(r.name, w.name, "{what}");
        assert_eq!((r.fpixels, r.spixels, r.pixel_mm), (w.fpixels, w.spixels, w.pixel_mm), "{what}");
        assert_eq!((r.thick_um, r.abs_depth_um), (w.thick_um, w.abs_depth_um), "{what}");
        assert_close(r.origin_mm, w.origin_mm, 1e-12 * 1000.0, &format!("{what} origin (mm, 1e-12 relative to 1 m)"));
        assert_close(r.fast_axis, unit(w.fast_axis), 1e-12, &format!("{what} fast"));
        assert_close(r.slow_axis, unit(w.slow_axis), 1e-12, &format!("{what} slow"));
        let (a, b) = (&read.images[i], &written.images[i]);
        assert_eq!(a.len(), b.len(), "{what}");
        let differ = a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits());
        assert_eq!(differ, None, "{what}: first differing pixel");
    }
}

#[test]
fn vectors_are_written_in_the_mcstas_frame_of_the_dials_numbers() {
    let expt = realdata("experiments_thaum_0500.json");
    // The numbers of the file itself, read as plain JSON: its one panel hangs from a root group
    // with the identity frame at the origin, so the panel's own vectors are lab vectors.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&expt).unwrap()).unwrap();
    let det = &json["detector"][0];
    let root = &det["hierarchy"];
    assert_eq!(root["origin"], serde_json::json!([0.0, 0.0, 0.0]));
    assert_eq!(root["fast_axis"], serde_json::json!([1.0, 0.0, 0.0]));
    assert_eq!(root["slow_axis"], serde_json::json!([0.0, 1.0, 0.0]));
    let num = |key: &str| -> [f64; 3] { std::array::from_fn(|i| det["panels"][0][key][i].as_f64().unwrap()) };
    let (origin, fast, slow) = (num("origin"), num("fast_axis"), num("slow_axis"));
    assert_eq!(origin, [-213.75741612409414, 207.64362751743823, -340.5570970816145]);

    let dir = scratch("mcstas");
    let out = dir.join("thaum.nxs");
    let image = image_of(panel_scenes_of_file(&expt, 0).unwrap(), 7);
    write_nexus(&out, &image).unwrap();

    // McStas = dxtbx with x and z reversed (dxtbx/nexus: MCSTAS_TO_IMGCIF = diag(-1, 1, -1)).
    let file = hdf5::File::open(&out).unwrap();
    let m = "/entry/instrument/detector/module_000";
    let vector = |name: &str| -> [f64; 3] {
        let v = file.dataset(&format!("{m}/{name}")).unwrap().attr("vector").unwrap().read_raw::<f64>().unwrap();
        [v[0], v[1], v[2]]
    };
    let value = |name: &str| file.dataset(&format!("{m}/{name}")).unwrap().read_scalar::<f64>().unwrap();
    let by_hand = |v: [f64; 3]| [-v[0], v[1], -v[2]];
    assert_close(vector("fast_pixel_direction"), by_hand(unit(fast)), 1e-12, "fast_pixel_direction@vector");
    assert_close(vector("slow_pixel_direction"), by_hand(unit(slow)), 1e-12, "slow_pixel_direction@vector");
    let d = vector("module_offset");
    let offset = value("module_offset");
    assert_close(d.map(|x| x * offset), by_hand(origin), 1e-12 * 1000.0, "module_offset value·vector (mm)");
    assert_eq!(value("fast_pixel_direction"), 0.17200000000000001, "the pixel size (mm)");
    let units = file.dataset(&format!("{m}/module_offset")).unwrap().attr("units").unwrap();
    assert_eq!(units.read_scalar::<hdf5::types::VarLenUnicode>().unwrap().as_str(), "mm");
    let def = file.dataset("/entry/definition").unwrap().read_scalar::<hdf5::types::VarLenUnicode>().unwrap();
    assert_eq!(def.as_str(), "NXmx");
    assert_eq!(file.dataset("/entry/data/data").unwrap().shape(), vec![1, 2527, 2463]);
    drop(file);

    let back = read_nexus(&out).unwrap();
    assert_close(back.panels[0].origin_mm, origin, 1e-12 * 1000.0, "origin read back");
    assert_close(back.panels[0].fast_axis, unit(fast), 1e-12, "fast read back");
    assert_close(back.panels[0].slow_axis, unit(slow), 1e-12, "slow read back");
    assert_same(&back, &image);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_60_panel_pilatus_round_trips_bit_for_bit() {
    let mut panels = panel_scenes_of_file(&realdata("datablock-0.json"), 0).unwrap();
    assert_eq!(panels.len(), 60);
    for (i, p) in panels.iter_mut().enumerate() {
        p.thick_um = Some(320.0 + i as f64 * 0.5);
        p.abs_depth_um = Some(255.0);
    }
    let image = image_of(panels, 11);
    let dir = scratch("pilatus");
    let out = dir.join("pilatus.nxs");
    write_nexus(&out, &image).unwrap();
    assert_same(&read_nexus(&out).unwrap(), &image);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn panels_of_different_sizes_leave_gaps_and_share_one_thickness() {
    let panels = panel_scenes_of_file(&realdata("experiments_ED.json"), 0).unwrap();
    assert_eq!(panels.len(), 4);
    let sizes = [(254, 254), (100, 7), (3, 254), (17, 1)];
    let panels: Vec<PanelScene> = panels
        .iter()
        .zip(sizes)
        .map(|(p, (f, s))| PanelScene { thick_um: Some(450.0), ..p.cropped(0, 0, f, s).unwrap() })
        .collect();
    let image = image_of(panels, 3);
    let dir = scratch("gaps");
    let out = dir.join("ed.nxs");
    write_nexus(&out, &image).unwrap();
    assert_same(&read_nexus(&out).unwrap(), &image);
    let file = hdf5::File::open(&out).unwrap();
    let data = file.dataset("/entry/instrument/detector/data").unwrap();
    assert_eq!(data.shape(), vec![1, 254 + 7 + 254 + 1, 254]);
    let frame = data.read_raw::<f32>().unwrap();
    assert_eq!(frame[254 * 254 + 100], GAP_VALUE, "row 0 of panel 1, beyond its 100 columns");
    let t = file.dataset("/entry/instrument/detector/sensor_thickness").unwrap();
    assert_eq!(t.read_scalar::<f64>().unwrap(), 450.0);
    let origin = file.dataset("/entry/instrument/detector/module_001/data_origin").unwrap().read_raw::<i64>().unwrap();
    assert_eq!(origin, vec![254, 0], "panel 1 starts below panel 0");
    drop((t, data, file));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A valid two-panel file at `dir/name`, then `edit` applied to it through HDF5.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&hdf5::File)) -> PathBuf {
    let panels = panel_scenes_of_file(&realdata("experiments_ED.json"), 0).unwrap();
    let panels = panels.iter().take(2).map(|p| p.cropped(0, 0, 4, 3).unwrap()).collect();
    let path = dir.join(name);
    write_nexus(&path, &image_of(panels, 5)).unwrap();
    let file = hdf5::File::open_rw(&path).unwrap();
    edit(&file);
    file.close().unwrap();
    path
}

fn refusal(path: &Path) -> String {
    let err = read_nexus(path).expect_err("a malformed file was accepted").to_string();
    assert!(err.contains(path.file_name().unwrap().to_str().unwrap()), "names the file: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn malformed_files_are_refused_naming_the_hdf5_path() {
    let dir = scratch("malformed");
    let junk = dir.join("junk.nxs");
    std::fs::write(&junk, b"CBF? no: plain bytes").unwrap();
    assert!(refusal(&junk).contains("not an HDF5 file"));
    let missing = dir.join("missing.nxs");
    assert!(read_nexus(&missing).unwrap_err().to_string().contains("missing.nxs"));

    let beam = "/entry/instrument/beam/incident_wavelength";
    let p = edited(&dir, "no_wavelength.nxs", |f| f.group("/entry/instrument/beam").unwrap().unlink("incident_wavelength").unwrap());
    let err = refusal(&p);
    assert!(err.contains(beam) && err.contains("missing"), "{err}");

    let p = edited(&dir, "rank2.nxs", |f| {
        let det = f.group("/entry/instrument/detector").unwrap();
        det.unlink("data").unwrap();
        det.new_dataset::<f32>().shape([6, 4]).create("data").unwrap();
    });
    let err = refusal(&p);
    assert!(err.contains("/entry/instrument/detector/data") && err.contains("3 dimensions"), "{err}");

    let fast = "/entry/instrument/detector/module_001/fast_pixel_direction";
    let p = edited(&dir, "nan_vector.nxs", |f| {
        let ds = f.dataset(fast).unwrap();
        ds.delete_attr("vector").unwrap();
        ds.new_attr::<f64>().shape(3).create("vector").unwrap().write_raw(&[f64::NAN, 0.0, 1.0]).unwrap();
    });
    let err = refusal(&p);
    assert!(err.contains(&format!("{fast}@vector")) && err.contains("not finite"), "{err}");

    let offset = "/entry/instrument/detector/module_000/module_offset";
    let p = edited(&dir, "furlongs.nxs", |f| {
        let ds = f.dataset(offset).unwrap();
        ds.delete_attr("units").unwrap();
        ds.new_attr::<hdf5::types::VarLenUnicode>().shape(()).create("units").unwrap().write_scalar(&"furlong".parse::<hdf5::types::VarLenUnicode>().unwrap()).unwrap();
    });
    let err = refusal(&p);
    assert!(err.contains(&format!("{offset}@units")) && err.contains("furlong"), "{err}");

    let p = edited(&dir, "outside.nxs", |f| {
        let ds = f.dataset("/entry/instrument/detector/module_001/data_origin").unwrap();
        ds.write_raw(&[3_i64, 2]).unwrap();
    });
    let err = refusal(&p);
    assert!(err.contains("/entry/instrument/detector/data") && err.contains("outside"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_refused_write_leaves_the_existing_file_and_no_temporary() {
    let dir = scratch("clobber");
    let out = dir.join("keep.nxs");
    std::fs::write(&out, b"the old contents").unwrap();
    let panels = panel_scenes_of_file(&realdata("experiments_ED.json"), 0).unwrap();
    let mut image = image_of(vec![panels[0].cropped(0, 0, 5, 4).unwrap()], 1);
    image.images[0][7] = f32::NAN;
    let err = write_nexus(&out, &image).unwrap_err().to_string();
    assert!(err.contains("keep.nxs") && err.contains("pixel (fast 2, slow 1)"), "{err}");
    image.images[0][7] = 1.0;
    image.wavelength_a = f64::INFINITY;
    assert!(write_nexus(&out, &image).is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"the old contents");
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "no temporary left: {names:?}");

    let err = write_nexus(&dir.join("no/such/folder/x.nxs"), &image).unwrap_err().to_string();
    assert!(err.contains("x.nxs"), "{err}");
    image.wavelength_a = 1.0;
    write_nexus(&out, &image).unwrap();
    assert_same(&read_nexus(&out).unwrap(), &image);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn set_str_attr(ds: &hdf5::Dataset, name: &str, value: &str) {
    let _ = ds.delete_attr(name);
    let v: hdf5::types::VarLenUnicode = value.parse().unwrap();
    ds.new_attr::<hdf5::types::VarLenUnicode>().shape(()).create(name).unwrap().write_scalar(&v).unwrap();
}

#[test]
fn a_rotation_in_the_chain_turns_the_module_and_a_loop_is_refused() {
    let dir = scratch("rotation");
    let module = "/entry/instrument/detector/module_000";
    // A rotation of 90° about McStas +y (right-handed: x → −z, z → +x) between the module's
    // offset and the detector's origin.
    let p = edited(&dir, "turned.nxs", |f| {
        let t = f.group("/entry/instrument/detector/transformations").unwrap();
        let r = t.new_dataset::<f64>().shape(()).create("turn").unwrap();
        r.write_scalar(&90.0).unwrap();
        set_str_attr(&r, "units", "deg");
        set_str_attr(&r, "transformation_type", "rotation");
        r.new_attr::<f64>().shape(3).create("vector").unwrap().write_raw(&[0.0, 1.0, 0.0]).unwrap();
        set_str_attr(&r, "depends_on", "origin");
        set_str_attr(&f.dataset(&format!("{module}/module_offset")).unwrap(), "depends_on", "/entry/instrument/detector/transformations/turn");
    });
    let plain = panel_scenes_of_file(&realdata("experiments_ED.json"), 0).unwrap()[0].cropped(0, 0, 4, 3).unwrap();
    let turned = read_nexus(&p).unwrap();
    // dxtbx (a, b, c) → McStas (−a, b, −c) → turned (−c, b, a) → dxtbx (c, b, −a).
    let by_hand = |v: [f64; 3]| [v[2], v[1], -v[0]];
    assert_close(turned.panels[0].origin_mm, by_hand(plain.origin_mm), 1e-9, "turned origin");
    assert_close(turned.panels[0].fast_axis, by_hand(unit(plain.fast_axis)), 1e-12, "turned fast");
    assert_close(turned.panels[0].slow_axis, by_hand(unit(plain.slow_axis)), 1e-12, "turned slow");

    let origin = "/entry/instrument/detector/transformations/origin";
    let p = edited(&dir, "loop.nxs", |f| set_str_attr(&f.dataset(origin).unwrap(), "depends_on", &format!("{module}/module_offset")));
    let err = refusal(&p);
    assert!(err.contains("longer than 64"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
