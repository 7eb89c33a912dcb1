//! Malformed files give an `IoError` naming the file and the JSON key at fault; no bytes panic.

use super::realdata;
use nanobragg::io::expt::{parse_experiments, read_experiments, write_experiments, ExptFile};
use nanobragg::io::IoError;
use serde_json::{json, Value};
use std::path::Path;

fn real(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(realdata(name)).unwrap()).unwrap()
}

/// Parse `v` as file `bad.expt`; the error must name the file and contain every piece of `want`.
fn refused(v: &Value, want: &[&str]) {
    let bytes = serde_json::to_vec(v).unwrap();
    let err = parse_experiments(&bytes, Path::new("bad.expt")).expect_err("accepted a bad file");
    let msg = err.to_string();
    assert!(matches!(err, IoError::Format { .. }), "{msg}");
    assert!(msg.starts_with("bad.expt: "), "{msg}");
    for w in want {
        assert!(msg.contains(w), "{msg:?} lacks {w:?}");
    }
}

/// A missing key, a wrong type, a wrong length: the message names the key path.
#[test]
fn missing_keys_and_wrong_types_name_the_key() {
    let good = real("experiments_thaum_0500.json");
    let mut v = good.clone();
    v["detector"][0]["panels"][0]
        .as_object_mut()
        .unwrap()
        .remove("fast_axis");
    refused(&v, &["detector[0].panels[0]: missing field `fast_axis`"]);

    let mut v = good.clone();
    v["detector"][0]["panels"][0]["fast_axis"] = json!([1.0, 0.0]);
    refused(
        &v,
        &["detector[0].panels[0].fast_axis: expected 3 numbers, found 2"],
    );

    let mut v = good.clone();
    v["detector"][0]["panels"][0]["origin"][1] = json!("twelve");
    refused(
        &v,
        &["detector[0].panels[0].origin[1]: invalid type: string \"twelve\""],
    );

    let mut v = good.clone();
    v["beam"][0]["wavelength"] = json!("1.0");
    refused(&v, &["beam[0].wavelength: invalid type: string"]);

    let mut v = good.clone();
    v["beam"][0].as_object_mut().unwrap().remove("wavelength");
    refused(&v, &["beam[0].wavelength: missing"]);

    let mut v = good.clone();
    v["detector"][0]["panels"][0]["image_size"] = json!([2463.5, 2527]);
    refused(
        &v,
        &["detector[0].panels[0].image_size[0]: invalid type: floating point"],
    );

    let mut v = good.clone();
    v["crystal"][0]["real_space_b"] = json!(null);
    refused(&v, &["crystal[0].real_space_b: invalid type: null"]);

    let mut v = good.clone();
    v["detector"][0]["panels"][0]["slow_axis"] = json!([0.0, 0.0, 0.0]);
    refused(&v, &["detector[0].panels[0].slow_axis: zero length"]);

    let mut v = good;
    v["__id__"] = json!("DataBlock");
    refused(
        &v,
        &["__id__: expected \"ExperimentList\", found \"DataBlock\""],
    );
}

/// Hierarchy leaves naming a panel out of range, twice, or not at all; a panel as the root; a group
/// with half a frame.
#[test]
fn bad_hierarchies_name_the_node() {
    let good = real("experiments_ED.json");
    let mut v = good.clone();
    v["detector"][0]["hierarchy"]["children"][2] = json!({"panel": 9});
    refused(
        &v,
        &["detector[0].hierarchy.children[2].panel: index 9 out of range (4 panels)"],
    );

    let mut v = good.clone();
    v["detector"][0]["hierarchy"]["children"][2] = json!({"panel": 1});
    refused(
        &v,
        &["detector[0].hierarchy.children[2].panel: panel 1 named twice"],
    );

    let mut v = good.clone();
    v["detector"][0]["hierarchy"]["children"]
        .as_array_mut()
        .unwrap()
        .pop();
    refused(&v, &["detector[0].panels[3]: named by no leaf"]);

    let mut v = good.clone();
    v["detector"][0]["hierarchy"]["children"][0] = json!({"panel": -1});
    refused(
        &v,
        &["detector[0].hierarchy.children[0].panel: invalid value: integer `-1`"],
    );

    let mut v = good.clone();
    v["detector"][0]["hierarchy"] = json!({"panel": 0});
    refused(
        &v,
        &["detector[0].hierarchy.panel: the root must be a group"],
    );

    let mut v = super::hand_built::two_level();
    v["detector"][0]["hierarchy"]["children"][0]
        .as_object_mut()
        .unwrap()
        .remove("origin");
    refused(
        &v,
        &["detector[0].hierarchy.children[0]: missing field \"origin\""],
    );

    let mut v = super::hand_built::two_level();
    v["detector"][0]["hierarchy"]["children"][0]
        .as_object_mut()
        .unwrap()
        .remove("children");
    refused(
        &v,
        &["detector[0].hierarchy.children[0]: missing field \"children\""],
    );
}

