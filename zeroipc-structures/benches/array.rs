//! Summing an `Array<f64>` of 1M elements through the handle against summing a plain slice,
//! measured in the same run.
//!
//! `cargo bench -p zeroipc-structures --bench array`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use zeroipc_format::SegmentOptions;
use zeroipc_structures::Array;

const N: usize = 1 << 20;

fn sum(c: &mut Criterion) {
    let name = format!("zb_array_{}", std::process::id());
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .populate(true)
        .create(
            &name,
            Array::<f64>::memory_size(N).expect("size") + 4096,
            64,
        )
        .expect("create bench segment");
    let array = Array::<f64>::create(&seg, "samples", N).expect("create array");
    let plain: Vec<f64> = (0..N).map(|i| i as f64 * 0.5).collect();
    array.write(0, &plain).expect("fill array");

    let mut group = c.benchmark_group("array_sum_1M_f64");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("baseline_slice", |b| {
        b.iter(|| black_box(black_box(plain.as_slice()).iter().sum::<f64>()))
    });
    group.bench_function("array_iter", |b| {
        b.iter(|| black_box(black_box(&array).iter().sum::<f64>()))
    });
    group.bench_function("array_get_loop", |b| {
        b.iter(|| {
            let a = black_box(&array);
            let mut s = 0.0;
            for i in 0..a.len() {
                s += a.get(i).unwrap_or(0.0);
            }
            black_box(s)
        })
    });
    group.finish();
}

criterion_group!(benches, sum);
criterion_main!(benches);
