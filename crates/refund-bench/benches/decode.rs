//! Decoding benchmark (issue 10, part 1): for every fixture answer of the contract (§1.7, §2.7,
//! §3.7) and PayNext's full example document, our typed decode + mapping (the code the client
//! runs on an answer: status check, serde into the wire types, mapping to core types) against an
//! untyped `serde_json::Value` parse of the same bytes, in the same run.
//!
//! Each case is a criterion group `<vendor>-<case>` with two functions, `typed` and `value`;
//! `cargo xtask bench` reads their estimates and prints the ratio.

#![allow(
    clippy::expect_used,
    reason = "a benchmark with broken fixtures should stop at once"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn decode(c: &mut Criterion) {
    let cases = refund_bench::fixtures::cases().expect("the fixture requests are valid");
    for case in &cases {
        let response = case.response();
        // The case must decode to its outcome, or the benchmark would time an error path.
        case.decode(&response).expect("every fixture decodes");
        let body = case.body.as_bytes();
        let mut group = c.benchmark_group(case.name.replace('/', "-"));
        group.throughput(Throughput::Bytes(u64::try_from(body.len()).unwrap_or(0)));
        group.bench_function("typed", |b| {
            b.iter(|| black_box(case.decode(black_box(&response))))
        });
        group.bench_function("value", |b| {
            b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(black_box(body))))
        });
        group.finish();
    }
}

fn config() -> Criterion {
    // Short runs: 15 cases × 2 functions must fit the few minutes of `cargo xtask bench` on a
    // 2-core machine. The estimates are still tight for sub-microsecond work (see BENCHMARKS.md).
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode
}
criterion_main!(benches);
