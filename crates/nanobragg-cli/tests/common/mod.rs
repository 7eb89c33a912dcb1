//! Helpers shared by the tests that run the `nanobragg` binary.
#![allow(dead_code)]

pub mod strategies;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_nanobragg")
}

#[path = "../../../../tests/support/scratch.rs"]
mod scratch_dir;
pub use scratch_dir::Scratch;

/// A fresh, empty folder for one test: removed when the test passes, kept (and named on
/// stderr) when it fails.
pub fn scratch(name: &str) -> Scratch {
    scratch_dir::scratch_in_temp("nanobragg-cli", name)
}

/// Run the binary in `dir` with whitespace-separated `args`.
pub fn run(dir: &Path, args: &str) -> Output {
    run_args(dir, args.split_whitespace())
}

/// Run the binary in `dir` with the arguments as given (any bytes).
pub fn run_args<I, S>(dir: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(bin()).args(args).current_dir(dir).output().unwrap()
}

/// The real file `name` of `shared/realdata` (see its SOURCES.md): `$NANOBRAGG_REALDATA`, else
/// `../shared/realdata` beside the workspace; asserted to exist (a missing file fails the test).
pub fn realdata(name: &str) -> PathBuf {
    let dir = match std::env::var_os("NANOBRAGG_REALDATA") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realdata"),
    };
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: set NANOBRAGG_REALDATA to the shared/realdata folder", path.display());
    path
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The names of the files in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A raw little-endian f32 image.
pub fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// The values of a raw little-endian f32 image.
pub fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
