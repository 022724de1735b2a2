//! Cross-process figures for the structures, each beside its baseline measured in the same
//! run. The bench re-executes itself as the peer process.
//!
//! `cargo bench -p zeroipc-structures --bench xproc`
//!
//! * round trip of one item through two Queues (spinning) vs a raw cache-line ping-pong;
//! * SPSC throughput of 8-byte items between two processes (Queue, Ring, a raw SPSC ring
//!   with cached indices as the ceiling) vs crossbeam `ArrayQueue` 1P/1C in one process;
//! * Ring: 1 MiB bulk writes and zero-copy reads (the reader sums every word) vs
//!   single-thread `memcpy` bandwidth.

use std::hint::black_box;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment, SegmentOptions};
use zeroipc_structures::{PushError, Queue, Ring};

const ROLE: &str = "XPROC_ROLE";
const PINGS: usize = 200_000;
const ITEMS: u64 = 20_000_000;
const CHUNK: usize = 1 << 20;
const RING_BYTES: usize = 8 << 20;
const STREAM_BYTES: u64 = 2 << 30;

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let seg = Segment::open(&std::env::var("XPROC_SEG").expect("segment name")).expect("open");
        child(&role, &seg);
        return;
    }
    let name = format!("zb_xproc_{}", std::process::id());
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .populate(true)
        .create(&name, 64 << 20, 64)
        .expect("segment");
    let raw = seg
        .add("raw", 4096 + 8 * (1 << 16), |_| {
            Ok::<_, zeroipc_format::Error>(())
        })
        .expect("raw")
        .1;
    Queue::<u64>::create(&seg, "ping", 2).expect("queue");
    Queue::<u64>::create(&seg, "pong", 2).expect("queue");
    Queue::<u64>::create(&seg, "spsc", 1024).expect("queue");
    Ring::<u64>::create(&seg, "ring64", 1024).expect("ring");
    Ring::<u8>::create(&seg, "bulk", RING_BYTES).expect("ring");

    println!("| measurement | result | baseline (same run) | ratio |");
    println!("|---|---|---|---|");

    // Round trips.
    let raw_rt = run_with_peer(&name, "raw_pong", || raw_ping(&raw));
    let q_rt = run_with_peer(&name, "queue_pong", || queue_ping(&seg));
    println!(
        "| Queue round trip, 2 processes, spinning | p50 {} ns, p99 {} ns | raw cache-line ping-pong: p50 {} ns, p99 {} ns | p50 {:.2}× |",
        q_rt.0,
        q_rt.1,
        raw_rt.0,
        raw_rt.1,
        q_rt.0 as f64 / raw_rt.0 as f64
    );

    // SPSC throughput.
    let cb = crossbeam_1p1c();
    let raw_spsc = run_with_peer(&name, "raw_spsc_producer", || raw_spsc_consume(&raw));
    let q_spsc = run_with_peer(&name, "queue_producer", || queue_consume(&seg));
    let r_spsc = run_with_peer(&name, "ring_producer", || ring_consume(&seg));
    for (what, rate) in [
        ("Queue (MPMC algorithm), 8-byte items", q_spsc),
        ("Ring, 8-byte items, one at a time", r_spsc.0),
        ("Ring, 8-byte items, batches of up to 256", r_spsc.1),
        ("raw SPSC ring, cached indices (ceiling)", raw_spsc),
    ] {
        println!(
            "| SPSC throughput, 2 processes: {what} | {:.1} M items/s | crossbeam ArrayQueue 1P/1C in-process: {:.1} M items/s | {:.2}× |",
            rate / 1e6,
            cb / 1e6,
            rate / cb
        );
    }

    // Bulk bandwidth.
    let memcpy = memcpy_bandwidth();
    let ring_bw = run_with_peer(&name, "bulk_producer", || bulk_consume(&seg));
    println!(
        "| Ring 1 MiB writes + zero-copy reads (reader sums every word), 2 processes | {:.2} GB/s | single-thread memcpy, 1 MiB blocks into an 8 MiB buffer: {:.2} GB/s | {:.2}× |",
        ring_bw / 1e9,
        memcpy / 1e9,
        ring_bw / memcpy
    );
}

fn run_with_peer<R>(seg: &str, role: &str, f: impl FnOnce() -> R) -> R {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env(ROLE, role)
        .env("XPROC_SEG", seg)
        .spawn()
        .expect("spawn peer");
    let r = f();
    let status = child.wait().expect("wait peer");
    assert!(status.success(), "peer {role} failed");
    r
}

fn child(role: &str, seg: &Segment) {
    let raw = seg.region(&seg.find("raw").expect("raw")).expect("region");
    match role {
        "raw_pong" => raw_pong(&raw),
        "queue_pong" => queue_pong(seg),
        "raw_spsc_producer" => raw_spsc_produce(&raw),
        "queue_producer" => queue_produce(seg),
        "ring_producer" => ring_produce(seg),
        "bulk_producer" => bulk_produce(seg),
        other => panic!("unknown role {other}"),
    }
}

