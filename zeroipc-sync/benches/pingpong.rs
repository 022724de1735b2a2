//! Cross-process ping-pong round trip: `Semaphore` release/acquire against two raw futex
//! ping-pongs (spin 200 PAUSEs, then `FUTEX_WAIT`), one waking unconditionally, one waking
//! only when the waiter flagged itself as sleeping, all measured in the same run. The bench
//! re-executes itself as the peer process.
//!
//! `cargo bench -p zeroipc-sync --bench pingpong`

use std::process::Command;
use std::time::{Duration, Instant};

use zeroipc_format::atomic::{Ordering, fence};
use zeroipc_format::{Region, Segment, SegmentOptions};
use zeroipc_sync::{Semaphore, futex};

const PIN: &str = "ZEROIPC_PINGPONG_PIN";
const PEER: &str = "ZEROIPC_PINGPONG_PEER";
const ROUNDS: u32 = 20_000;
const WARMUP: u32 = 2_000;
const BATCHES: u32 = 3;

fn words(seg: &Segment) -> Region {
    let e = seg.find("raw").expect("raw words");
    seg.region(&e).expect("region")
}

/// Raw futex wait until the word at `off` equals `want`: 200 spins, then sleeping (with the
/// sleeping flag at `off + 8` raised while asleep).
fn raw_wait(r: &Region, off: usize, want: u32) {
    let w = r.atomic_u32(off).expect("word");
    let flag = r.atomic_u32(off + 8).expect("flag");
    loop {
        for _ in 0..200 {
            let v = w.load(Ordering::Acquire);
            if v == want {
                return;
            }
            std::hint::spin_loop();
        }
        flag.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let v = w.load(Ordering::Acquire);
        if v != want {
            let _ = futex::wait(w, v, Some(Duration::from_millis(100)));
        }
        flag.store(0, Ordering::Relaxed);
        if w.load(Ordering::Acquire) == want {
            return;
        }
    }
}

fn raw_set(r: &Region, off: usize, v: u32, always_wake: bool) {
    let w = r.atomic_u32(off).expect("word");
    // Release: pairs with the Acquire loads in `raw_wait`.
    w.store(v, Ordering::Release);
    fence(Ordering::SeqCst);
    if always_wake || r.atomic_u32(off + 8).expect("flag").load(Ordering::SeqCst) != 0 {
        futex::wake_one(w);
    }
}

/// Pins the calling thread to `cpu` (or lets it run anywhere for `None`).
fn pin(cpu: Option<usize>) {
    let mut set = rustix::thread::CpuSet::new();
    match cpu {
        Some(c) => set.set(c),
        None => (0..available()).for_each(|c| set.set(c)),
    }
    rustix::thread::sched_setaffinity(None, &set).expect("sched_setaffinity");
}

fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn peer(name: &str) {
    if std::env::var_os(PIN).is_some() {
        pin(Some(1));
    }
    let seg = Segment::open(name).expect("open");
    let ping = Semaphore::open(&seg, "ping").expect("ping");
    let pong = Semaphore::open(&seg, "pong").expect("pong");
    let raw = words(&seg);
    for _ in 0..BATCHES {
        for _ in 0..ROUNDS + WARMUP {
            ping.acquire().expect("acquire");
            pong.release().expect("release");
        }
        for always in [true, false] {
            for i in 1..=ROUNDS + WARMUP {
                raw_wait(&raw, 0, i);
                raw_set(&raw, 4, i, always);
            }
            // Reset handshake for the next run.
            raw_wait(&raw, 0, 0);
            raw_set(&raw, 4, 0, true);
        }
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    if let Ok(name) = std::env::var(PEER) {
        peer(&name);
        return;
    }
    measure(false);
    if available() >= 2 {
        measure(true);
    } else {
        println!("one CPU only: no pinned run");
    }
}

/// One full run with a fresh peer; `pinned`: this process on CPU 0, the peer on CPU 1.
fn measure(pinned: bool) {
    if pinned {
        pin(Some(0));
    }
    let name = format!("zb_pingpong_{}_{}", std::process::id(), u8::from(pinned));
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .create(&name, 1 << 16, 64)
        .expect("segment");
    let ping = Semaphore::create(&seg, "ping", 0, 0).expect("ping");
    let pong = Semaphore::create(&seg, "pong", 0, 0).expect("pong");
    let raw = seg
        .add("raw", 16, |_| Ok::<_, zeroipc_format::Error>(()))
        .expect("raw")
        .1;
    let mut cmd = Command::new(std::env::current_exe().expect("exe"));
    cmd.env(PEER, &name);
    if pinned {
        cmd.env(PIN, "1");
    }
    let mut child = cmd.spawn().expect("spawn peer");

    let (mut sem, mut fx, mut fx_flag) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..BATCHES {
        for i in 0..ROUNDS + WARMUP {
            let t = Instant::now();
            ping.release().expect("release");
            pong.acquire().expect("acquire");
            if i >= WARMUP {
                sem.push(t.elapsed().as_nanos() as u64);
            }
        }
        for always in [true, false] {
            let out = if always { &mut fx } else { &mut fx_flag };
            for i in 1..=ROUNDS + WARMUP {
                let t = Instant::now();
                raw_set(&raw, 0, i, always);
                raw_wait(&raw, 4, i);
                if i > WARMUP {
                    out.push(t.elapsed().as_nanos() as u64);
                }
            }
            raw_set(&raw, 0, 0, true);
            raw_wait(&raw, 4, 0);
        }
    }
    let status = child.wait().expect("peer");
    assert!(status.success());
    sem.sort_unstable();
    fx.sort_unstable();
    fx_flag.sort_unstable();
    if pinned {
        pin(None);
    }
    println!(
        "\ncross-process ping-pong round trip, {} rounds x {BATCHES} batches (us), {}",
        ROUNDS,
        if pinned {
            "pinned: this process on CPU 0, the peer on CPU 1"
        } else {
            "unpinned"
        }
    );
    println!("| variant | p50 | p99 | p99.9 |");
    println!("|---|---|---|---|");
    for (label, v) in [
        ("raw futex, wake always (baseline)", &fx),
        ("raw futex, wake if flagged (baseline)", &fx_flag),
        ("zeroipc-sync Semaphore", &sem),
    ] {
        println!(
            "| {label} | {:.2} | {:.2} | {:.2} |",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 0.999)
        );
    }
    println!(
        "ratio p50 semaphore / raw futex wake-if-flagged: {:.2}",
        pct(&sem, 0.5) / pct(&fx_flag, 0.5)
    );
}
