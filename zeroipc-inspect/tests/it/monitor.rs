//! `monitor` against a queue filled at a known rate by another process.

use std::time::{Duration, Instant};

use serde_json::Value;
use zerobuffer::{BufferConfig, Reader, Writer};
use zeroipc_codata::{Channel, Stream};
use zeroipc_format::Segment;
use zeroipc_structures::Queue;

use crate::common::{live_segment, run, spawn_child, unique, wait_ready};

/// Items per second the producer pushes.
const RATE: u64 = 2000;

/// Child role: `SEG QUEUE RATE`: pushes `RATE` items per second on an absolute schedule
/// (so scheduling delays are caught up), until killed.
pub fn producer(args: &[&str]) -> i32 {
    let [seg, queue, rate] = args else {
        return 98;
    };
    let rate: u64 = rate.parse().unwrap_or(1);
    let seg = Segment::open(seg).expect("open segment");
    let q = Queue::<u64>::open(&seg, queue).expect("open queue");
    println!("ZI_READY");
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let due = start.elapsed().as_micros() as u64 * rate / 1_000_000;
        while sent < due {
            if q.push(sent).is_err() {
                eprintln!("producer: queue full");
                return 97;
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn monitor_reports_the_fill_rate_of_a_queue() {
    let (name, _guard, seg) = live_segment("mon", 1 << 20, 8);
    let q = Queue::<u64>::create(&seg, "work", 1 << 15).expect("queue");
    let mut child = spawn_child("producer", &format!("{name} work {RATE}"));
    wait_ready(&mut child);

    let ticks = monitor_ticks(&[&name, "work"]);
    drop(child);

    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(t["tick"], i as u64 + 1);
        assert_eq!(t["kind"], "queue");
        assert_eq!(t["capacity"], 1 << 15);
        assert_eq!(t["read_items_per_s"], 0.0);
        assert!(t["bytes_per_s"].as_f64().expect("bytes") >= 0.0);
    }
    assert_rate_matches_totals(&ticks, "items_per_s", "written_total");
    let depth = ticks[4]["depth"].as_u64().expect("depth");
    assert!(
        depth > 0 && depth <= q.len().unwrap() as u64,
        "depth {depth}"
    );
    // bytes/s is items/s times the 8-byte element.
    let b = ticks[4]["bytes_per_s"].as_f64().expect("bytes");
    let i = ticks[4]["items_per_s"].as_f64().expect("items");
    assert!((b - 8.0 * i).abs() < 1e-6 * b.max(1.0));
}

#[test]
fn monitor_human_output_and_refusals() {
    let (name, _guard, seg) = live_segment("monh", 1 << 16, 8);
    let q = Queue::<u32>::create(&seg, "q", 16).expect("queue");
    q.push(1).expect("push");
    zeroipc_structures::Array::<u32>::create(&seg, "arr", 4).expect("array");
    let out = run(&["monitor", &name, "q", "--count", "2", "--interval", "10"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("items/s") && text.contains("1/16"), "{text}");
    let out = run(&["monitor", &name, "arr", "--count", "1"]);
    assert_eq!(out.status.code(), Some(3));
}

/// Calls `step(n)` for n = 0, 1, ... at `rate` calls per second on an absolute schedule (so
/// scheduling delays are caught up); stops at the first error.
fn paced(rate: u64, mut step: impl FnMut(u64) -> Result<(), String>) -> i32 {
    let start = Instant::now();
    let mut sent = 0u64;
    loop {
        let due = start.elapsed().as_micros() as u64 * rate / 1_000_000;
        while sent < due {
            if let Err(e) = step(sent) {
                eprintln!("emitter: {e}");
                return 97;
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Child role: `KIND SEG NAME RATE` with KIND `stream` or `channel` (u64 elements): sends
/// `RATE` items per second until killed.
pub fn emitter(args: &[&str]) -> i32 {
    let [kind, seg, name, rate] = args else {
        return 98;
    };
    let rate: u64 = rate.parse().unwrap_or(1);
    let seg = Segment::open(seg).expect("open segment");
    match *kind {
        "stream" => {
            let s = Stream::<u64>::open(&seg, name).expect("open stream");
            println!("ZI_READY");
            paced(rate, |n| match s.try_emit(n) {
                Ok(()) => Ok(()),
                Err(zeroipc_codata::TrySendError::Full(_)) => Err("stream full".into()),
                Err(zeroipc_codata::TrySendError::Failed(e)) => Err(e.to_string()),
            })
        }
        "channel" => {
            let c = Channel::<u64>::open(&seg, name).expect("open channel");
            println!("ZI_READY");
            paced(rate, |n| match c.try_send(n) {
                Ok(()) => Ok(()),
                Err(zeroipc_codata::TrySendError::Full(_)) => Err("channel full".into()),
                Err(zeroipc_codata::TrySendError::Failed(e)) => Err(e.to_string()),
            })
        }
        _ => 96,
    }
}

/// Child role: `NAME RATE LEN`: connects a ZeroBuffer writer to buffer NAME and writes
/// `RATE` frames of `LEN` bytes per second until killed.
pub fn zb_writer(args: &[&str]) -> i32 {
    let [name, rate, len] = args else {
        return 98;
    };
    let rate: u64 = rate.parse().unwrap_or(1);
    let len: usize = len.parse().unwrap_or(1);
    let mut w = Writer::connect(name).expect("connect writer");
    println!("ZI_READY");
    let frame = vec![0x5a_u8; len];
    paced(rate, |_| {
        w.write_frame_timeout(&frame, Duration::from_secs(5))
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// Runs `monitor --json --count 5 --interval 400` on `args` and parses the five ticks.
fn monitor_ticks(args: &[&str]) -> Vec<Value> {
    let mut full = vec!["monitor"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--json", "--count", "5", "--interval", "400"]);
    let out = run(&full);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ticks: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(ticks.len(), 5);
    ticks
}

/// The mean of `key` over the ticks (robust to one late sample on a loaded machine).
fn mean(ticks: &[Value], key: &str) -> f64 {
    let v: Vec<f64> = ticks
        .iter()
        .map(|t| t[key].as_f64().unwrap_or_else(|| panic!("{key} in {t}")))
        .collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// The rate `key` of every tick after the first is what the tick's own totals give
/// (`total_key`: the change since the previous tick over `interval_s`), and the total grew
/// while the peer ran. This checks how `monitor` computes a rate without asserting how
/// fast a peer paced by sleeps ran on a loaded machine (that is the perf report's job).
fn assert_rate_matches_totals(ticks: &[Value], key: &str, total_key: &str) {
    let totals = series(ticks, total_key);
    for (i, t) in ticks.iter().enumerate().skip(1) {
        let got = t[key].as_f64().unwrap_or_else(|| panic!("{key} in {t}"));
        let secs = t["interval_s"].as_f64().expect("interval_s");
        let want = totals[i].saturating_sub(totals[i - 1]) as f64 / secs;
        assert!(
            (got - want).abs() <= 1e-6 * want.max(1.0),
            "tick {i}: {key} {got}, but {total_key} moved {} in {secs} s (ticks {ticks:?})",
            totals[i].saturating_sub(totals[i - 1])
        );
    }
    assert!(
        totals[totals.len() - 1] > totals[0],
        "{total_key} grows while the peer runs: {totals:?}"
    );
}

/// `key` of every tick, as an integer.
fn series(ticks: &[Value], key: &str) -> Vec<u64> {
    ticks
        .iter()
        .map(|t| t[key].as_u64().unwrap_or_else(|| panic!("{key} in {t}")))
        .collect()
}

/// Items per second the stream and channel emitters send.
const CODATA_RATE: u64 = 1000;

#[test]
fn monitor_reports_a_streams_rate_and_subscriber_lag() {
    let (name, _guard, seg) = live_segment("mons", 1 << 20, 8);
    let s = Stream::<u64>::create(&seg, "feed", 1 << 14).expect("stream");
    // A subscriber that never reads: its lag is everything emitted.
    let sub = s.subscribe().expect("subscribe");
    let mut child = spawn_child("emitter", &format!("stream {name} feed {CODATA_RATE}"));
    wait_ready(&mut child);
    let ticks = monitor_ticks(&[&name, "feed"]);
    drop(child);
    for t in &ticks {
        assert_eq!(t["kind"], "stream");
        assert_eq!(t["capacity"], 1 << 14);
        assert_eq!(t["subscribers"], 1);
        let slots = t["subscriber_slots"].as_array().expect("slots");
        assert_eq!(slots.len(), 1);
        assert_eq!(slots[0]["pid"], std::process::id());
        // Nothing read: the lag is the depth the producer holds for the subscriber.
        assert_eq!(t["max_lag"], slots[0]["lag"]);
    }
    assert_rate_matches_totals(&ticks, "items_per_s", "written_total");
    let lags = series(&ticks, "max_lag");
    assert!(
        lags.windows(2).all(|w| w[0] <= w[1]) && lags[4] > lags[0],
        "the lag of a subscriber that never reads grows: {lags:?}"
    );
    drop(sub);
}

#[test]
fn monitor_reports_a_channels_depth_and_rate() {
    let (name, _guard, seg) = live_segment("monc", 1 << 20, 8);
    let ch = Channel::<u64>::create(&seg, "jobs", 1 << 14).expect("channel");
    let mut child = spawn_child("emitter", &format!("channel {name} jobs {CODATA_RATE}"));
    wait_ready(&mut child);
    let ticks = monitor_ticks(&[&name, "jobs"]);
    drop(child);
    for t in &ticks {
        assert_eq!(t["kind"], "channel");
        assert_eq!(t["capacity"], 1 << 14);
        assert_eq!(t["closed"], false);
        assert_eq!(t["read_items_per_s"], 0.0);
    }
    assert_rate_matches_totals(&ticks, "items_per_s", "written_total");
    // Nobody receives: the depth grows and never exceeds what was sent.
    let depths = series(&ticks, "depth");
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{depths:?}");
    assert!(depths[4] as usize <= ch.len().unwrap(), "{depths:?}");
    // A rendezvous channel has no counters to take rates from.
    Channel::<u64>::create_unbuffered(&seg, "hand").expect("rendezvous");
    let out = run(&["monitor", &name, "hand", "--count", "1"]);
    assert_eq!(out.status.code(), Some(3));
}

/// Frames per second the ZeroBuffer writer sends.
const FRAME_RATE: u64 = 250;
/// Payload bytes per frame: with the 16-byte header a frame takes 1024 ring bytes, and the
/// 64 KiB ring holds exactly 64 of them, so no wrap ever wastes bytes or writes a marker:
/// the ring bytes written per second are exactly `FRAME_RATE * 1024`.
const FRAME_LEN: u64 = 1008;

#[test]
fn monitor_reports_frames_and_megabytes_per_second_of_a_buffer() {
    let _serial = crate::common::zerobuffer_serial();
    let name = unique("monzb");
    let reader = Reader::create(&name, BufferConfig::new(64, 64 * 1024)).expect("reader");
    let stop = std::sync::Arc::new(zeroipc_format::atomic::AtomicU32::new(0));
    let mut child = spawn_child("zb_writer", &format!("{name} {FRAME_RATE} {FRAME_LEN}"));
    wait_ready(&mut child);
    // The test reads every frame as it comes, so the writer never waits for space.
    let reading = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut frames = 0u64;
            while stop.load(zeroipc_format::atomic::Ordering::Relaxed) == 0 {
                match reader.read_frame_timeout(Duration::from_millis(50)) {
                    Ok(Some(f)) => {
                        assert_eq!(f.len() as u64, FRAME_LEN);
                        frames += 1;
                    }
                    Ok(None) => {}
                    Err(e) => panic!("reader: {e}"),
                }
            }
            frames
        })
    };
    let ticks = monitor_ticks(&[&name]);
    stop.store(1, zeroipc_format::atomic::Ordering::Relaxed);
    let frames = reading.join().expect("reader thread");
    drop(child);
    assert!(frames > 0);
    for t in &ticks {
        assert_eq!(t["kind"], "zerobuffer");
        assert_eq!(t["capacity"], 64 * 1024);
    }
    assert_rate_matches_totals(&ticks, "frames_per_s", "written_total");
    // The test reads every frame as it comes: the read rate is the read total's.
    assert_rate_matches_totals(&ticks, "read_frames_per_s", "read_total");
    // Every frame is FRAME_LEN bytes plus its 16-byte header.
    let fps = mean(&ticks, "frames_per_s");
    let mbps = mean(&ticks, "mb_per_s");
    let want_mbps = fps * (FRAME_LEN + 16) as f64 / 1e6;
    assert!(
        (mbps - want_mbps).abs() <= 0.2 * want_mbps,
        "mean MB/s {mbps:.4} for {fps:.1} frames/s of {FRAME_LEN} bytes (ticks {ticks:?})"
    );
}
