//! Shared body of the bench binaries (`render_f64`, `render_f32`, `render_flex_f32`, and the
//! CUDA ones behind the `cuda` feature).
//!
//! Each backend and dtype lives in its own binary because Burn fixes a device's float dtype with
//! the first tensor created in a process. The scenes are the speed issue's S1–S5
//! ([`nanobragg_cli::speed_scenes`]), parsed with the CLI's own parser so they match the
//! whole-process timings in `docs/benchmarks.md`. Two groups per binary:
//!
//! - `render_<dtype>`: `Simulator::render()` (no setup, no file I/O) with the default engine
//!   (the backend's fused kernel where it has one) on every scene, and with the tensor-op
//!   reference engine on S1 and S3 (all scenes with `NANOBRAGG_BENCH_FULL=1`);
//! - `fwd_bwd_<dtype>`: `Simulator::loss_and_gradients` (loss = Σ image) with respect to every
//!   gradient parameter that applies to the scene, on S1, S3 and S4_512 (plus S2 and S4 with
//!   `NANOBRAGG_BENCH_FULL=1`).
#![allow(dead_code)]

use std::time::Duration;

use burn::tensor::backend::AutodiffBackend;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use nanobragg::gradients::Loss;
use nanobragg::kernel::{Engine, RenderBackend};
use nanobragg::RenderOptions;
use nanobragg_cli::speed_scenes::{live_params, simulator};

fn full() -> bool {
    std::env::var("NANOBRAGG_BENCH_FULL").is_ok_and(|v| v == "1")
}

fn configure(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
}

fn options(engine: Engine) -> RenderOptions {
    RenderOptions { engine, ..RenderOptions::default() }
}

/// Forward-render benches on backend `B` (group `render_<dtype>`).
pub fn render_benches<B: RenderBackend>(c: &mut Criterion, device: B::Device, backend: &str, dtype: &str) {
    let mut group = c.benchmark_group(format!("render_{dtype}"));
    configure(&mut group);
    let runs: Vec<(&str, Engine)> = ["S1", "S2", "S3", "S4_512", "S4", "S5"]
        .into_iter()
        .map(|s| (s, Engine::Auto))
        .chain(
            ["S1", "S3", "S4_512", "S5"]
                .into_iter()
                .filter(|s| full() || matches!(*s, "S1" | "S3"))
                .map(|s| (s, Engine::Tensor)),
        )
        .collect();
    for (scene, engine) in runs {
        let sim = simulator::<B>(scene, &device, options(engine)).expect("bench scene builds");
        let label = match engine {
            Engine::Auto => backend.to_string(),
            Engine::Tensor => format!("{backend}-tensor"),
            Engine::Kernel(k) => format!("{backend}-{}", k.name()),
        };
        group.throughput(Throughput::Elements(sim.plan.pixels.len() as u64));
        group.bench_with_input(BenchmarkId::new(label, scene), &sim, |b, sim| {
            b.iter(|| sim.render().expect("render succeeds"))
        });
    }
    group.finish();
}

/// Forward + backward benches on the autodiff backend `B` (group `fwd_bwd_<dtype>`).
pub fn grad_benches<B: AutodiffBackend + RenderBackend>(
    c: &mut Criterion,
    device: B::Device,
    backend: &str,
    dtype: &str,
) {
    let mut group = c.benchmark_group(format!("fwd_bwd_{dtype}"));
    configure(&mut group);
    let scenes: &[&str] = if full() { &["S1", "S2", "S3", "S4_512", "S4"] } else { &["S1", "S3", "S4_512"] };
    for &scene in scenes {
        let mut sim = simulator::<B>(scene, &device, RenderOptions::default()).expect("bench scene builds");
        let wrt = live_params(&sim);
        group.throughput(Throughput::Elements(sim.plan.pixels.len() as u64));
        group.bench_function(BenchmarkId::new(format!("{backend}-{}params", wrt.len()), scene), |b| {
            b.iter(|| sim.loss_and_gradients(&Loss::Sum, &wrt).expect("gradients"))
        });
    }
    group.finish();
}
