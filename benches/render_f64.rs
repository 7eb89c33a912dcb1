//! Forward-render throughput on `NdArray<f64>` (pixels/s): `cargo bench --bench render_f64`.
//! Set `NANOBRAGG_BENCH_FULL=1` to add S4 at 1024² (slow). See `docs/benchmarks.md`.

mod common;

use burn_ndarray::{NdArray, NdArrayDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_f64(c: &mut Criterion) {
    common::render_benches::<NdArray<f64>>(c, NdArrayDevice::Cpu, "ndarray", "f64");
}

criterion_group!(benches, render_f64);
criterion_main!(benches);
