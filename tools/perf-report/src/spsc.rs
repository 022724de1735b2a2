//! Throughput of 8-byte items from one producer to one consumer: Queue, Ring, Channel and a
//! raw shared-memory SPSC ring between two processes, against crossbeam `ArrayQueue` and
//! `crossbeam-channel` between two threads of one process.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use zeroipc_format::atomic::Ordering;

use crossbeam_queue::ArrayQueue;
use zeroipc_codata::Channel;
use zeroipc_format::{Region, Segment};
use zeroipc_structures::{PushError, Queue, Ring};

use zeroipc_testkit::spsc::produce_batches;

use crate::Config;
use crate::harness::{
    Backoff, Spread, group_peer, labelled_rows, ratio, raw, region, segment, with_peer,
};
use crate::report::{Goal, GroupRecord, table};

const CAP: usize = 1024;
const RAW_SLOTS: u64 = 1024;
const RAW_BASE: usize = 4096;

fn expected(n: u64) -> u64 {
    n * (n - 1) / 2
}

/// Times the consumer from its first item (so peer start-up is excluded).
fn consume(n: u64, mut pop: impl FnMut() -> Option<u64>) -> f64 {
    let mut sum = 0u64;
    let mut start = None;
    let mut got = 0;
    let mut bk = Backoff::default();
    while got < n {
        if let Some(v) = pop() {
            start.get_or_insert_with(Instant::now);
            sum = sum.wrapping_add(v);
            got += 1;
            bk.reset();
        } else {
            bk.snooze();
        }
    }
    assert_eq!(sum, expected(n), "items lost or duplicated");
    (n - 1) as f64 / start.expect("started").elapsed().as_secs_f64()
}

