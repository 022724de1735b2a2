//! Live alternation on one Queue between two attached processes (any two implementations).
//!
//! The segment holds `pp_q` (`Queue<i64>`) and `pp_turn` (`Array<u64>` of capacity 1, the word
//! at data offset 8 used atomically). Round `r` (from 0) has one producer — the `first`
//! role for even rounds, `second` for odd ones — and one consumer. Both wait for
//! `turn == r`; the producer pushes `batch` values while the consumer pops them
//! concurrently (retrying on full/empty), checking every value; the consumer then stores
//! `turn = r + 1`. The queue thus always has exactly one producer and one consumer
//! process, and the turn word one writer at a time, so a peer without cross-process CAS
//! (the pure-Python one) can take part. Values are `±(r * 1_000_000 + i + 1)`, positive
//! from `first`: a process popping its own value, a lost, duplicated or reordered element
//! all show up as mismatches.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment};
use zeroipc_structures::{Array, PushError, Queue};

use crate::error::PeerError;

/// Queue entry name.
pub const QUEUE: &str = "pp_q";
/// Turn word entry name.
pub const TURN: &str = "pp_turn";

/// Parameters of a run.
pub struct Params {
    /// Segment name.
    pub segment: String,
    /// `true` for the `first` role.
    pub first: bool,
    /// Number of rounds.
    pub rounds: u64,
    /// Values per round.
    pub batch: u64,
    /// Queue capacity (when creating).
    pub capacity: usize,
    /// Create the segment (else wait for it).
    pub create: bool,
    /// Bound on every wait.
    pub timeout: Duration,
}

/// The value element `i` of round `r` carries, from the `first` role or not.
pub fn value(r: u64, i: u64, from_first: bool) -> i64 {
    let v = (r * 1_000_000 + i + 1) as i64;
    if from_first { v } else { -v }
}

struct Backoff(u32);

impl Backoff {
    fn snooze(&mut self) {
        self.0 += 1;
        if self.0 < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

fn attach(p: &Params) -> Result<(Segment, Queue<i64>, Region), PeerError> {
    if p.create {
        let seg = Segment::create_or_replace(&p.segment, 65536, 64)?;
        let q = Queue::<i64>::create(&seg, QUEUE, p.capacity)?;
        let turn = Array::<u64>::create(&seg, TURN, 1)?;
        let region = seg.region(turn.entry())?;
        return Ok((seg, q, region));
    }
    let deadline = Instant::now() + p.timeout;
    loop {
        let attempt = (|| -> Result<_, PeerError> {
            let seg = Segment::open(&p.segment)?;
            let q = Queue::<i64>::open(&seg, QUEUE)?;
            let turn = Array::<u64>::open(&seg, TURN)?;
            let region = seg.region(turn.entry())?;
            Ok((seg, q, region))
        })();
        match attempt {
            Ok(t) => return Ok(t),
            Err(e) if e.kind == "NotFound" && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs one side; returns its JSON summary (`ok` only if every value matched).
pub fn run(p: &Params) -> Value {
    let mut out = json!({
        "impl": "rust", "role": if p.first { "first" } else { "second" }, "rounds": p.rounds,
        "batch": p.batch, "pushed": 0, "popped": 0, "bad": 0, "full_waits": 0,
        "empty_waits": 0, "ok": false, "error": null,
    });
    if let Err(e) = side(p, &mut out) {
        out["error"] = json!(e.kind);
        out["message"] = json!(e.message);
    }
    out
}

fn side(p: &Params, out: &mut Value) -> Result<(), PeerError> {
    let (_seg, q, region) = attach(p)?;
    // Array data start at offset 8; the single u64 is the turn word.
    let turn = region.atomic_u64(8)?;
    let (mut pushed, mut popped, mut bad, mut full_waits, mut empty_waits) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_bad: Option<String> = None;
    let wait_turn = |r: u64| -> Result<(), PeerError> {
        let deadline = Instant::now() + p.timeout;
        let mut b = Backoff(0);
        // Acquire: pairs with the consumer's Release store of `r` below.
        while turn.load(Ordering::Acquire) != r {
            if Instant::now() > deadline {
                return Err(PeerError::new("Timeout", format!("waiting for turn {r}")));
            }
            b.snooze();
        }
        Ok(())
    };
    for r in 0..p.rounds {
        let producer_is_first = r % 2 == 0;
        wait_turn(r)?;
        let deadline = Instant::now() + p.timeout;
        if producer_is_first == p.first {
            for i in 0..p.batch {
                let mut v = value(r, i, p.first);
                let mut b = Backoff(0);
                loop {
                    match q.push(v) {
                        Ok(()) => break,
                        Err(PushError::Full(back)) => {
                            v = back;
                            full_waits += 1;
                            if Instant::now() > deadline {
                                return Err(PeerError::new(
                                    "Timeout",
                                    format!("round {r}: queue stayed full"),
                                ));
                            }
                            b.snooze();
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                pushed += 1;
            }
        } else {
            for i in 0..p.batch {
                let want = value(r, i, !p.first);
                let mut b = Backoff(0);
                let got = loop {
                    if let Some(x) = q.pop()? {
                        break x;
                    }
                    empty_waits += 1;
                    if Instant::now() > deadline {
                        return Err(PeerError::new(
                            "Timeout",
                            format!("round {r}: queue stayed empty at {i}"),
                        ));
                    }
                    b.snooze();
                };
                popped += 1;
                if got != want {
                    bad += 1;
                    first_bad.get_or_insert_with(|| {
                        format!("round {r} item {i}: got {got}, want {want}")
                    });
                }
            }
            // Release: the next round's producer (this process) and consumer (the peer)
            // Acquire-load it in `wait_turn`.
            turn.store(r + 1, Ordering::Release);
        }
    }
    wait_turn(p.rounds)?;
    let (head, tail) = q.counters()?;
    let total = (p.rounds * p.batch) as u32;
    out["pushed"] = json!(pushed);
    out["popped"] = json!(popped);
    out["bad"] = json!(bad);
    out["first_bad"] = json!(first_bad);
    out["full_waits"] = json!(full_waits);
    out["empty_waits"] = json!(empty_waits);
    out["final_head"] = json!(head);
    out["final_tail"] = json!(tail);
    let rounds_of = |first: bool| {
        if first {
            p.rounds.div_ceil(2)
        } else {
            p.rounds / 2
        }
    };
    out["ok"] = json!(
        bad == 0
            && pushed == rounds_of(p.first) * p.batch
            && popped == rounds_of(!p.first) * p.batch
            && (head, tail) == (total, total)
            && q.is_empty()?
    );
    Ok(())
}
