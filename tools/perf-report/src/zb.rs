//! ZeroBuffer's video relay: a 3.1 MB frame (1920×1080 YUV 4:2:0) goes client → relay
//! process → client, paced at 1000 frames/s, against the floor measured in the same run (the
//! same two copies and two hand-offs with two shared regions and two futex semaphores).

use std::process::{Child, Stdio};
use std::time::Duration;

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer};
use zeroipc_format::Region;
use zeroipc_sync::Semaphore;

use crate::Config;
use crate::harness::{
    Lat, dur, name_and_count, open, ratio, region, segment, spawn_with, unique, wait_ok,
};
use crate::report::{Goal, GroupRecord, table};

const FRAME: usize = 1920 * 1080 * 3 / 2;
const PERIOD: Duration = Duration::from_millis(1);
/// Under two frames: every frame lands at offset 0 (the early-wrap rule).
const CFG: BufferConfig = BufferConfig::new(0, 4 << 20);

fn spawn_ready(role: &str, arg: &str) -> Child {
    let mut child = spawn_with(role, arg, None, Stdio::null(), Stdio::piped());
    zeroipc_testkit::wait_ready(&mut child);
    child
}

/// Runs `round_trip(i)` paced at one start per PERIOD; returns the measured round trips (ns).
fn paced(warm: usize, n: usize, round_trip: impl FnMut(usize)) -> Vec<u64> {
    zeroipc_testkit::paced(warm, n, PERIOD, round_trip)
        .iter()
        .map(|d| d.as_nanos() as u64)
        .collect()
}

/// Peer roles of this group.
pub fn child(role: &str, arg: &str) -> bool {
    match role {
        "zb.relay" => {
            let (name, total) = name_and_count::<usize>(arg);
            let mut server = DuplexServer::create(&name, CFG).expect("server");
            zeroipc_testkit::signal_ready();
            while server.stats().requests < total as u64 {
                server
                    .serve_one(&mut |req, out| out.write_frame(req.data()).map(|_| ()))
                    .expect("serve");
            }
        }
        "zb.rawrelay" => {
            let (name, total) = name_and_count::<usize>(arg);
            let seg = open(&name);
            let a = region(&seg, "a");
            let b = region(&seg, "b");
            let req = Semaphore::open(&seg, "req").expect("sem");
            let resp = Semaphore::open(&seg, "resp").expect("sem");
            zeroipc_testkit::signal_ready();
            for _ in 0..total {
                req.acquire().expect("wait");
                a.copy_to(0, &b, 0, FRAME).expect("relay copy");
                resp.release().expect("post");
            }
        }
        _ => return false,
    }
    true
}

fn zerobuffer_relay(warm: usize, n: usize) -> Vec<u64> {
    let name = unique("zbr");
    let child = spawn_ready("zb.relay", &format!("{name}:{}", warm + n));
    let mut client = DuplexClient::connect_with(&name, CFG).expect("client");
    let mut frame: Vec<u8> = (0..FRAME).map(|i| i as u8).collect();
    let out = paced(warm, n, |i| {
        frame[0] = i as u8;
        client.send_request(&frame).expect("send");
        let r = client
            .receive_response(Duration::from_secs(10))
            .expect("receive")
            .expect("response");
        assert_eq!((r.len(), r.data()[0]), (FRAME, i as u8));
    });
    drop(client);
    wait_ok(child, "zb.relay");
    out
}

fn raw_relay(warm: usize, n: usize) -> Vec<u64> {
    let seg = segment("zbraw", 2 * FRAME as u64 + (1 << 16), 8);
    let nothing = |_: &Region| Ok::<_, zeroipc_format::Error>(());
    let (_, a) = seg.add("a", FRAME as u64, nothing).expect("a");
    let (_, b) = seg.add("b", FRAME as u64, nothing).expect("b");
    let req = Semaphore::create(&seg, "req", 0, 1).expect("sem");
    let resp = Semaphore::create(&seg, "resp", 0, 1).expect("sem");
    let child = spawn_ready("zb.rawrelay", &format!("{}:{}", seg.name(), warm + n));
    let mut frame: Vec<u8> = (0..FRAME).map(|i| i as u8).collect();
    let out = paced(warm, n, |i| {
        frame[0] = i as u8;
        a.write_slice(0, &frame).expect("copy in");
        req.release().expect("post");
        resp.acquire().expect("wait");
        assert_eq!(b.read::<u8>(0).expect("read"), i as u8);
    });
    wait_ok(child, "zb.rawrelay");
    out
}

/// Runs the group.
pub fn run(cfg: &Config) -> GroupRecord {
    let (warm, n) = (cfg.pick(50, 20), cfg.pick(1000, 150));
    let (mut zb, mut raw) = (Vec::new(), Vec::new());
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        eprintln!("   round {} relay floor / ZeroBuffer", r + 1);
        raw.extend(raw_relay(warm, n));
        zb.extend(zerobuffer_relay(warm, n));
    }
    let (zb, raw) = (Lat::new(zb), Lat::new(raw));
    let row = |l: &str, x: &Lat| {
        vec![
            l.to_string(),
            x.len().to_string(),
            dur(x.p(0.5)),
            dur(x.p(0.99)),
            ratio(x.p(0.5) / raw.p(0.5)),
            ratio(x.p(0.99) / raw.p(0.99)),
        ]
    };
    let md = format!(
        "{n} paced frames per round after {warm} warm-up frames, {} rounds, floor and ZeroBuffer \
         interleaved; 4 MiB buffers.\n\n{}",
        cfg.rounds,
        table(
            &[
                "3.1 MB frame round trip via a relay process, 1000 frames/s",
                "frames",
                "p50",
                "p99",
                "p50 / floor",
                "p99 / floor"
            ],
            &[
                row("floor: shared memory + 2 futex semaphores, 2 copies", &raw),
                row("ZeroBuffer duplex relay", &zb),
            ]
        )
    );
    // The relay round trip at quantile `q` against the raw floor's, met at `limit`×.
    let goal = |pct: &str, q: f64, limit: f64| {
        let r = zb.p(q) / raw.p(q);
        Goal::new(
            "#3 zerobuffer",
            &format!("3.1 MB relay round trip at 1000 frames/s, {pct}"),
        )
        .result(dur(zb.p(q)))
        .baseline(format!("raw relay floor: {}", dur(raw.p(q))))
        .ratio(ratio(r))
        .goal(format!("{pct} ≤ {limit}×"), Some(r <= limit))
    };
    let goals = vec![goal("p50", 0.5, 1.25), goal("p99", 0.99, 2.0)];
    GroupRecord::new(md, goals)
}