fn queue_push(q: &Queue<u64>, v: u64) {
    let mut v = v;
    let mut bk = Backoff::default();
    loop {
        match q.push(v) {
            Ok(()) => return,
            Err(PushError::Full(b)) => {
                v = b;
                bk.snooze();
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// Peer roles of this group.
pub fn child(role: &str, arg: &str) -> bool {
    let Some((seg, n)) = group_peer::<u64>(role, "spsc.", arg) else {
        return false;
    };
    match role {
        "spsc.queue" => {
            let q = Queue::<u64>::open(&seg, "q").expect("q");
            for i in 0..n {
                queue_push(&q, i);
            }
        }
        "spsc.ring1" => {
            let r = Ring::<u64>::open(&seg, "r").expect("ring");
            for i in 0..n {
                let mut bk = Backoff::default();
                while r.write(i).is_err() {
                    bk.snooze();
                }
            }
        }
        "spsc.ringbatch" => {
            let r = Ring::<u64>::open(&seg, "r").expect("ring");
            produce_batches(n, |b| until_moved(|| r.write_slice(b).expect("write")));
        }
        "spsc.raw" => raw_produce(&region(&seg, "w"), n),
        "spsc.channel" => {
            let c = Channel::<u64>::open(&seg, "c").expect("channel");
            for i in 0..n {
                c.send(i).expect("send");
            }
        }
        "spsc.queuebatch" => {
            let q = Queue::<u64>::open(&seg, "q").expect("q");
            produce_batches(n, |b| until_moved(|| q.push_slice(b).expect("push_slice")));
        }
        "spsc.rendezvous" => {
            let c = Channel::<u64>::open(&seg, "u").expect("rendezvous channel");
            for i in 0..n {
                c.send(i).expect("send");
            }
        }
        "spsc.pollslot" => {
            let w = region(&seg, "p");
            for i in 0..n {
                poll_slot_send(&w, i);
            }
        }
        "spsc.channelbatch" => {
            let c = Channel::<u64>::open(&seg, "c").expect("channel");
            produce_batches(n, |b| c.send_slice(b).expect("send_slice"));
        }
        _ => return false,
    }
    true
}

/// Calls `put` until it moves something (returns a non-zero count), backing off in between.
fn until_moved(mut put: impl FnMut() -> usize) -> usize {
    let mut bk = Backoff::default();
    loop {
        match put() {
            0 => bk.snooze(),
            moved => return moved,
        }
    }
}

/// Consumes `n` items received in batches of up to 256 through `recv` (0: nothing yet).
fn consume_batches(n: u64, mut recv: impl FnMut(&mut [u64]) -> usize) -> f64 {
    let mut buf = [0u64; 256];
    let (mut have, mut at) = (0usize, 0usize);
    consume(n, || {
        if at == have {
            have = recv(&mut buf);
            at = 0;
            if have == 0 {
                return None;
            }
        }
        at += 1;
        Some(buf[at - 1])
    })
}

fn raw_produce(w: &Region, n: u64) {
    let (head, tail) = (w.atomic_u64(128).expect("w"), w.atomic_u64(192).expect("w"));
    let mut cached_head = head.load(Ordering::Acquire);
    let mut bk = Backoff::default();
    for i in 0..n {
        while i - cached_head >= RAW_SLOTS {
            cached_head = head.load(Ordering::Acquire);
            bk.snooze();
        }
        bk.reset();
        w.write::<u64>(RAW_BASE + 8 * (i % RAW_SLOTS) as usize, i)
            .expect("write");
        tail.store(i + 1, Ordering::Release);
    }
}

fn raw_consume(w: &Region, n: u64) -> f64 {
    let (head, tail) = (w.atomic_u64(128).expect("w"), w.atomic_u64(192).expect("w"));
    let mut cached_tail = 0;
    let mut i = 0;
    consume(n, || {
        if cached_tail <= i {
            cached_tail = tail.load(Ordering::Acquire);
            if cached_tail <= i {
                return None;
            }
        }
        let v = w
            .read::<u64>(RAW_BASE + 8 * (i % RAW_SLOTS) as usize)
            .expect("read");
        i += 1;
        head.store(i, Ordering::Release);
        Some(v)
    })
}

/// The upstream C++ rendezvous as a same-run baseline: the slot `{ready, consumed, data}`
/// (here as two 32-bit words and a u64), both sides polling with spin-then-yield and never
/// sleeping, as every upstream implementation does. Send: wait until not ready, write,
/// consumed = 0, ready = 1, wait until consumed.
fn poll_slot_send(w: &Region, v: u64) {
    let ready = w.atomic_u32(0).expect("ready");
    let consumed = w.atomic_u32(4).expect("consumed");
    let mut bk = Backoff::default();
    while ready.load(Ordering::Acquire) != 0 {
        bk.snooze();
    }
    w.write::<u64>(8, v).expect("data");
    consumed.store(0, Ordering::Relaxed);
    // Release: publishes the data to the receiver's Acquire load of `ready`.
    ready.store(1, Ordering::Release);
    let mut bk = Backoff::default();
    while consumed.load(Ordering::Acquire) != 1 {
        bk.snooze();
    }
}

/// Receive: wait until ready, read, consumed = 1, ready = 0.
fn poll_slot_recv(w: &Region) -> u64 {
    let ready = w.atomic_u32(0).expect("ready");
    let consumed = w.atomic_u32(4).expect("consumed");
    let mut bk = Backoff::default();
    while ready.load(Ordering::Acquire) != 1 {
        bk.snooze();
    }
    let v = w.read::<u64>(8).expect("data");
    // Release: the sender's Acquire load of `consumed` orders its next write after our read.
    consumed.store(1, Ordering::Release);
    ready.store(0, Ordering::Release);
    v
}

/// The subjects, in table order.
const SUBJECTS: [&str; 12] = [
    "Queue<u64>, one item at a time, 2 processes",
    "Ring<u64>, one item at a time, 2 processes",
    "Ring<u64>, batches of up to 256 (`write_slice`/`read_into`), 2 processes",
    "raw SPSC ring in shared memory, cached indices on separate lines, 2 processes (ceiling)",
    "Channel<u64> (codata, capacity 1024), blocking send/recv, 2 processes",
    "Queue<u64>, 2 threads of one process",
    "crossbeam ArrayQueue, 2 threads of one process (baseline)",
    "crossbeam-channel bounded(1024), 2 threads of one process (baseline)",
    "Queue<u64>, batches of up to 256 (`push_slice`/`pop_into`, one CAS per run), 2 processes",
    "Channel<u64>, batches of up to 256 (`send_slice`/`recv_into`), 2 processes",
    "rendezvous (unbuffered) Channel<u64>, blocking send/recv, 2 processes",
    "upstream-style polling rendezvous slot, 2 processes (baseline)",
];

fn fresh() -> Segment {
    let seg = segment("spsc", 1 << 20, 16);
    Queue::<u64>::create(&seg, "q", CAP).expect("queue");
    Ring::<u64>::create(&seg, "r", CAP).expect("ring");
    Channel::<u64>::create(&seg, "c", CAP).expect("channel");
    raw(&seg, "w", RAW_BASE as u64 + 8 * RAW_SLOTS);
    Channel::<u64>::create_unbuffered(&seg, "u").expect("rendezvous channel");
    raw(&seg, "p", 64);
    seg
}

fn one(k: usize, n: u64) -> f64 {
    let seg = fresh();
    let arg = format!("{}:{n}", seg.name());
    match k {
        0 => {
            let q = Queue::<u64>::open(&seg, "q").expect("q");
            with_peer("spsc.queue", &arg, None, || {
                consume(n, || q.pop().expect("pop"))
            })
        }
        1 => {
            let r = Ring::<u64>::open(&seg, "r").expect("r");
            with_peer("spsc.ring1", &arg, None, || {
                consume(n, || r.read().expect("read"))
            })
        }
        2 => {
            let r = Ring::<u64>::open(&seg, "r").expect("r");
            with_peer("spsc.ringbatch", &arg, None, || {
                consume_batches(n, |b| r.read_into(b).expect("read"))
            })
        }
        3 => {
            let w = region(&seg, "w");
            with_peer("spsc.raw", &arg, None, || raw_consume(&w, n))
        }
        4 => {
            let c = Channel::<u64>::open(&seg, "c").expect("c");
            with_peer("spsc.channel", &arg, None, || {
                consume(n, || Some(c.recv().expect("recv").expect("open")))
            })
        }
        5 => {
            let anon = Arc::new(Segment::anonymous(1 << 20, 8).expect("segment"));
            Queue::<u64>::create(&anon, "q", CAP).expect("queue");
            let s2 = Arc::clone(&anon);
            let t = std::thread::spawn(move || {
                let q = Queue::<u64>::open(&s2, "q").expect("q");
                for i in 0..n {
                    queue_push(&q, i);
                }
            });
            let q = Queue::<u64>::open(&anon, "q").expect("q");
            let r = consume(n, || q.pop().expect("pop"));
            t.join().expect("producer");
            r
        }
        6 => {
            let q = Arc::new(ArrayQueue::<u64>::new(CAP));
            let p = Arc::clone(&q);
            let t = std::thread::spawn(move || {
                let mut bk = Backoff::default();
                for i in 0..n {
                    while p.push(i).is_err() {
                        bk.snooze();
                    }
                    bk.reset();
                }
            });
            let r = consume(n, || q.pop());
            t.join().expect("producer");
            r
        }
        8 => {
            let q = Queue::<u64>::open(&seg, "q").expect("q");
            with_peer("spsc.queuebatch", &arg, None, || {
                consume_batches(n, |b| q.pop_into(b).expect("pop_into"))
            })
        }
        9 => {
            let c = Channel::<u64>::open(&seg, "c").expect("c");
            with_peer("spsc.channelbatch", &arg, None, || {
                consume_batches(n, |b| c.recv_into(b).expect("recv_into"))
            })
        }
        10 => {
            let c = Channel::<u64>::open(&seg, "u").expect("u");
            with_peer("spsc.rendezvous", &arg, None, || {
                consume(n, || Some(c.recv().expect("recv").expect("open")))
            })
        }
        11 => {
            let w = region(&seg, "p");
            with_peer("spsc.pollslot", &arg, None, || {
                consume(n, || Some(poll_slot_recv(&w)))
            })
        }
        _ => {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(CAP);
            let t = std::thread::spawn(move || {
                for i in 0..n {
                    tx.send(i).expect("send");
                }
            });
            let r = consume(n, || Some(rx.recv().expect("recv")));
            t.join().expect("producer");
            black_box(r)
        }
    }
}

/// Runs the group.
pub fn run(cfg: &Config) -> GroupRecord {
    let n = cfg.pick(2_000_000u64, 200_000);
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); SUBJECTS.len()];
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        for (k, rate) in rates.iter_mut().enumerate() {
            eprintln!("   round {} spsc {k}", r + 1);
            rate.push(one(k, n));
        }
    }
    let s = Spread::each(&rates);
    let cb = s[6].med;
    let rows = labelled_rows(&SUBJECTS, &s, |sp| {
        vec![
            sp.show(1e-6, "M/s"),
            ratio(sp.med / cb),
            ratio(sp.med / s[7].med),
        ]
    });
    let md = format!(
        "{n} items per round, {} rounds: median (min–max) in millions of items per second.\n\n{}",
        cfg.rounds,
        table(
            &[
                "8-byte items, 1 producer → 1 consumer",
                "throughput",
                "/ ArrayQueue",
                "/ crossbeam-channel",
            ],
            &rows
        )
    );
    let m = |i: usize| s[i].show(1e-6, "M items/s");
    // Subject `i` against subject `b` (described by `against`), as a ratio of medians.
    let vs = |issue: &str, figure: &str, i: usize, against: &str, b: usize| {
        Goal::new(issue, figure)
            .result(m(i))
            .baseline(format!("{against}: {}", m(b)))
            .ratio(ratio(s[i].med / s[b].med))
    };
    let at_least = |i: usize, b: usize, min: f64| Some(s[i].med / s[b].med >= min);
    let (aq, in_process_aq, in_process_cc) = (
        "ArrayQueue 1P/1C",
        "crossbeam ArrayQueue 1P/1C in-process",
        "crossbeam-channel 1P/1C in-process",
    );
    let goals = vec![
        vs("#5 structures", "Queue 1P/1C, two threads", 5, "crossbeam ArrayQueue 1P/1C", 6)
            .goal("≥ 1.0×", at_least(5, 6, 1.0)),
        vs("#5 structures", "SPSC 8-byte items, Queue, 2 processes", 0, in_process_aq, 6)
            .goal("≥ 0.5×", at_least(0, 6, 0.5)),
        vs("#5 structures", "SPSC 8-byte items, Ring one at a time, 2 processes", 1, aq, 6)
            .goal("(≥ 0.5×, as the Queue)", at_least(1, 6, 0.5)),
        vs("#5 structures", "SPSC 8-byte items, Ring in batches, 2 processes", 2, aq, 6)
            .goal("(≥ 0.5×, as the Queue)", at_least(2, 6, 0.5)),
        vs("#5 structures", "raw SPSC ring ceiling, 2 processes", 3, aq, 6).goal("–", None),
        vs("#7 codata", "buffered Channel<u64>, 8-byte messages, 2 processes", 4, in_process_cc, 7)
            .goal("≥ 20 M msgs/s", Some(s[4].med >= 20e6)),
        vs(
            "#5 structures",
            "SPSC 8-byte items, Queue in batches (`push_slice`/`pop_into`), 2 processes",
            8,
            aq,
            6,
        )
        .goal("(≥ 0.5×, in bulk)", at_least(8, 6, 0.5)),
        vs(
            "#7 codata",
            "buffered Channel<u64>, 8-byte messages in batches (`send_slice`/`recv_into`), 2 processes",
            9,
            in_process_cc,
            7,
        )
        .goal("≥ 20 M msgs/s (in bulk)", Some(s[9].med >= 20e6)),
        vs("#19 perf", "buffered Channel<u64>, one at a time, 2 processes", 4, in_process_cc, 7)
            .ratio(format!(
                "worst round {} M/s",
                crate::harness::num(s[4].min * 1e-6)
            ))
            .goal("≥ 20 M msgs/s median", Some(s[4].med >= 20e6)),
        vs(
            "#19 perf",
            "rendezvous Channel<u64>, 2 processes",
            10,
            "upstream-style polling slot",
            11,
        )
        .goal("≥ 2 M hand-offs/s", Some(s[10].med >= 2e6)),
    ];
    GroupRecord::new(md, goals)
}
