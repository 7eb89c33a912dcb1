//! Pixels per second of the speed issue's scenes S1–S5 on one backend and dtype, so anyone can
//! reproduce the figures of `docs/benchmarks.md`:
//!
//! ```sh
//! cargo run --release --example bench_scenes -- --backend flex --dtype f32
//! cargo run --release --example bench_scenes -- --backend ndarray --dtype f64 --scenes S1,S3 --grad
//! cargo run --release --example bench_scenes -- --backend ndarray --dtype f32 --engine tensor
//! cargo run --release --features cuda --example bench_scenes -- --backend cuda --dtype f32 --scenes S1,S2,S2_4096,S4
//! ```
//!
//! Each scene is rendered once to warm up (JIT and autotune on CUDA), then `--repeat` times
//! (default 3); the best render time is reported (process start and file output excluded).
//! `--grad` also times the loss Σ image and its gradient with respect to every parameter that
//! applies to the scene (forward + backward, autodiff backend) and prints its ratio to the
//! forward render; the renders and the gradient passes then take turns, so that both see the
//! same spells of a busy machine. `--on-device` times `Simulator::render_tensor` (the image left on the device,
//! then a device sync) instead of `render` (which copies the image to the host): the fair
//! comparison with renderers that return a device tensor. On CUDA each scene also prints the
//! CubeCL allocator's figures after one more render, with the image still alive.
//! `--engine tensor` forces the tensor-op reference path. `--simd avx2` (or `portable`) caps the
//! instruction set of the CPU kernel's lane loops (default: the widest the CPU has, printed). S5 writes its HKL file (h, k, l in
//! −20…20, F = 100·(1 + 0.5·sin(h + 2k + 3l))) to the system temp folder first.

use std::error::Error;
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use burn_autodiff::Autodiff;
use nanobragg::gradients::Loss;
use nanobragg::kernel::{Engine, RenderBackend};
use nanobragg::RenderOptions;
use nanobragg_cli::speed_scenes::{live_params, simulator, NAMES};

type Res<T> = Result<T, Box<dyn Error>>;

/// What to time besides the forward render.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    /// Also forward + backward.
    grad: bool,
    /// Time `render_tensor` (result left on the device, then a device sync) instead of `render`.
    on_device: bool,
}

/// A timed step: one render, or one forward + backward pass.
type Step<'a> = Box<dyn FnMut() -> Res<()> + 'a>;

/// Best of `repeat` timings of each step (seconds) after one warm-up call of each. The steps
/// take turns (a, b, a, b, …), so a slow spell of a shared machine reaches all of them alike
/// and their ratio stays a side-by-side measurement.
fn best_of(repeat: usize, steps: &mut [Step<'_>]) -> Res<Vec<f64>> {
    for step in steps.iter_mut() {
        step()?;
    }
    let mut best = vec![f64::INFINITY; steps.len()];
    for _ in 0..repeat {
        for (step, best) in steps.iter_mut().zip(&mut best) {
            let t = Instant::now();
            step()?;
            *best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(best)
}

/// The device allocator's figures, as text, where the backend has one to read (CUDA).
type MemoryProbe<'a> = Option<&'a dyn Fn() -> String>;

fn run<B: RenderBackend>(
    device: B::Device,
    scenes: &[String],
    repeat: usize,
    flags: Flags,
    options: RenderOptions,
    memory: MemoryProbe,
) -> Res<()>
where
    Autodiff<B>: AutodiffBackend + RenderBackend<Device = B::Device>,
{
    for name in scenes {
        let sim = simulator::<B>(name, &device, options)?;
        let pixels = sim.plan.pixels.len() as f64;
        // The image left on the device, once the device has finished it.
        let on_device_image = || -> Res<_> {
            let image = sim.render_tensor()?;
            B::sync(&device).map_err(|e| format!("{e:?}"))?;
            Ok(image)
        };
        let mut steps: Vec<Step<'_>> = vec![Box::new(|| {
            if flags.on_device {
                on_device_image()?;
            } else {
                sim.render()?;
            }
            Ok(())
        })];
        let mut params = 0;
        if flags.grad {
            let mut grad_sim = simulator::<Autodiff<B>>(name, &device, options)?;
            let wrt = live_params(&grad_sim);
            params = wrt.len();
            steps.push(Box::new(move || {
                grad_sim.loss_and_gradients(&Loss::Sum, &wrt)?;
                Ok(())
            }));
        }
        let best = best_of(repeat, &mut steps)?;
        // The gradient's simulator is freed before the allocator is read below.
        drop(steps);
        let what = if flags.on_device { "forward (on device)" } else { "forward" };
        let forward = best[0];
        println!("{name:<8} {:>9} pixels  {what} best {forward:>8.4} s  {:>12.0} pixels/s", pixels as u64, pixels / forward);
        if let Some(&grad) = best.get(1) {
            println!(
                "{name:<8} {:>9} pixels  fwd+bwd ({params} params) best {grad:>8.4} s  {:>12.0} pixels/s  {:.2}x forward",
                pixels as u64,
                pixels / grad,
                grad / forward
            );
        }
        if let Some(memory) = memory {
            // Read with one more rendered image still alive on the device.
            let image = on_device_image()?;
            println!("{name:<8} allocator after a render, image alive: {}", memory());
            drop(image);
        }
    }
    Ok(())
}

