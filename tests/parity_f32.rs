//! Golden-corpus parity at f32: every case of the C reference corpus is rendered on
//! `NdArray<f32>` with its `args.txt` and compared with its `float.bin`. Every case not in
//! `tests/deferred_cases.tsv` must meet the f32 bar: correlation ≥ 0.9999 and
//! |sum ratio − 1| ≤ 1e-3. See `docs/parity.md`; the suite is `tests/backends/mod.rs`.
//!
//! Run: `cargo test --release --test parity_f32 -- --nocapture`.
//!
//! Kept apart from the f64 suite: the first tensor of a process fixes the device's default
//! float dtype.

mod backends;
mod golden;
mod gradient_scenes;

backends::backend_suite! {
    backend: burn_ndarray::NdArray<f32>,
    device: burn_ndarray::NdArrayDevice::Cpu,
    precision: F32,
}
