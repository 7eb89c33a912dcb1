//! `nanobragg ensemble <flags> -hkl start.hkl -shots list.toml -outdir dir [-refine_shot a,b]`:
//! refine the structure factors shared by many stills (and each still's own variables)
//! against their measured images. Each `[[shot]]` of the list writes its crystal and beam
//! values over the scene the flags describe, as in `nanobragg batch`, and names its measured
//! image (`image = "…"`: SMV, CBF or raw 4-byte floats, photons).
//!
//! Run it as it is, or as `mpirun -np N nanobragg ensemble …` with a binary built with the
//! `mpi` feature: each rank reads only its block of shots, sums go through MPI, the root
//! (rank 0) prints and writes the files ([`files`]). A shot that cannot be read stops every
//! rank with a message naming the rank and the shot, unless `-skip_bad_shots` leaves it out.

mod files;
mod load;

use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use nanobragg::kernel::RenderBackend;
use nanobragg_cli::{CommandLine, DType, ScheduleArg};
use nanobragg_refine::ensemble::{Comm, Ensemble, EnsembleOptions, Schedule, SharedSigma, DENSE_LIMIT};
use nanobragg_refine::{RefineOptions, StopRules};

use crate::refine::runtime;
use crate::run::Failure;
use files::Checkpoint;

/// Run the `ensemble` subcommand (over MPI when built with the `mpi` feature).
pub fn run(cl: CommandLine) -> Result<(), Failure> {
    let checked = check(&cl)?;
    #[cfg(feature = "mpi")]
    {
        let comm = nanobragg_refine::ensemble::mpi::MpiComm::init().map_err(runtime)?;
        run_with(&cl, checked, comm)
    }
    #[cfg(not(feature = "mpi"))]
    run_with(&cl, checked, nanobragg_refine::ensemble::Solo)
}

/// What the flags say, checked before any shot is read.
struct Checked {
    outdir: PathBuf,
    options: EnsembleOptions,
}

fn check(cl: &CommandLine) -> Result<Checked, Failure> {
    crate::backend::check_autodiff(&cl.backend, "ensemble").map_err(Failure::Usage)?;
    if cl.dtype != DType::F64 {
        return Err(Failure::Usage("-dtype f32: nanobragg ensemble refines at f64".into()));
    }
    if cl.shots.is_none() {
        return Err(Failure::Usage("nanobragg ensemble needs -shots list.toml (each shot with its image)".into()));
    }
    if cl.scene.structure.hkl_file.is_none() {
        return Err(Failure::Usage("nanobragg ensemble needs -hkl start.hkl: the structure factors to refine".into()));
    }
    if !cl.scene.detector.panels.is_empty() {
        return Err(Failure::Usage("nanobragg ensemble: one detector panel (choose one with -panel N)".into()));
    }
    let outdir = cl.outdir.clone().unwrap_or_else(|| PathBuf::from("."));
    if !outdir.is_dir() {
        return Err(Failure::Usage(format!("-outdir {}: not a folder", outdir.display())));
    }
    let outputs: Vec<crate::outputs::NamedFile> = [files::REFINED_HKL, files::SIGMA_HKL, files::SHOTS_JSON, files::CHECKPOINT]
        .iter()
        .map(|n| crate::outputs::NamedFile { flag: "-outdir", path: outdir.join(n) })
        .collect();
    let mut inputs = crate::outputs::inputs(cl);
    if let Some(r) = &cl.ensemble.restart {
        inputs.push(crate::outputs::NamedFile { flag: "-restart", path: r.clone() });
    }
    // The checkpoint being restarted from may be the one this run rewrites.
    let outputs: Vec<_> = outputs.into_iter().filter(|o| cl.ensemble.restart.as_ref() != Some(&o.path)).collect();
    let inputs: Vec<_> = inputs.into_iter().filter(|i| i.flag != "-restart").collect();
    crate::outputs::check(&outputs, &inputs)?;
    let step = |max_iterations| RefineOptions {
        stop: StopRules { max_iterations, ..StopRules::default() },
        progress: Some(false),
        ..crate::refine::options(cl)
    };
    let max = cl.refine.max_iter;
    let options = EnsembleOptions {
        schedule: match cl.ensemble.schedule {
            ScheduleArg::Joint => Schedule::Joint,
            ScheduleArg::Alternating => Schedule::Alternating,
            ScheduleArg::Shots => Schedule::Shots,
        },
        cycles: cl.ensemble.cycles.unwrap_or(1),
        shots: step(max.unwrap_or(50)),
        shared: step(max.unwrap_or(100)),
    };
    Ok(Checked { outdir, options })
}

