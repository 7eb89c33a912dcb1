//! Golden-corpus parity at f64: every case of the C reference corpus is rendered on
//! `NdArray<f64>` with its `args.txt` and compared with its `float.bin`. Every case not in
//! `tests/deferred_cases.tsv` must meet the f64 bar: max |Δ| ≤ 1e-5 × max(C image) and
//! correlation ≥ 0.99999. See `docs/parity.md`; the suite is `tests/backends/mod.rs`.
//!
//! Run: `cargo test --release --test parity_f64 -- --nocapture`.
//!
//! This binary must only ever create f64 tensors (the first tensor of the process fixes the
//! device's default float dtype), so the f32 suite lives in its own file.

mod backends;
mod golden;
mod gradient_scenes;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};

backends::backend_suite! {
    backend: NdArray<f64>,
    device: NdArrayDevice::Cpu,
    precision: F64,
}

/// The φ = 0 carry-over cases in *spec* mode: how far the spec's fresh rotation is from the C
/// program on them (printed), and proof that the c-parity mode is what makes them exact — spec
/// mode must miss the f64 bar by far on every one of them.
#[test]
fn phi_carryover_cases_in_spec_mode_are_far_from_c() {
    use nanobragg::{RenderOptions, Setup, Simulator};
    let device = NdArrayDevice::Cpu;
    let cases: Vec<_> = golden::load_cases()
        .into_iter()
        .filter(|c| c.name.starts_with("phi0_carryover") && c.name.ends_with("_1t"))
        .collect();
    assert_eq!(cases.len(), 3, "expected the three single-thread carry-over cases");
    for case in &cases {
        let cl = nanobragg_cli::parse_args(case.args.clone()).unwrap();
        assert_eq!(cl.phi_carryover_mode, nanobragg_cli::PhiCarryoverMode::Spec);
        let setup = Setup::from_scene(&cl.scene, &case.dir).unwrap();
        let sim = Simulator::<NdArray<f64>>::new(setup, &device, RenderOptions::default()).unwrap();
        assert_eq!(sim.params.pixel.dtype(), DType::F64);
        let image = sim.render().unwrap();
        let m = golden::compare(&case.reference(), &image.data).unwrap();
        println!(
            "spec mode  {:<32} corr={:.6} max_rel={:.3e} sum_ratio={:.6}",
            case.name, m.corr, m.max_rel, m.sum_ratio
        );
        assert!(
            m.max_rel > 1e-3,
            "{}: spec mode unexpectedly matches C (max_rel {:.2e})",
            case.name,
            m.max_rel
        );
    }
}
