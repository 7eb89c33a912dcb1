//! Reading an ensemble: the shared structure factors from `-hkl`, and this rank's block of
//! the shot list, each shot's scene, measured image and objective. Every rank reads the list
//! (names and values, no images) and only its own shots' images.

use std::path::Path;

use burn::tensor::backend::AutodiffBackend;
use nanobragg::kernel::RenderBackend;
use nanobragg::scene::ShotList;
use nanobragg::setup::StructureSetup;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::CommandLine;
use nanobragg_refine::ensemble::{shot_block, Comm, SharedVariables, ShotFit};
use nanobragg_refine::{Objective, Observation, ParamSpec, Restraint, Variable};

use crate::refine::runtime;
use crate::run::Failure;

/// What a rank holds after reading.
pub struct Loaded<B: AutodiffBackend + RenderBackend> {
    /// This rank's shots.
    pub shots: Vec<ShotFit<B>>,
    /// The shared structure factors and their start.
    pub shared: SharedVariables,
    /// Shots in the list.
    pub total: usize,
    /// Shots kept by every rank together (`total` less those `-skip_bad_shots` left out).
    pub kept: usize,
    /// The grid points, in shared-vector order.
    pub hkl: Vec<[i32; 3]>,
    /// Every shot's name, in list order.
    pub names: Vec<String>,
    /// The own variables' names.
    pub own_names: Vec<String>,
    /// The shared variables' names.
    pub shared_names: Vec<String>,
}

/// Read this rank's shots. Collective: a shot that fails on one rank (without
/// `-skip_bad_shots`) stops every rank, its own naming the shot.
pub fn load<B: AutodiffBackend + RenderBackend, C: Comm>(cl: &CommandLine, comm: &C, device: &B::Device) -> Result<Loaded<B>, Failure> {
    let list = ShotList::read(cl.shots.as_deref().expect("checked")).map_err(runtime)?;
    let total = list.shot.len();
    let own = own_specs(&cl.ensemble.own)?;
    let base = Setup::from_scene(&cl.scene, Path::new(".")).map_err(runtime)?;
    let grid = base.structure.grid.as_ref().ok_or_else(|| Failure::Runtime("-hkl: no structure-factor grid".into()))?;
    let hkl: Vec<[i32; 3]> = (grid.h_min..=grid.h_max)
        .flat_map(|h| (grid.k_min..=grid.k_max).flat_map(move |k| (grid.l_min..=grid.l_max).map(move |l| [h, k, l])))
        .collect();
    let prior = cl.ensemble.f_prior;
    let specs: Vec<ParamSpec> = hkl
        .iter()
        .zip(&grid.values)
        .map(|(&i, &f)| {
            let spec = ParamSpec::new(Variable::StructureFactor(i)).bounds(0.0, f64::INFINITY);
            match prior {
                Some(frac) => ParamSpec { restraint: Some(Restraint { mean: f, sigma: frac * f.abs().max(1.0) }), ..spec },
                None => spec,
            }
        })
        .collect();
    let shared = SharedVariables { specs, start: grid.values.clone() };
    if comm.size() > total {
        return Err(Failure::Usage(format!("-shots: {total} shots for {} ranks: run at most one rank per shot", comm.size())));
    }
    let mut shots = Vec::new();
    let mut error = None;
    for i in shot_block(total, comm.rank(), comm.size()) {
        match load_shot(cl, &list, i, &own, &shared, &base.structure, device) {
            Ok(s) => shots.push(s),
            Err(e) if cl.ensemble.skip_bad_shots => {
                eprintln!("nanobragg: warning: rank {}: shot {i} ({}) left out: {e}", comm.rank(), list.shot[i].name)
            }
            Err(e) => {
                error = Some(format!("rank {}: shot {i} ({}): {e}", comm.rank(), list.shot[i].name));
                break;
            }
        }
    }
    let failed = comm.failed_ranks(error.is_some());
    if let Some(e) = error {
        return Err(Failure::Runtime(e));
    }
    if !failed.is_empty() {
        return Err(Failure::Runtime(format!("stopped: rank {failed:?} could not read a shot (its message names it)")));
    }
    let mut kept = [shots.len() as f64];
    comm.sum(&mut kept);
    Ok(Loaded {
        shots,
        own_names: own.iter().map(|s| s.variable.name()).collect(),
        shared_names: shared.specs.iter().map(|s| s.variable.name()).collect(),
        shared,
        total,
        kept: kept[0] as usize,
        hkl,
        names: list.shot.iter().map(|s| s.name.clone()).collect(),
    })
}

/// `-refine_shot`'s variables (none when absent).
fn own_specs(names: &[String]) -> Result<Vec<ParamSpec>, Failure> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    crate::refine::specs(names).map_err(|e| match e {
        Failure::Usage(m) => Failure::Usage(m.replace("-refine:", "-refine_shot:")),
        other => other,
    })
}

/// Shot `i`: its scene, its measured image and its objective over `own` then `shared`.
fn load_shot<B: AutodiffBackend + RenderBackend>(
    cl: &CommandLine,
    list: &ShotList,
    i: usize,
    own: &[ParamSpec],
    shared: &SharedVariables,
    structure: &StructureSetup,
    device: &B::Device,
) -> Result<ShotFit<B>, String> {
    let shot = &list.shot[i];
    let image = shot.image.as_ref().ok_or("no image (give image = \"file\" in its [[shot]] table)")?;
    let scene = shot.apply(&cl.scene);
    // A shot changes no structure-factor flag: the HKL file is read once, for the base scene.
    let setup = Setup::from_scene_with_structure(&scene, Path::new("."), structure.clone()).map_err(|e| e.to_string())?;
    let (fpixels, spixels) = (setup.detector.fpixels, setup.detector.spixels);
    let observation = match crate::cbf_target::is_cbf(image) {
        true => crate::cbf_target::single(image, &scene, fpixels, spixels).map_err(|e| failure_text(e))?,
        false => {
            let adc = scene.io.adc_offset.unwrap_or(crate::outputs::DEFAULT_ADC);
            Observation::new(crate::refine::read_target(image, fpixels * spixels, adc).map_err(failure_text)?)
        }
    };
    let render = RenderOptions { tile_pixels: cl.tile_pixels, engine: cl.engine, ..RenderOptions::default() };
    let sim = Simulator::<B>::new(setup, device, render).map_err(|e| e.to_string())?;
    let specs: Vec<ParamSpec> = own.iter().chain(&shared.specs).copied().collect();
    let loss = crate::refine::loss_kind(cl.loss.as_deref()).map_err(failure_text)?;
    let objective = Objective::new(sim, specs, observation, loss).map_err(|e| e.to_string())?;
    // The caller names the shot: keep only why it failed.
    ShotFit::new(i, &shot.name, objective, own.len(), shared).map_err(|e| e.reason())
}

fn failure_text(f: Failure) -> String {
    match f {
        Failure::Usage(m) | Failure::Runtime(m) => m,
    }
}