/// Experiments (and DataBlock image sets) naming a model that is not there.
#[test]
fn bad_model_indices_name_the_experiment() {
    let mut v = real("split_00.expt");
    v["experiment"][0]["beam"] = json!(3);
    refused(
        &v,
        &["experiment[0].beam: index 3 out of range (the file has 1 beam model)"],
    );

    let mut v = real("split_00.expt");
    v["experiment"][0]["detector"] = json!(-1);
    refused(&v, &["experiment[0].detector: expected a model index"]);

    let mut v = real("experiments_ED.json");
    v["experiment"][0]["scan"] = json!(1);
    refused(&v, &["experiment[0].scan: index 1 out of range"]);

    let mut v = real("datablock-0.json");
    v[0]["imageset"][0]["detector"] = json!(1);
    refused(
        &v,
        &["[0].imageset[0].detector: index 1 out of range (the file has 1 detector model)"],
    );

    let mut v = real("datablock-0.json");
    v[0]["__id__"] = json!("Datablock");
    refused(&v, &["[0].__id__: expected \"DataBlock\""]);
}

/// Not JSON, the wrong top-level type, every prefix of a real file, and junk bytes: errors, no panic.
#[test]
fn any_bytes_give_an_error_not_a_panic() {
    for (bytes, want) in [
        (&b""[..], "not valid JSON"),
        (b"{\"__id__\": \"ExperimentList\",", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"42", "found a number"),
        (b"{}", "__id__: missing"),
        (b"[1]", "[0].__id__: missing"),
        (
            b"{\"__id__\": \"ExperimentList\"}",
            "missing field `experiment`",
        ),
    ] {
        let err = parse_experiments(bytes, Path::new("x.json"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.json: ") && err.contains(want), "{err}");
    }
    let text = std::fs::read(realdata("experiments_ED.json")).unwrap();
    for cut in (0..text.len()).step_by(37) {
        assert!(
            parse_experiments(&text[..cut], Path::new("cut.json")).is_err(),
            "prefix {cut}"
        );
    }
    let alphabet = b"{}[]\",:0123456789.e-truefalsnl _panel";
    let mut state = 0x2545_f491_u32;
    for _ in 0..200 {
        let junk: Vec<u8> = (0..64)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                alphabet[state as usize % alphabet.len()]
            })
            .collect();
        let _ = parse_experiments(&junk, Path::new("junk.json"));
    }
    let missing = read_experiments(Path::new("/nonexistent/none.expt")).unwrap_err();
    assert!(matches!(missing, IoError::Os { .. }), "{missing}");
}

/// The writer refuses a model the reader would refuse, and writes nothing.
#[test]
fn writer_refuses_bad_indices() {
    let bytes = std::fs::read(realdata("split_00.expt")).unwrap();
    let mut file = parse_experiments(&bytes, Path::new("split_00.expt")).unwrap();
    let ExptFile::Experiments(list) = &mut file else {
        panic!("not an ExperimentList")
    };
    list.experiment[0].crystal = Some(nanobragg::io::expt::ModelRef::Index(5));
    let dir = super::scratch("refused");
    let out = dir.join("refused.expt");
    let err = write_experiments(&out, &file).unwrap_err();
    assert!(matches!(err, IoError::InvalidInput { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("experiment[0].crystal: index 5 out of range"),
        "{err}"
    );
    assert!(!out.exists());
}
