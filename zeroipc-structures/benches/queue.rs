//! In-process Queue throughput against crossbeam's `ArrayQueue`, measured in the same run.
//!
//! `cargo bench -p zeroipc-structures --bench queue`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_queue::ArrayQueue;
use zeroipc_format::Segment;
use zeroipc_structures::Queue;

const CAP: usize = 1024;
const ITEMS: u64 = 200_000;

/// Moves `ITEMS` items from `producers` threads to `consumers` threads; returns the time.
fn transfer<Q: Send + Sync + 'static>(
    q: Arc<Q>,
    producers: usize,
    consumers: usize,
    push: fn(&Q, u64) -> bool,
    pop: fn(&Q) -> Option<u64>,
) -> Duration {
    let per_p = ITEMS / producers as u64;
    let per_c = ITEMS / consumers as u64;
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..producers {
        let q = Arc::clone(&q);
        handles.push(std::thread::spawn(move || {
            for i in 0..per_p {
                while !push(&q, i) {
                    std::hint::spin_loop();
                }
            }
            0
        }));
    }
    for _ in 0..consumers {
        let q = Arc::clone(&q);
        handles.push(std::thread::spawn(move || {
            let mut sum = 0u64;
            for _ in 0..per_c {
                loop {
                    if let Some(v) = pop(&q) {
                        sum = sum.wrapping_add(v);
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            sum
        }));
    }
    for h in handles {
        black_box(h.join().expect("thread"));
    }
    start.elapsed()
}

struct Shm {
    q: Queue<u64>,
    _seg: Segment,
}

fn shm_queue() -> Arc<Shm> {
    let seg = Segment::anonymous(1 << 20, 64).expect("segment");
    let q = Queue::<u64>::create(&seg, "q", CAP).expect("queue");
    Arc::new(Shm { q, _seg: seg })
}

fn shm_push(s: &Shm, v: u64) -> bool {
    s.q.push(v).is_ok()
}
fn shm_pop(s: &Shm) -> Option<u64> {
    s.q.pop().ok().flatten()
}
fn cb_push(q: &ArrayQueue<u64>, v: u64) -> bool {
    q.push(v).is_ok()
}
fn cb_pop(q: &ArrayQueue<u64>) -> Option<u64> {
    q.pop()
}

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("queue_push_pop_pair");
    let shm = shm_queue();
    g.bench_function("zeroipc", |b| {
        b.iter(|| {
            shm.q.push(black_box(7)).ok();
            black_box(shm.q.pop().ok().flatten())
        })
    });
    let cb = ArrayQueue::<u64>::new(CAP);
    g.bench_function("crossbeam_baseline", |b| {
        b.iter(|| {
            cb.push(black_box(7)).ok();
            black_box(cb.pop())
        })
    });
    g.finish();
}

fn threads(c: &mut Criterion) {
    for (p, cn) in [(1, 1), (2, 2)] {
        let mut g = c.benchmark_group(format!("queue_{p}p{cn}c_threads"));
        g.throughput(Throughput::Elements(ITEMS));
        g.sample_size(20);
        g.bench_function("zeroipc", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| transfer(shm_queue(), p, cn, shm_push, shm_pop))
                    .sum()
            })
        });
        g.bench_function("crossbeam_baseline", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| transfer(Arc::new(ArrayQueue::new(CAP)), p, cn, cb_push, cb_pop))
                    .sum()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, single_thread, threads);
criterion_main!(benches);
