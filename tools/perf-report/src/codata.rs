//! Codata latencies between two processes: `Future` set → get wake-up of a sleeping getter
//! (against a raw shared futex wake measured the same way) and `Stream` emit → subscriber.

use std::time::Duration;
use zeroipc_format::atomic::Ordering;

use zeroipc_codata::{Future, Stream};
use zeroipc_format::{Region, Segment};

use crate::Config;
use crate::baselines::{futex_block_sliced, futex_wake_all};
use crate::harness::{Lat, dur, group_peer, now_ns, ratio, raw, region, segment, with_peer};
use crate::report::{Goal, GroupRecord, table};

/// Waits until the peer announced it is about to sleep on round `i`, then gives it 300 µs
/// to get past any spinning into the futex.
fn await_sleeper(raw: &Region, i: usize) {
    let ready = raw.atomic_u64(0).expect("ready");
    while ready.load(Ordering::Acquire) != i as u64 + 1 {
        std::hint::spin_loop();
    }
    std::thread::sleep(Duration::from_micros(300));
}

fn read_lat(lat: &Region, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| lat.read::<u64>(8 * i).expect("lat"))
        .collect()
}

/// Peer roles of this group.
pub fn child(role: &str, arg: &str) -> bool {
    let Some((seg, n)) = group_peer::<usize>(role, "cd.", arg) else {
        return false;
    };
    match role {
        "cd.future_wait" => {
            let raw = region(&seg, "raw");
            let lat = region(&seg, "lat");
            let ready = raw.atomic_u64(0).expect("ready");
            for i in 0..n {
                let f = Future::<u64>::open(&seg, &format!("f{i}")).expect("future");
                ready.store(i as u64 + 1, Ordering::Release);
                assert_eq!(f.get().expect("get"), i as u64);
                let t = now_ns();
                lat.write::<u64>(8 * i, t - f.completion_time().expect("time"))
                    .expect("lat");
            }
        }
        "cd.raw_wait" => {
            let raw = region(&seg, "raw");
            let lat = region(&seg, "lat");
            let ready = raw.atomic_u64(0).expect("ready");
            for i in 0..n {
                let word = raw.atomic_u32(64 + 16 * i).expect("word");
                ready.store(i as u64 + 1, Ordering::Release);
                futex_block_sliced(
                    word,
                    0,
                    Duration::from_millis(1),
                    std::time::Instant::now() + Duration::from_secs(10),
                );
                let t = now_ns();
                let stamp = raw
                    .atomic_u64(64 + 16 * i + 8)
                    .expect("stamp")
                    .load(Ordering::Relaxed);
                lat.write::<u64>(8 * i, t - stamp).expect("lat");
            }
        }
        // The stream's baseline in the stream's own shape: a raw shared futex word stamped,
        // bumped and woken every 100 µs by a producer that busy-waits in between.
        "cd.raw_emit" => {
            let raw = region(&seg, "raw");
            let ready = raw.atomic_u64(0).expect("ready");
            let word = raw.atomic_u32(8).expect("word");
            while ready.load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            for i in 0..n {
                let due = now_ns() + 100_000;
                while now_ns() < due {
                    std::hint::spin_loop();
                }
                raw.atomic_u64(64 + 8 * i)
                    .expect("stamp")
                    .store(now_ns(), Ordering::Relaxed);
                word.store(i as u32 + 1, Ordering::SeqCst);
                futex_wake_all(word);
            }
        }
        // The stream in the raw baseline's shape: wait for the subscriber's announcement of
        // round i, give it 300 µs to fall asleep, emit the stamp.
        "cd.stream_emit_after_sleep" => {
            let s = Stream::<u64>::open(&seg, "s").expect("stream");
            let raw = region(&seg, "raw");
            for i in 0..n {
                await_sleeper(&raw, i);
                s.emit(now_ns()).expect("emit");
            }
        }
        "cd.stream_emit" => {
            let s = Stream::<u64>::open(&seg, "s").expect("stream");
            let raw = region(&seg, "raw");
            // Wait for the subscriber to be attached.
            while raw.atomic_u64(0).expect("ready").load(Ordering::Acquire) == 0 {
                std::hint::spin_loop();
            }
            for _ in 0..n {
                let due = now_ns() + 100_000;
                while now_ns() < due {
                    std::hint::spin_loop();
                }
                s.emit(now_ns()).expect("emit");
            }
            s.close().expect("close");
        }
        _ => return false,
    }
    true
}

