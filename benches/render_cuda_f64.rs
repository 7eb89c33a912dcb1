//! Forward and forward+backward throughput on `Cuda<f64>` (needs the `cuda` feature and an
//! NVIDIA driver): `cargo bench --features cuda --bench render_cuda_f64`. See
//! `benches/common/mod.rs` and `docs/benchmarks.md`.

mod common;

use burn_autodiff::Autodiff;
use burn_cuda::{Cuda, CudaDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_cuda_f64(c: &mut Criterion) {
    common::render_benches::<Cuda<f64>>(c, CudaDevice::default(), "cuda", "f64");
    common::grad_benches::<Autodiff<Cuda<f64>>>(c, CudaDevice::default(), "cuda", "f64");
}

criterion_group!(benches, render_cuda_f64);
criterion_main!(benches);
