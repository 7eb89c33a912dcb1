//! A downstream suite that must reproduce the C program *exactly*, φ = 0 carry-over included,
//! plugs `nanobragg-parity`'s [`PhiCarryover`] policy into the core's φ-rotation extension point;
//! everything else (backend, dtype, tiling, gradients) is unchanged.
//!
//! ```sh
//! cargo run --release --example phi_cache_downstream                 # built-in carry-over scene
//! cargo run --release --example phi_cache_downstream -- float.bin    # also compare with a C image
//! ```
//!
//! The C image must come from the single-threaded C program run with the same flags (see
//! `SCENE` below; OpenMP builds give each thread its own carry-over start — docs/parity.md).

use std::error::Error;

use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName;
use nanobragg::phi::{FreshPhiRotation, PhiRotation};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_parity::phi_cache::PhiCarryover;
use nanobragg_parity::{evaluate, GradcheckConfig, ParamSet, AD};

/// A φ sweep starting at exactly 0 (the only case where the carry-over matters).
const SCENE: &str = "-cell 100 100 100 90 90 90 -misset 10 20 30 -N 8 -default_F 100 -lambda 1 \
    -distance 100 -pixel 0.1 -detpixels 32 -phi 0 -osc 4 -phisteps 4 -oversample 1";

/// Build a simulator on any backend with the chosen φ policy.
fn simulator<B: nanobragg::kernel::RenderBackend>(
    device: &B::Device,
    policy: Box<dyn PhiRotation<B>>,
) -> Result<Simulator<B>, Box<dyn Error>> {
    let cl = nanobragg_cli::parse_args(SCENE.split_whitespace().map(String::from))?;
    let setup = Setup::from_scene(&cl.scene, std::path::Path::new("."))?;
    Ok(Simulator::with_phi_rotation(setup, device, RenderOptions::default(), policy)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    // One dtype per process (a device's default dtype is fixed by its first tensor): f64 here.
    type B = NdArray<f64>;
    let device = NdArrayDevice::Cpu;

    // 1. Render in c-parity mode and in spec mode.
    let c_like = simulator::<B>(&device, Box::new(PhiCarryover))?.render()?;
    let spec = simulator::<B>(&device, Box::new(FreshPhiRotation))?.render()?;
    let (sum_c, sum_s): (f64, f64) = (
        c_like.data.iter().map(|&x| x as f64).sum(),
        spec.data.iter().map(|&x| x as f64).sum(),
    );
    println!("sum c-parity {sum_c:.6e}  spec {sum_s:.6e}  ratio {:.4}", sum_s / sum_c);

    // 2. Optionally compare with the C program's float image of the same scene.
    if let Some(path) = std::env::args().nth(1) {
        let bytes = std::fs::read(&path)?;
        let c: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if c.len() != c_like.data.len() {
            return Err(format!("{path}: {} pixels, expected {}", c.len(), c_like.data.len()).into());
        }
        let max_c = c.iter().fold(0f32, |m, &x| m.max(x.abs())) as f64;
        let dev = |img: &[f32]| {
            img.iter().zip(&c).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max) / max_c
        };
        println!("max |Δ|/max vs C: c-parity {:.2e}  spec {:.2e}", dev(&c_like.data), dev(&spec.data));
    }

    // 3. Gradients flow through the cached rotations: gradcheck cell_a in c-parity mode.
    let mut sim = simulator::<AD<B>>(&device, Box::new(PhiCarryover))?;
    let name = ParamName::CellA;
    let params = ParamSet::new().scalar(name.name(), sim.param_value(name)?);
    let config = GradcheckConfig::new().rel_step(1e-4).rtol(1e-6);
    let report = evaluate::<B, 1, _>(&device, &params, &config, |p| {
        let with = sim.params_with(name, p[name.name()].clone()).expect("cell_a is a parameter");
        sim.image_tensor_with(&with).expect("render")
    })?;
    println!("{report}");
    Ok(())
}
