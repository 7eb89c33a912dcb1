//! Forward and forward+backward throughput on burn-flex at f32:
//! `cargo bench --bench render_flex_f32`. See `benches/common/mod.rs` and `docs/benchmarks.md`.

mod common;

use burn_autodiff::Autodiff;
use burn_flex::{Flex, FlexDevice};
use criterion::{criterion_group, criterion_main, Criterion};

fn render_flex_f32(c: &mut Criterion) {
    common::render_benches::<Flex>(c, FlexDevice, "flex", "f32");
    common::grad_benches::<Autodiff<Flex>>(c, FlexDevice, "flex", "f32");
}

criterion_group!(benches, render_flex_f32);
criterion_main!(benches);
