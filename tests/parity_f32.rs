//! Golden-corpus parity at f32: every case of the C reference corpus is rendered on
//! `NdArray<f32>` with its `args.txt` and compared with its `float.bin`. Every case not in
//! `tests/deferred_cases.tsv` must meet the f32 bar: correlation ≥ 0.9999 and
//! |sum ratio − 1| ≤ 1e-3. See `docs/parity.md`.
//!
//! Run: `cargo test --release --test parity_f32 -- --nocapture`.
//!
//! Kept apart from the f64 suite: the first tensor of a process fixes the device's default
//! float dtype.

mod golden;

use burn::tensor::DType;
use burn_ndarray::{NdArray, NdArrayDevice};

type B = NdArray<f32>;

#[test]
fn golden_corpus_parity_f32() {
    let device = NdArrayDevice::Cpu;
    nanobragg_parity::assert_default_dtype::<B>(&device);
    golden::run_parity_suite::<B>("parity_f32", golden::Bar::F32, DType::F32, &device);
}
