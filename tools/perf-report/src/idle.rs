//! CPU used by an idle waiter: futex waiting (the project's way) against upstream-style
//! sleep backoff, each waiter on its own thread for the same wall time, all at once; and the
//! other side of that trade-off, how soon a waiter notices an upstream-style peer that changes
//! a semaphore's count with a plain store and never calls `FUTEX_WAKE`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroipc_format::atomic::Ordering;

use zerobuffer::{BufferConfig, Reader};
use zeroipc_format::Segment;
use zeroipc_sync::{Semaphore, futex};

use crate::Config;
use crate::baselines::{futex_block, futex_block_sliced, futex_wake_all, sleep_backoff_until};
use crate::harness::{Lat, Spread, dur, labelled_rows, num, ratio, thread_cpu_ns, unique};
use crate::report::{Goal, GroupRecord, table};

const LABELS: [&str; 5] = [
    "raw `FUTEX_WAIT` without timeout (floor)",
    "`Semaphore::acquire_timeout` (zeroipc-sync: futex, slices 1 ms growing to 10 ms)",
    "raw futex in fixed 1 ms slices (the spec's D5 minimum)",
    "ZeroBuffer `Reader::read_frame_timeout`, no writer (`sem_timedwait`, 100 ms liveness slices)",
    "upstream-style sleep backoff, 1 µs doubling to 1 ms (C++/Go waiters; baseline)",
];

/// Runs the five waiters at once for `wall`; returns each one's CPU time / wall time.
fn once(wall: Duration) -> Vec<f64> {
    let seg = Arc::new(Segment::anonymous(1 << 16, 8).expect("segment"));
    Semaphore::create(&seg, "s", 0, 1).expect("semaphore");
    // The word the futex and backoff waiters watch: a word of the (process-private) segment.
    let (_, wreg) = seg
        .add("w", 64, |_| Ok::<_, zeroipc_format::Error>(()))
        .expect("word");
    let wreg = Arc::new(wreg);
    let zname = unique("zbidle");
    let reader = Reader::create(&zname, BufferConfig::new(0, 4096)).expect("reader");
    let until = Instant::now() + wall;
    let mut hs = Vec::new();
    for k in 0..4 {
        let (seg, wreg) = (Arc::clone(&seg), Arc::clone(&wreg));
        hs.push(std::thread::spawn(move || {
            let word = wreg.atomic_u32(0).expect("word");
            let (c0, t0) = (thread_cpu_ns(), Instant::now());
            match k {
                0 => futex_block(word, 0),
                1 => {
                    let s = Semaphore::open(&seg, "s").expect("semaphore");
                    let left = until.saturating_duration_since(Instant::now());
                    assert!(s.acquire_timeout(left).is_err(), "nobody releases");
                }
                2 => futex_block_sliced(word, 0, Duration::from_millis(1), until),
                _ => sleep_backoff_until(word, 0, until),
            }
            (thread_cpu_ns() - c0) as f64 / t0.elapsed().as_nanos() as f64
        }));
    }
    // The ZeroBuffer reader on this thread.
    let (c0, t0) = (thread_cpu_ns(), Instant::now());
    let left = until.saturating_duration_since(Instant::now());
    assert!(reader.read_frame_timeout(left).expect("read").is_none());
    let zb = (thread_cpu_ns() - c0) as f64 / t0.elapsed().as_nanos() as f64;
    // Release the unbounded futex waiter.
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    let word = wreg.atomic_u32(0).expect("word");
    word.store(1, Ordering::SeqCst);
    futex_wake_all(word);
    let mut v: Vec<f64> = hs.into_iter().map(|h| h.join().expect("waiter")).collect();
    v.insert(3, zb);
    v
}

/// How a `Semaphore` waiter sleeps in the reaction measurement.
#[derive(Clone, Copy)]
enum Waiter {
    /// The default: slices of 1 ms growing to `futex::DEFAULT_MAX_SLICE`.
    Adaptive,
    /// `futex::set_max_slice(futex::SLICE)`: fixed 1 ms slices.
    Strict,
    /// Upstream's own loop on the count word (the baseline).
    SleepBackoff,
}

const WAITERS: [(Waiter, &str); 3] = [
    (
        Waiter::SleepBackoff,
        "upstream sleep backoff 1 µs → 1 ms (baseline)",
    ),
    (
        Waiter::Adaptive,
        "`Semaphore::acquire`, adaptive slices 1 → 10 ms (default)",
    ),
    (
        Waiter::Strict,
        "`Semaphore::acquire` after `futex::set_max_slice(futex::SLICE)` (1 ms slices)",
    ),
];

/// Delay in ns between a plain store of the count (no wake), made after the waiter has been
/// blocked for `asleep`, and the waiter's `acquire` returning.
fn reaction(w: Waiter, asleep: Duration) -> u64 {
    let seg = Segment::anonymous(1 << 16, 8).expect("segment");
    let sem = Semaphore::create(&seg, "s", 0, 0).expect("semaphore");
    let region = seg.region(sem.entry()).expect("region");
    let count = region.atomic_i32(0).expect("count");
    futex::set_max_slice(match w {
        Waiter::Strict => futex::SLICE,
        _ => futex::DEFAULT_MAX_SLICE,
    });
    let done = std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            match w {
                Waiter::SleepBackoff => {
                    // Upstream's loop: poll the count, back off, take a permit by CAS.
                    let word = region.atomic_u32(0).expect("count word");
                    let far = Instant::now() + Duration::from_secs(30);
                    sleep_backoff_until(word, 0, far);
                    count.fetch_sub(1, Ordering::AcqRel);
                }
                _ => sem
                    .acquire_timeout(Duration::from_secs(30))
                    .expect("acquire"),
            }
            Instant::now()
        });
        std::thread::sleep(asleep);
        let stored = Instant::now();
        count.store(1, Ordering::Release);
        let done = h.join().expect("waiter");
        done.saturating_duration_since(stored)
    });
    futex::set_max_slice(futex::DEFAULT_MAX_SLICE);
    done.as_nanos() as u64
}

