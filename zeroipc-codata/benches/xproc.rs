//! Cross-process figures for codata, each beside a baseline measured in the same run. The
//! bench re-executes itself as the peer process.
//!
//! `cargo bench -p zeroipc-codata --bench xproc`
//!
//! * buffered `Channel<u64>` throughput between two processes (blocking `send`/`recv`) vs
//!   the bare `Queue<u64>` it is built on, spinning on full/empty;
//! * `Future` set → get wake-up latency (the getter sleeps in the futex; latency = the
//!   getter's CLOCK_MONOTONIC after waking − the future's `completion_time`) vs a raw shared
//!   futex wake of a sleeping process measured the same way, with the waiter sleeping in
//!   1 ms slices (the D5 policy the Future uses while a wait is young) and in 100 ms slices.

use std::process::Command;
use std::time::{Duration, Instant};

use zeroipc_codata::{Channel, Future};
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment, SegmentOptions};
use zeroipc_structures::{PushError, Queue};
use zeroipc_sync::futex;

const ROLE: &str = "CODATA_XPROC_ROLE";
const ITEMS: u64 = 5_000_000;
const WAKES: usize = 1_000;
const ROUNDS: usize = 3;

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let seg =
            Segment::open(&std::env::var("CODATA_XPROC_SEG").expect("segment name")).expect("open");
        child(&role, &seg);
        return;
    }
    let name = format!("zb_codata_xproc_{}", std::process::id());
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .populate(true)
        .create(&name, 16 << 20, 64 + (ROUNDS * WAKES) as u32)
        .expect("segment");
    Channel::<u64>::create(&seg, "chan", 1024).expect("channel");
    Channel::<u64>::create(&seg, "chanb", 1024).expect("channel");
    Queue::<u64>::create(&seg, "queue", 1024).expect("queue");
    for r in 0..ROUNDS {
        for i in 0..WAKES {
            Future::<u64>::create(&seg, &format!("r{r}f{i}")).expect("future");
        }
    }
    let raw = seg
        .add("raw", 64 + 16 * WAKES as u64, |_| {
            Ok::<_, zeroipc_format::Error>(())
        })
        .expect("raw")
        .1;
    let lat = seg
        .add("lat", 8 * WAKES as u64, |_| {
            Ok::<_, zeroipc_format::Error>(())
        })
        .expect("lat")
        .1;

    println!("| measurement | result | baseline (same run) | ratio |");
    println!("|---|---|---|---|");

    let q = run_with_peer(&name, "queue_producer", || queue_consume(&seg));
    let c = run_with_peer(&name, "chan_producer", || chan_consume(&seg));
    let b = run_with_peer(&name, "chan_bulk_producer", || chan_bulk_consume(&seg));
    println!(
        "| buffered Channel<u64> (capacity 1024), blocking send/recv, 2 processes | {:.1} M msgs/s | bare Queue<u64> (1024), spinning push/pop: {:.1} M msgs/s | {:.2}× |",
        c / 1e6,
        q / 1e6,
        c / q
    );
    println!(
        "| buffered Channel<u64> (capacity 1024), blocking send_slice/recv_into in runs of up to {BULK}, 2 processes | {:.1} M msgs/s | same | {:.2}× |",
        b / 1e6,
        b / q
    );

    // Interleaved rounds so that both see the same machine load.
    let (mut fut_all, mut base_all, mut long_all) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..ROUNDS {
        reset(&raw);
        run_with_peer(&name, &format!("future_waiter{r}"), || future_set(&seg, r));
        fut_all.extend(read_lat(&lat));
        reset(&raw);
        run_with_peer(&name, "raw_waiter1", || raw_wake(&raw));
        base_all.extend(read_lat(&lat));
        reset(&raw);
        run_with_peer(&name, "raw_waiter100", || raw_wake(&raw));
        long_all.extend(read_lat(&lat));
    }
    let fut = percentiles(fut_all);
    let base = percentiles(base_all);
    let long = percentiles(long_all);
    println!(
        "| Future set → get wake-up, getter asleep in the futex, 2 processes | p50 {} µs, p99 {} µs | raw shared futex wake, waiter in 1 ms slices (the D5 policy): p50 {} µs, p99 {} µs | p50 {:.2}× |",
        fut.0 / 1000,
        fut.1 / 1000,
        base.0 / 1000,
        base.1 / 1000,
        fut.0 as f64 / base.0 as f64
    );
    println!(
        "| (same) | | raw shared futex wake, waiter in 100 ms slices: p50 {} µs, p99 {} µs | p50 {:.2}× |",
        long.0 / 1000,
        long.1 / 1000,
        fut.0 as f64 / long.0 as f64
    );
}

