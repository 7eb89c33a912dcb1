//! Pixels per second of the speed issue's scenes S1–S5 on one backend and dtype, so anyone can
//! reproduce the figures of `docs/benchmarks.md`:
//!
//! ```sh
//! cargo run --release --example bench_scenes -- --backend flex --dtype f32
//! cargo run --release --example bench_scenes -- --backend ndarray --dtype f64 --scenes S1,S3
//! cargo run --release --features cuda --example bench_scenes -- --backend cuda --dtype f32 --scenes S1,S2,S2_4096,S4
//! ```
//!
//! Each scene is rendered once to warm up (JIT and autotune on CUDA), then `--repeat` times
//! (default 3); the best render time is reported (process start and file output excluded).
//! S5 writes its HKL file (h, k, l in −20…20, F = 100·(1 + 0.5·sin(h + 2k + 3l))) to the
//! system temp folder first.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::Backend;
use nanobragg::{RenderOptions, Setup, Simulator};

const S1: &str = "-cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -default_F 100 -distance 100 -detpixels 1024 -pixel 0.1";
const S3: &str = "-cell 70 80 90 85 95 105 -lambda 1.5 -N 8 -misset 10 5 3 -default_F 100 -detpixels 512 -distance 100";
const S4: &str = "-cell 100 100 100 90 90 90 -lambda 1 -N 10 -default_F 100 -detpixels 1024 -distance 100 \
    -mosaic 0.5 -mosaic_dom 10 -phi 0.5 -osc 1 -phisteps 5 -oversample 2";

fn scene_args(name: &str, hkl: &Path) -> Option<String> {
    let with = |base: &str, extra: &str| format!("{base} {extra}");
    Some(match name {
        "S1" => S1.to_string(),
        "S2" => with(S1, "-detpixels 2048"),
        "S2_4096" => with(S1, "-detpixels 4096"),
        "S3" => S3.to_string(),
        "S4" => S4.to_string(),
        "S4_512" => with(S4, "-detpixels 512"),
        "S5" => with(S3, &format!("-interpolate -hkl {}", hkl.display())),
        _ => return None,
    })
}

/// The S5 structure factors: every h, k, l in −20…20, F = 100·(1 + 0.5·sin(h + 2k + 3l)).
fn write_s5_hkl(path: &Path) -> std::io::Result<()> {
    let mut text = String::new();
    for h in -20i32..=20 {
        for k in -20i32..=20 {
            for l in -20i32..=20 {
                let f = 100.0 * (1.0 + 0.5 * f64::from(h + 2 * k + 3 * l).sin());
                text.push_str(&format!("{h} {k} {l} {f:.6}\n"));
            }
        }
    }
    std::fs::write(path, text)
}

fn bench<B: Backend>(device: B::Device, scenes: &[String], repeat: usize, hkl: &Path) -> Result<(), Box<dyn Error>> {
    for name in scenes {
        let args = scene_args(name, hkl).ok_or_else(|| format!("unknown scene {name} (S1 S2 S2_4096 S3 S4 S4_512 S5)"))?;
        let cl = nanobragg_cli::parse_args(args.split_whitespace().map(String::from))?;
        let setup = Setup::from_scene(&cl.scene, Path::new("."))?;
        let sim = Simulator::<B>::new(setup, &device, RenderOptions::default())?;
        let pixels = sim.plan.pixels.len() as f64;
        sim.render()?; // warm-up
        let mut best = f64::INFINITY;
        for _ in 0..repeat {
            let t = Instant::now();
            sim.render()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{name:<8} {:>9} pixels  best {best:>8.3} s  {:>12.0} pixels/s",
            pixels as u64,
            pixels / best
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut backend = "ndarray".to_string();
    let mut dtype = "f32".to_string();
    let mut scenes = "S1,S3,S4_512,S5".to_string();
    let mut repeat = 3;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--backend" => backend = value()?,
            "--dtype" => dtype = value()?,
            "--scenes" => scenes = value()?,
            "--repeat" => repeat = value()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let scenes: Vec<String> = scenes.split(',').map(String::from).collect();
    let hkl = std::env::temp_dir().join("nanobragg_bench_s5.hkl");
    if scenes.iter().any(|s| s == "S5") {
        write_s5_hkl(&hkl)?;
    }
    println!("backend {backend}, dtype {dtype}, best of {repeat} after a warm-up");
    match (backend.as_str(), dtype.as_str()) {
        ("ndarray", "f32") => bench::<burn_ndarray::NdArray<f32>>(Default::default(), &scenes, repeat, &hkl),
        ("ndarray", "f64") => bench::<burn_ndarray::NdArray<f64>>(Default::default(), &scenes, repeat, &hkl),
        ("flex", "f32") => bench::<burn_flex::Flex>(burn_flex::FlexDevice, &scenes, repeat, &hkl),
        #[cfg(feature = "cuda")]
        ("cuda", "f32") => bench::<burn_cuda::Cuda<f32>>(Default::default(), &scenes, repeat, &hkl),
        #[cfg(feature = "cuda")]
        ("cuda", "f64") => bench::<burn_cuda::Cuda<f64>>(Default::default(), &scenes, repeat, &hkl),
        (b, d) => Err(format!("backend {b} at {d} is not available in this build").into()),
    }
}
