//! Forward-render throughput on `NdArray<f32>` (pixels/s): `cargo bench --bench render_f32`.
//! Set `NANOBRAGG_BENCH_FULL=1` to add S4 at 1024² (slow). See `docs/benchmarks.md`.

mod common;

use burn_ndarray::{NdArray, NdArrayDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_f32(c: &mut Criterion) {
    common::render_benches::<NdArray<f32>>(c, NdArrayDevice::Cpu, "ndarray", "f32");
}

criterion_group!(benches, render_f32);
criterion_main!(benches);
