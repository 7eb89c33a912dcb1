//! Atomic output: write to a temporary file in the destination directory, fsync it, then rename it over the
//! destination, so an interrupted or failed write never leaves a half-written output file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::IoError;

/// The temporary name used while writing `path`: `<name>.tmp-<pid>` in the same directory.
fn temp_path(path: &Path) -> Result<PathBuf, IoError> {
    let name = path
        .file_name()
        .ok_or_else(|| IoError::invalid(path, "output path has no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(tmp_name),
        _ => PathBuf::from(tmp_name),
    })
}

/// Write `bytes` to `path` atomically (see [`write_atomic_with`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Write a file atomically: `fill` writes the contents into a buffered writer on `<name>.tmp-<pid>` in the
/// destination's directory; the temporary file is then flushed, fsynced and renamed to `path` (replacing any
/// existing file). On any error the temporary file is removed and `path` is left untouched; the error names
/// `path`.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> Result<(), IoError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let tmp = temp_path(path)?;
    let result = (|| -> std::io::Result<()> {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => {
            // Best effort: make the rename durable. Failure here does not undo the write.
            if let Some(dir) = path.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(IoError::os(path, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("nanobragg-atomic-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_and_replaces() {
        let d = scratch("replace");
        let p = d.join("out.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        // no temporary left behind
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn failure_leaves_old_file_and_no_temp() {
        let d = scratch("fail");
        let p = d.join("out.bin");
        write_atomic(&p, b"old").unwrap();
        let err = write_atomic_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("out.bin"), "{err}");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error() {
        let p = std::env::temp_dir().join("nanobragg-no-such-dir-xyz/a/b.bin");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(matches!(err, IoError::Os { .. }));
        assert!(err.to_string().contains("b.bin"));
    }
}
