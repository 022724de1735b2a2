//! A live single-producer single-consumer stream through a Ring shared by two attached
//! processes (any two implementations), both running at once.
//!
//! The segment holds `st_ring`, a `Ring<u32>` of an odd capacity (default 61 elements, so
//! positions wrap at a different buffer offset each lap). The producer writes
//! `value(i)` for `i` in `0..count`, retrying while the ring is full; the consumer reads
//! concurrently and checks every value in order; at the end both positions must equal
//! `4 * count`. A Ring has one producer and one consumer by design, so a peer without
//! compare-and-swap (the pure-Python one) is a full participant.

use std::time::Instant;

use serde_json::{Value, json};
use zeroipc_structures::Ring;

use crate::error::{PeerError, sent};
use crate::live::{self, Backoff, Params};

/// Ring entry name.
pub const RING: &str = "st_ring";

/// The value element `i` carries (a multiplicative mix, so a misplaced element shows).
pub fn value(i: u64) -> u32 {
    (i.wrapping_mul(2_654_435_761).wrapping_add(12_345) & 0xFFFF_FFFF) as u32
}

/// Runs one side; returns its JSON summary (`ok` only if every value matched).
pub fn run(p: &Params) -> Value {
    let out = json!({
        "impl": "rust", "role": if p.putter { "producer" } else { "consumer" },
        "count": p.count, "done": 0, "bad": 0, "waits": 0, "ok": false, "error": null,
    });
    live::summarise(out, || side(p))
}

fn side(p: &Params) -> Result<Value, PeerError> {
    let (_seg, ring) = p.attach(RING, Ring::<u32>::create, Ring::<u32>::open)?;
    let deadline = Instant::now() + p.timeout;
    let (mut done, mut bad, mut waits) = (0u64, 0u64, 0u64);
    let mut first_bad = None;
    while done < p.count {
        if p.putter {
            let v = value(done);
            let stuck = || format!("ring stayed full at {done}");
            live::retry(deadline, &mut waits, stuck, || {
                Ok(sent(ring.write(v))?.then_some(()))
            })?;
        } else {
            let stuck = || format!("ring stayed empty at {done}");
            let got = live::retry(deadline, &mut waits, stuck, || Ok(ring.read()?))?;
            if got != value(done) {
                bad += 1;
                first_bad
                    .get_or_insert_with(|| format!("item {done}: got {got}, want {}", value(done)));
            }
        }
        done += 1;
    }
    // Both sides wait until the consumer has taken everything.
    let total = 4 * p.count;
    let mut b = Backoff::default();
    let (w, r) = loop {
        let (w, r) = ring.positions_snapshot()?;
        if r == total || Instant::now() > deadline {
            break (w, r);
        }
        b.snooze();
    };
    Ok(json!({
        "done": done, "bad": bad, "first_bad": first_bad, "waits": waits,
        "write_pos": w, "read_pos": r,
        "ok": bad == 0 && done == p.count && w == total && r == total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn values_match_the_python_peer_formula() {
        // (i * 2654435761 + 12345) & 0xFFFFFFFF, as zeroipc_peer.py computes it.
        assert_eq!(value(0), 12_345);
        assert_eq!(value(1), 2_654_448_106);
        assert_eq!(
            value(2),
            ((2 * 2_654_435_761_u64 + 12_345) & 0xFFFF_FFFF) as u32
        );
        assert_eq!(crate::pingpong::value(3, 4, false), -3_000_005);
    }

    #[test]
    fn a_stream_within_one_process() {
        let name = format!("zi-unit-stream-{}", std::process::id());
        let base = Params {
            segment: name.clone(),
            putter: true,
            count: 500,
            capacity: 7,
            create: true,
            timeout: Duration::from_secs(20),
        };
        let producer = std::thread::spawn(move || run(&base));
        std::thread::sleep(Duration::from_millis(20));
        let consumer = run(&Params {
            segment: name.clone(),
            putter: false,
            count: 500,
            capacity: 7,
            create: false,
            timeout: Duration::from_secs(20),
        });
        let produced = producer.join().unwrap();
        zeroipc_format::Segment::unlink(&name).unwrap();
        assert_eq!(consumer["ok"], json!(true), "{consumer}");
        assert_eq!(produced["ok"], json!(true), "{produced}");
        assert_eq!(consumer["read_pos"], json!(2000));
    }
}
