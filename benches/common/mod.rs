//! Shared scenes and bench body of the `render_f32` / `render_f64` bench binaries.
//!
//! Each dtype lives in its own binary because Burn fixes a device's float dtype with the first
//! tensor created in a process: mixing `NdArray<f32>` and `NdArray<f64>` in one process would
//! measure (or break on) the wrong dtype.
//!
//! The scenes are the S1, S3 and S4, given as nanoBragg command lines and parsed with
//! the CLI's own parser so they match the whole-process timings in `docs/benchmarks.md`.
//! `S4` at 1024² takes over a minute per render on 2 cores, so it only runs when
//! `NANOBRAGG_BENCH_FULL=1` is set; the default set finishes in a few minutes.

use std::path::Path;
use std::time::Duration;

use burn::tensor::backend::Backend;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use nanobragg::{RenderOptions, Setup, Simulator};

/// A bench scene: short name and nanoBragg command line.
pub struct BenchScene {
    pub name: &'static str,
    pub args: &'static str,
    /// Only run with `NANOBRAGG_BENCH_FULL=1`.
    pub full_only: bool,
}

pub const S1_1024: &str =
    "-cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -default_F 100 -distance 100 -detpixels 1024 -pixel 0.1";
pub const S3_512: &str =
    "-cell 70 80 90 85 95 105 -lambda 1.5 -N 8 -misset 10 5 3 -default_F 100 -detpixels 512 -distance 100";
pub const S4_512: &str = "-cell 100 100 100 90 90 90 -lambda 1 -N 10 -default_F 100 -detpixels 512 \
     -distance 100 -mosaic 0.5 -mosaic_dom 10 -phi 0.5 -osc 1 -phisteps 5 -oversample 2";
pub const S4_1024: &str = "-cell 100 100 100 90 90 90 -lambda 1 -N 10 -default_F 100 -detpixels 1024 \
     -distance 100 -mosaic 0.5 -mosaic_dom 10 -phi 0.5 -osc 1 -phisteps 5 -oversample 2";

pub const SCENES: &[BenchScene] = &[
    BenchScene { name: "S1_1024", args: S1_1024, full_only: false },
    BenchScene { name: "S3_512", args: S3_512, full_only: false },
    BenchScene { name: "S4_512", args: S4_512, full_only: false },
    BenchScene { name: "S4_1024", args: S4_1024, full_only: true },
];

/// Parse a command line and resolve its setup (relative paths against the working directory).
pub fn setup_of(args: &str) -> Setup {
    let cl = nanobragg_cli::parse_args(args.split_whitespace().map(String::from))
        .expect("bench command line parses");
    Setup::from_scene(&cl.scene, Path::new(".")).expect("bench scene resolves")
}

/// Forward-render benches of every scene on backend `B` (group `render_<dtype>`).
pub fn render_benches<B: Backend>(c: &mut Criterion, device: B::Device, backend: &str, dtype: &str) {
    let full = std::env::var("NANOBRAGG_BENCH_FULL").is_ok_and(|v| v == "1");
    let mut group = c.benchmark_group(format!("render_{dtype}"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    for scene in SCENES.iter().filter(|s| full || !s.full_only) {
        let setup = setup_of(scene.args);
        let sim = Simulator::<B>::new(setup, &device, RenderOptions::default())
            .expect("simulator builds");
        let pixels = sim.plan.pixels.len() as u64;
        group.throughput(Throughput::Elements(pixels));
        group.bench_with_input(BenchmarkId::new(backend, scene.name), &sim, |b, sim| {
            b.iter(|| sim.render().expect("render succeeds"))
        });
    }
    group.finish();
}