fn percentiles(mut v: Vec<u64>) -> (u64, u64) {
    v.sort_unstable();
    (v[v.len() / 2], v[v.len() * 99 / 100])
}

// --- raw cache-line ping-pong: one u64 word each way, on separate cache lines ------------

fn raw_ping(raw: &Region) -> (u64, u64) {
    let (ping, pong) = (
        raw.atomic_u64(0).expect("w"),
        raw.atomic_u64(64).expect("w"),
    );
    let mut times = Vec::with_capacity(PINGS);
    for i in 1..=PINGS as u64 + 1000 {
        let t = Instant::now();
        ping.store(i, Ordering::Release);
        while pong.load(Ordering::Acquire) != i {
            std::hint::spin_loop();
        }
        if i > 1000 {
            times.push(t.elapsed().as_nanos() as u64);
        }
    }
    ping.store(u64::MAX, Ordering::Release);
    percentiles(times)
}

fn raw_pong(raw: &Region) {
    let (ping, pong) = (
        raw.atomic_u64(0).expect("w"),
        raw.atomic_u64(64).expect("w"),
    );
    let mut last = 0;
    loop {
        let v = ping.load(Ordering::Acquire);
        if v == u64::MAX {
            break;
        }
        if v != last {
            pong.store(v, Ordering::Release);
            last = v;
        }
        std::hint::spin_loop();
    }
}

// --- Queue ping-pong ----------------------------------------------------------------------

fn queue_ping(seg: &Segment) -> (u64, u64) {
    let (ping, pong) = (
        Queue::<u64>::open(seg, "ping").expect("q"),
        Queue::<u64>::open(seg, "pong").expect("q"),
    );
    let mut times = Vec::with_capacity(PINGS);
    for i in 1..=PINGS as u64 + 1000 {
        let t = Instant::now();
        ping.push(i).expect("push");
        let got = loop {
            if let Some(v) = pong.pop().expect("pop") {
                break v;
            }
            std::hint::spin_loop();
        };
        assert_eq!(got, i);
        if i > 1000 {
            times.push(t.elapsed().as_nanos() as u64);
        }
    }
    ping.push(u64::MAX).expect("push");
    percentiles(times)
}

fn queue_pong(seg: &Segment) {
    let (ping, pong) = (
        Queue::<u64>::open(seg, "ping").expect("q"),
        Queue::<u64>::open(seg, "pong").expect("q"),
    );
    loop {
        match ping.pop().expect("pop") {
            Some(u64::MAX) => break,
            Some(v) => pong.push(v).expect("push"),
            None => std::hint::spin_loop(),
        }
    }
}

// --- SPSC throughput ----------------------------------------------------------------------

fn crossbeam_1p1c() -> f64 {
    let q = Arc::new(ArrayQueue::<u64>::new(1024));
    let p = Arc::clone(&q);
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for i in 0..ITEMS {
            while p.push(i).is_err() {
                std::hint::spin_loop();
            }
        }
    });
    let mut sum = 0u64;
    for _ in 0..ITEMS {
        loop {
            if let Some(v) = q.pop() {
                sum = sum.wrapping_add(v);
                break;
            }
            std::hint::spin_loop();
        }
    }
    producer.join().expect("producer");
    black_box(sum);
    ITEMS as f64 / start.elapsed().as_secs_f64()
}

fn expected_sum() -> u64 {
    ITEMS * (ITEMS - 1) / 2
}

/// Receives `ITEMS` items one at a time through `pop` (spinning while there is none),
/// checks their sum, and returns the items per second from the first item on.
fn consume_each(mut pop: impl FnMut() -> Option<u64>) -> f64 {
    let mut sum = 0u64;
    let mut start = None;
    for _ in 0..ITEMS {
        loop {
            if let Some(v) = pop() {
                start.get_or_insert_with(Instant::now);
                sum = sum.wrapping_add(v);
                break;
            }
            std::hint::spin_loop();
        }
    }
    assert_eq!(sum, expected_sum());
    ITEMS as f64
        / start
            .map_or(Duration::from_secs(1), |s| s.elapsed())
            .as_secs_f64()
}

