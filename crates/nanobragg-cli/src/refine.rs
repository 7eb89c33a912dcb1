//! `nanobragg refine <flags> -target measured.img|measured.bin|measured.cbf -refine a,b
//! [-loss poisson|l2]`: fit the named parameters of the scene the flags describe to a measured
//! image, print the table start / refined / shift / σ and the correlations, and write the
//! refined scene. A CBF target is raw ADU read through the panel's readout
//! ([`crate::cbf_target`]); SMV and raw-float targets are photons.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;
use nanobragg::gradients::ParamName;
use nanobragg_refine::export::{mosflm_matrix_text, nanobragg_flags, refined_scene, shell_line};
use nanobragg_refine::report::{correlation_table, value_table};
use nanobragg_refine::{
    refine, uncertainties, LossKind, Objective, Observation, Optimizer, ParamSpec, RefineOptions,
    Refined, StopRules, Uncertainties,
};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::CommandLine;

use crate::run::Failure;

pub(crate) fn runtime(e: impl std::fmt::Display) -> Failure {
    Failure::Runtime(e.to_string())
}

/// The measured counts: an SMV image less its ADC offset, or raw 4-byte floats.
pub(crate) fn read_target(path: &Path, pixels: usize, adc: f64) -> Result<Vec<f64>, Failure> {
    let data = read_target_values(path, pixels, adc)?;
    nanobragg::validate::check_image(&format!("-target {}", path.display()), &data, false)
        .map_err(runtime)?;
    Ok(data)
}

pub(crate) fn read_target_values(path: &Path, pixels: usize, adc: f64) -> Result<Vec<f64>, Failure> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if ext == "img" || ext == "smv" {
        let img = nanobragg::io::smv::read_smv(path).map_err(runtime)?;
        if img.data.len() != pixels {
            return Err(Failure::Runtime(format!(
                "-target {}: {} pixels, the detector has {pixels}",
                path.display(),
                img.data.len()
            )));
        }
        Ok(img.data.iter().map(|&v| v as f64 - adc).collect())
    } else {
        let data = nanobragg::io::float_image::read_float_image(path, pixels).map_err(runtime)?;
        Ok(data.iter().map(|&v| v as f64).collect())
    }
}

pub(crate) fn loss_kind(spec: Option<&str>) -> Result<LossKind, Failure> {
    match spec.unwrap_or("poisson") {
        "poisson" => Ok(LossKind::Poisson),
        "l2" => Ok(LossKind::SquaredError { sigma: 1.0 }),
        s if s.starts_with("l2:") => match s[3..].parse::<f64>() {
            Ok(sigma) if sigma > 0.0 && sigma.is_finite() => Ok(LossKind::SquaredError { sigma }),
            _ => Err(Failure::Usage(format!("-loss {s}: expected l2:<sigma>, sigma a finite number > 0"))),
        },
        "huber" => Ok(LossKind::PoissonHuber { c: nanobragg_refine::HUBER_C }),
        s if s.starts_with("huber:") => match s[6..].parse::<f64>() {
            Ok(c) if c > 0.0 && c.is_finite() => Ok(LossKind::PoissonHuber { c }),
            _ => Err(Failure::Usage(format!("-loss {s}: expected huber:<c>, c a finite number > 0"))),
        },
        other => Err(Failure::Usage(format!(
            "-loss '{other}': nanobragg refine takes poisson, l2[:sigma] or huber[:c]"
        ))),
    }
}

pub(crate) fn specs(names: &[String]) -> Result<Vec<ParamSpec>, Failure> {
    if names.is_empty() {
        return Err(Failure::Usage("nanobragg refine needs -refine name[,name...]".into()));
    }
    names
        .iter()
        .map(|n| {
            if n == "scale" {
                Ok(ParamSpec::scale())
            } else {
                n.parse::<ParamName>()
                    .map(ParamSpec::new)
                    .map_err(|e| Failure::Usage(format!("-refine: {e}")))
            }
        })
        .collect()
}

