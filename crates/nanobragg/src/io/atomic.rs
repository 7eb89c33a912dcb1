//! Atomic output: write to a temporary file in the destination directory, fsync it, then rename it over the
//! destination, so an interrupted or failed write never leaves a half-written output file.
//!
//! What "the destination" is follows what a user expects of `> file` in a shell:
//! * a symbolic link is followed: its final target is replaced and the link stays a link;
//! * a FIFO, a character device (`/dev/stdout`, `/dev/null`) or any other file that is not a
//!   regular file is written directly (it cannot be renamed over);
//! * a regular file that is replaced keeps its permissions.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::IoError;

/// The most symbolic links followed from an output path before giving up (as Linux's `ELOOP`).
const MAX_LINKS: usize = 40;

/// Where writing `path` really lands: the end of its chain of symbolic links (which need not
/// exist yet).
pub fn final_target(path: &Path) -> Result<PathBuf, IoError> {
    // A link to a FIFO or a device (`/dev/stdout` → `/proc/self/fd/1` → `pipe:[…]`) is opened
    // through the link itself: the kernel resolves such "magic" links, a path walk does not.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return Ok(path.to_path_buf());
    }
    let mut p = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p).map_err(|e| IoError::os(path, e))?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(IoError::invalid(path, format!("more than {MAX_LINKS} symbolic links")))
}

/// The folder a file name lies in: its parent, or `.` for a bare name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// The temporary name used while writing `path`: `<name>.tmp-<pid>` in the same directory.
fn temp_path(path: &Path) -> Result<PathBuf, IoError> {
    let name = path
        .file_name()
        .ok_or_else(|| IoError::invalid(path, "output path has no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(folder_of(path).join(tmp_name))
}

/// Write `bytes` to `path` atomically (see [`write_atomic_with`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Write a file atomically: `fill` writes the contents into a buffered writer on `<name>.tmp-<pid>` in the
/// destination's directory; the temporary file is then flushed, fsynced and renamed to the destination
/// (replacing any existing file, whose permissions it keeps). On any error the temporary file is removed and
/// the destination is left untouched; the error names `path`. See the [module documentation](self) for
/// symbolic links and special files.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> Result<(), IoError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let target = final_target(path)?;
    let existing = std::fs::metadata(&target).ok();
    if let Some(m) = existing.as_ref().filter(|m| !m.is_file()) {
        if m.is_dir() {
            return Err(IoError::invalid(path, "is a directory"));
        }
        return write_direct(path, &target, fill);
    }
    let tmp = temp_path(&target)?;
    let result = (|| -> std::io::Result<()> {
        let file = File::create(&tmp)?;
        if let Some(m) = &existing {
            file.set_permissions(m.permissions())?;
        }
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)
    })();
    match result {
        Ok(()) => {
            sync_parent(&target);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(IoError::os(path, e))
        }
    }
}

/// Write a FIFO or device in place (no temporary, no rename).
fn write_direct<F>(path: &Path, target: &Path, fill: F) -> Result<(), IoError>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    (|| -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(target)?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        w.flush()
    })()
    .map_err(|e| IoError::os(path, e))
}

/// Best effort: make a rename durable. Failure here does not undo the write.
fn sync_parent(target: &Path) {
    if let Ok(d) = File::open(folder_of(target)) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty scratch folder for one test (named after the test and this process).
    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("nanobragg-atomic-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// The scratch folder `d` holds one entry, the target: no temporary file was left behind.
    fn assert_no_temporary_left(d: &Path) {
        let names: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn writes_and_replaces() {
        let d = scratch("replace");
        let p = d.join("out.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_no_temporary_left(&d);
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
        assert_no_temporary_left(&d);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error() {
        let p = std::env::temp_dir().join("nanobragg-no-such-dir-xyz/a/b.bin");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(matches!(err, IoError::Os { .. }));
        assert!(err.to_string().contains("b.bin"));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let d = scratch("link");
        let real = d.join("real.bin");
        let link = d.join("link.bin");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink("real.bin", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let d = scratch("perm");
        let p = d.join("out.bin");
        std::fs::write(&p, b"old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_character_device_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        write_atomic(Path::new("/dev/null"), b"data").unwrap();
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }
}
