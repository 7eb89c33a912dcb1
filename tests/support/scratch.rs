//! A test's own folder in the temp folder: removed when the test passes, kept (and named on
//! stderr) when it fails. Shared by the workspace's tests and the CLI's (`#[path]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A fresh, empty folder `<temp>/<prefix>-<pid>-<name>` (see [`Scratch`]).
pub fn scratch_in_temp(prefix: &str, name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// A test's folder (see [`scratch_in_temp`]); derefs to its path.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("the failed test's files are in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
