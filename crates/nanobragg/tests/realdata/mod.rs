//! The real experiment files of `shared/realdata` (see its SOURCES.md), for the core crate's
//! test binaries: `$NANOBRAGG_REALDATA`, else `../shared/realdata` beside the workspace. A
//! missing file is a test failure, not a skip.

use std::path::{Path, PathBuf};

/// The real file `name`, asserted to exist.
pub fn realdata(name: &str) -> PathBuf {
    let dir = match std::env::var_os("NANOBRAGG_REALDATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata"),
    };
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: set NANOBRAGG_REALDATA to the shared/realdata folder", path.display());
    path
}
