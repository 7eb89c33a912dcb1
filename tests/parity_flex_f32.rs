//! Golden-corpus parity on the burn-flex CPU backend (f32 only): every case of the C reference
//! corpus, the φ = 0 carry-over cases in c-parity mode included, must meet the f32 bar
//! (correlation ≥ 0.9999, |sum ratio − 1| ≤ 1e-3) — the same generic engine as on ndarray and
//! CUDA. See `docs/parity.md`.
//!
//! Run: `cargo test --release --test parity_flex_f32 -- --nocapture`.

mod golden;

use burn::tensor::DType;
use burn_flex::{Flex, FlexDevice};

type B = Flex;

#[test]
fn golden_corpus_parity_flex_f32() {
    let device = FlexDevice;
    nanobragg_parity::assert_default_dtype::<B>(&device);
    golden::run_parity_suite::<B>("parity_flex_f32", golden::Bar::F32, DType::F32, &device);
}