/// The reaction table and the #4 goals on it; `idle` is the adaptive Semaphore's idle share
/// measured above.
fn reactions(cfg: &Config, idle: f64, backoff_idle: f64, goals: &mut Vec<Goal>) -> String {
    let samples = cfg.pick(15, 3);
    let mut rows = Vec::new();
    let mut lats = Vec::new();
    for (w, label) in WAITERS {
        let lat = Lat::new(
            (0..samples)
                .map(|_| reaction(w, Duration::from_millis(30)))
                .collect(),
        );
        rows.push(vec![
            label.to_string(),
            format!("{} / {}", dur(lat.p(0.5)), dur(lat.p(1.0))),
        ]);
        lats.push(lat);
    }
    let (adaptive, strict) = (&lats[1], &lats[2]);
    goals.push(
        Goal::new("#4 sync", "idle `Semaphore` waiter, default slices")
            .result(format!("{} %", num(idle * 100.0)))
            .baseline(format!(
                "sleep backoff 1 µs → 1 ms: {} %",
                num(backoff_idle * 100.0)
            ))
            .ratio(ratio(idle / backoff_idle))
            .goal("< 1 % of a CPU", Some(idle < 0.01)),
    );
    for (lat, what) in [(adaptive, "default slices"), (strict, "strict 1 ms slices")] {
        goals.push(
            Goal::new(
                "#4 sync",
                &format!("plain store by a polling peer → `acquire` returns, {what}"),
            )
            .result(format!("p50 {}, max {}", dur(lat.p(0.5)), dur(lat.p(1.0))))
            .baseline(format!(
                "upstream sleep backoff: p50 {}",
                dur(lats[0].p(0.5))
            ))
            .ratio(ratio(lat.p(0.5) / lats[0].p(0.5)))
            .goal("≤ 2 ms", Some(lat.p(1.0) <= 2e6)),
        );
    }
    format!(
        "\n**Reaction to a polling peer.** A thread blocks in `acquire` on a semaphore of count \
         0; after 30 ms another thread stores 1 into the count with a plain atomic store and \
         no `FUTEX_WAKE`, as upstream peers do. Delay until `acquire` returns, p50 / max of {} \
         samples per waiter:\n\n{}",
        samples,
        table(&["waiter", "store → acquire returns: p50 / max"], &rows)
    )
}

/// Runs the group.
pub fn run(cfg: &Config, img: &Path) -> GroupRecord {
    let wall = Duration::from_millis(cfg.pick(1000, 250));
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); LABELS.len()];
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        eprintln!("   round {} idle waiters", r + 1);
        for (k, v) in once(wall).into_iter().enumerate() {
            per[k].push(v);
        }
    }
    let s = Spread::each(&per);
    let backoff = s[4].med;
    let rows = labelled_rows(&LABELS, &s, |sp| {
        vec![
            sp.show(1e3, "ms/s"),
            format!("{} %", num(sp.med * 100.0)),
            ratio(sp.med / backoff),
        ]
    });
    let mut md = format!(
        "Each waiter waits {} ms for something that never comes, on its own thread, all five \
         at once; CPU time from `CLOCK_THREAD_CPUTIME_ID` (the accounting of \
         `getrusage(RUSAGE_THREAD)`, in ns). Median (min–max) over {} rounds.\n\n{}",
        wall.as_millis(),
        cfg.rounds,
        table(
            &[
                "idle waiter",
                "CPU per second waited",
                "CPU share",
                "/ sleep backoff"
            ],
            &rows
        )
    );
    let bars: Vec<(String, f64)> = [
        "futex, no timeout",
        "Semaphore (adaptive)",
        "futex, 1 ms slices",
        "ZeroBuffer reader",
        "sleep backoff 1 µs→1 ms",
    ]
    .iter()
    .zip(&s)
    .map(|(l, sp)| (l.to_string(), sp.med * 100.0))
    .collect();
    crate::plot::embed(&mut md, img, "idle.svg", "idle waiter CPU", |path| {
        crate::plot::bars(
            path,
            "CPU used by one idle waiter (% of one CPU, log scale)",
            &bars,
        )
    });
    let mut goals = Vec::new();
    md.push_str(&reactions(cfg, s[1].med, backoff, &mut goals));
    goals.push(
        Goal::new("#3 zerobuffer", "idle ZeroBuffer reader, CPU share")
            .result(format!("{} %", num(s[3].med * 100.0)))
            .baseline(format!(
                "sleep backoff 1 µs → 1 ms: {} %",
                num(backoff * 100.0)
            ))
            .ratio(ratio(s[3].med / backoff))
            .goal("–", None),
    );
    GroupRecord::new(md, goals)
}
