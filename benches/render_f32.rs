//! Forward and forward+backward throughput on `NdArray<f32>`: `cargo bench --bench render_f32`.
//! See `benches/common/mod.rs` and `docs/benchmarks.md`.

mod common;

use burn_autodiff::Autodiff;
use burn_ndarray::{NdArray, NdArrayDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_f32(c: &mut Criterion) {
    common::render_benches::<NdArray<f32>>(c, NdArrayDevice::Cpu, "ndarray", "f32");
    common::grad_benches::<Autodiff<NdArray<f32>>>(c, NdArrayDevice::Cpu, "ndarray", "f32");
}

criterion_group!(benches, render_f32);
criterion_main!(benches);