fn run_with_peer<R>(seg: &str, role: &str, f: impl FnOnce() -> R) -> R {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env(ROLE, role)
        .env("CODATA_XPROC_SEG", seg)
        .spawn()
        .expect("spawn peer");
    let r = f();
    let status = child.wait().expect("wait peer");
    assert!(status.success(), "peer {role} failed");
    r
}

fn child(role: &str, seg: &Segment) {
    match role {
        "queue_producer" => queue_produce(seg),
        "chan_producer" => chan_produce(seg),
        "chan_bulk_producer" => chan_bulk_produce(seg),
        "raw_waiter1" => raw_wait(seg, 1),
        "raw_waiter100" => raw_wait(seg, 100),
        other => match other.strip_prefix("future_waiter") {
            Some(r) => future_wait(seg, r.parse().expect("round")),
            None => panic!("unknown role {other}"),
        },
    }
}

fn percentiles(mut v: Vec<u64>) -> (u64, u64) {
    v.sort_unstable();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

fn now_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn region(seg: &Segment, name: &str) -> Region {
    seg.region(&seg.find(name).expect("entry")).expect("region")
}

fn read_lat(lat: &Region) -> Vec<u64> {
    (0..WAKES)
        .map(|i| lat.read::<u64>(8 * i).expect("lat"))
        .collect()
}

// --- throughput ---------------------------------------------------------------------------

fn queue_produce(seg: &Segment) {
    let q = Queue::<u64>::open(seg, "queue").expect("queue");
    for i in 0..ITEMS {
        let mut v = i;
        loop {
            match q.push(v) {
                Ok(()) => break,
                Err(PushError::Full(back)) => {
                    v = back;
                    std::hint::spin_loop();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

fn queue_consume(seg: &Segment) -> f64 {
    let q = Queue::<u64>::open(seg, "queue").expect("queue");
    let mut start = None;
    let mut sum = 0u64;
    let mut n = 0;
    while n < ITEMS {
        if let Some(v) = q.pop().expect("pop") {
            start.get_or_insert_with(Instant::now);
            sum = sum.wrapping_add(v);
            n += 1;
        } else {
            std::hint::spin_loop();
        }
    }
    assert_eq!(sum, ITEMS * (ITEMS - 1) / 2);
    ITEMS as f64 / start.expect("started").elapsed().as_secs_f64()
}

fn chan_produce(seg: &Segment) {
    let c = Channel::<u64>::open(seg, "chan").expect("channel");
    for i in 0..ITEMS {
        c.send(i).expect("send");
    }
    c.close().expect("close");
}

fn chan_consume(seg: &Segment) -> f64 {
    let c = Channel::<u64>::open(seg, "chan").expect("channel");
    let first = c.recv().expect("recv").expect("value");
    let start = Instant::now();
    let mut sum = first;
    let mut n = 1;
    while let Some(v) = c.recv().expect("recv") {
        sum = sum.wrapping_add(v);
        n += 1;
    }
    assert_eq!((n, sum), (ITEMS, ITEMS * (ITEMS - 1) / 2));
    (ITEMS - 1) as f64 / start.elapsed().as_secs_f64()
}

/// Run length of the bulk channel figure.
const BULK: usize = 256;

fn chan_bulk_produce(seg: &Segment) {
    let c = Channel::<u64>::open(seg, "chanb").expect("channel");
    let mut buf = [0u64; BULK];
    let mut next = 0;
    while next < ITEMS {
        let n = (ITEMS - next).min(BULK as u64) as usize;
        for (k, slot) in buf[..n].iter_mut().enumerate() {
            *slot = next + k as u64;
        }
        let mut off = 0;
        while off < n {
            off += c.send_slice(&buf[off..n]).expect("send_slice");
        }
        next += n as u64;
    }
    c.close().expect("close");
}

fn chan_bulk_consume(seg: &Segment) -> f64 {
    let c = Channel::<u64>::open(seg, "chanb").expect("channel");
    let mut buf = [0u64; BULK];
    let first = c.recv_into(&mut buf).expect("recv_into");
    let start = Instant::now();
    let mut sum = buf[..first].iter().fold(0u64, |a, v| a.wrapping_add(*v));
    let mut n = first as u64;
    let mut timed = 0u64;
    loop {
        let k = c.recv_into(&mut buf).expect("recv_into");
        if k == 0 {
            break;
        }
        sum = buf[..k].iter().fold(sum, |a, v| a.wrapping_add(*v));
        n += k as u64;
        timed += k as u64;
    }
    assert_eq!((n, sum), (ITEMS, ITEMS * (ITEMS - 1) / 2));
    timed as f64 / start.elapsed().as_secs_f64()
}

// --- wake-up latency ----------------------------------------------------------------------

/// Waits until the peer has announced it is about to sleep on round `i` (word 0 = i + 1),
/// then gives it time to get past any spinning into the futex.
fn await_sleeper(raw: &Region, i: usize) {
    let ready = raw.atomic_u64(0).expect("ready");
    while ready.load(Ordering::Acquire) != i as u64 + 1 {
        std::hint::spin_loop();
    }
    std::thread::sleep(Duration::from_micros(300));
}

fn raw_wake(raw: &Region) {
    for i in 0..WAKES {
        await_sleeper(raw, i);
        let word = raw.atomic_u32(64 + 16 * i).expect("word");
        raw.atomic_u64(64 + 16 * i + 8)
            .expect("stamp")
            .store(now_ns(), Ordering::Relaxed);
        word.store(1, Ordering::SeqCst);
        futex::wake_all(word);
    }
}

fn raw_wait(seg: &Segment, slice_ms: u64) {
    let raw = region(seg, "raw");
    let lat = region(seg, "lat");
    let ready = raw.atomic_u64(0).expect("ready");
    for i in 0..WAKES {
        let word = raw.atomic_u32(64 + 16 * i).expect("word");
        ready.store(i as u64 + 1, Ordering::Release);
        while word.load(Ordering::SeqCst) == 0 {
            let _ = futex::wait(word, 0, Some(Duration::from_millis(slice_ms)));
        }
        let t = now_ns();
        let stamp = raw
            .atomic_u64(64 + 16 * i + 8)
            .expect("stamp")
            .load(Ordering::Relaxed);
        lat.write::<u64>(8 * i, t - stamp).expect("lat");
    }
}

/// Clears the round counter and the raw futex words before a round.
fn reset(raw: &Region) {
    raw.fill(0, raw.len(), 0).expect("reset");
}

fn future_set(seg: &Segment, round: usize) {
    let raw = region(seg, "raw");
    for i in 0..WAKES {
        let f = Future::<u64>::open(seg, &format!("r{round}f{i}")).expect("future");
        await_sleeper(&raw, i);
        f.set_value(i as u64).expect("set");
    }
}

fn future_wait(seg: &Segment, round: usize) {
    let raw = region(seg, "raw");
    let lat = region(seg, "lat");
    let ready = raw.atomic_u64(0).expect("ready");
    for i in 0..WAKES {
        let f = Future::<u64>::open(seg, &format!("r{round}f{i}")).expect("future");
        ready.store(i as u64 + 1, Ordering::Release);
        assert_eq!(f.get().expect("get"), i as u64);
        let t = now_ns();
        lat.write::<u64>(8 * i, t - f.completion_time().expect("time"))
            .expect("lat");
    }
}
