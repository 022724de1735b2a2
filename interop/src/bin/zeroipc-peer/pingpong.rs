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
use zeroipc_structures::{Array, Queue};

use crate::error::{PeerError, sent};
use crate::live;

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

fn attach(p: &Params) -> Result<(Segment, (Queue<i64>, Region)), PeerError> {
    live::attach(
        &p.segment,
        p.create,
        p.timeout,
        |seg| {
            let q = Queue::<i64>::create(seg, QUEUE, p.capacity)?;
            let turn = Array::<u64>::create(seg, TURN, 1)?;
            Ok((q, seg.region(turn.entry())?))
        },
        |seg| {
            let q = Queue::<i64>::open(seg, QUEUE)?;
            let turn = Array::<u64>::open(seg, TURN)?;
            Ok((q, seg.region(turn.entry())?))
        },
    )
}

/// Runs one side; returns its JSON summary (`ok` only if every value matched).
pub fn run(p: &Params) -> Value {
    let out = json!({
        "impl": "rust", "role": if p.first { "first" } else { "second" }, "rounds": p.rounds,
        "batch": p.batch, "pushed": 0, "popped": 0, "bad": 0, "full_waits": 0,
        "empty_waits": 0, "ok": false, "error": null,
    });
    live::summarise(out, || side(p))
}

fn side(p: &Params) -> Result<Value, PeerError> {
    let (_seg, (q, region)) = attach(p)?;
    // Array data start at offset 8; the single u64 is the turn word.
    let turn = region.atomic_u64(8)?;
    let (mut pushed, mut popped, mut bad, mut full_waits, mut empty_waits) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_bad: Option<String> = None;
    let wait_turn = |r: u64| -> Result<(), PeerError> {
        let deadline = Instant::now() + p.timeout;
        let stuck = || format!("waiting for turn {r}");
        // Acquire: pairs with the consumer's Release store of `r` below.
        live::retry(deadline, &mut 0, stuck, || {
            Ok((turn.load(Ordering::Acquire) == r).then_some(()))
        })
    };
    for r in 0..p.rounds {
        let producer_is_first = r % 2 == 0;
        wait_turn(r)?;
        let deadline = Instant::now() + p.timeout;
        if producer_is_first == p.first {
            for i in 0..p.batch {
                let v = value(r, i, p.first);
                let stuck = || format!("round {r}: queue stayed full");
                live::retry(deadline, &mut full_waits, stuck, || {
                    Ok(sent(q.push(v))?.then_some(()))
                })?;
                pushed += 1;
            }
        } else {
            for i in 0..p.batch {
                let want = value(r, i, !p.first);
                let stuck = || format!("round {r}: queue stayed empty at {i}");
                let got = live::retry(deadline, &mut empty_waits, stuck, || Ok(q.pop()?))?;
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
    let rounds_of = |first: bool| {
        if first {
            p.rounds.div_ceil(2)
        } else {
            p.rounds / 2
        }
    };
    let ok = bad == 0
        && pushed == rounds_of(p.first) * p.batch
        && popped == rounds_of(!p.first) * p.batch
        && (head, tail) == (total, total)
        && q.is_empty()?;
    Ok(json!({
        "pushed": pushed, "popped": popped, "bad": bad, "first_bad": first_bad,
        "full_waits": full_waits, "empty_waits": empty_waits, "final_head": head,
        "final_tail": tail, "ok": ok,
    }))
}