fn fresh(n: usize) -> (Segment, Region, Region) {
    let seg = segment("cd", 4 << 20, 32 + n as u32);
    for i in 0..n {
        Future::<u64>::create(&seg, &format!("f{i}")).expect("future");
    }
    Stream::<u64>::create(&seg, "s", 64).expect("stream");
    let r = raw(&seg, "raw", 64 + 16 * n as u64);
    let l = raw(&seg, "lat", 8 * n as u64);
    (seg, r, l)
}

/// Runs the group.
pub fn run(cfg: &Config) -> GroupRecord {
    let n = cfg.pick(1000, 100);
    let (mut fut, mut base, mut stream) = (Vec::new(), Vec::new(), Vec::new());
    // Per-round p50 of the stream hand-off over the raw futex wake (#19).
    let mut stream_ratio = Vec::new();
    // The same against the raw wake in the stream's shape (`cd.raw_emit`).
    let (mut stream_p50, mut stream_shape_ratio, mut shaped) = (Vec::new(), Vec::new(), Vec::new());
    // The stream in the 300 µs sleeper's shape (`cd.stream_emit_after_sleep`) over that raw
    // baseline.
    let (mut sleeper_shape_ratio, mut stream_sleeper) = (Vec::new(), Vec::new());
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        eprintln!("   round {} future / raw futex / stream", r + 1);
        let round_base: f64;
        {
            let (seg, raw, lat) = fresh(n);
            let arg = format!("{}:{n}", seg.name());
            with_peer("cd.future_wait", &arg, None, || {
                for i in 0..n {
                    let f = Future::<u64>::open(&seg, &format!("f{i}")).expect("future");
                    await_sleeper(&raw, i);
                    f.set_value(i as u64).expect("set");
                }
            });
            fut.extend(read_lat(&lat, n));
        }
        {
            let (seg, raw, lat) = fresh(n);
            let arg = format!("{}:{n}", seg.name());
            with_peer("cd.raw_wait", &arg, None, || {
                for i in 0..n {
                    await_sleeper(&raw, i);
                    let word = raw.atomic_u32(64 + 16 * i).expect("word");
                    raw.atomic_u64(64 + 16 * i + 8)
                        .expect("stamp")
                        .store(now_ns(), Ordering::Relaxed);
                    word.store(1, Ordering::SeqCst);
                    futex_wake_all(word);
                }
            });
            let b = read_lat(&lat, n);
            round_base = Lat::new(b.clone()).p(0.5);
            base.extend(b);
        }
        {
            let (seg, raw, _) = fresh(1);
            let m = n * 5;
            let s = Stream::<u64>::open(&seg, "s").expect("stream");
            let mut sub = s.subscribe().expect("subscribe");
            let arg = format!("{}:{m}", seg.name());
            with_peer("cd.stream_emit", &arg, None, || {
                raw.atomic_u64(0)
                    .expect("ready")
                    .store(1, Ordering::Release);
                let mut this_round = Vec::new();
                while let Some(stamp) = sub.recv().expect("recv") {
                    this_round.push(now_ns() - stamp);
                }
                stream_p50.push(Lat::new(this_round.clone()).p(0.5));
                stream_ratio.push(Lat::new(this_round.clone()).p(0.5) / round_base);
                stream.extend(this_round);
            });
        }
        {
            let (seg, raw, lat) = fresh(n);
            let s = Stream::<u64>::open(&seg, "s").expect("stream");
            let mut sub = s.subscribe().expect("subscribe");
            let arg = format!("{}:{n}", seg.name());
            let ready = raw.atomic_u64(0).expect("ready");
            with_peer("cd.stream_emit_after_sleep", &arg, None, || {
                for i in 0..n {
                    ready.store(i as u64 + 1, Ordering::Release);
                    let stamp = sub.recv().expect("recv").expect("open");
                    lat.write::<u64>(8 * i, now_ns() - stamp).expect("lat");
                }
            });
            let this_round = read_lat(&lat, n);
            sleeper_shape_ratio.push(Lat::new(this_round.clone()).p(0.5) / round_base);
            stream_sleeper.extend(this_round);
        }
        {
            let m = n * 5;
            let seg = segment("cd", 1 << 20, 4);
            let raw = raw(&seg, "raw", 64 + 8 * m as u64);
            let word = raw.atomic_u32(8).expect("word");
            let arg = format!("{}:{m}", seg.name());
            with_peer("cd.raw_emit", &arg, None, || {
                raw.atomic_u64(0)
                    .expect("ready")
                    .store(1, Ordering::Release);
                let mut this_round = Vec::with_capacity(m);
                for i in 0..m {
                    futex_block_sliced(
                        word,
                        i as u32,
                        Duration::from_millis(1),
                        std::time::Instant::now() + Duration::from_secs(10),
                    );
                    let t = now_ns();
                    let stamp = raw
                        .atomic_u64(64 + 8 * i)
                        .expect("stamp")
                        .load(Ordering::Relaxed);
                    this_round.push(t.saturating_sub(stamp));
                }
                let p50 = Lat::new(this_round.clone()).p(0.5);
                if let Some(sp) = stream_p50.last() {
                    stream_shape_ratio.push(sp / p50);
                }
                shaped.extend(this_round);
            });
        }
    }
    let (fut, base, stream) = (Lat::new(fut), Lat::new(base), Lat::new(stream));
    let shaped = Lat::new(shaped);
    let stream_sleeper = Lat::new(stream_sleeper);
    let row = |l: &str, x: &Lat| x.row(l, &base);
    let md = format!(
        "Future: the getter announces itself, the setter waits 300 µs (so the getter has left \
         its spin phase and sleeps in `FUTEX_WAIT`), then sets; latency = the getter's \
         `CLOCK_MONOTONIC` after `get` returned − the future's `completion_time`. Baseline: a raw \
         shared futex word stamped, stored and woken the same way, the waiter sleeping in 1 ms \
         slices (the spec's D5 policy). Stream: the producer emits its `CLOCK_MONOTONIC` every \
         100 µs, busy-waiting in between; the subscriber (another process, blocking `recv`) \
         records arrival − stamp. Its same-shape baseline: a raw shared futex word stamped, \
         bumped and woken every 100 µs by a producer that busy-waits in between, the waiter \
         parked in `FUTEX_WAIT` right after each wake. The stream is also measured in the \
         first baseline's shape (the subscriber announces itself, the producer waits 300 µs, \
         then emits). On this VM the two shapes differ by themselves (a raw wake in the \
         stream's shape costs about three times one in the sleeper's shape), so the #19 goal \
         compares each shape with its own raw baseline.\n\n{}",
        table(
            &[
                "latency, 2 processes",
                "samples",
                "p50",
                "p90",
                "p99",
                "p50 / raw futex wake"
            ],
            &[
                row(
                    "raw shared futex wake of a sleeping waiter (baseline)",
                    &base
                ),
                row("`Future<u64>` set → get, getter asleep", &fut),
                row("`Stream<u64>` emit → subscriber, 100 µs apart", &stream),
                row(
                    "raw shared futex wake, 100 µs apart, busy producer (the stream's shape)",
                    &shaped
                ),
                row(
                    "`Stream<u64>` emit → subscriber, 300 µs after it announced itself (the \
                     baseline's shape)",
                    &stream_sleeper
                ),
            ]
        )
    );
    let lat2 = |l: &Lat| format!("p50 {}, p99 {}", dur(l.p(0.5)), dur(l.p(0.99)));
    let goals = vec![
        Goal::new("#7 codata", "Future set → get wake-up, 2 processes")
            .result(lat2(&fut))
            .baseline(format!("raw futex wake: {}", lat2(&base)))
            .ratio(format!("p50 {}", ratio(fut.p(0.5) / base.p(0.5))))
            .goal("report p50/p99", None),
        Goal::new("#7 codata", "Stream emit → subscriber, 2 processes")
            .result(lat2(&stream))
            .baseline(format!("raw futex wake: {}", lat2(&base)))
            .ratio(format!("p50 {}", ratio(stream.p(0.5) / base.p(0.5))))
            .goal("report p50/p99", None),
    ];
    let mut goals = goals;
    let sr = crate::harness::Spread::of(&stream_ratio);
    let shape = crate::harness::Spread::of(&stream_shape_ratio);
    let sleeper = crate::harness::Spread::of(&sleeper_shape_ratio);
    goals.push(
        Goal::new("#19 perf", "Stream emit → subscriber wake-up")
            .result(lat2(&stream))
            .baseline(format!(
                "raw futex wake in the stream's shape: {}; of a waiter woken after 300 µs \
                 asleep: {}",
                lat2(&shaped),
                lat2(&base)
            ))
            .ratio(format!(
                "stream's shape: {}; sleeper's shape (stream p50 {}): {}; stream's shape over \
                 the sleeper baseline: {}",
                crate::report::median_worst(&shape, cfg.rounds, true),
                dur(stream_sleeper.p(0.5)),
                crate::report::median_worst(&sleeper, cfg.rounds, true),
                crate::report::median_worst(&sr, cfg.rounds, true)
            ))
            .goal(
                "p50 ≤ 1.2× (each shape against its own baseline)",
                Some(shape.med <= 1.2 && sleeper.med <= 1.2),
            ),
    );
    GroupRecord::new(md, goals)
}
