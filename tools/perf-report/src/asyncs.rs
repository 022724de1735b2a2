//! Async waits (#15): cross-process wake latency of `Channel::recv_async` on a tokio
//! current-thread runtime against the blocking `recv` measured the same way in the same run;
//! throughput of a tokio consumer draining a channel fed by another process against the
//! blocking consumer; and the CPU that 1,000 pending `recv_async` awaits cost while idle.

use std::time::{Duration, Instant};
use zeroipc_format::atomic::Ordering;

use zeroipc_codata::Channel;
use zeroipc_format::{Region, Segment};

use crate::Config;
use crate::harness::{Lat, dur, group_peer, now_ns, num, ratio, raw, region, segment, with_peer};
use crate::report::{Goal, GroupRecord, table};

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Peer roles of this group.
pub fn child(role: &str, arg: &str) -> bool {
    let Some((seg, n)) = group_peer::<usize>(role, "as.", arg) else {
        return false;
    };
    match role {
        // Receiver of the latency runs: announces round i, then waits for the stamped value.
        "as.wait_blocking" | "as.wait_async" => {
            let ch = Channel::<u64>::open(&seg, "ch").expect("channel");
            let raw = region(&seg, "raw");
            let lat = region(&seg, "lat");
            let ready = raw.atomic_u64(0).expect("ready");
            let rt = tokio_rt();
            for i in 0..n {
                ready.store(i as u64 + 1, Ordering::Release);
                let stamp = if role == "as.wait_async" {
                    rt.block_on(ch.recv_async())
                } else {
                    ch.recv()
                }
                .expect("recv")
                .expect("open");
                lat.write::<u64>(8 * i, now_ns() - stamp).expect("lat");
            }
        }
        // Producer of the throughput runs.
        "as.feed" => {
            let ch = Channel::<u64>::open(&seg, "ch").expect("channel");
            for i in 0..n as u64 {
                ch.send(i).expect("send");
            }
            ch.close().expect("close");
        }
        _ => return false,
    }
    true
}

fn fresh(n: usize) -> (Segment, Region, Region) {
    let seg = segment("as", 4 << 20, 16);
    Channel::<u64>::create(&seg, "ch", 1024).expect("channel");
    let r = raw(&seg, "raw", 64);
    let l = raw(&seg, "lat", 8 * n as u64);
    (seg, r, l)
}

/// One latency run: the peer waits with `role`, this process sends a stamp per round after
/// the peer announced itself and had 300 µs to fall asleep.
fn latency(role: &str, n: usize) -> Vec<u64> {
    let (seg, raw, lat) = fresh(n);
    let ch = Channel::<u64>::open(&seg, "ch").expect("channel");
    let arg = format!("{}:{n}", seg.name());
    with_peer(role, &arg, None, || {
        let ready = raw.atomic_u64(0).expect("ready");
        for i in 0..n {
            while ready.load(Ordering::Acquire) != i as u64 + 1 {
                std::hint::spin_loop();
            }
            std::thread::sleep(Duration::from_micros(300));
            ch.send(now_ns()).expect("send");
        }
    });
    (0..n)
        .map(|i| lat.read::<u64>(8 * i).expect("lat"))
        .collect()
}

/// Items per second drained by this process from a peer's `m` sends.
fn throughput(m: usize, tokio_consumer: bool) -> f64 {
    let (seg, _, _) = fresh(1);
    let ch = Channel::<u64>::open(&seg, "ch").expect("channel");
    let arg = format!("{}:{m}", seg.name());
    with_peer("as.feed", &arg, None, || {
        let t = Instant::now();
        let n = if tokio_consumer {
            tokio_rt().block_on(async {
                let mut n = 0u64;
                while ch.recv_async().await.expect("recv").is_some() {
                    n += 1;
                }
                n
            })
        } else {
            let mut n = 0u64;
            while ch.recv().expect("recv").is_some() {
                n += 1;
            }
            n
        };
        assert_eq!(n, m as u64);
        m as f64 / t.elapsed().as_secs_f64()
    })
}

/// User + system CPU of this whole process, every thread (`CLOCK_PROCESS_CPUTIME_ID`, ns
/// resolution; `/proc/self/stat` counts 10 ms ticks, too coarse for a 1 % figure).
fn process_cpu_s() -> f64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// CPU share of one core used by this process while `k` `recv_async` awaits are pending on
/// a tokio current-thread runtime for `wall`; also the helper threads that served them.
fn idle(k: usize, wall: Duration) -> (f64, usize) {
    let seg = segment("asidle", 16 << 20, 3 * k as u32 + 16);
    let chans: Vec<Channel<u64>> = (0..k)
        .map(|i| Channel::<u64>::create(&seg, &format!("c{i}"), 2).expect("channel"))
        .collect();
    let rt = tokio_rt();
    rt.block_on(async {
        let tasks: Vec<_> = chans
            .iter()
            .cloned()
            .map(|c| tokio::spawn(async move { c.recv_async().await }))
            .collect();
        while zeroipc_sync::reactor::pending_waits() < k {
            tokio::task::yield_now().await;
        }
        // Let the waits age past their first (1 ms) slices, as an idle service's would.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let helpers = zeroipc_sync::reactor::helper_threads();
        let (c0, t0) = (process_cpu_s(), Instant::now());
        tokio::time::sleep(wall).await;
        let share = (process_cpu_s() - c0) / t0.elapsed().as_secs_f64();
        for c in &chans {
            c.close().expect("close");
        }
        for t in tasks {
            assert_eq!(t.await.expect("task").expect("recv"), None);
        }
        (share, helpers)
    })
}