/// Run on `-backend`'s device: the CPU, or with `cuda` the GPU `local rank mod GPUs` of the
/// node, so that `mpirun -np G` with G ranks a node gives each rank its own GPU.
fn run_with<C: Comm>(cl: &CommandLine, checked: Checked, comm: C) -> Result<(), Failure> {
    share_cores(&comm);
    if cl.backend == "cuda" && comm.is_root() {
        eprintln!(
            "nanobragg: warning: -backend cuda: each shot evaluation is mostly host work and transfers \
             (about 12 ms a rank on an H100); run several ranks per GPU, and compare with CPU ranks, which \
             are faster on small shots (docs/ensemble.md)"
        );
    }
    let local_rank = comm.local_rank();
    let job = EnsembleJob { cl, checked, comm };
    crate::backend::dispatch_autodiff(&cl.backend, cl.dtype, local_rank, "ensemble", job).map_err(Failure::Usage)?
}

/// The ensemble of one rank, run under the backend `-backend` names.
struct EnsembleJob<'a, C: Comm> {
    cl: &'a CommandLine,
    checked: Checked,
    comm: C,
}

impl<C: Comm> crate::backend::AutodiffJob for EnsembleJob<'_, C> {
    type Output = Result<(), Failure>;
    fn run<B: AutodiffBackend + RenderBackend>(self, device: &B::Device) -> Self::Output {
        run_on::<B, C>(self.cl, self.checked, self.comm, device)
    }
}

