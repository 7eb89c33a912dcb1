//! Golden-corpus parity at f64: every case of the C reference corpus is rendered on
//! `NdArray<f64>` with its `args.txt` and compared with its `float.bin`. Every case not in
//! `tests/deferred_cases.tsv` must meet the f64 bar: max |Δ| ≤ 1e-5 × max(C image) and
//! correlation ≥ 0.99999. See `docs/parity.md`.
//!
//! Run: `cargo test --release --test parity_f64 -- --nocapture`.
//!
//! This binary must only ever create f64 tensors (the first tensor of the process fixes the
//! device's default float dtype), so the f32 suite lives in its own file.

mod golden;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};

type B = NdArray<f64>;

#[test]
fn golden_corpus_parity_f64() {
    let device = NdArrayDevice::Cpu;
    // Fails loudly if anything made this device default to another dtype first.
    nanobragg_parity::assert_default_dtype::<B>(&device);
    golden::run_parity_suite::<B>("parity_f64", golden::Bar::F64, DType::F64, &device);
}
