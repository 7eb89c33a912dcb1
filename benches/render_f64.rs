//! Forward and forward+backward throughput on `NdArray<f64>`: `cargo bench --bench render_f64`.
//! See `benches/common/mod.rs` and `docs/benchmarks.md`.

mod common;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_f64(c: &mut Criterion) {
    common::render_benches::<NdArray<f64>>(c, NdArrayDevice::Cpu, "ndarray", "f64");
    common::grad_benches::<Autodiff<NdArray<f64>>>(c, NdArrayDevice::Cpu, "ndarray", "f64");
}

criterion_group!(benches, render_f64);
criterion_main!(benches);
