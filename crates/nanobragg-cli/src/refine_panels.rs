//! `nanobragg refine -expt models.expt [-panel all] -target measured.bin -refine a,b
//! -refine_per_panel c,d -refine_per_group e,f`: the panels of a multi-panel detector refined
//! together, one [`Objective`] per panel in a [`Joint`]. `-refine`'s variables are shared by
//! every panel (crystal, beam, scale), `-refine_per_panel`'s are refined once per panel (a
//! panel's `panel_shift_*`, `panel_rot_*`), `-refine_per_group`'s once per panel group (the
//! panels' dxtbx hierarchy parent: `group_rot_*` turns a module as one body, `panel_shift_*`
//! moves it). The target holds every panel, `[panel][slow][fast]` raw 4-byte floats (photons),
//! as `-floatfile` writes them, or is the detector's CBF frame (raw ADU), each panel's block
//! cut at its `raw_image_offset` and read through its gain, trusted range and mask
//! ([`crate::cbf_target`]).
//!
//! The refined scene keeps the panels, each moved to its refined frame (the panel motion folded
//! into its origin and axes); `-refined_expt` writes them, the wavelength and the crystal back
//! into the experiment list.

use std::ops::ControlFlow;
use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use nanobragg::gradients::ParamName;
use nanobragg::kernel::RenderBackend;
use nanobragg::{RenderOptions, Scene, Setup, Simulator};
use nanobragg_cli::CommandLine;
use nanobragg_refine::export::{mosflm_matrix_text, refined_scene};
use nanobragg_refine::{Joint, LossKind, Objective, Observation, ParamSpec, Sharing};

use crate::refine::{loss_kind, options, read_target_values, report, runtime, specs, target};
use crate::run::Failure;

/// Correlations are printed up to this many variables.
const MAX_CORRELATION_TABLE: usize = 12;

struct Job<'a> {
    cl: &'a CommandLine,
    setups: Vec<Setup>,
    shared: Vec<ParamSpec>,
    per_panel: Vec<ParamName>,
    per_group: Vec<ParamName>,
    observations: Vec<Observation>,
    loss: LossKind,
}

/// Run `refine` on every panel of the scene.
pub fn run(cl: CommandLine) -> Result<(), Failure> {
    if cl.backend != "ndarray" {
        return Err(Failure::Usage(format!("-backend {}: nanobragg refine runs on ndarray in this build", cl.backend)));
    }
    let per_panel = names("-refine_per_panel", &cl.refine.per_panel)?;
    let per_group = names("-refine_per_group", &cl.refine.per_group)?;
    let own_only = cl.refine.names.is_empty() && !(per_panel.is_empty() && per_group.is_empty());
    let shared = if own_only { Vec::new() } else { specs(&cl.refine.names)? };
    let shared_names: Vec<ParamName> = shared.iter().filter_map(|s| s.variable.param()).collect();
    for (p, a, b) in [(&per_panel, "-refine", "-refine_per_panel"), (&per_group, "-refine", "-refine_per_group")]
        .into_iter()
        .flat_map(|(list, a, b)| list.iter().map(move |p| (p, a, b)))
        .chain(per_group.iter().map(|p| (p, "-refine_per_panel", "-refine_per_group")))
    {
        let twice = if a == "-refine" { shared_names.contains(p) } else { per_panel.contains(p) };
        if twice {
            return Err(Failure::Usage(format!("{p}: given to both {a} and {b}")));
        }
    }
    groups(&cl.scene, &per_group)?;
    let target = target(&cl)?;
    let loss = loss_kind(cl.loss.as_deref())?;
    crate::outputs::check(&crate::outputs::refine_outputs(&cl), &crate::outputs::inputs(&cl))?;
    let setups = (0..cl.scene.panel_count())
        .map(|i| Setup::from_scene(&cl.scene.panel_scene(i)?, &PathBuf::from(".")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(runtime)?;
    let sizes: Vec<usize> = setups.iter().map(|s| s.detector.fpixels * s.detector.spixels).collect();
    let total: usize = sizes.iter().sum();
    let mut observations = match crate::cbf_target::is_cbf(&target) {
        true => crate::cbf_target::panels(&target, &cl.scene)?,
        false => {
            let name = format!("-target {}", target.display());
            let counts = read_target_values(&target, total, cl.scene.io.adc_offset.unwrap_or(crate::outputs::DEFAULT_ADC))?;
            nanobragg::validate::check_image(&name, &counts, false).map_err(runtime)?;
            split(&counts, &sizes).into_iter().map(Observation::new).collect()
        }
    };
    if let Some(bg) = &cl.refine.background {
        let data: Vec<f64> = nanobragg::io::float_image::read_float_image(bg, total)
            .map_err(runtime)?
            .iter()
            .map(|&v| v as f64)
            .collect();
        nanobragg::validate::check_image(&format!("-background {}", bg.display()), &data, true).map_err(runtime)?;
        for (o, b) in observations.iter_mut().zip(split(&data, &sizes)) {
            o.background = Some(b);
        }
    }
    let job = Job { cl: &cl, setups, shared, per_panel, per_group, observations, loss };
    crate::backend::dispatch_autodiff(&cl.backend, cl.dtype, 0, "refine", job).map_err(Failure::Usage)?
}

impl crate::backend::AutodiffJob for Job<'_> {
    type Output = Result<(), Failure>;
    fn run<B: AutodiffBackend + RenderBackend>(self, device: &B::Device) -> Self::Output {
        run_on::<B>(self, device)
    }
}

/// `values` cut into consecutive blocks of `sizes`.
fn split(values: &[f64], sizes: &[usize]) -> Vec<Vec<f64>> {
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            let block = values[at..at + n].to_vec();
            at += n;
            block
        })
        .collect()
}

