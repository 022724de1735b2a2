//! Single-thread figures: uncontended Mutex, Queue push+pop against crossbeam, Array sum
//! against a slice, segment open + find against the system-call floor.

use std::hint::black_box;
use std::time::Instant;

use crossbeam_queue::ArrayQueue;
use zeroipc_format::{Segment, SegmentOptions};
use zeroipc_structures::{Array, Queue};
use zeroipc_sync::{Mutex, Semaphore};

use crate::Config;
use crate::harness::{Spread, dur, ratio, unique};
use crate::report::{Goal, GroupRecord, table};

/// Nanoseconds per call of `f`, over `iters` calls.
#[inline(never)]
fn per_op<F: FnMut()>(iters: u64, mut f: F) -> f64 {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed().as_nanos() as f64 / iters as f64
}

/// The table's rows, in the order of the measurements: what, and the baseline (label, row).
const ROWS: [(&str, Option<(&str, usize)>); 12] = [
    ("`std::sync::Mutex` lock + unlock (reference)", None),
    (
        "`Mutex` lock + unlock, with owner entry",
        Some(("std Mutex", 0)),
    ),
    (
        "`Mutex` lock + unlock, upstream layout (no owner entry)",
        Some(("std Mutex", 0)),
    ),
    ("`Semaphore` try_acquire + release", Some(("std Mutex", 0))),
    ("crossbeam `ArrayQueue` push + pop (baseline)", None),
    ("`Queue<u64>` push + pop", Some(("ArrayQueue", 4))),
    ("sum of a plain `&[f64]` of 1M (baseline)", None),
    (
        "sum of an `Array<f64>` of 1M via `iter()`",
        Some(("slice", 6)),
    ),
    ("same via `Array::get(i)` in a loop", Some(("slice", 6))),
    (
        "floor: `shm_open` + `fstat` + `mmap(MAP_POPULATE)` + `munmap` + `close`",
        None,
    ),
    (
        "`Segment::open` of a 64-entry segment + `find` of the last name",
        Some(("floor", 9)),
    ),
    ("`find` of the last of 64 names in an open segment", None),
];

struct Rows {
    rows: Vec<Vec<String>>,
}

impl Rows {
    fn add(&mut self, what: &str, s: &Spread, base: Option<(&str, &Spread)>) {
        self.rows.push(vec![
            what.to_string(),
            format!("{} ({}–{})", dur(s.med), dur(s.min), dur(s.max)),
            base.map_or("–".into(), |(l, b)| format!("{l}: {}", dur(b.med))),
            base.map_or("–".into(), |(_, b)| ratio(s.med / b.med)),
        ]);
    }
}

/// The #4 goal for an uncontended `Mutex` lock + unlock pair, against `std::sync::Mutex`.
fn mutex_goal(figure: &str, ours: &Spread, std_mutex: &Spread) -> Goal {
    Goal::new("#4 sync", figure)
        .result(dur(ours.med))
        .baseline(format!("std Mutex: {}", dur(std_mutex.med)))
        .ratio(ratio(ours.med / std_mutex.med))
        .goal("< 25 ns", Some(ours.med < 25.0))
}

