//! Polling peers (upstream never calls FUTEX_WAKE) and the idle cost of a blocked waiter.

use std::time::Duration;

use rustix::time::{ClockId, clock_gettime};
use zeroipc_format::atomic::Ordering;
use zeroipc_sync::Semaphore;
use zeroipc_testkit::role;

use crate::multiprocess::{child_open, data, segment, spawn_peer};

fn now_ns(clock: ClockId) -> u64 {
    let t = clock_gettime(clock);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

#[test]
fn plain_store_without_futex_wake_releases_a_blocked_acquire() {
    if role().is_some() {
        // An upstream-like peer: plain atomic store of the count, never FUTEX_WAKE.
        let (seg, sem) = child_open(Semaphore::open, "sem");
        let stamp = data(&seg, "stamp", 8);
        while sem.waiting().unwrap() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(30)); // the waiter is asleep in the kernel
        let region = seg.region(sem.entry()).unwrap();
        stamp
            .atomic_u64(0)
            .unwrap()
            .store(now_ns(ClockId::Monotonic), Ordering::Relaxed);
        region.atomic_i32(0).unwrap().store(1, Ordering::Release);
        return;
    }
    let (seg, _g, name) = segment("poll");
    let sem = Semaphore::create(&seg, "sem", 0, 0).unwrap();
    let stamp = data(&seg, "stamp", 8);
    let kid = spawn_peer(
        "interop::plain_store_without_futex_wake_releases_a_blocked_acquire",
        "peer",
        &name,
    );
    sem.acquire_timeout(Duration::from_secs(10)).unwrap();
    let latency_ns =
        now_ns(ClockId::Monotonic) - stamp.atomic_u64(0).unwrap().load(Ordering::Relaxed);
    kid.wait_success(Duration::from_secs(30));
    println!(
        "acquire noticed a plain store without FUTEX_WAKE after {:.3} ms",
        latency_ns as f64 / 1e6
    );
    assert!(latency_ns < 500_000_000, "{latency_ns} ns");
    assert_eq!(sem.count().unwrap(), 0);
}

#[test]
fn a_blocked_acquire_costs_under_1_percent_cpu() {
    if role().is_some() {
        let (_seg, sem) = child_open(Semaphore::open, "sem");
        let cpu0 = now_ns(ClockId::ProcessCPUTime);
        let wall0 = now_ns(ClockId::Monotonic);
        sem.acquire_timeout(Duration::from_secs(30)).unwrap();
        let cpu = now_ns(ClockId::ProcessCPUTime) - cpu0;
        let wall = now_ns(ClockId::Monotonic) - wall0;
        let share = cpu as f64 / wall as f64;
        eprintln!(
            "blocked {:.0} ms in acquire using {:.2} ms of CPU ({:.3}%)",
            wall as f64 / 1e6,
            cpu as f64 / 1e6,
            share * 100.0
        );
        assert!(wall >= 900_000_000, "blocked only {wall} ns");
        assert!(
            share < 0.01,
            "idle waiter used {:.3}% of a CPU",
            share * 100.0
        );
        return;
    }
    let (seg, _g, name) = segment("idle");
    let sem = Semaphore::create(&seg, "sem", 0, 0).unwrap();
    let kid = spawn_peer(
        "interop::a_blocked_acquire_costs_under_1_percent_cpu",
        "waiter",
        &name,
    );
    while sem.waiting().unwrap() == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_secs(1));
    sem.release().unwrap();
    kid.wait_success(Duration::from_secs(30));
}