fn main() -> Res<()> {
    let mut backend = "ndarray".to_string();
    let mut dtype = "f32".to_string();
    let mut scenes = "S1,S3,S4_512,S5".to_string();
    let mut repeat = 3;
    let mut flags = Flags::default();
    let mut options = RenderOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--backend" => backend = value()?,
            "--dtype" => dtype = value()?,
            "--scenes" => scenes = value()?,
            "--repeat" => repeat = value()?.parse()?,
            "--grad" => flags.grad = true,
            "--on-device" => flags.on_device = true,
            "--engine" => {
                options.engine = match value()?.as_str() {
                    "auto" => Engine::Auto,
                    "tensor" => Engine::Tensor,
                    other => return Err(format!("--engine {other}: auto or tensor").into()),
                }
            }
            "--simd" => {
                use nanobragg::kernel::cpu::{limit_simd, Simd};
                limit_simd(match value()?.as_str() {
                    "portable" => Simd::Portable,
                    "avx2" => Simd::Avx2,
                    "avx512" => Simd::Avx512,
                    other => return Err(format!("--simd {other}: portable, avx2 or avx512").into()),
                })
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let scenes: Vec<String> = scenes.split(',').map(String::from).collect();
    if let Some(bad) = scenes.iter().find(|s| !NAMES.contains(&s.as_str())) {
        return Err(format!("unknown scene {bad} ({})", NAMES.join(" ")).into());
    }
    println!(
        "backend {backend}, dtype {dtype}, engine {:?}, CPU lane loops {:?}, best of {repeat} after a warm-up",
        options.engine,
        nanobragg::kernel::cpu::simd()
    );
    #[cfg(feature = "cuda")]
    let cuda_memory = || match nanobragg::kernel::allocator_usage(&Default::default()) {
        Some(u) => format!(
            "in use {:.1} MiB, reserved {:.1} MiB",
            u.in_use as f64 / 1048576.0,
            u.reserved as f64 / 1048576.0
        ),
        None => "not available".to_string(),
    };
    match (backend.as_str(), dtype.as_str()) {
        ("ndarray", "f32") => run::<burn_ndarray::NdArray<f32>>(Default::default(), &scenes, repeat, flags, options, None),
        ("ndarray", "f64") => run::<burn_ndarray::NdArray<f64>>(Default::default(), &scenes, repeat, flags, options, None),
        ("flex", "f32") => run::<burn_flex::Flex>(burn_flex::FlexDevice, &scenes, repeat, flags, options, None),
        #[cfg(feature = "cuda")]
        ("cuda", "f32") => run::<burn_cuda::Cuda<f32>>(Default::default(), &scenes, repeat, flags, options, Some(&cuda_memory)),
        #[cfg(feature = "cuda")]
        ("cuda", "f64") => run::<burn_cuda::Cuda<f64>>(Default::default(), &scenes, repeat, flags, options, Some(&cuda_memory)),
        (b, d) => Err(format!("backend {b} at {d} is not available in this build").into()),
    }
}