struct Job<'a> {
    cl: &'a CommandLine,
    setup: Setup,
    specs: Vec<ParamSpec>,
    observation: Observation,
    loss: LossKind,
    options: RefineOptions,
}

impl crate::backend::AutodiffJob for Job<'_> {
    type Output = Result<(), Failure>;
    fn run<B: AutodiffBackend + nanobragg::kernel::RenderBackend>(self, device: &B::Device) -> Self::Output {
        run_on::<B>(self, device)
    }
}

fn run_on<B: AutodiffBackend + nanobragg::kernel::RenderBackend>(job: Job<'_>, device: &B::Device) -> Result<(), Failure> {
    let render = RenderOptions { tile_pixels: job.cl.tile_pixels, engine: job.cl.engine, ..RenderOptions::default() };
    let sim = Simulator::<B>::new(job.setup.clone(), device, render).map_err(runtime)?;
    let mut obj = Objective::new(sim, job.specs, job.observation, job.loss).map_err(runtime)?;
    let r = refine(&mut obj, &job.options, |_| ControlFlow::Continue(())).map_err(runtime)?;
    let on = format!("{} parameters on {} pixels", r.variables.len(), obj.pixels().len());
    report(&r, &on, uncertainties(&mut obj, &r.values), usize::MAX)?;
    let scene = refined_scene(&job.cl.scene, &job.setup, &obj.param_values(&r.values), obj.scale(&r.values))
        .map_err(runtime)?;
    nanobragg::validate::check_scene(&scene)
        .map_err(|e| Failure::Runtime(format!("refinement failed: the refined scene is refused: {e}")))?;
    match nanobragg_flags(&scene) {
        Ok(flags) => say!("refined model as nanoBragg flags:\n{}\n", shell_line("nanobragg", &flags)),
        Err(e) => eprintln!("nanobragg: warning: {e}"),
    }
    let path = crate::outputs::refined_scene_path(job.cl);
    let text = scene.to_toml_string().map_err(runtime)?;
    nanobragg::io::atomic::write_atomic(&path, text.as_bytes()).map_err(runtime)?;
    say!("wrote the refined scene to {}", path.display());
    if let Some(mat) = &job.cl.refine.refined_mat {
        let params = obj.params(&r.values).map_err(runtime)?;
        nanobragg::io::atomic::write_atomic(mat, mosflm_matrix_text(&params).as_bytes()).map_err(runtime)?;
        say!("wrote the refined orientation (misset included) to {}", mat.display());
    }
    if let Some(out) = &job.cl.refine.refined_expt {
        let params = obj.params(&r.values).map_err(runtime)?;
        crate::refined_expt::write(job.cl, &job.setup, &params, out)?;
    }
    Ok(())
}

/// Refuse a refinement that ended on a non-finite loss or value; else print its summary (`on`:
/// what was refined on what), the table of values with their standard errors (a warning when
/// `sigma` failed) and, for at most `max_correlated` variables, the correlations.
pub(crate) fn report(r: &Refined, on: &str, sigma: nanobragg_refine::Result<Uncertainties>, max_correlated: usize) -> Result<(), Failure> {
    if !r.loss.is_finite() || r.values.iter().any(|v| !v.is_finite()) {
        return Err(Failure::Runtime(format!("refinement failed: the loss ({}) or a refined value is not finite", r.loss)));
    }
    say!(
        "refined {on}: {} iterations, {} loss-and-gradient evaluations, {:.1} s ({})",
        r.iterations,
        r.evaluations,
        r.elapsed_s,
        r.stop.describe()
    );
    say!("loss {:.8e} -> {:.8e}", r.start_loss, r.loss);
    let sigma = sigma.map_err(|e| eprintln!("nanobragg: warning: no standard errors: {e}")).ok();
    say!("\n{}", value_table(&r.variables, None, &r.start, &r.values, sigma.as_ref().map(|u| u.std_errors.as_slice())));
    if let Some(u) = sigma.as_ref().filter(|_| r.variables.len() <= max_correlated) {
        say!("{}", correlation_table(&r.variables, &u.correlation));
    }
    Ok(())
}