/// Give each rank its share of the node's cores for the CPU kernel's threads (`cores / ranks
/// on the node`, at least 1), unless `RAYON_NUM_THREADS` says otherwise: ranks that each
/// started a thread per core would oversubscribe the node.
fn share_cores<C: Comm>(comm: &C) {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() || comm.local_size() <= 1 {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Fails only if the pool was already built, which leaves the threads as they are.
    let _ = rayon::ThreadPoolBuilder::new().num_threads((cores / comm.local_size()).max(1)).build_global();
}

fn run_on<B: AutodiffBackend + RenderBackend, C: Comm>(
    cl: &CommandLine,
    checked: Checked,
    comm: C,
    device: &B::Device,
) -> Result<(), Failure> {
    let root = comm.is_root();
    let loaded = load::load::<B, C>(cl, &comm, device)?;
    let kept = loaded.kept;
    let out = Outputs {
        outdir: checked.outdir.clone(),
        hkl: loaded.hkl,
        names: loaded.names,
        own_names: loaded.own_names,
        shared_names: loaded.shared_names,
    };
    let mut ensemble = Ensemble::new(comm, loaded.shared, loaded.shots, loaded.total).map_err(runtime)?;
    let done = match &cl.ensemble.restart {
        Some(path) => {
            let c = Checkpoint::read(path, &out.shared_names, &out.own_names)?;
            ensemble.restore(&c.state()).map_err(runtime)?;
            c.cycle
        }
        None => 0,
    };
    let (loss, grad) = ensemble.loss_and_shared_gradient().map_err(runtime)?;
    if root {
        say!(
            "ensemble: {kept} shots on {} rank(s), {} shared and {} own variables per shot; cycles {}..={}",
            ensemble.comm().size(),
            out.shared_names.len(),
            out.own_names.len(),
            done + 1,
            checked.options.cycles
        );
        say!("start: loss {loss:.15e}, |∂loss/∂F|∞ {:.15e}", grad.iter().fold(0.0f64, |m, g| m.max(g.abs())));
    }
    let every = cl.ensemble.checkpoint_every.unwrap_or(usize::MAX);
    let mut failure = None;
    ensemble
        .run(&checked.options, done, |e, log| {
            if e.comm().is_root() {
                say!(
                    "cycle {}: loss {:.10e}, {} iterations ({} evaluations), {} per-shot iterations ({} evaluations), {:.2} s, {:.1} shot evaluations/s",
                    log.cycle,
                    log.loss,
                    log.shared_iterations,
                    log.shared_evaluations,
                    log.shot_iterations,
                    log.shot_evaluations,
                    log.elapsed_s,
                    (kept * log.shared_evaluations + log.shot_evaluations) as f64 / log.elapsed_s.max(1e-9)
                );
            }
            if log.cycle % every == 0 && log.cycle < checked.options.cycles {
                if let Err(f) = out.checkpoint(e, log.cycle) {
                    failure = Some(f);
                    return Err(nanobragg_refine::RefineError::Refinement("the checkpoint could not be written".into()));
                }
            }
            Ok(())
        })
        .map_err(|e| failure.take().unwrap_or_else(|| runtime(e)))?;
    out.finish(&mut ensemble, checked.options.cycles.max(done), checked.options.schedule)
}

/// The files of a run (in `-outdir`) and the names they carry.
struct Outputs {
    outdir: PathBuf,
    hkl: Vec<[i32; 3]>,
    names: Vec<String>,
    own_names: Vec<String>,
    shared_names: Vec<String>,
}

impl Outputs {
    /// Write the checkpoint after `cycle` cycles. Collective: every rank learns whether the
    /// root could write it.
    fn checkpoint<B: AutodiffBackend + RenderBackend, C: Comm>(&self, e: &mut Ensemble<B, C>, cycle: usize) -> Result<(), Failure> {
        let written = match e.state(cycle).map_err(runtime)? {
            Some(state) => self.checkpoint_of(&state).write(&self.outdir.join(files::CHECKPOINT)),
            None => Ok(()),
        };
        let failed = e.comm().failed_ranks(written.is_err());
        match written {
            Ok(()) if !failed.is_empty() => Err(Failure::Runtime("stopped: rank 0 could not write the checkpoint".into())),
            other => other,
        }
    }

    fn checkpoint_of(&self, state: &nanobragg_refine::ensemble::EnsembleState) -> Checkpoint {
        Checkpoint::of(state, self.shared_names.clone(), self.own_names.clone())
    }

    /// σ of F (none with `-schedule shots`, F held) and each shot's own σ, then (at the root)
    /// the refined HKL files, the shots' results and the final checkpoint. Collective.
    fn finish<B: AutodiffBackend + RenderBackend, C: Comm>(&self, e: &mut Ensemble<B, C>, cycles: usize, schedule: Schedule) -> Result<(), Failure> {
        let sigma = if schedule == Schedule::Shots {
            // F held: no σ(F); each shot's own σ from its own columns only.
            e.shot_sigma().map_err(runtime)?;
            SharedSigma { sigma: vec![f64::NAN; e.values().len()], dense: false }
        } else {
            e.shared_sigma(DENSE_LIMIT).map_err(runtime)?
        };
        let Some(state) = e.state(cycles).map_err(runtime)? else { return Ok(()) };
        self.checkpoint_of(&state).write(&self.outdir.join(files::CHECKPOINT))?;
        files::write_hkl(&self.outdir, &self.hkl, e.values(), &sigma.sigma)?;
        files::write_shots(&self.outdir, &state, &self.names, &self.own_names)?;
        say!(
            "wrote {} ({} of {} structure factors observed; σ from {}), {} and {} to {}",
            files::REFINED_HKL,
            sigma.sigma.iter().filter(|s| s.is_finite()).count(),
            self.hkl.len(),
            if sigma.dense { "the whole Fisher matrix" } else { "its diagonal" },
            files::SHOTS_JSON,
            files::CHECKPOINT,
            self.outdir.display()
        );
        Ok(())
    }
}
