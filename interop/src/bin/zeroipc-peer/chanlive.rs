//! A live buffered channel between two attached processes (any two implementations), both
//! running at once: one sender, one receiver.
//!
//! The segment holds `ch_live`, a `Channel<u32>` of a few slots (default 4), so the sender
//! keeps finding it full and the receiver keeps finding it empty. The sender sends
//! `stream::value(i)` for `i` in `0..count`, then closes the channel; the receiver checks
//! every value in order and must then see the channel closed and drained. This peer uses the
//! crate's **blocking** `send_timeout`/`recv_timeout`: against the pure-Python peer, which
//! never issues a futex wake-up, that shows a blocked zeroipc-rs party still sees the other
//! side's progress (it re-checks after every bounded sleep slice, spec §3.8).

use std::time::Instant;

use serde_json::{Value, json};
use zeroipc_codata::{Channel, Error as CodataError};

use crate::error::{PeerError, sent};
use crate::live::{self, Params};
use crate::stream::value;

/// Channel name.
pub const CHANNEL: &str = "ch_live";

/// Runs one side; returns its JSON summary (`ok` only if every value matched).
pub fn run(p: &Params) -> Value {
    let out = json!({
        "impl": "rust", "role": if p.putter { "sender" } else { "receiver" },
        "count": p.count, "done": 0, "bad": 0, "blocked": 0, "closed_seen": false, "ok": false,
        "error": null,
    });
    live::summarise(out, || side(p))
}

fn side(p: &Params) -> Result<Value, PeerError> {
    let (_seg, ch) = p.attach(CHANNEL, Channel::<u32>::create, Channel::<u32>::open)?;
    let deadline = Instant::now() + p.timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    let (mut done, mut bad, mut blocked) = (0u64, 0u64, 0u64);
    let mut first_bad = None;
    let closed_seen = if p.putter {
        while done < p.count {
            let v = value(done);
            if !sent(ch.try_send(v))? {
                blocked += 1; // full: block until the receiver makes room
                ch.send_timeout(v, left())?;
            }
            done += 1;
        }
        ch.close()?;
        true
    } else {
        loop {
            let got = match ch.try_recv() {
                Ok(Some(v)) => Some(v),
                Ok(None) => {
                    blocked += 1; // empty: block until the sender sends (or closes)
                    ch.recv_timeout(left())?
                }
                Err(CodataError::Closed { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            // `None`: closed and drained.
            let Some(got) = got else { break true };
            if done >= p.count || got != value(done) {
                bad += 1;
                first_bad.get_or_insert_with(|| format!("item {done}: got {got}"));
            }
            done += 1;
        }
    };
    Ok(json!({
        "done": done, "bad": bad, "first_bad": first_bad, "blocked": blocked,
        "closed_seen": closed_seen, "ok": bad == 0 && done == p.count && closed_seen,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use zeroipc_testkit::{ShmGuard, unique_name};

    fn params(name: &str, sender: bool, create: bool, count: u64) -> Params {
        Params {
            segment: name.to_owned(),
            putter: sender,
            count,
            capacity: 2,
            create,
            timeout: Duration::from_secs(20),
        }
    }

    /// A sender (creating the channel) of `sent` values and a receiver expecting `expected`,
    /// run at once; their summaries.
    fn pair(sent: u64, expected: u64) -> (Value, Value) {
        let name = unique_name("chanlive");
        let _guard = ShmGuard::new(&name);
        std::thread::scope(|s| {
            let r = s.spawn(|| run(&params(&name, false, false, expected)));
            (run(&params(&name, true, true, sent)), r.join().unwrap())
        })
    }

    /// Every value passes through two slots; a receiver expecting more than was sent sees
    /// the close after the last value and fails. The sender succeeds in both.
    #[test]
    fn the_receiver_gets_every_value_then_the_close() {
        let cases = [
            ("as many as sent", 500, 500, true),
            ("more than sent", 20, 30, false),
        ];
        for (case, sent, expected, ok) in cases {
            let (tx, rx) = pair(sent, expected);
            assert_eq!(tx["ok"], true, "{case}: {tx}");
            assert_eq!(rx["ok"], ok, "{case}: {rx}");
            let seen = [&rx["done"], &rx["bad"], &rx["closed_seen"]];
            assert_eq!(seen, [&json!(sent), &json!(0), &json!(true)], "{case}");
        }
    }
}