/// Runs the group.
pub fn run(cfg: &Config) -> GroupRecord {
    let n = cfg.pick(1000, 100);
    let m = cfg.pick(2_000_000, 200_000);
    let wall = cfg.pick(Duration::from_secs(5), Duration::from_secs(2));
    let (mut blocking, mut awaited) = (Vec::new(), Vec::new());
    let (mut tp_block, mut tp_tokio) = (Vec::new(), Vec::new());
    let mut ratios = Vec::new();
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        eprintln!("   round {} wake latency / throughput", r + 1);
        let b = latency("as.wait_blocking", n);
        let a = latency("as.wait_async", n);
        ratios.push(Lat::new(a.clone()).p(0.5) / Lat::new(b.clone()).p(0.5));
        blocking.extend(b);
        awaited.extend(a);
        tp_block.push(throughput(m, false));
        tp_tokio.push(throughput(m, true));
    }
    // The idle figure is one wall-clock window per measurement: median of a few, with the
    // range, so one noisy window neither passes nor fails the goal on its own.
    let mut idles: Vec<(f64, usize)> = (0..cfg.pick(3, 1))
        .map(|i| {
            eprintln!("   idle {}: 1000 pending awaits", i + 1);
            idle(1000, wall)
        })
        .collect();
    idles.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (cpu, helpers) = idles[idles.len() / 2];
    let (cpu_lo, cpu_hi) = (idles[0].0, idles[idles.len() - 1].0);
    let (blocking, awaited) = (Lat::new(blocking), Lat::new(awaited));
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (tpb, tpt) = (med(&mut tp_block), med(&mut tp_tokio));
    let ratio_med = med(&mut ratios.clone());
    let row = |l: &str, x: &Lat| x.row(l, &blocking);
    let md = format!(
        "Wake latency: the receiving process announces each round, the sender waits 300 µs (so \
         the receiver sleeps: blocking in `FUTEX_WAIT`, async with its future registered and a \
         reactor helper in `futex_waitv`), then sends its `CLOCK_MONOTONIC`; latency = arrival − \
         stamp. Baseline: the blocking `recv` measured the same way in the same run. \
         Throughput: another process sends {m} `u64` with blocking `send` into a 1024-slot \
         channel; this process drains it with blocking `recv` (baseline) or with `recv_async` \
         on a tokio current-thread runtime (median of the rounds). Idle: 1,000 tasks await \
         `recv_async` on 1,000 empty channels for {wall:?}, {} times; CPU = user + system time \
         of the whole process (`CLOCK_PROCESS_CPUTIME_ID`) over wall time, median (min–max).\n\n{}\n\n{}\n\n{}",
        idles.len(),
        table(
            &[
                "wake latency, 2 processes",
                "samples",
                "p50",
                "p90",
                "p99",
                "p50 / blocking"
            ],
            &[
                row("blocking `Channel::recv` (baseline)", &blocking),
                row("`Channel::recv_async`, tokio current-thread", &awaited),
            ]
        ),
        table(
            &["consumer, 2 processes", "items/s", "/ blocking"],
            &[
                vec!["blocking `recv` (baseline)".into(), num(tpb), ratio(1.0)],
                vec!["tokio `recv_async`".into(), num(tpt), ratio(tpt / tpb)],
            ]
        ),
        table(
            &[
                "idle, 1,000 pending awaits",
                "CPU (share of one core)",
                "helper threads"
            ],
            &[vec![
                "`recv_async` ×1000, tokio current-thread".into(),
                format!(
                    "{:.2} % ({:.2}–{:.2})",
                    cpu * 100.0,
                    cpu_lo * 100.0,
                    cpu_hi * 100.0
                ),
                helpers.to_string(),
            ]]
        ),
    );
    let lat2 = |l: &Lat| format!("p50 {}, p99 {}", dur(l.p(0.5)), dur(l.p(0.99)));
    let goals = vec![
        Goal::new(
            "#15 async",
            "wake latency `recv_async` vs blocking `recv`, 2 processes",
        )
        .result(lat2(&awaited))
        .baseline(format!("blocking recv: {}", lat2(&blocking)))
        .ratio(format!(
            "p50 {} (median of rounds {})",
            ratio(awaited.p(0.5) / blocking.p(0.5)),
            ratio(ratio_med)
        ))
        .goal("p50 ≤ 1.5×", Some(ratio_med <= 1.5)),
        Goal::new("#15 async", "tokio consumer throughput, 2 processes")
            .result(format!("{} items/s", num(tpt)))
            .baseline(format!("blocking recv: {} items/s", num(tpb)))
            .ratio(ratio(tpt / tpb))
            .goal("report", None),
        Goal::new("#15 async", "idle CPU, 1,000 pending awaits")
            .result(format!(
                "{:.2} % of a core ({:.2}–{:.2}; {helpers} helper threads)",
                cpu * 100.0,
                cpu_lo * 100.0,
                cpu_hi * 100.0
            ))
            .baseline("—")
            .ratio("—")
            .goal("< 1 %", Some(cpu < 0.01)),
    ];
    GroupRecord::new(md, goals)
}
