//! Forward and forward+backward throughput on `Cuda<f32>` (needs the `cuda` feature and an
//! NVIDIA driver): `cargo bench --features cuda --bench render_cuda_f32`. See
//! `benches/common/mod.rs` and `docs/benchmarks.md`.

mod common;

use burn_autodiff::Autodiff;
use burn_cuda::{Cuda, CudaDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_cuda_f32(c: &mut Criterion) {
    common::render_benches::<Cuda<f32>>(c, CudaDevice::default(), "cuda", "f32");
    common::grad_benches::<Autodiff<Cuda<f32>>>(c, CudaDevice::default(), "cuda", "f32");
}

criterion_group!(benches, render_cuda_f32);
criterion_main!(benches);
