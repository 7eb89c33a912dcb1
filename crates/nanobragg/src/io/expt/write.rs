//! Writing an experiment list or a DataBlock list back to JSON.

use super::read::validate;
use super::ExptFile;
use crate::io::{write_atomic, IoError};
use std::path::Path;

/// The JSON text of `file`, indented by two spaces (as DIALS writes `.expt` files), ending in a
/// newline. Keys come out in the order of the structs, then the kept unknown keys in sorted order;
/// every number is written in the shortest form that reads back to the same f64. Non-finite numbers
/// have no JSON form: `serde_json` writes them as `null` (and the reader then refuses a `null` where
/// a number belongs).
pub fn experiments_json_bytes(file: &ExptFile) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = match file {
        ExptFile::Experiments(list) => serde_json::to_vec_pretty(list)?,
        ExptFile::DataBlocks(blocks) => serde_json::to_vec_pretty(blocks)?,
    };
    bytes.push(b'\n');
    Ok(bytes)
}

/// Write `file` to `path` through [`write_atomic`], after the same checks as the reader (model
/// indices in range, hierarchies complete and composable), so that no file is written that
/// [`super::read_experiments`] would refuse for those reasons.
pub fn write_experiments(path: &Path, file: &ExptFile) -> Result<(), IoError> {
    validate(file).map_err(|m| IoError::invalid(path, m))?;
    let bytes = experiments_json_bytes(file).map_err(|e| IoError::invalid(path, e.to_string()))?;
    write_atomic(path, &bytes)
}
