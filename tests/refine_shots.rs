//! Per-shot refinement (serial crystallography): six stills of one crystal form, each in its
//! own orientation, Poisson noise, only shoebox pixels around the spots used. A [`Joint`] of
//! one [`Objective`] per shot refines the unit cell shared by all shots and every shot's own
//! misset ([`Sharing::PerPart`]) and the scale from a perturbed start. With σ from the joint
//! Fisher information and `z = (refined − truth)/σ` over the 21 refined values: every |z| ≤ 4
//! and the root mean square of z ≤ 1.5 (1 when σ is right; a σ off by 2× fails).

use std::ops::ControlFlow;
use std::path::Path;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName::{self, *};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_refine::Sharing::PerPart;
use nanobragg_refine::{Joint, LossKind, Objective, Observation, ParamSpec, RefineOptions, Scope, Variable};

type B = Autodiff<NdArray<f64>>;

const BASE: &str = "-N 4 -default_F 100 -lambda 1 -distance 60 -pixel 0.2 -detpixels 48 -oversample 1 -fluence 2e30";
const TRUE_CELL: [f64; 3] = [48.0, 52.0, 56.0];
const START_CELL: [f64; 3] = [48.15, 51.9, 56.1];
const MISSETS: [[f64; 3]; 6] = [[12.0, -25.0, 31.0], [40.0, 10.0, -5.0], [-70.0, 33.0, 12.0], [5.0, 60.0, 80.0], [100.0, -15.0, 45.0], [-30.0, -45.0, 150.0]];
/// A shoebox: pixels within this many of a spot pixel, one above [`SPOT`] of the maximum.
const HALF_BOX: i64 = 2;
const SPOT: f32 = 0.3;

fn simulator(cell: [f64; 3], misset: [f64; 3]) -> Simulator<B> {
    let args = format!(
        "{BASE} -cell {} {} {} 88 91 93 -misset {} {} {}",
        cell[0], cell[1], cell[2], misset[0], misset[1], misset[2]
    );
    let scene = nanobragg_cli::parse_args(args.split_whitespace()).expect("the flags").scene;
    let setup = Setup::from_scene(&scene, Path::new(".")).expect("setup");
    Simulator::new(setup, &NdArrayDevice::Cpu, RenderOptions::default()).expect("simulator")
}

/// The pixels within [`HALF_BOX`] of a spot of the noise-free truth (the predicted spots).
fn shoeboxes(truth: &[f32], n: i64) -> Vec<bool> {
    let mut mask = vec![false; truth.len()];
    let max = truth.iter().cloned().fold(0.0, f32::max);
    for (i, _) in truth.iter().enumerate().filter(|(_, &v)| v > SPOT * max) {
        let (f, s) = (i as i64 % n, i as i64 / n);
        for ds in -HALF_BOX..=HALF_BOX {
            for df in -HALF_BOX..=HALF_BOX {
                let (ff, ss) = (f + df, s + ds);
                if (0..n).contains(&ff) && (0..n).contains(&ss) {
                    mask[(ss * n + ff) as usize] = true;
                }
            }
        }
    }
    mask
}

#[test]
fn each_shots_orientation_and_the_shared_cell_are_recovered_as_their_sigma_says() {
    let specs: Vec<ParamSpec> = [CellA, CellB, CellC, MissetX, MissetY, MissetZ]
        .iter()
        .map(|&p| ParamSpec::new(p))
        .chain([ParamSpec::scale()])
        .collect();
    let mut parts = Vec::new();
    for (k, misset) in MISSETS.iter().enumerate() {
        let image = simulator(TRUE_CELL, *misset).render().expect("the truth");
        let mask = shoeboxes(&image.data, 48);
        let used = mask.iter().filter(|&&m| m).count();
        assert!(used > 50 && used < 48 * 48 / 2, "shot {k}: {used} shoebox pixels");
        let observed = Observation::simulated(&image, 100 + k as i32).expect("noise").with_mask(mask);
        let start = [0, 1, 2].map(|i| misset[i] + [0.3, -0.25, 0.2][i]);
        parts.push(Objective::new(simulator(START_CELL, start), specs.clone(), observed, LossKind::Poisson).expect("objective"));
    }
    let per_shot: Vec<(ParamName, _)> = [MissetX, MissetY, MissetZ].iter().map(|&p| (p, PerPart)).collect();
    let mut joint = Joint::with_layout(parts, &per_shot).expect("joint");
    let r = joint.refine(&RefineOptions { progress: Some(false), ..Default::default() }, |_| ControlFlow::Continue(())).expect("refine");
    println!(
        "{} shots refined in {:.2} s ({:.2} shots/s): {} iterations, {}, loss {} -> {}",
        MISSETS.len(),
        r.elapsed_s,
        MISSETS.len() as f64 / r.elapsed_s,
        r.iterations,
        r.stop.describe(),
        r.start_loss,
        r.loss
    );
    let sigma = joint.uncertainties(&r.values).expect("uncertainties").std_errors;
    let variables = nanobragg_refine::Problem::variables(&joint);
    let at = |v: Variable| variables.iter().position(|&w| w == v).unwrap_or_else(|| panic!("{v} is not refined"));
    let mut z = Vec::new();
    let mut record = |v: Variable, truth: f64| {
        let k = at(v);
        println!("{:>14} truth {truth:+9.4} refined {:+9.4} σ {:.5}", v.name(), r.values[k], sigma[k]);
        z.push((v, (r.values[k] - truth) / sigma[k]));
    };
    for (i, p) in [CellA, CellB, CellC].into_iter().enumerate() {
        record(Variable::Param(p), TRUE_CELL[i]);
    }
    for (k, misset) in MISSETS.iter().enumerate() {
        for (i, p) in [MissetX, MissetY, MissetZ].into_iter().enumerate() {
            record(Variable::Scoped(Scope::Part(k as u32), p), misset[i]);
        }
    }
    let rms = (z.iter().map(|(_, z)| z * z).sum::<f64>() / z.len() as f64).sqrt();
    println!("rms z = {rms:.3} over {} values", z.len());
    let off: Vec<String> = z.iter().filter(|(_, z)| !(z.abs() <= 4.0)).map(|(v, z)| format!("{v}: z = {z:.2}")).collect();
    assert!(rms <= 1.5, "the errors are {rms:.2} σ on average: the σ's do not describe them");
    assert!(off.is_empty(), "beyond 4 σ of the truth: {off:?}");
}
