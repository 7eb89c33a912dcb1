//! A simulated serial experiment for the ensemble tests: a known set of structure factors,
//! stills of one crystal form in random orientations (a small spread of wavelengths each),
//! Poisson noise, shoebox pixels only; the start F set is the truth perturbed.

#![allow(dead_code)]

use std::path::Path;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use nanobragg::gradients::ParamName::{MissetX, MissetY, MissetZ};
use nanobragg::{RenderOptions, Setup, Simulator};
use nanobragg_refine::{LossKind, Objective, Observation, ParamSpec, SharedVariables, ShotFit, Variable};

pub type B = Autodiff<NdArray<f64>>;

/// The shared scene: a 48×48 detector seeing to about 9 Å, 3 wavelengths 1 % apart.
pub const BASE: &str = "-cell 30 34 38 90 90 90 -N 4 -lambda 1 -dispersion 1 -dispsteps 3 -distance 60 -pixel 0.2 -detpixels 48 -oversample 1 -fluence 1e30";
/// Miller index ranges of the F grid (everything the detector can see).
pub const H: i32 = 3;
pub const K: i32 = 3;
pub const L: i32 = 4;

/// splitmix64: deterministic numbers without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Every (h, k, l) of the grid, h-major (the grid's order).
pub fn indices() -> Vec<[i32; 3]> {
    (-H..=H).flat_map(|h| (-K..=K).flat_map(move |k| (-L..=L).map(move |l| [h, k, l]))).collect()
}

/// The true F (20 to 200) and the start (the truth times 1 ± 25 %).
pub fn truth_and_start() -> (Vec<f64>, Vec<f64>) {
    let mut rng = Rng(7);
    let truth: Vec<f64> = indices().iter().map(|_| 20.0 + 180.0 * rng.next()).collect();
    let start = truth.iter().map(|f| f * (0.75 + 0.5 * rng.next())).collect();
    (truth, start)
}

/// Write an HKL file `h k l F` over the grid.
pub fn write_hkl(path: &Path, f: &[f64]) {
    let text: String = indices().iter().zip(f).map(|([h, k, l], v)| format!("{h} {k} {l} {v:.17e}\n")).collect();
    std::fs::write(path, text).expect("write the HKL file");
}

#[path = "../support/scratch.rs"]
mod scratch_dir;

/// A fresh folder under the system's temporary one, removed when the test passes.
pub fn scratch(name: &str) -> scratch_dir::Scratch {
    scratch_dir::scratch_in_temp("nanobragg", name)
}

/// Shot `i`'s misset (deg) and wavelength (Å).
pub fn shot_geometry(i: usize) -> ([f64; 3], f64) {
    let mut rng = Rng(1000 + i as u64);
    let m = [0, 1, 2].map(|_| 360.0 * rng.next() - 180.0);
    (m, 1.0 + 0.02 * (rng.next() - 0.5))
}

pub fn simulator(hkl: &Path, misset: [f64; 3], lambda: f64) -> Simulator<B> {
    let args = format!("{BASE} -hkl {} -misset {} {} {} -lambda {lambda}", hkl.display(), misset[0], misset[1], misset[2]);
    let scene = nanobragg_cli::parse_args(args.split_whitespace()).expect("the flags").scene;
    let setup = Setup::from_scene(&scene, Path::new(".")).expect("setup");
    Simulator::new(setup, &NdArrayDevice::Cpu, RenderOptions::default()).expect("simulator")
}

/// The pixels within 2 of a pixel above 5 % of the shot's brightest (the predicted spots).
pub fn shoeboxes(truth: &[f32], n: i64) -> Vec<bool> {
    let mut mask = vec![false; truth.len()];
    let max = truth.iter().cloned().fold(0.0, f32::max);
    for (i, _) in truth.iter().enumerate().filter(|(_, &v)| v > 0.05 * max) {
        let (f, s) = (i as i64 % n, i as i64 / n);
        for ds in -2..=2 {
            for df in -2..=2 {
                if (0..n).contains(&(f + df)) && (0..n).contains(&(s + ds)) {
                    mask[((s + ds) * n + f + df) as usize] = true;
                }
            }
        }
    }
    mask
}

/// The shared variables: every F of the grid, kept positive, starting at `start`.
pub fn shared(start: &[f64]) -> SharedVariables {
    let specs = indices().iter().map(|&i| ParamSpec::new(Variable::StructureFactor(i)).bounds(0.0, f64::INFINITY)).collect();
    SharedVariables { specs, start: start.to_vec() }
}

/// Shot `i`: its noisy image from the truth, its objective from the start F set with its
/// misset `misset_error` (deg) off, refining its misset (own) and every F (shared).
pub fn shot(i: usize, truth_hkl: &Path, start_hkl: &Path, shared: &SharedVariables, misset_error: f64) -> ShotFit<B> {
    let (misset, lambda) = shot_geometry(i);
    let image = simulator(truth_hkl, misset, lambda).render().expect("the truth");
    let mask = shoeboxes(&image.data, 48);
    let observed = Observation::simulated(&image, 500 + i as i32).expect("noise").with_mask(mask);
    let start = [0, 1, 2].map(|a| misset[a] + misset_error * [1.0, -0.7, 0.4][a]);
    let specs: Vec<ParamSpec> = [MissetX, MissetY, MissetZ].iter().map(|&p| ParamSpec::new(p)).chain(shared.specs.iter().copied()).collect();
    let objective = Objective::new(simulator(start_hkl, start, lambda), specs, observed, LossKind::Poisson).expect("objective");
    ShotFit::new(i, &format!("shot{i}"), objective, 3, shared).expect("shot")
}
