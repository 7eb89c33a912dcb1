//! Golden-corpus parity on the burn-flex CPU backend (f32 only): every case of the C reference
//! corpus, the φ = 0 carry-over cases in c-parity mode included, must meet the f32 bar
//! (correlation ≥ 0.9999, |sum ratio − 1| ≤ 1e-3) — the same generic engine as on ndarray and
//! CUDA. See `docs/parity.md`; the suite is `tests/backends/mod.rs`.
//!
//! Run: `cargo test --release --test parity_flex_f32 -- --nocapture`.

mod backends;
mod golden;
mod gradient_scenes;

backends::backend_suite! {
    backend: burn_flex::Flex,
    device: burn_flex::FlexDevice,
    precision: F32,
}
