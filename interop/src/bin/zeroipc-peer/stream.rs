//! A live single-producer single-consumer stream through a Ring shared by two attached
//! processes (any two implementations), both running at once.
//!
//! The segment holds `st_ring`, a `Ring<u32>` of an odd capacity (default 61 elements, so
//! positions wrap at a different buffer offset each lap). The producer writes
//! `value(i)` for `i` in `0..count`, retrying while the ring is full; the consumer reads
//! concurrently and checks every value in order; at the end both positions must equal
//! `4 * count`. A Ring has one producer and one consumer by design, so a peer without
//! compare-and-swap (the pure-Python one) is a full participant.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zeroipc_format::Segment;
use zeroipc_structures::{PushError, Ring};

use crate::error::PeerError;

/// Ring entry name.
pub const RING: &str = "st_ring";

/// The value element `i` carries (a multiplicative mix, so a misplaced element shows).
pub fn value(i: u64) -> u32 {
    (i.wrapping_mul(2_654_435_761).wrapping_add(12_345) & 0xFFFF_FFFF) as u32
}

/// Parameters of a run.
pub struct Params {
    /// Segment name.
    pub segment: String,
    /// Producer (else consumer).
    pub producer: bool,
    /// Number of values.
    pub count: u64,
    /// Ring capacity in elements (when creating).
    pub capacity: usize,
    /// Create the segment (else wait for it).
    pub create: bool,
    /// Bound on the whole run.
    pub timeout: Duration,
}

fn attach(p: &Params) -> Result<(Segment, Ring<u32>), PeerError> {
    if p.create {
        let seg = Segment::create_or_replace(&p.segment, 65536, 64)?;
        let ring = Ring::<u32>::create(&seg, RING, p.capacity)?;
        return Ok((seg, ring));
    }
    let deadline = Instant::now() + p.timeout;
    loop {
        let attempt = Segment::open(&p.segment)
            .map_err(PeerError::from)
            .and_then(|seg| Ok((Ring::<u32>::open(&seg, RING)?, seg)));
        match attempt {
            Ok((ring, seg)) => return Ok((seg, ring)),
            Err(e) if e.kind == "NotFound" && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn snooze(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Runs one side; returns its JSON summary (`ok` only if every value matched).
pub fn run(p: &Params) -> Value {
    let mut out = json!({
        "impl": "rust", "role": if p.producer { "producer" } else { "consumer" },
        "count": p.count, "done": 0, "bad": 0, "waits": 0, "ok": false, "error": null,
    });
    if let Err(e) = side(p, &mut out) {
        out["error"] = json!(e.kind);
        out["message"] = json!(e.message);
    }
    out
}

fn side(p: &Params, out: &mut Value) -> Result<(), PeerError> {
    let (_seg, ring) = attach(p)?;
    let deadline = Instant::now() + p.timeout;
    let (mut done, mut bad, mut waits) = (0u64, 0u64, 0u64);
    let mut first_bad = None;
    while done < p.count {
        let mut spins = 0;
        if p.producer {
            let mut v = value(done);
            loop {
                match ring.write(v) {
                    Ok(()) => break,
                    Err(PushError::Full(back)) => v = back,
                    Err(e) => return Err(e.into()),
                }
                waits += 1;
                if Instant::now() > deadline {
                    return Err(PeerError::new(
                        "Timeout",
                        format!("ring stayed full at {done}"),
                    ));
                }
                snooze(&mut spins);
            }
        } else {
            let got = loop {
                if let Some(x) = ring.read()? {
                    break x;
                }
                waits += 1;
                if Instant::now() > deadline {
                    return Err(PeerError::new(
                        "Timeout",
                        format!("ring stayed empty at {done}"),
                    ));
                }
                snooze(&mut spins);
            };
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
    let mut spins = 0;
    let (w, r) = loop {
        let (w, r) = ring.positions_snapshot()?;
        if r == total || Instant::now() > deadline {
            break (w, r);
        }
        snooze(&mut spins);
    };
    out["done"] = json!(done);
    out["bad"] = json!(bad);
    out["first_bad"] = json!(first_bad);
    out["waits"] = json!(waits);
    out["write_pos"] = json!(w);
    out["read_pos"] = json!(r);
    out["ok"] = json!(bad == 0 && done == p.count && w == total && r == total);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            producer: true,
            count: 500,
            capacity: 7,
            create: true,
            timeout: Duration::from_secs(20),
        };
        let producer = std::thread::spawn(move || run(&base));
        std::thread::sleep(Duration::from_millis(20));
        let consumer = run(&Params {
            segment: name.clone(),
            producer: false,
            count: 500,
            capacity: 7,
            create: false,
            timeout: Duration::from_secs(20),
        });
        let produced = producer.join().unwrap();
        Segment::unlink(&name).unwrap();
        assert_eq!(consumer["ok"], json!(true), "{consumer}");
        assert_eq!(produced["ok"], json!(true), "{produced}");
        assert_eq!(consumer["read_pos"], json!(2000));
    }
}