/// The parameter names given to `flag`.
fn names(flag: &str, given: &[String]) -> Result<Vec<ParamName>, Failure> {
    given.iter().map(|n| n.parse::<ParamName>().map_err(|e| Failure::Usage(format!("{flag}: {e}")))).collect()
}

/// The panel groups (members by panel index), in order of first appearance; with
/// `-refine_per_group`, every panel must belong to one.
fn groups(scene: &Scene, per_group: &[ParamName]) -> Result<Vec<Vec<usize>>, Failure> {
    let mut names: Vec<&str> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, panel) in scene.detector.panels.iter().enumerate() {
        let Some(g) = &panel.group else {
            if per_group.is_empty() {
                continue;
            }
            return Err(Failure::Usage(format!("-refine_per_group: panel {i} ({}) belongs to no group (the experiment has no hierarchy)", panel.name)));
        };
        match names.iter().position(|&n| n == g.name) {
            Some(k) => members[k].push(i),
            None => {
                names.push(&g.name);
                members.push(vec![i]);
            }
        }
    }
    Ok(members)
}

fn run_on<B: AutodiffBackend + RenderBackend>(mut job: Job<'_>, device: &B::Device) -> Result<(), Failure> {
    let render = RenderOptions { tile_pixels: job.cl.tile_pixels, engine: job.cl.engine, ..RenderOptions::default() };
    let mut specs = job.shared.clone();
    specs.extend(job.per_panel.iter().chain(&job.per_group).map(|&p| ParamSpec::new(p)));
    let mut parts = Vec::with_capacity(job.setups.len());
    for (i, (setup, observed)) in job.setups.iter().zip(std::mem::take(&mut job.observations)).enumerate() {
        let sim = Simulator::<B>::new(setup.clone(), device, render.clone()).map_err(runtime)?;
        let part = Objective::new(sim, specs.clone(), observed, job.loss).map_err(|e| Failure::Runtime(format!("panel {i}: {e}")))?;
        parts.push(part);
    }
    let rules: Vec<(ParamName, Sharing)> = (job.per_panel.iter().map(|&p| (p, Sharing::PerPart)))
        .chain(job.per_group.iter().map(|&p| (p, Sharing::Grouped)))
        .collect();
    let mut joint = Joint::with_layout(parts, &rules).map_err(runtime)?;
    for members in groups(&job.cl.scene, &job.per_group)? {
        for &p in &job.per_group {
            joint.add_group(&members, ParamSpec::new(p)).map_err(runtime)?;
        }
    }
    let r = joint.refine(&options(job.cl), |_| ControlFlow::Continue(())).map_err(runtime)?;
    let on = format!("{} variables on {} panels", r.variables.len(), joint.parts.len());
    report(&r, &on, joint.uncertainties(&r.values), MAX_CORRELATION_TABLE)?;
    write_outputs(&job, &mut joint, &r.values)
}

/// The refined scene (panels in their refined frames), and `-refined_mat`/`-refined_expt`.
fn write_outputs<B: AutodiffBackend + RenderBackend>(job: &Job<'_>, joint: &mut Joint<B>, x: &[f64]) -> Result<(), Failure> {
    let cl = job.cl;
    let local0 = joint.local(0, x);
    let shared: Vec<(ParamName, f64)> = joint.parts[0]
        .param_values(&local0)
        .into_iter()
        .filter(|(p, _)| !job.per_panel.contains(p) && !job.per_group.contains(p))
        .collect();
    let mut scene: Scene = refined_scene(&cl.scene, &job.setups[0], &shared, joint.parts[0].scale(&local0)).map_err(runtime)?;
    let mut models = match &cl.refine.refined_expt {
        Some(_) => Some(crate::refined_expt::file_panels(cl)?),
        None => None,
    };
    for (i, setup) in job.setups.iter().enumerate() {
        let local = joint.local(i, x);
        let params = joint.parts[i].params(&local).map_err(runtime)?;
        crate::refined_expt::place(&mut scene.detector.panels[i], setup, &params)?;
        if let Some(m) = models.as_mut().and_then(|m| m.detector.panels.get_mut(i)) {
            crate::refined_expt::place(m, setup, &params)?;
        }
    }
    // The motion is now in every panel's frame.
    scene.detector.panel_shift_mm = None;
    scene.detector.panel_rot_deg = None;
    scene.detector.group_rot_deg = None;
    for i in 0..scene.panel_count() {
        scene
            .panel_scene(i)
            .and_then(|one| nanobragg::validate::check_scene(&one))
            .map_err(|e| Failure::Runtime(format!("refinement failed: the refined panel {i} is refused: {e}")))?;
    }
    let path = crate::outputs::refined_scene_path(cl);
    let text = scene.to_toml_string().map_err(runtime)?;
    nanobragg::io::atomic::write_atomic(&path, text.as_bytes()).map_err(runtime)?;
    say!("wrote the refined scene ({} panels in their refined frames) to {}", scene.detector.panels.len(), path.display());
    let params0 = joint.parts[0].params(&local0).map_err(runtime)?;
    if let Some(mat) = &cl.refine.refined_mat {
        nanobragg::io::atomic::write_atomic(mat, mosflm_matrix_text(&params0).as_bytes()).map_err(runtime)?;
        say!("wrote the refined orientation (misset included) to {}", mat.display());
    }
    if let (Some(out), Some(models)) = (&cl.refine.refined_expt, models) {
        let what = format!("{} panels", models.detector.panels.len());
        crate::refined_expt::write_models(cl, models, &params0, out, &what)?;
    }
    Ok(())
}
