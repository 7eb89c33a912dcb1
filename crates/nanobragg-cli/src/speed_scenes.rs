//! The speed scenes S1–S5 of `docs/benchmarks.md` as nanoBragg command lines, shared by the
//! criterion benches (`benches/`) and `examples/bench_scenes.rs`.

use std::path::Path;

use nanobragg::gradients::ParamName;
use nanobragg::kernel::RenderBackend;
use nanobragg::linalg::scalar;
use nanobragg::{RenderOptions, Setup, Simulator};

/// S1: cubic cell, 1024² detector, λ = 6.2 Å (auto oversample 1).
pub const S1: &str = "-cell 100 100 100 90 90 90 -lambda 6.2 -N 5 -default_F 100 -distance 100 -detpixels 1024 -pixel 0.1";
/// S3: triclinic cell with misset, 512² (auto oversample 2).
pub const S3: &str = "-cell 70 80 90 85 95 105 -lambda 1.5 -N 8 -misset 10 5 3 -default_F 100 -detpixels 512 -distance 100";
/// S4: mosaic (10 domains) × 5 φ steps × oversample 2 on 1024².
pub const S4: &str = "-cell 100 100 100 90 90 90 -lambda 1 -N 10 -default_F 100 -detpixels 1024 -distance 100 \
    -mosaic 0.5 -mosaic_dom 10 -phi 0.5 -osc 1 -phisteps 5 -oversample 2";

/// Names [`scene_args`] knows.
pub const NAMES: [&str; 7] = ["S1", "S2", "S2_4096", "S3", "S4", "S4_512", "S5"];

/// The command line of scene `name`; S5 reads the HKL file `hkl` (see [`write_s5_hkl`]).
pub fn scene_args(name: &str, hkl: &Path) -> Option<String> {
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
pub fn write_s5_hkl(path: &Path) -> std::io::Result<()> {
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

/// The default location of the S5 HKL file (system temp folder), written if missing.
pub fn s5_hkl() -> std::io::Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join("nanobragg_bench_s5.hkl");
    if !path.exists() {
        write_s5_hkl(&path)?;
    }
    Ok(path)
}

/// A simulator of scene `name` on `device`.
pub fn simulator<B: RenderBackend>(
    name: &str,
    device: &B::Device,
    options: RenderOptions,
) -> Result<Simulator<B>, Box<dyn std::error::Error>> {
    let hkl = if name == "S5" { s5_hkl()? } else { std::path::PathBuf::new() };
    let args = scene_args(name, &hkl).ok_or_else(|| format!("unknown scene {name} ({})", NAMES.join(" ")))?;
    let cl = crate::parse_args(args.split_whitespace().map(String::from))?;
    let setup = Setup::from_scene(&cl.scene, Path::new("."))?;
    Ok(Simulator::new(setup, device, options)?)
}

/// Every gradient parameter that applies to the simulator's scene (those a scene cannot
/// differentiate — a beam centre it does not set, absorption it does not have — are left out).
pub fn live_params<B: RenderBackend>(sim: &Simulator<B>) -> Vec<ParamName> {
    let device = sim.params.pixel.device();
    ParamName::all()
        .filter(|&name| sim.params_with(name, scalar::<B>(1.0, &device)).is_ok())
        .collect()
}
