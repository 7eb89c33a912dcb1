//! Output planning: every file a run will write is named, resolved and checked *before* the
//! render, so that a bad output path fails at once and no file is replaced by a run that then
//! fails on another.
//!
//! Each output must land in an existing, writable folder, must not be a folder itself, must not
//! be one of the run's input files, and must not be another output of the same run. Paths are
//! compared by what they point to (symbolic links followed, the same file under two names
//! caught by device and inode).

use std::path::{Path, PathBuf};

use nanobragg::io::atomic::{final_target, folder_of};
use nanobragg::io::shown;
use nanobragg_cli::CommandLine;

use crate::run::Failure;

/// A file a run reads or writes, with the flag that names it.
#[derive(Debug, Clone)]
pub struct NamedFile {
    /// The flag, e.g. `-floatfile` (or `default` for a default output name).
    pub flag: &'static str,
    /// The path as given.
    pub path: PathBuf,
}

fn named(flag: &'static str, path: &Path) -> NamedFile {
    NamedFile { flag, path: path.to_path_buf() }
}

/// The C program's `-floatfile` when none is given.
pub const DEFAULT_FLOATFILE: &str = "floatimage.bin";

/// The ADC offset (counts) added to SMV and noise pixels when `-adc` is not given (the C
/// program's default).
pub const DEFAULT_ADC: f64 = 40.0;

/// The files a render writes, with the C program's default names where a flag is absent.
pub fn render_outputs(cl: &CommandLine) -> Vec<NamedFile> {
    let io = &cl.scene.io;
    let or = |p: &Option<PathBuf>, default: &str| p.clone().unwrap_or_else(|| default.into());
    let mut out = vec![
        named("-floatfile", &or(&io.floatfile, DEFAULT_FLOATFILE)),
        named("-intfile", &or(&io.intfile, "intimage.img")),
    ];
    if let Some(p) = &io.floatfile_f64 {
        out.push(named("-floatfile_f64", p));
    }
    if !io.nopgm {
        out.push(named("-pgmfile", &or(&io.pgmfile, "image.pgm")));
    }
    if let Some(p) = &io.pngfile {
        out.push(named("-pngfile", p));
    }
    if let Some(p) = &io.cbffile {
        out.push(named("-cbffile", p));
    }
    if let Some(p) = &cl.nxsfile {
        out.push(named("-nxsfile", p));
    }
    if !io.nonoise {
        out.push(named("-noisefile", &or(&io.noisefile, "noiseimage.img")));
    }
    if let Some(p) = &cl.dump_scene {
        out.push(named("-dump_scene", p));
    }
    out
}

/// Where `nanobragg refine` writes the refined scene: `-refined_scene`, else the
/// `-dump_scene` file, else `refined_scene.toml`.
pub fn refined_scene_path(cl: &CommandLine) -> PathBuf {
    cl.refine
        .refined_scene
        .clone()
        .or_else(|| cl.dump_scene.clone())
        .unwrap_or_else(|| PathBuf::from("refined_scene.toml"))
}

/// The files `nanobragg refine` writes.
pub fn refine_outputs(cl: &CommandLine) -> Vec<NamedFile> {
    let mut out = vec![named("-refined_scene", &refined_scene_path(cl))];
    if let Some(p) = &cl.refine.refined_expt {
        out.push(named("-refined_expt", p));
    }
    if let Some(p) = &cl.refine.refined_mat {
        out.push(named("-refined_mat", p));
    }
    out
}

/// The files a run reads.
pub fn inputs(cl: &CommandLine) -> Vec<NamedFile> {
    let s = &cl.scene;
    let candidates: [(&'static str, &Option<PathBuf>); 11] = [
        ("-expt", &cl.expt),
        ("-shots", &cl.shots),
        ("-hkl", &s.structure.hkl_file),
        ("-mat", &s.crystal.mat_file),
        ("-img", &s.io.img_file),
        ("-mask", &s.io.mask_file),
        ("-sourcefile", &s.beam.source_file),
        ("-stol", &s.io.stol_file),
        ("-scene", &cl.scene_file),
        ("-target", &cl.refine.target),
        ("-background", &cl.refine.background),
    ];
    let mut out: Vec<NamedFile> = candidates
        .iter()
        .filter_map(|(flag, p)| p.as_ref().map(|p| named(flag, p)))
        .collect();
    if s.structure.hkl_file.is_none() {
        out.push(named("Fdump.bin", Path::new("Fdump.bin")));
    }
    if let Some(loss) = &cl.loss {
        if let Some((_, p)) = loss.split_once(':').filter(|(k, _)| *k == "l2" || *k == "poisson") {
            out.push(named("-loss", Path::new(p)));
        }
    }
    out
}

/// What a path points to, for comparing two names: the device and inode of an existing file,
/// else the absolute path of where it would be created.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

fn identity(path: &Path) -> Option<Identity> {
    let target = final_target(path).ok()?;
    if let Ok(m) = std::fs::metadata(&target) {
        use std::os::unix::fs::MetadataExt;
        return Some(Identity::Inode(m.dev(), m.ino()));
    }
    Some(Identity::Path(folder_of(&target).canonicalize().ok()?.join(target.file_name()?)))
}

/// Refuse the run unless every output can be written and none clashes (see the module docs).
pub fn check(outputs: &[NamedFile], inputs: &[NamedFile]) -> Result<(), Failure> {
    let fail = |o: &NamedFile, why: String| {
        Failure::Runtime(format!("{} {}: {why}", o.flag, shown(&o.path)))
    };
    for (i, o) in outputs.iter().enumerate() {
        let target = final_target(&o.path).map_err(|e| Failure::Runtime(format!("{}: {e}", o.flag)))?;
        match std::fs::metadata(&target) {
            Ok(m) if m.is_dir() => return Err(fail(o, "is a folder".into())),
            Ok(m) if !m.is_file() => continue, // FIFO or device: written in place
            _ => writable_folder(&target).map_err(|why| fail(o, why))?,
        }
        let id = identity(&o.path);
        if let Some(inp) = inputs.iter().find(|f| id.is_some() && identity(&f.path) == id) {
            return Err(fail(o, format!("is also the input file of {}", inp.flag)));
        }
        if let Some(other) = outputs[..i].iter().find(|f| id.is_some() && identity(&f.path) == id) {
            return Err(fail(o, format!("is also the output file of {}", other.flag)));
        }
    }
    Ok(())
}

/// The folder that will hold `target` exists and a file can be created in it (checked by
/// creating and removing a probe file; permission bits say nothing when running as root).
fn writable_folder(target: &Path) -> Result<(), String> {
    let dir = folder_of(target);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("{} is not a folder", shown(dir))),
        Err(_) => return Err(format!("folder {} does not exist", shown(dir))),
    }
    let probe = dir.join(format!(".nanobragg-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("cannot create files in {}: {e}", shown(dir))),
    }
}