/// Runs the group.
pub fn run(cfg: &Config) -> GroupRecord {
    let rounds = cfg.pick(7, 3).max(cfg.rounds);
    let it = cfg.pick(2_000_000u64, 200_000);
    // --- sync
    let seg = Segment::anonymous(1 << 16, 64).expect("segment");
    let tracked = Mutex::create(&seg, "m").expect("mutex");
    let untracked = Mutex::create(&seg, "untracked_mutex_0123456789").expect("mutex");
    let sem = Semaphore::create(&seg, "s", 1, 1).expect("semaphore");
    let std_mutex = std::sync::Mutex::new(0u64);
    // --- queue
    let qseg = Segment::anonymous(1 << 20, 8).expect("segment");
    let q = Queue::<u64>::create(&qseg, "q", 1024).expect("queue");
    let aq = ArrayQueue::<u64>::new(1024);
    // --- array
    const N: usize = 1 << 20;
    let aname = unique("arr");
    let aseg = SegmentOptions::new()
        .unlink_on_drop(true)
        .populate(true)
        .create(
            &aname,
            Array::<f64>::memory_size(N).expect("size") + 4096,
            8,
        )
        .expect("segment");
    let array = Array::<f64>::create(&aseg, "samples", N).expect("array");
    let plain: Vec<f64> = (0..N).map(|i| i as f64 * 0.5).collect();
    array.write(0, &plain).expect("fill");
    // --- segment open
    let oname = unique("open");
    let oseg = SegmentOptions::new()
        .unlink_on_drop(true)
        .create(&oname, 8192, 64)
        .expect("segment");
    for i in 0..64 {
        oseg.add(&format!("entry_{i:02}"), 64, |_| {
            Ok::<_, zeroipc_format::Error>(())
        })
        .expect("entry");
    }
    let path = if oseg.name().starts_with('/') {
        oseg.name().to_string()
    } else {
        format!("/{}", oseg.name())
    };

    let mut v: Vec<Vec<f64>> = vec![Vec::new(); 12];
    for _ in 0..rounds {
        crate::harness::noise_probe();
        v[0].push(per_op(it, || drop(black_box(&std_mutex).lock())));
        v[1].push(per_op(it, || drop(black_box(&tracked).lock())));
        v[2].push(per_op(it, || drop(black_box(&untracked).lock())));
        v[3].push(per_op(it, || {
            let s = black_box(&sem);
            let _ = s.try_acquire();
            let _ = s.release();
        }));
        v[4].push(per_op(it, || {
            let _ = aq.push(black_box(7));
            black_box(aq.pop());
        }));
        v[5].push(per_op(it, || {
            let _ = q.push(black_box(7));
            black_box(q.pop().ok().flatten());
        }));
        let reps = cfg.pick(40, 10);
        v[6].push(per_op(reps, || {
            black_box(black_box(plain.as_slice()).iter().sum::<f64>());
        }));
        v[7].push(per_op(reps, || {
            black_box(black_box(&array).iter().sum::<f64>());
        }));
        v[8].push(per_op(reps, || {
            let a = black_box(&array);
            let mut s = 0.0;
            for i in 0..a.len() {
                s += a.get(i).unwrap_or(0.0);
            }
            black_box(s);
        }));
        let opens = cfg.pick(4000, 500);
        v[9].push(per_op(opens, || {
            black_box(zeroipc_testkit::map_shm(&path));
        }));
        v[10].push(per_op(opens, || {
            let s = Segment::open(black_box(&oname)).expect("open");
            black_box(s.find("entry_63").expect("find").offset());
        }));
        v[11].push(per_op(it / 4, || {
            black_box(oseg.find(black_box("entry_63")).expect("find").offset());
        }));
    }
    let s = Spread::each(&v);
    let mut r = Rows { rows: Vec::new() };
    for (i, (what, base)) in ROWS.iter().enumerate() {
        r.add(what, &s[i], base.map(|(label, b)| (label, &s[b])));
    }
    let md = format!(
        "One thread; median (min–max) over {rounds} rounds of the time per operation.\n\n{}",
        table(
            &["operation", "time", "baseline (same run)", "ratio"],
            &r.rows
        )
    );
    let goals = vec![
        mutex_goal(
            "uncontended `Mutex` lock + unlock (with owner entry)",
            &s[1],
            &s[0],
        ),
        mutex_goal(
            "uncontended `Mutex` lock + unlock (upstream layout)",
            &s[2],
            &s[0],
        ),
        Goal::new("#5 structures", "Queue push + pop pair, one thread")
            .result(dur(s[5].med))
            .baseline(format!("crossbeam ArrayQueue: {}", dur(s[4].med)))
            .ratio(format!("{} as fast", ratio(s[4].med / s[5].med)))
            .goal("≥ 1.0× as fast", Some(s[4].med / s[5].med >= 1.0)),
        Goal::new("#2 format", "sum an `Array<f64>` of 1M via `iter()`")
            .result(dur(s[7].med))
            .baseline(format!("plain slice: {}", dur(s[6].med)))
            .ratio(ratio(s[7].med / s[6].med))
            .goal("≤ 1.05×", Some(s[7].med / s[6].med <= 1.05)),
        Goal::new("#2 format", "open a 64-entry segment + find the last name")
            .result(dur(s[10].med))
            .baseline(format!("system-call floor: {}", dur(s[9].med)))
            .ratio(ratio(s[10].med / s[9].med))
            .goal("< 2 µs", Some(s[10].med < 2000.0)),
    ];
    drop(oseg);
    GroupRecord::new(md, goals)
}
