//! Uncontended lock + unlock of a `Mutex` (with owner tracking), an upstream-layout mutex
//! without owner entry, and a semaphore `try_acquire` + `release`, against `std::sync::Mutex`
//! measured in the same run.
//!
//! `cargo bench -p zeroipc-sync --bench mutex`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use zeroipc_format::Segment;
use zeroipc_sync::{Mutex, Semaphore};

fn uncontended(c: &mut Criterion) {
    let seg = Segment::anonymous(1 << 16, 64).expect("segment");
    let tracked = Mutex::create(&seg, "m").expect("mutex");
    // 26-byte name: no room for `_owner`, so no owner record (like an upstream mutex).
    let untracked = Mutex::create(&seg, "untracked_mutex_0123456789").expect("mutex");
    assert!(!untracked.tracks_owner());
    let sem = Semaphore::create(&seg, "s", 1, 1).expect("semaphore");
    let std_mutex = std::sync::Mutex::new(0u64);

    let mut g = c.benchmark_group("uncontended_lock_unlock");
    g.bench_function("baseline_std_mutex", |b| {
        b.iter(|| drop(black_box(&std_mutex).lock()))
    });
    g.bench_function("mutex_with_owner", |b| {
        b.iter(|| drop(black_box(&tracked).lock()))
    });
    g.bench_function("mutex_without_owner", |b| {
        b.iter(|| drop(black_box(&untracked).lock()))
    });
    g.bench_function("semaphore_try_acquire_release", |b| {
        b.iter(|| {
            let s = black_box(&sem);
            let _ = s.try_acquire();
            let _ = s.release();
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = uncontended
}
criterion_main!(benches);
