//! `nanobragg grad <flags> -wrt a,b -loss sum|l2:t.bin|poisson:t.bin`: loss and gradients as JSON.

use std::path::{Path, PathBuf};

use nanobragg::gradients::{Loss, ParamName};
use nanobragg::registry::PARAMETERS;
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::CommandLine;

use crate::run::Failure;

/// Help text listing the gradient parameters with their units.
pub fn parameter_help() -> String {
    let mut s = String::from("\nGRADIENT PARAMETERS (nanobragg grad -wrt ...; derivative per unit shown; the flag that sets it)\n");
    for p in &PARAMETERS {
        s.push_str(&format!("  {:<20} {:<24} {}\n", p.key, p.unit, p.flag));
    }
    s
}

fn parse_loss(spec: Option<&str>, pixels: usize) -> Result<Loss, Failure> {
    let read = |p: &str| {
        let data = nanobragg::io::float_image::read_float_image(Path::new(p), pixels)
            .map_err(|e| Failure::Runtime(format!("-loss: {e}")))?;
        nanobragg::validate::check_image(&format!("-loss {p}"), &data, false)
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        Ok(data)
    };
    match spec.unwrap_or("sum") {
        "sum" => Ok(Loss::Sum),
        s if s.starts_with("l2:") => Ok(Loss::SquaredError { target: read(&s[3..])? }),
        s if s.starts_with("poisson:") => Ok(Loss::Poisson {
            target: read(&s[8..])?,
            background: None,
        }),
        other => Err(Failure::Usage(format!(
            "-loss '{other}': expected sum, l2:target.bin or poisson:target.bin"
        ))),
    }
}

fn run_on<B: burn::tensor::backend::AutodiffBackend + nanobragg::kernel::RenderBackend>(
    setup: Setup,
    device: &B::Device,
    options: RenderOptions,
    loss: &Loss,
    wrt: &[ParamName],
) -> Result<String, Failure> {
    let mut sim = Simulator::<B>::new(setup, device, options)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let r = sim
        .loss_and_gradients(loss, wrt)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let mut grads = serde_json::Map::new();
    for (name, _value, g) in &r.gradients {
        grads.insert(name.name().to_string(), serde_json::json!(g));
    }
    Ok(serde_json::json!({ "loss": r.loss, "gradients": grads }).to_string())
}

/// What `grad` computes, run under the backend `-backend` names.
struct GradJob<'a> {
    setup: Setup,
    options: RenderOptions,
    loss: &'a Loss,
    wrt: &'a [ParamName],
}

impl crate::backend::AutodiffJob for GradJob<'_> {
    type Output = Result<String, Failure>;
    fn run<B: burn::tensor::backend::AutodiffBackend + nanobragg::kernel::RenderBackend>(
        self,
        device: &B::Device,
    ) -> Self::Output {
        run_on::<B>(self.setup, device, self.options, self.loss, self.wrt)
    }
}

/// Run the `grad` subcommand.
pub fn run(cl: CommandLine) -> Result<(), Failure> {
    crate::backend::check_autodiff(&cl.backend, "grad").map_err(Failure::Usage)?;
    let wrt: Vec<ParamName> = cl
        .wrt
        .iter()
        .map(|s| s.parse().map_err(|e: nanobragg::NanobraggError| Failure::Usage(e.to_string())))
        .collect::<Result<_, _>>()?;
    if wrt.is_empty() {
        return Err(Failure::Usage("nanobragg grad needs -wrt name[,name...]".into()));
    }
    let setup = Setup::from_scene(&cl.scene, &PathBuf::from("."))
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let pixels = setup.detector.fpixels * setup.detector.spixels;
    let loss = parse_loss(cl.loss.as_deref(), pixels)?;
    let options = RenderOptions {
        tile_pixels: cl.tile_pixels,
        engine: cl.engine,
        ..RenderOptions::default()
    };
    let job = GradJob { setup, options, loss: &loss, wrt: &wrt };
    let json = crate::backend::dispatch_autodiff(&cl.backend, cl.dtype, 0, "grad", job).map_err(Failure::Usage)??;
    say!("{json}");
    Ok(())
}
