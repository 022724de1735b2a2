//! What the live runs (`pingpong`, `stream`, `chanlive`) share: their parameters, attaching
//! to the segment the creating side makes, retrying with a back-off until a deadline, and
//! the JSON summary's error fields.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zeroipc_format::Segment;

use crate::error::PeerError;

/// Parameters of a stream or channel run.
pub struct Params {
    /// Segment name.
    pub segment: String,
    /// The side that puts values in (the stream's producer, the channel's sender); else the
    /// side that takes them out.
    pub putter: bool,
    /// Number of values.
    pub count: u64,
    /// The structure's capacity in elements (when creating).
    pub capacity: usize,
    /// Create the segment (else wait for it).
    pub create: bool,
    /// Bound on the whole run.
    pub timeout: Duration,
}

impl Params {
    /// The segment and the structure `name` of this run: `create(seg, name, capacity)` in a
    /// fresh segment with `create`, else `open(seg, name)` (see [`attach`]).
    ///
    /// # Errors
    /// As [`attach`].
    pub fn attach<S, E: Into<PeerError>>(
        &self,
        name: &str,
        create: impl Fn(&Segment, &str, usize) -> Result<S, E>,
        open: impl Fn(&Segment, &str) -> Result<S, E>,
    ) -> Result<(Segment, S), PeerError> {
        attach(
            &self.segment,
            self.create,
            self.timeout,
            |seg| create(seg, name, self.capacity).map_err(Into::into),
            |seg| open(seg, name).map_err(Into::into),
        )
    }
}

/// The options of a stream or channel run that the matrix sets, and the defaults of those
/// it may leave out.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Shared-memory name.
    seg: String,
    /// Number of values [default: 20000 for a stream, 2000 for a channel].
    #[arg(long)]
    count: Option<u64>,
    /// Capacity in elements, with --create [default: 61 for a stream's ring, 4 for a
    /// channel].
    #[arg(long)]
    capacity: Option<usize>,
    /// Create the segment and the structure (the other side waits for them).
    #[arg(long)]
    create: bool,
    /// Seconds the whole run may take.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

impl Args {
    /// The run's parameters: `putter` picks the side; `count` and `capacity` are the
    /// defaults of this kind of run.
    pub fn params(self, putter: bool, count: u64, capacity: usize) -> Params {
        Params {
            segment: self.seg,
            putter,
            count: self.count.unwrap_or(count),
            capacity: self.capacity.unwrap_or(capacity),
            create: self.create,
            timeout: crate::seconds(self.timeout),
        }
    }
}

/// The segment and the structures `S` of a live run: `make(seg)` in a fresh segment when
/// `create`, else `find(seg)` on the other side's segment as soon as the segment and the
/// structures exist (retried while `NotFound`, for at most `timeout`).
///
/// # Errors
/// The segment's and the structures' errors; `NotFound` once `timeout` has passed.
pub fn attach<S>(
    segment: &str,
    create: bool,
    timeout: Duration,
    make: impl Fn(&Segment) -> Result<S, PeerError>,
    find: impl Fn(&Segment) -> Result<S, PeerError>,
) -> Result<(Segment, S), PeerError> {
    if create {
        let seg = Segment::create_or_replace(segment, 65536, 64)?;
        let s = make(&seg)?;
        return Ok((seg, s));
    }
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = Segment::open(segment)
            .map_err(PeerError::from)
            .and_then(|seg| Ok((find(&seg)?, seg)));
        match attempt {
            Ok((s, seg)) => return Ok((seg, s)),
            Err(e) if e.kind == "NotFound" && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Spins (yielding) for the first 64 retries, then sleeps 50 us between them.
#[derive(Default)]
pub struct Backoff(u32);

impl Backoff {
    /// Waits before the next retry.
    pub fn snooze(&mut self) {
        self.0 += 1;
        if self.0 < 64 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Calls `attempt` until it gives a value, snoozing between calls and adding one to `waits`
/// for every call that did not.
///
/// # Errors
/// `attempt`'s errors; a `Timeout` with the message `stuck()` when a call gives nothing after
/// `deadline`.
pub fn retry<R>(
    deadline: Instant,
    waits: &mut u64,
    stuck: impl Fn() -> String,
    mut attempt: impl FnMut() -> Result<Option<R>, PeerError>,
) -> Result<R, PeerError> {
    let mut b = Backoff::default();
    loop {
        if let Some(v) = attempt()? {
            return Ok(v);
        }
        *waits += 1;
        if Instant::now() > deadline {
            return Err(PeerError::new("Timeout", stuck()));
        }
        b.snooze();
    }
}

/// The summary of one side: `out` (the fields every summary has, `ok` false) with the
/// fields `side` returns merged in, or with its error (`error`: the kind, `message`).
pub fn summarise(mut out: Value, side: impl FnOnce() -> Result<Value, PeerError>) -> Value {
    match side() {
        Ok(Value::Object(fields)) => {
            for (k, v) in fields {
                out[k] = v;
            }
        }
        Ok(other) => out["result"] = other,
        Err(e) => {
            out["error"] = json!(e.kind);
            out["message"] = json!(e.message);
        }
    }
    out
}
