//! Forward-render throughput on burn-flex at f32 (pixels/s): `cargo bench --bench render_flex_f32`.
//! Its own binary: one backend and dtype per process. See `docs/benchmarks.md`.

mod common;

use burn_flex::{Flex, FlexDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_flex_f32(c: &mut Criterion) {
    common::render_benches::<Flex>(c, FlexDevice, "flex", "f32");
}

criterion_group!(benches, render_flex_f32);
criterion_main!(benches);
