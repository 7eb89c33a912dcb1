//! Forward-only renders on an `Autodiff` backend keep no memory once their images are dropped:
//! burn-autodiff 0.21 records every operation in a process-wide graph registry, untracked ones
//! included, and the objective releases those records after each forward render (a Jacobian
//! is hundreds of them, per shot of an ensemble). Its own binary: the resident set it
//! measures is the process's, which other tests running beside it would disturb.

use std::path::Path;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName::{CellA, MissetX};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_refine::{LossKind, Objective, Observation, ParamSpec};

type B = Autodiff<NdArray<f64>>;

#[path = "support/memory.rs"]
mod memory;
use memory::resident_bytes;

#[test]
fn forward_renders_without_a_gradient_hold_no_memory() {
    let args = "-cell 48 52 56 88 91 93 -misset 12 -25 31 -N 4 -default_F 100 -lambda 1 \
        -distance 60 -pixel 0.2 -detpixels 32 -oversample 1 -fluence 2e30";
    let scene = nanobragg_cli::parse_args(args.split_whitespace().map(String::from)).unwrap().scene;
    let setup = Setup::from_scene(&scene, Path::new(".")).unwrap();
    let sim = Simulator::<B>::new(setup, &NdArrayDevice::Cpu, RenderOptions::default()).unwrap();
    let specs = vec![ParamSpec::new(CellA), ParamSpec::new(MissetX)];
    let mut objective = Objective::new(sim, specs, Observation::new(vec![1.0; 32 * 32]), LossKind::Poisson).unwrap();
    let x = objective.start().to_vec();
    let mut render = |n: usize| {
        for k in 0..n {
            let mut xk = x.clone();
            xk[0] += 1e-3 * k as f64;
            let model = objective.model(&xk).unwrap();
            assert!(model.mu.iter().all(|m| m.is_finite()));
        }
    };
    render(50);
    let before = resident_bytes();
    render(1000);
    let grown = resident_bytes().saturating_sub(before) as f64 / 1e6;
    // Kept records were about 0.5 kB per tensor operation, ~150 operations a render: ~75 MB
    // over these 1000 renders.
    assert!(grown < 10.0, "1000 forward renders left {grown:.1} MB resident");
}
