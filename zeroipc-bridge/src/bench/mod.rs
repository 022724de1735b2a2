//! `zeroipc-bridge bench`: same-run comparisons of the bridge with zenoh's own pub/sub
//! between the same two zenoh sessions (127.0.0.1). The bridges run as threads of this
//! process; two segments (two buffer names) stand in for two machines. This stays out of
//! tools/perf-report, so the main report never depends on zenoh.
//!
//! * [`throughput`]: Stream items/s (any supported item size) through an export/import pair
//!   vs one zenoh `put` per item.
//! * [`frames`]: ZeroBuffer frames/s (e.g. 1 MiB frames) through an export/import pair vs
//!   one zenoh `put` per frame.
//! * [`round_trip`]: p50 of a ping through two bridges and back (four links, an echo on the
//!   far side) vs zenoh's own ping/pong plus a local Stream ping/pong (two hand-offs).
//!
//! Every measurement is repeated `rounds` times; [`summary`] gives the median and range of
//! each ratio.

pub mod frames;
pub mod round_trip;
pub mod throughput;

pub use frames::FrameResult;
pub use round_trip::RoundTripResult;
pub use throughput::{BenchResult, run};

use zenoh::Wait;

use crate::error::Result;
use crate::net::NetConfig;

/// Two zenoh sessions connected over 127.0.0.1: `a` listens, `b` connects.
pub struct Sessions {
    /// The "machine A" session.
    pub a: zenoh::Session,
    /// The "machine B" session.
    pub b: zenoh::Session,
}

impl Sessions {
    /// Opens both sessions on `127.0.0.1:port`.
    ///
    /// # Errors
    /// zenoh errors (e.g. the port is taken).
    pub fn open(port: u16) -> Result<Self> {
        let ep = format!("tcp/127.0.0.1:{port}");
        let a = NetConfig {
            listen: vec![ep.clone()],
            connect: vec![],
        }
        .open()?;
        let b = NetConfig {
            listen: vec![],
            connect: vec![ep],
        }
        .open()?;
        Ok(Self { a, b })
    }

    /// Closes both sessions.
    pub fn close(self) {
        let _ = self.a.close().wait();
        let _ = self.b.close().wait();
    }
}

/// A Stream link of `elem` items named `name` in segment `seg` (created with
/// `segment_size` bytes and `capacity` items if missing) on zenoh key `key`.
pub(crate) fn stream_link(
    seg: &str,
    name: &str,
    key: &str,
    segment_size: u64,
    elem: String,
    capacity: usize,
) -> crate::config::LinkConfig {
    crate::config::LinkConfig {
        kind: crate::config::ObjectKind::Stream,
        name: name.into(),
        segment: Some(seg.into()),
        segment_size: Some(segment_size),
        elem: Some(elem),
        capacity: Some(capacity),
        key: Some(key.into()),
        window: None,
        importer_id: None,
        payload_size: None,
        metadata_size: None,
        peer_timeout_ms: None,
    }
}

/// Puts `payload` on `publisher` until `arrived` (waiting up to `each` after every put) says
/// the subscriber got one: until the subscriber is known to the publisher's side, puts go
/// nowhere. Gives up after `tries` puts.
pub(crate) fn warm_up(
    publisher: &zenoh::pubsub::Publisher<'_>,
    payload: &[u8],
    tries: u64,
    mut arrived: impl FnMut() -> bool,
) -> Result<()> {
    for _ in 0..tries {
        publisher
            .put(payload.to_vec())
            .wait()
            .map_err(crate::error::Error::zenoh)?;
        if arrived() {
            return Ok(());
        }
    }
    Err(crate::error::Error::Zenoh(
        "the raw subscriber never received anything".into(),
    ))
}

/// Puts `payload` `n` times on `publisher`, then waits until `all_arrived` (a bounded wait);
/// returns the messages per second from the first put to the last arrival.
pub(crate) fn put_all(
    publisher: &zenoh::pubsub::Publisher<'_>,
    payload: &[u8],
    n: u64,
    all_arrived: impl FnOnce() -> bool,
) -> Result<f64> {
    let start = std::time::Instant::now();
    for _ in 0..n {
        publisher
            .put(payload.to_vec())
            .wait()
            .map_err(crate::error::Error::zenoh)?;
    }
    if !all_arrived() {
        return Err(crate::error::Error::Zenoh(
            "raw pub/sub lost messages".into(),
        ));
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Runs a measurement beside its `links` (each given `stop`), then joins them. On an error
/// the links are stopped first: they would otherwise wait for a close that never comes. The
/// measurement's error comes before the links'.
pub(crate) fn with_links<R>(
    stop: &crate::Stop,
    links: Vec<std::thread::ScopedJoinHandle<'_, Result<()>>>,
    measure: impl FnOnce() -> Result<R>,
) -> Result<R> {
    let r = measure();
    if r.is_err() {
        stop.stop();
    }
    let mut joined = Ok(());
    for h in links {
        let j = h
            .join()
            .unwrap_or_else(|_| Err(crate::error::Error::Config("bench link panicked".into())));
        if joined.is_ok() {
            joined = j;
        }
    }
    let r = r?;
    joined.map(|()| r)
}

/// Waits up to `limit` on `pair`'s condition variable until `done` holds for the state it
/// guards; `false` on timeout.
pub(crate) fn wait_until<S>(
    pair: &(std::sync::Mutex<S>, std::sync::Condvar),
    done: impl Fn(&S) -> bool,
    limit: std::time::Duration,
) -> bool {
    let (m, cv) = pair;
    let mut n = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let end = std::time::Instant::now() + limit;
    while !done(&n) {
        let now = std::time::Instant::now();
        if now >= end {
            return false;
        }
        n = cv
            .wait_timeout(n, end - now)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0;
    }
    true
}

/// A key and object-name stem unique to this process and call.
pub(crate) fn unique(tag: &str) -> String {
    use zeroipc_format::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "zbb{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `p`-th percentile (0..=100) of `v` (sorted in place); 0 for an empty `v`.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v.get(i).copied().unwrap_or(0.0)
}

/// Median, minimum and maximum of a ratio over the rounds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// What was measured (e.g. `stream 8 B`).
    pub what: String,
    /// Rounds.
    pub rounds: usize,
    /// Median of the ratio.
    pub median_ratio: f64,
    /// Smallest ratio.
    pub min_ratio: f64,
    /// Largest ratio.
    pub max_ratio: f64,
}

/// The summary of `ratios` (one per round).
pub fn summary(what: &str, ratios: &[f64]) -> Summary {
    let mut v = ratios.to_vec();
    let median = percentile(&mut v, 50.0);
    Summary {
        what: what.into(),
        rounds: v.len(),
        median_ratio: median,
        min_ratio: v.first().copied().unwrap_or(0.0),
        max_ratio: v.last().copied().unwrap_or(0.0),
    }
}
