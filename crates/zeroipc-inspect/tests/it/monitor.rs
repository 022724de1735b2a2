//! `monitor` against a queue filled at a known rate by another process.

use std::time::{Duration, Instant};

use serde_json::Value;
use zeroipc_format::Segment;
use zeroipc_structures::Queue;

use crate::common::{SegGuard, run, spawn_child, unique, wait_ready};

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
    let name = unique("mon");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 20, 8).expect("segment");
    let q = Queue::<u64>::create(&seg, "work", 1 << 15).expect("queue");
    let mut child = spawn_child("producer", &format!("{name} work {RATE}"));
    wait_ready(&mut child);

    let out = run(&[
        "monitor",
        &name,
        "work",
        "--json",
        "--count",
        "5",
        "--interval",
        "400",
    ]);
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
    drop(child);

    let mut rates = Vec::new();
    for (i, t) in ticks.iter().enumerate() {
        assert_eq!(t["tick"], i as u64 + 1);
        assert_eq!(t["kind"], "queue");
        assert_eq!(t["capacity"], 1 << 15);
        assert_eq!(t["read_items_per_s"], 0.0);
        rates.push(t["items_per_s"].as_f64().expect("rate"));
        assert!(t["bytes_per_s"].as_f64().expect("bytes") >= 0.0);
    }
    // The mean over the 2 s window is robust to one late sample on a loaded machine.
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let want = RATE as f64;
    assert!(
        (mean - want).abs() <= 0.2 * want,
        "mean rate {mean:.0} items/s, want {want} ± 20% (per tick {rates:?})"
    );
    let depth = ticks[4]["depth"].as_u64().expect("depth");
    assert!(depth > 0 && depth <= q.len() as u64, "depth {depth}");
    // bytes/s is items/s times the 8-byte element.
    let b = ticks[4]["bytes_per_s"].as_f64().expect("bytes");
    let i = ticks[4]["items_per_s"].as_f64().expect("items");
    assert!((b - 8.0 * i).abs() < 1e-6 * b.max(1.0));
}

#[test]
fn monitor_human_output_and_refusals() {
    let name = unique("monh");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 8).expect("segment");
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