fn queue_produce(seg: &Segment) {
    let q = Queue::<u64>::open(seg, "spsc").expect("q");
    for i in 0..ITEMS {
        let mut v = i;
        loop {
            match q.push(v) {
                Ok(()) => break,
                Err(PushError::Full(b)) => {
                    v = b;
                    std::hint::spin_loop();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

fn queue_consume(seg: &Segment) -> f64 {
    let q = Queue::<u64>::open(seg, "spsc").expect("q");
    consume_each(|| q.pop().expect("pop"))
}

fn ring_produce(seg: &Segment) {
    let r = Ring::<u64>::open(seg, "ring64").expect("ring");
    // One at a time.
    for i in 0..ITEMS {
        while r.write(i).is_err() {
            std::hint::spin_loop();
        }
    }
    // Batches.
    zeroipc_testkit::spsc::produce_batches(ITEMS, |b| r.write_slice(b).expect("write"));
}

fn ring_consume(seg: &Segment) -> (f64, f64) {
    let r = Ring::<u64>::open(seg, "ring64").expect("ring");
    let one = consume_each(|| r.read().expect("read"));
    let mut sum = 0u64;
    let mut got = 0u64;
    let mut start = None;
    let mut buf = [0u64; 256];
    while got < ITEMS {
        let n = r.read_into(&mut buf).expect("read");
        if n == 0 {
            std::hint::spin_loop();
            continue;
        }
        start.get_or_insert_with(Instant::now);
        sum = buf[..n].iter().fold(sum, |a, &v| a.wrapping_add(v));
        got += n as u64;
    }
    assert_eq!(sum, expected_sum());
    let batched = ITEMS as f64
        / start
            .map_or(Duration::from_secs(1), |s| s.elapsed())
            .as_secs_f64();
    (one, batched)
}

// --- raw SPSC ring with cached indices: the ceiling ----------------------------------------

const RAW_SLOTS: u64 = 1 << 10;
const RAW_BASE: usize = 4096;

fn raw_spsc_produce(raw: &Region) {
    let (head, tail) = (
        raw.atomic_u64(128).expect("w"),
        raw.atomic_u64(192).expect("w"),
    );
    let mut cached_head = head.load(Ordering::Acquire);
    for i in 0..ITEMS {
        while i - cached_head >= RAW_SLOTS {
            cached_head = head.load(Ordering::Acquire);
            std::hint::spin_loop();
        }
        raw.write::<u64>(RAW_BASE + 8 * (i % RAW_SLOTS) as usize, i)
            .expect("write");
        tail.store(i + 1, Ordering::Release);
    }
}

fn raw_spsc_consume(raw: &Region) -> f64 {
    let (head, tail) = (
        raw.atomic_u64(128).expect("w"),
        raw.atomic_u64(192).expect("w"),
    );
    let mut cached_tail = 0;
    let mut sum = 0u64;
    let mut start = None;
    for i in 0..ITEMS {
        while cached_tail <= i {
            cached_tail = tail.load(Ordering::Acquire);
            std::hint::spin_loop();
        }
        start.get_or_insert_with(Instant::now);
        sum = sum.wrapping_add(
            raw.read::<u64>(RAW_BASE + 8 * (i % RAW_SLOTS) as usize)
                .expect("read"),
        );
        head.store(i + 1, Ordering::Release);
    }
    assert_eq!(sum, expected_sum());
    ITEMS as f64
        / start
            .map_or(Duration::from_secs(1), |s| s.elapsed())
            .as_secs_f64()
}

// --- bulk bandwidth -------------------------------------------------------------------------

fn memcpy_bandwidth() -> f64 {
    let src: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let mut dst = vec![1u8; RING_BYTES];
    let rounds = (STREAM_BYTES / CHUNK as u64) as usize;
    let start = Instant::now();
    for r in 0..rounds {
        let at = (r * CHUNK) % RING_BYTES;
        dst[at..at + CHUNK].copy_from_slice(black_box(&src));
        black_box(&dst);
    }
    STREAM_BYTES as f64 / start.elapsed().as_secs_f64()
}

fn bulk_produce(seg: &Segment) {
    let r = Ring::<u8>::open(seg, "bulk").expect("ring");
    let src: Vec<u8> = (0..CHUNK).map(|i| i as u8).collect();
    let mut sent = 0u64;
    while sent < STREAM_BYTES {
        let n = r.write_slice(&src).expect("write");
        if n < CHUNK {
            // Wait for room for a whole chunk, then write it.
            let mut off = n;
            while off < CHUNK {
                off += r.write_slice(&src[off..]).expect("write");
                std::hint::spin_loop();
            }
        }
        sent += CHUNK as u64;
    }
}

fn bulk_consume(seg: &Segment) -> f64 {
    let r = Ring::<u8>::open(seg, "bulk").expect("ring");
    let mut got = 0u64;
    let mut sum = 0u64;
    let mut start = None;
    while got < STREAM_BYTES {
        let view = r.read_slices().expect("view");
        let n = view.len();
        if n == 0 {
            std::hint::spin_loop();
            continue;
        }
        start.get_or_insert_with(Instant::now);
        let (a, b) = view.bytes();
        for part in [a, b] {
            let (pre, words, post) = bytemuck::pod_align_to::<u8, u64>(part);
            sum = words.iter().fold(sum, |s, &w| s.wrapping_add(w));
            sum = pre
                .iter()
                .chain(post)
                .fold(sum, |s, &v| s.wrapping_add(u64::from(v)));
        }
        view.consume(n).expect("consume");
        got += n as u64;
    }
    black_box(sum);
    // The first chunk's arrival starts the clock: count the bytes after it.
    (STREAM_BYTES - CHUNK as u64) as f64
        / start
            .map_or(Duration::from_secs(1), |s| s.elapsed())
            .as_secs_f64()
}
