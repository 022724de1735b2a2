//! The waiting trade-off against polling peers, measured in one run.
//!
//! Upstream peers change a semaphore's count with a plain atomic store and never call
//! `FUTEX_WAKE`, so a sleeping waiter notices them only when its futex slice times out:
//! short slices mean quick reactions and many timed wake-ups, long ones the reverse. This
//! bench measures both sides for the default adaptive slices (1 ms growing to
//! [`futex::DEFAULT_MAX_SLICE`]) and for the strict 1 ms slices (`futex::set_max_slice(SLICE)`),
//! beside upstream's own sleep-backoff wait loop as the baseline:
//!
//! * idle cost: CPU time of a thread blocked 1 s in `acquire` (thread CPU clock);
//! * reaction: delay between a plain store of the count (no wake) made after the waiter has
//!   slept 30 ms or 300 ms, and `acquire` returning.
//!
//! `cargo bench -p zeroipc-sync --bench idle`

use std::time::{Duration, Instant};

use rustix::time::{ClockId, clock_gettime};
use zeroipc_format::Segment;
use zeroipc_format::atomic::Ordering;
use zeroipc_sync::{Semaphore, futex};

const SAMPLES: usize = 15;

fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Upstream's wait loop: try, then sleep with exponential backoff from 1 µs to 1 ms.
fn sleep_backoff_acquire(sem: &Semaphore, seg: &Segment) {
    let count = seg.region(sem.entry()).expect("region");
    let word = count.atomic_i32(0).expect("count");
    let mut pause = Duration::from_micros(1);
    loop {
        let c = word.load(Ordering::Acquire);
        if c > 0
            && word
                .compare_exchange(c, c - 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

#[derive(Clone, Copy)]
enum Waiter {
    Adaptive,
    Strict,
    SleepBackoff,
}

impl Waiter {
    fn label(self) -> &'static str {
        match self {
            Waiter::Adaptive => "futex, adaptive slices 1 → 10 ms (default)",
            Waiter::Strict => "futex, strict 1 ms slices (`set_max_slice(SLICE)`)",
            Waiter::SleepBackoff => "upstream sleep backoff 1 µs → 1 ms (baseline)",
        }
    }

    fn acquire(self, sem: &Semaphore, seg: &Segment) {
        match self {
            Waiter::Adaptive | Waiter::Strict => sem
                .acquire_timeout(Duration::from_secs(30))
                .expect("acquire"),
            Waiter::SleepBackoff => sleep_backoff_acquire(sem, seg),
        }
    }
}

/// `(thread CPU ns used while blocked ~1 s, wall ns)`.
fn idle_cost(w: Waiter, seg: &Segment, sem: &Semaphore) -> (u64, u64) {
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            let (cpu0, t0) = (thread_cpu_ns(), Instant::now());
            w.acquire(sem, seg);
            (thread_cpu_ns() - cpu0, t0.elapsed().as_nanos() as u64)
        });
        std::thread::sleep(Duration::from_secs(1));
        sem.release().expect("release");
        h.join().expect("waiter")
    })
}

/// Delay in ns between a plain store (no wake) after `asleep` and `acquire` returning.
fn reaction(w: Waiter, seg: &Segment, sem: &Semaphore, asleep: Duration) -> u64 {
    let count = seg.region(sem.entry()).expect("region");
    let word = count.atomic_i32(0).expect("count");
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            w.acquire(sem, seg);
            Instant::now()
        });
        std::thread::sleep(asleep);
        let stored = Instant::now();
        word.store(1, Ordering::Release);
        let done = h.join().expect("waiter");
        done.saturating_duration_since(stored).as_nanos() as u64
    })
}

fn pct(mut v: Vec<u64>, p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let seg = Segment::anonymous(1 << 16, 16).expect("segment");
    let sem = Semaphore::create(&seg, "sem", 0, 0).expect("semaphore");
    println!(
        "| waiter | idle CPU, 1 s blocked (median of 3) | reaction to a plain store after 30 ms asleep: p50 / max | after 300 ms asleep: p50 / max |"
    );
    println!("|---|---|---|---|");
    for w in [Waiter::SleepBackoff, Waiter::Adaptive, Waiter::Strict] {
        futex::set_max_slice(match w {
            Waiter::Strict => futex::SLICE,
            _ => futex::DEFAULT_MAX_SLICE,
        });
        let mut idle: Vec<f64> = (0..3)
            .map(|_| {
                let (cpu, wall) = idle_cost(w, &seg, &sem);
                cpu as f64 / wall as f64 * 100.0
            })
            .collect();
        idle.sort_by(f64::total_cmp);
        let r30: Vec<u64> = (0..SAMPLES)
            .map(|_| reaction(w, &seg, &sem, Duration::from_millis(30)))
            .collect();
        let r300: Vec<u64> = (0..SAMPLES / 3)
            .map(|_| reaction(w, &seg, &sem, Duration::from_millis(300)))
            .collect();
        println!(
            "| {} | {:.2}% | {:.2} / {:.2} ms | {:.2} / {:.2} ms |",
            w.label(),
            idle[1],
            pct(r30.clone(), 0.5) as f64 / 1e6,
            pct(r30, 1.0) as f64 / 1e6,
            pct(r300.clone(), 0.5) as f64 / 1e6,
            pct(r300, 1.0) as f64 / 1e6,
        );
    }
}
