//! Upstream's video benchmark: a 3.1 MB frame (1920×1080 YUV 4:2:0) goes from a client
//! through a relay process and back, paced at 1000 frames/s; round-trip p50/p99 against the
//! floor measured in the same run.
//!
//! * ZeroBuffer: `DuplexClient` → request buffer → `DuplexServer` (reads the frame in place,
//!   writes it into the response buffer: one copy) → response buffer → client.
//! * Floor: the same hops with nothing but shared memory and semaphores: the client copies
//!   the frame into region A and posts; the relay copies A into B and posts; the client reads
//!   B in place. Two copies and two hand-offs, as in the ZeroBuffer path.
//!
//! `cargo bench -p zerobuffer --bench relay` — re-executes itself as the relay
//! (`ZB_RELAY_ROLE=zb|raw`).

use std::process::{Command, Stdio};
use std::time::Duration;

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer};
use zeroipc_format::{Region, Segment, SegmentOptions};
use zeroipc_sync::Semaphore;

const FRAME: usize = 1920 * 1080 * 3 / 2;
const WARMUP: usize = 50;
const FRAMES: usize = 1000;
const PERIOD: Duration = Duration::from_millis(1);
/// One frame in flight at a time: a ring under two frames keeps every frame at offset 0
/// (the early-wrap rule), so the working set matches the floor's two regions.
const CFG: BufferConfig = BufferConfig::new(0, 4 << 20);

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    let mean = v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1e6;
    (at(0.5), at(0.99), mean)
}

fn spawn(role: &str, name: &str) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("ZB_RELAY_ROLE", role)
        .env("ZB_RELAY_NAME", name)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn relay");
    zeroipc_testkit::wait_ready(&mut child);
    child
}

/// Runs `round_trip(i)` paced at one start per PERIOD; returns the measured round trips.
fn paced(round_trip: impl FnMut(usize)) -> Vec<Duration> {
    zeroipc_testkit::paced(WARMUP, FRAMES, PERIOD, round_trip)
}

fn zerobuffer_relay() -> Vec<Duration> {
    let name = format!("zb-relay-{}", std::process::id());
    let mut child = spawn("zb", &name);
    let mut client = DuplexClient::connect_with(&name, CFG).expect("client");
    let mut frame: Vec<u8> = (0..FRAME).map(|i| i as u8).collect();
    let out = paced(|i| {
        frame[0] = i as u8;
        client.send_request(&frame).expect("send");
        let r = client
            .receive_response(Duration::from_secs(10))
            .expect("receive")
            .expect("response");
        assert_eq!((r.len(), r.data()[0]), (FRAME, i as u8));
    });
    drop(client);
    child.wait().expect("relay exit");
    out
}

fn raw_relay() -> Vec<Duration> {
    let name = format!("zb_relay_raw_{}", std::process::id());
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .populate(true)
        .create(&name, 2 * FRAME as u64 + (1 << 16), 8)
        .expect("segment");
    let nothing = |_: &Region| Ok::<_, zeroipc_format::Error>(());
    let (_, a) = seg.add("a", FRAME as u64, nothing).expect("a");
    let (_, b) = seg.add("b", FRAME as u64, nothing).expect("b");
    let req = Semaphore::create(&seg, "req", 0, 1).expect("sem");
    let resp = Semaphore::create(&seg, "resp", 0, 1).expect("sem");
    let mut child = spawn("raw", &name);
    let mut frame: Vec<u8> = (0..FRAME).map(|i| i as u8).collect();
    let out = paced(|i| {
        frame[0] = i as u8;
        a.write_slice(0, &frame).expect("copy in");
        req.release().expect("post");
        resp.acquire().expect("wait");
        assert_eq!(b.read::<u8>(0).expect("read"), i as u8);
    });
    child.wait().expect("relay exit");
    out
}

fn main() {
    match std::env::var("ZB_RELAY_ROLE").as_deref() {
        Ok("zb") => {
            let name = std::env::var("ZB_RELAY_NAME").expect("name");
            let mut server = DuplexServer::create(&name, CFG).expect("server");
            zeroipc_testkit::signal_ready();
            while server.stats().requests < (WARMUP + FRAMES) as u64 {
                server
                    .serve_one(&mut |req, out| out.write_frame(req.data()).map(|_| ()))
                    .expect("serve");
            }
        }
        Ok("raw") => {
            let seg = Segment::open(&std::env::var("ZB_RELAY_NAME").expect("name")).expect("open");
            let a = seg.region(&seg.find("a").expect("a")).expect("a");
            let b = seg.region(&seg.find("b").expect("b")).expect("b");
            let req = Semaphore::open(&seg, "req").expect("sem");
            let resp = Semaphore::open(&seg, "resp").expect("sem");
            zeroipc_testkit::signal_ready();
            for _ in 0..WARMUP + FRAMES {
                req.acquire().expect("wait");
                a.copy_to(0, &b, 0, FRAME).expect("relay copy");
                resp.release().expect("post");
            }
        }
        _ => {
            // Interleave the two so load changes hit both.
            let mut zb = Vec::new();
            let mut raw = Vec::new();
            for _ in 0..3 {
                raw.extend(raw_relay());
                zb.extend(zerobuffer_relay());
            }
            let (zp50, zp99, zmean) = stats(zb);
            let (rp50, rp99, rmean) = stats(raw);
            println!(
                "| 3.1 MB frame round trip via relay, 1000 frames/s × 3 runs | p50 µs | p99 µs | mean µs |"
            );
            println!("|---|---|---|---|");
            println!(
                "| floor: shared memory + semaphores, 2 copies | {rp50:.0} | {rp99:.0} | {rmean:.0} |"
            );
            println!("| ZeroBuffer duplex relay | {zp50:.0} | {zp99:.0} | {zmean:.0} |");
            println!(
                "| ratio (goal: p50 ≤ 1.25×, p99 ≤ 2×) | {:.2}× | {:.2}× | {:.2}× |",
                zp50 / rp50,
                zp99 / rp99,
                zmean / rmean
            );
        }
    }
}
