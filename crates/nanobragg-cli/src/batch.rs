//! `nanobragg batch -shots list.toml [-outdir dir] <flags>`: many stills against one detector in
//! one process. The flags describe the shared scene (detector, beam, structure factors,
//! sampling); each `[[shot]]` of the list ([`nanobragg::scene::ShotList`]) writes its own
//! crystal and beam values over it ([`nanobragg::scene::Shot::apply`]) and is rendered as
//! `nanobragg <flags>` would render it.
//!
//! Each shot writes `<outdir>/<name>.bin` (`-floatfile`), `<name>.img` (`-intfile`), and, as the
//! flags ask, `<name>.noise.img` (unless `-nonoise`), `<name>.pgm` (unless `-nopgm`),
//! `<name>.png` (`-pngfile`), `<name>.cbf` (`-cbffile`), `<name>.f64.bin` (`-floatfile_f64`),
//! `<name>.nxs` (`-nxsfile`): the flags choose the formats, the shot names the files. Every
//! shot is resolved and every output checked before the first render, so a bad shot refuses
//! the batch without writing anything. One line per shot on stdout, a bar on stderr (when it
//! is a terminal, unless `-noprogress`), and the throughput at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use nanobragg::scene::ShotList;
use nanobragg::Setup;
use nanobragg_cli::CommandLine;

use crate::observe::ProgressBar;
use crate::run::{render_one, Failure};

/// Run the `batch` subcommand.
pub fn run(cl: CommandLine) -> Result<(), Failure> {
    let Some(list_path) = cl.shots.clone() else {
        return Err(Failure::Usage("nanobragg batch needs -shots list.toml".into()));
    };
    if !cl.scene.detector.panels.is_empty() {
        return Err(Failure::Usage(format!(
            "-shots: a batch renders one detector; with {} panels choose one with -panel N",
            cl.scene.panel_count()
        )));
    }
    let outdir = cl.outdir.clone().unwrap_or_else(|| PathBuf::from("."));
    if !outdir.is_dir() {
        return Err(Failure::Usage(format!("-outdir {}: not a folder", outdir.display())));
    }
    let list = ShotList::read(&list_path).map_err(|e| Failure::Runtime(e.to_string()))?;
    let jobs = resolve(&cl, &list, &outdir)?;
    let total = jobs.len();
    let mut bar = (cl.scene.io.progress.unwrap_or(true) && std::io::stderr().is_terminal()).then(|| ProgressBar::new("shots"));
    let clock = Instant::now();
    for (i, (shot, setup)) in jobs.iter().enumerate() {
        crate::QUIET.store(true, Ordering::Relaxed);
        let stats = render_one(shot, setup);
        crate::QUIET.store(false, Ordering::Relaxed);
        let stats = stats.map_err(|e| in_shot(&list.shot[i].name, e))?;
        if let Some(b) = &mut bar {
            b.update(i + 1, total);
        }
        say!(
            "shot {}/{total} {}: max_I = {}, mean = {}; wrote {}",
            i + 1,
            list.shot[i].name,
            stats.max,
            stats.mean,
            outdir.join(format!("{}.*", list.shot[i].name)).display()
        );
    }
    if let Some(b) = &mut bar {
        b.clear();
    }
    let seconds = clock.elapsed().as_secs_f64();
    say!("rendered {total} shots in {seconds:.2} s: {:.2} images/s", total as f64 / seconds.max(1e-9));
    Ok(())
}

/// Every shot's command line and setup, outputs checked, before anything is written.
fn resolve(cl: &CommandLine, list: &ShotList, outdir: &Path) -> Result<Vec<(CommandLine, Setup)>, Failure> {
    let mut jobs = Vec::with_capacity(list.shot.len());
    // A shot changes no structure-factor flag: the HKL file is read once for the list.
    let structure = nanobragg::setup::resolve_structure(&cl.scene, Path::new(".")).map_err(crate::refine::runtime)?;
    for (index, shot) in list.shot.iter().enumerate() {
        let mut one = cl.clone();
        one.scene = shot.apply(&cl.scene);
        one.noise_stream = u32::try_from(index)
            .map_err(|_| Failure::Usage("-shots: more than 2³² shots in one list".into()))?;
        name_outputs(&mut one, outdir, &shot.name);
        let setup = Setup::from_scene_with_structure(&one.scene, Path::new("."), structure.clone())
            .map_err(|e| in_shot(&shot.name, Failure::Runtime(e.to_string())))?;
        crate::outputs::check(&crate::outputs::render_outputs(&one), &crate::outputs::inputs(&one))
            .map_err(|e| in_shot(&shot.name, e))?;
        jobs.push((one, setup));
    }
    Ok(jobs)
}

/// Name the outputs the flags ask for after the shot (the flags' own names are not used).
fn name_outputs(cl: &mut CommandLine, outdir: &Path, name: &str) {
    let file = |ext: &str| Some(outdir.join(format!("{name}.{ext}")));
    let io = &mut cl.scene.io;
    io.floatfile = file("bin");
    io.intfile = file("img");
    io.noisefile = file("noise.img");
    io.pgmfile = file("pgm");
    if io.pngfile.is_some() {
        io.pngfile = file("png");
    }
    if io.cbffile.is_some() {
        io.cbffile = file("cbf");
    }
    if io.floatfile_f64.is_some() {
        io.floatfile_f64 = file("f64.bin");
    }
    if cl.nxsfile.is_some() {
        cl.nxsfile = file("nxs");
    }
    cl.dump_scene = None;
}

/// `e` with the shot named.
fn in_shot(name: &str, e: Failure) -> Failure {
    match e {
        Failure::Usage(m) => Failure::Usage(format!("shot {name}: {m}")),
        Failure::Runtime(m) => Failure::Runtime(format!("shot {name}: {m}")),
    }
}
