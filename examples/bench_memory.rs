//! Peak memory and wall time of one forward render, or of one loss gradient.
//!
//! ```text
//! cargo run --release --example bench_memory -- [--budget-mib N] [--grad all|a,b,...] -- <nanoBragg flags>
//! ```
//!
//! Renders the scene of the nanoBragg command line after the second `--` (its `-dtype f32|f64`
//! and `-tile_pixels N` are honoured; other I/O flags are ignored: nothing is written) with a
//! tile budget of `N` MiB (default: the renderer's default, 256 MiB), then prints the pixel
//! count, pixels per tile, wall time of setup + render, pixels/s and the peak resident set size
//! (`VmHWM` from `/proc/self/status`), once as a table row and once as JSON. Run one render
//! per process so `VmHWM` belongs to that render alone. See `docs/benchmarks.md`.
//!
//! With `--grad`, instead of a render it computes `Simulator::loss_and_gradients` (loss: the
//! image sum; tile by tile, one backward pass per tile) under `Autodiff<NdArray<dtype>>` with
//! respect to the named parameters, or with `all` to every parameter of `nanobragg grad -h` that
//! the scene defines (give `-Xbeam`/`-Ybeam` and absorption for all 31).

use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use nanobragg::kernel::RenderBackend;
use burn_autodiff::Autodiff;
use burn_ndarray::NdArray;
use nanobragg::gradients::{Loss, ParamName};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_cli::{parse_args, DType};

/// `VmHWM` / `VmRSS` of this process in KiB (0 where `/proc` is unavailable).
fn proc_status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

struct Measured {
    pixels: usize,
    tile_pixels: usize,
    tiles: usize,
    seconds: f64,
    checksum: f64,
}

fn render<B: RenderBackend>(setup: Setup, options: RenderOptions) -> Measured {
    let device: B::Device = Default::default();
    let start = Instant::now();
    let sim = Simulator::<B>::new(setup, &device, options).expect("simulator builds");
    let image = sim.render().expect("render succeeds");
    let seconds = start.elapsed().as_secs_f64();
    let pixels = sim.plan.pixels.len();
    let tile_pixels = sim.tile_pixels();
    Measured {
        pixels,
        tile_pixels,
        tiles: pixels.div_ceil(tile_pixels),
        seconds,
        checksum: image.data.iter().map(|&v| v as f64).sum(),
    }
}

/// Loss (image sum) and gradients with respect to `wrt` (`None`: every parameter the scene
/// defines); the checksum is the loss.
fn gradient<B: AutodiffBackend + RenderBackend>(
    setup: Setup,
    options: RenderOptions,
    wrt: Option<Vec<ParamName>>,
) -> (Measured, usize) {
    let device: B::Device = Default::default();
    let start = Instant::now();
    let mut sim = Simulator::<B>::new(setup, &device, options).expect("simulator builds");
    let names: Vec<ParamName> = match wrt {
        Some(n) => n,
        None => ParamName::all()
            .filter(|&n| sim.param_value(n).is_ok())
            .collect(),
    };
    let r = sim.loss_and_gradients(&Loss::Sum, &names).expect("gradients");
    let seconds = start.elapsed().as_secs_f64();
    assert!(r.gradients.iter().all(|g| g.2.is_finite()), "non-finite gradient");
    let pixels = sim.plan.pixels.len();
    let tile_pixels = sim.tile_pixels();
    let m = Measured {
        pixels,
        tile_pixels,
        tiles: pixels.div_ceil(tile_pixels),
        seconds,
        checksum: r.loss,
    };
    (m, names.len())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Options of this program come before the last `--`, nanoBragg flags after it (no nanoBragg
    // flag is `--`); without any `--` everything is a nanoBragg flag.
    let (ours, flags): (Vec<String>, Vec<String>) = match args.iter().rposition(|a| a == "--") {
        Some(split) => (
            args[..split].iter().filter(|a| *a != "--").cloned().collect(),
            args[split + 1..].to_vec(),
        ),
        None => (Vec::new(), args),
    };
    let mut options = RenderOptions::default();
    let mut grad: Option<Option<Vec<ParamName>>> = None;
    let mut it = ours.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--budget-mib" => {
                let mib: usize = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--budget-mib needs an integer");
                options.tile_budget_bytes = mib << 20;
            }
            "--grad" => {
                let list = it.next().expect("--grad needs all or a,b,...");
                grad = Some(if list == "all" {
                    None
                } else {
                    Some(
                        list.split(',')
                            .map(|n| n.parse().unwrap_or_else(|e| panic!("--grad: {e}")))
                            .collect(),
                    )
                });
            }
            other => {
                eprintln!("unknown option {other}\nusage: bench_memory [--budget-mib N] [--grad all|a,b,...] -- <nanoBragg flags>");
                std::process::exit(2);
            }
        }
    }
    if flags.is_empty() {
        eprintln!("usage: bench_memory [--budget-mib N] -- <nanoBragg flags>");
        std::process::exit(2);
    }
    let cl = parse_args(flags.clone()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    options.tile_pixels = cl.tile_pixels;
    let setup = Setup::from_scene(&cl.scene, Path::new(".")).expect("scene resolves");
    let rss_before = proc_status_kib("VmHWM:");
    let (m, params) = match (cl.dtype, grad) {
        (DType::F64, None) => (render::<NdArray<f64>>(setup, options), 0),
        (DType::F32, None) => (render::<NdArray<f32>>(setup, options), 0),
        (DType::F64, Some(w)) => gradient::<Autodiff<NdArray<f64>>>(setup, options, w),
        (DType::F32, Some(w)) => gradient::<Autodiff<NdArray<f32>>>(setup, options, w),
    };
    let mode = if params > 0 { "grad" } else { "render" };
    let hwm = proc_status_kib("VmHWM:");
    let budget_mib = options.tile_budget_bytes >> 20;
    println!(
        "mode={mode} params={params} dtype={} budget_mib={} pixels={} tile_pixels={} tiles={} wall_s={:.3} pixels_per_s={:.0} \
         peak_rss_mib={:.1} rss_before_render_mib={:.1} sum={:.6e}",
        cl.dtype,
        budget_mib,
        m.pixels,
        m.tile_pixels,
        m.tiles,
        m.seconds,
        m.pixels as f64 / m.seconds,
        hwm as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        m.checksum,
    );
    println!(
        "{{\"mode\":\"{mode}\",\"params\":{params},\"dtype\":\"{}\",\"budget_mib\":{},\"pixels\":{},\"tile_pixels\":{},\"tiles\":{},\
         \"wall_s\":{:.4},\"pixels_per_s\":{:.1},\"peak_rss_kib\":{},\"args\":{:?}}}",
        cl.dtype,
        budget_mib,
        m.pixels,
        m.tile_pixels,
        m.tiles,
        m.seconds,
        m.pixels as f64 / m.seconds,
        hwm,
        flags.join(" "),
    );
}