/// `-target`, required.
pub(crate) fn target(cl: &CommandLine) -> Result<PathBuf, Failure> {
    cl.refine
        .target
        .clone()
        .ok_or_else(|| Failure::Usage("nanobragg refine needs -target measured.img|measured.bin|measured.cbf".into()))
}

/// The optimiser and its iteration limit from `-optimizer` and `-max_iter`.
pub(crate) fn options(cl: &CommandLine) -> RefineOptions {
    let optimizer = match cl.refine.optimizer.as_deref() {
        Some("adam") => Optimizer::Adam(Default::default()),
        _ => Optimizer::default(),
    };
    let stop = StopRules {
        max_iterations: cl.refine.max_iter.unwrap_or(StopRules::default().max_iterations),
        ..StopRules::default()
    };
    RefineOptions { optimizer, stop, ..RefineOptions::default() }
}

/// Run the `refine` subcommand.
pub fn run(cl: CommandLine) -> Result<(), Failure> {
    let multi_panel = cl.scene.detector.panels.len() > 1;
    crate::backend::check_autodiff(&cl.backend, "refine").map_err(Failure::Usage)?;
    if multi_panel && cl.backend != "ndarray" {
        return Err(Failure::Usage(format!("-backend {}: nanobragg refine of several panels runs on ndarray", cl.backend)));
    }
    if multi_panel {
        return crate::refine_panels::run(cl);
    }
    if let Some(flag) = [("-refine_per_panel", &cl.refine.per_panel), ("-refine_per_group", &cl.refine.per_group)]
        .iter()
        .find_map(|(flag, names)| (!names.is_empty()).then_some(flag))
    {
        return Err(Failure::Usage(format!("{flag}: needs a multi-panel detector (-expt with -panel all)")));
    }
    let specs = specs(&cl.refine.names)?;
    let target = target(&cl)?;
    let loss = loss_kind(cl.loss.as_deref())?;
    crate::outputs::check(&crate::outputs::refine_outputs(&cl), &crate::outputs::inputs(&cl))?;
    let setup = Setup::from_scene(&cl.scene, &PathBuf::from(".")).map_err(runtime)?;
    let pixels = setup.detector.fpixels * setup.detector.spixels;
    let adc = cl.scene.io.adc_offset.unwrap_or(crate::outputs::DEFAULT_ADC);
    let mut observation = match crate::cbf_target::is_cbf(&target) {
        true => crate::cbf_target::single(&target, &cl.scene, setup.detector.fpixels, setup.detector.spixels)?,
        false => Observation::new(read_target(&target, pixels, adc)?),
    };
    if let Some(bg) = &cl.refine.background {
        let data = nanobragg::io::float_image::read_float_image(bg, pixels).map_err(runtime)?;
        nanobragg::validate::check_image(&format!("-background {}", bg.display()), &data, true)
            .map_err(runtime)?;
        observation = observation.with_background(data.iter().map(|&v| v as f64).collect());
    }
    let options = options(&cl);
    let job = Job { cl: &cl, setup, specs, observation, loss, options };
    crate::backend::dispatch_autodiff(&cl.backend, cl.dtype, 0, "refine", job).map_err(Failure::Usage)?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-loss` names the robust loss with its default or a given c, and refuses a c or σ that is
    /// not a positive finite number, naming the flag.
    #[test]
    fn loss_flag_takes_huber_with_a_positive_c_and_refuses_others() {
        assert_eq!(loss_kind(Some("huber")).unwrap(), LossKind::PoissonHuber { c: nanobragg_refine::HUBER_C });
        assert_eq!(loss_kind(Some("huber:2.5")).unwrap(), LossKind::PoissonHuber { c: 2.5 });
        assert_eq!(loss_kind(None).unwrap(), LossKind::Poisson);
        for bad in ["huber:0", "huber:-1", "huber:nan", "huber:inf", "huber:", "l2:inf", "l2:0", "cauchy"] {
            match loss_kind(Some(bad)) {
                Err(Failure::Usage(m)) => assert!(m.contains("-loss"), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
