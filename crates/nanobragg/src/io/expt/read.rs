//! Reading an experiment list or a DataBlock list, with every error naming the file and the JSON key.
//!
//! dxtbx tells the two apart the same way: an object whose `__id__` is `"ExperimentList"`
//! (`ExperimentListDict.__init__`, `experiment_list.py`) or a list of objects whose `__id__` is
//! `"DataBlock"` (old `datablock.py`, `datablocks_from_dict`).

use super::frames::{lab_beam, lab_panels};
use super::model::{Beam, DataBlock, ExperimentList, ModelRef};
use super::panel::Detector;
use super::ExptFile;
use crate::io::{read_bytes, IoError};
use serde_json::Value;
use std::path::Path;

/// Read an experiment list (`.expt`, `.json`) or a legacy DataBlock list from `path`.
pub fn read_experiments(path: &Path) -> Result<ExptFile, IoError> {
    parse_experiments(&read_bytes(path)?, path)
}

/// Parse the bytes of an experiment list or DataBlock file (`path` is used only in messages). Checks,
/// beyond the types of every key: each model index of an experiment (or DataBlock image set) is in
/// range, each monochromatic beam has a wavelength and a non-zero direction, and each detector's
/// hierarchy names every panel exactly once and composes to finite, non-degenerate frames.
pub fn parse_experiments(bytes: &[u8], path: &Path) -> Result<ExptFile, IoError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| IoError::format(path, format!("not valid JSON: {e}")))?;
    let file = match &value {
        Value::Object(obj) => {
            check_id(obj.get("__id__"), "ExperimentList", "__id__")
                .map_err(|m| IoError::format(path, m))?;
            ExptFile::Experiments(Box::new(typed(value, path)?))
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let id = item.as_object().and_then(|o| o.get("__id__"));
                check_id(id, "DataBlock", &format!("[{i}].__id__"))
                    .map_err(|m| IoError::format(path, m))?;
            }
            ExptFile::DataBlocks(typed(value, path)?)
        }
        other => {
            return Err(IoError::format(
                path,
                format!(
                    "expected an ExperimentList object or a DataBlock list, found {}",
                    kind(other)
                ),
            ))
        }
    };
    validate(&file).map_err(|m| IoError::format(path, m))?;
    Ok(file)
}

/// The value as `T`, a type error naming the key path (`detector[0].panels[3].fast_axis: ...`).
fn typed<T: serde::de::DeserializeOwned>(value: Value, path: &Path) -> Result<T, IoError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let msg = e.into_inner().to_string();
        IoError::format(
            path,
            if at == "." {
                msg
            } else {
                format!("{at}: {msg}")
            },
        )
    })
}

fn check_id(id: Option<&Value>, want: &str, key: &str) -> Result<(), String> {
    match id {
        Some(Value::String(s)) if s == want => Ok(()),
        Some(other) => Err(format!("{key}: expected \"{want}\", found {other}")),
        None => Err(format!("{key}: missing (expected \"{want}\")")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The checks [`parse_experiments`] makes after typing, also run before writing. Messages name the key.
pub(crate) fn validate(file: &ExptFile) -> Result<(), String> {
    match file {
        ExptFile::Experiments(list) => validate_list(list),
        ExptFile::DataBlocks(blocks) => blocks
            .iter()
            .enumerate()
            .try_for_each(|(b, block)| validate_block(block).map_err(|m| format!("[{b}].{m}"))),
    }
}

fn validate_list(list: &ExperimentList) -> Result<(), String> {
    let len = |v: Option<usize>| v.unwrap_or(0);
    let counts = [
        ("beam", len(list.beam.as_ref().map(Vec::len))),
        ("detector", len(list.detector.as_ref().map(Vec::len))),
        ("crystal", len(list.crystal.as_ref().map(Vec::len))),
        ("goniometer", len(list.goniometer.as_ref().map(Vec::len))),
        ("scan", len(list.scan.as_ref().map(Vec::len))),
        ("imageset", len(list.imageset.as_ref().map(Vec::len))),
        ("profile", len(list.profile.as_ref().map(Vec::len))),
        (
            "scaling_model",
            len(list.scaling_model.as_ref().map(Vec::len)),
        ),
    ];
    for (e, x) in list.experiment.iter().enumerate() {
        let refs = [
            &x.beam,
            &x.detector,
            &x.crystal,
            &x.goniometer,
            &x.scan,
            &x.imageset,
            &x.profile,
            &x.scaling_model,
        ];
        for (r, (name, n)) in refs.iter().zip(counts) {
            check_ref(r.as_ref(), n, &format!("experiment[{e}].{name}"), name)?;
        }
    }
    validate_models(list.beam.as_deref(), list.detector.as_deref())
}

fn validate_block(block: &DataBlock) -> Result<(), String> {
    let n = |v: Option<usize>| v.unwrap_or(0);
    for (i, set) in block.imageset.iter().enumerate() {
        let refs = [
            ("beam", &set.beam, n(block.beam.as_ref().map(Vec::len))),
            (
                "detector",
                &set.detector,
                n(block.detector.as_ref().map(Vec::len)),
            ),
            (
                "goniometer",
                &set.goniometer,
                n(block.goniometer.as_ref().map(Vec::len)),
            ),
            ("scan", &set.scan, n(block.scan.as_ref().map(Vec::len))),
        ];
        for (name, r, count) in refs {
            check_ref(r.as_ref(), count, &format!("imageset[{i}].{name}"), name)?;
        }
    }
    validate_models(block.beam.as_deref(), block.detector.as_deref())
}

fn check_ref(r: Option<&ModelRef>, count: usize, key: &str, name: &str) -> Result<(), String> {
    match r {
        Some(ModelRef::Index(i)) if *i >= count => Err(format!(
            "{key}: index {i} out of range (the file has {count} {name} model{})",
            if count == 1 { "" } else { "s" }
        )),
        _ => Ok(()),
    }
}

fn validate_models(beams: Option<&[Beam]>, detectors: Option<&[Detector]>) -> Result<(), String> {
    for (b, beam) in beams.unwrap_or_default().iter().enumerate() {
        if beam.id.as_deref() == Some("polychromatic") {
            if super::vec3::unit(beam.direction).is_none() {
                return Err(format!("beam[{b}].direction: zero length or not finite"));
            }
            continue;
        }
        lab_beam(beam).map_err(|e| format!("beam[{b}].{e}"))?;
    }
    for (d, det) in detectors.unwrap_or_default().iter().enumerate() {
        lab_panels(det).map_err(|e| format!("detector[{d}].{e}"))?;
    }
    Ok(())
}
