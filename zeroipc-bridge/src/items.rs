//! Item links, generic over the local object: the exporter takes items from a [`Source`]
//! (a stream subscription, a channel receiver) and publishes them, numbered, on `<key>/d`;
//! importers put them into a [`Sink`] (a stream, a channel) and return credit on
//! `<key>/c` ([`crate::import`]). See docs/BRIDGE.md for the delivery rules.

pub(crate) use crate::import::import;

use std::time::{Duration, Instant};

use bytemuck::Pod;
use zenoh::Wait;
use zeroipc_codata::Error as CodataError;

use crate::error::{Error, Result};
use crate::link;
use crate::wire::{FLAG_POSITION, HEADER, Kind, Msg};

/// Largest data message payload the exporter builds (bytes): with its header and zenoh's
/// own framing a message fits one zenoh batch (65,535 bytes), so zenoh never fragments it
/// (a fragmented message costs the receiver a reassembly copy).
const BATCH_BYTES: usize = 60 << 10;
/// Most items in one data message.
const BATCH_ITEMS: usize = 4096;
/// The default import window of a fixed-window (Stream) link covers at least this many
/// bytes: a window of only the local stream's capacity (e.g. 1024 items of 1 KiB) leaves
/// the link waiting for credit (bench: 1 KiB items at 0.4-0.5x zenoh's own rate with 1024,
/// 0.8-1.1x with 16384).
pub(crate) const WINDOW_BYTES: usize = 16 << 20;

/// What taking a run of items from a source gave.
pub(crate) enum Taken {
    /// This many items (at least one).
    Items(usize),
    /// Nothing yet.
    Empty,
    /// Closed and drained.
    Closed,
}

impl Taken {
    /// A blocking batch receive's result into a non-empty buffer: `Ok(0)` is the end
    /// (closed and drained), a timeout is nothing yet.
    pub(crate) fn from_wait(r: std::result::Result<usize, CodataError>) -> Result<Self> {
        match r {
            Ok(0) => Ok(Self::Closed),
            Ok(n) => Ok(Self::Items(n)),
            Err(e) if e.is_timeout() => Ok(Self::Empty),
            Err(e) => Err(e.into()),
        }
    }

    /// A non-blocking batch receive's result: `Ok(0)` is nothing yet, `Closed` the end.
    pub(crate) fn from_try(r: std::result::Result<usize, CodataError>) -> Result<Self> {
        match r {
            Ok(0) => Ok(Self::Empty),
            Ok(n) => Ok(Self::Items(n)),
            Err(CodataError::Closed { .. }) => Ok(Self::Closed),
            Err(e) => Err(e.into()),
        }
    }
}

/// Where an exporter takes items from.
pub(crate) trait Source<T> {
    /// Takes up to `dst.len()` (at least one) items into `dst`, waiting up to `wait` for
    /// the first.
    fn take_into(&mut self, dst: &mut [T], wait: Duration) -> Result<Taken>;
    /// Takes up to `dst.len()` items into `dst` if any are there.
    fn try_take_into(&mut self, dst: &mut [T]) -> Result<Taken>;
    /// The source's own number of the next item [`Source::take_into`] returns, if it keeps
    /// one (a Stream subscription does: [`zeroipc_codata::Subscription::position`]).
    fn position(&self) -> Option<u64> {
        None
    }
}

/// Where an importer puts items.
pub(crate) trait Sink<T> {
    /// Puts a prefix of the non-empty `vs`, waiting up to `wait` for room for the first;
    /// returns how many went in (0: there was no room).
    fn put_slice(&self, vs: &[T], wait: Duration) -> Result<usize>;
    /// Puts the longest prefix of `vs` that fits now, without blocking; returns how many
    /// went in.
    fn try_put_slice(&self, vs: &[T]) -> Result<usize>;
    /// Closes the local object.
    fn close(&self) -> Result<()>;
    /// Items the importer can take now beyond what it holds (`None`: a fixed window).
    fn room(&self) -> Option<u64>;
    /// The smallest window when [`Sink::room`] is `None` (the link's default is at least
    /// [`WINDOW_BYTES`] of items).
    fn capacity(&self) -> u64;
    /// The local object's count of items ever put in, if it keeps one (a Stream does).
    fn position(&self) -> Option<u64> {
        None
    }
}

/// Message buffers the exporter fills and zenoh publishes, reused: zenoh copies a message
/// into its batch while `put` runs and then drops it, which hands the buffer back here, so
/// a data message costs neither an allocation nor zeroing its up to 60 KiB.
#[derive(Clone, Default)]
struct Pool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

/// Buffers kept for reuse (zenoh holds a message longer only while it cannot send it).
const POOL_KEEP: usize = 4;

impl Pool {
    /// A buffer of at least `len` bytes (contents unspecified; a reused buffer keeps its
    /// length, so it is zeroed only when it first grows).
    fn take(&self, len: usize) -> Vec<u8> {
        let mut v = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        if v.len() < len {
            v.resize(len, 0);
        }
        v
    }
}

/// A published message's buffer: its first `len` bytes are the message; dropping it (when
/// zenoh is done with the message) returns the buffer to its pool.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
    pool: Pool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let mut p = self
            .pool
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if p.len() < POOL_KEEP {
            p.push(std::mem::take(&mut self.buf));
        }
    }
}

/// A data message under construction: the header's room, then the items, taken straight
/// from the source into the buffer that is published (no copy per item).
struct DataBuf<T> {
    /// At least the header and `room` items.
    bytes: Vec<u8>,
    /// Items that fit.
    room: usize,
    /// Where `bytes` came from and goes back to.
    pool: Pool,
    /// Used when `T`'s alignment does not allow viewing the bytes as items (never for the
    /// bridge's `[u8; N]` items).
    scratch: Vec<T>,
}

impl<T: Pod> DataBuf<T> {
    /// A buffer for up to `room` items.
    fn new(pool: &Pool, room: usize) -> Self {
        Self {
            bytes: pool.take(HEADER + room * std::mem::size_of::<T>()),
            room,
            pool: pool.clone(),
            scratch: Vec::new(),
        }
    }

    /// Calls `fill` with the item space after the first `n` items; returns what it gave.
    fn fill<R>(&mut self, n: usize, fill: impl FnOnce(&mut [T]) -> Result<R>) -> Result<R> {
        let es = std::mem::size_of::<T>();
        let tail = self
            .bytes
            .get_mut(HEADER + n * es..HEADER + self.room * es)
            .unwrap_or_default();
        if let Ok(items) = bytemuck::try_cast_slice_mut::<u8, T>(tail) {
            return fill(items);
        }
        self.scratch.clear();
        self.scratch.resize(tail.len() / es, T::zeroed());
        let r = fill(&mut self.scratch)?;
        tail.copy_from_slice(bytemuck::cast_slice(&self.scratch));
        Ok(r)
    }

    /// The message: `head`'s header, then the first `n` items; its buffer goes back to
    /// the pool when zenoh drops it.
    fn finish(mut self, head: &Msg<'_>, n: usize) -> zenoh::bytes::ZBytes {
        let mut h = Vec::with_capacity(HEADER);
        head.encode_header(&mut h);
        if let Some(dst) = self.bytes.get_mut(..HEADER) {
            dst.copy_from_slice(&h);
        }
        let len = (HEADER + n * std::mem::size_of::<T>()).min(self.bytes.len());
        bytes::Bytes::from_owner(Pooled {
            buf: std::mem::take(&mut self.bytes),
            len,
            pool: self.pool.clone(),
        })
        .into()
    }
}

impl<T> Drop for DataBuf<T> {
    fn drop(&mut self) {
        // Unused (nothing was taken) or already handed to zenoh (empty).
        if self.bytes.capacity() > 0 {
            drop(Pooled {
                buf: std::mem::take(&mut self.bytes),
                len: 0,
                pool: self.pool.clone(),
            });
        }
    }
}

/// How long after it last took items the exporter keeps polling its source (yielding the
/// CPU between polls) before it parks: a parked exporter costs the local producer a futex
/// wake-up and the item a scheduling delay (~10-20 us on the 2-CPU test machine), once per
/// message. Items that come at least this often (a stream at any real rate, a ping-pong
/// over the network) never wait for a parked exporter; a quiet link parks after this long.
const POLL_AFTER_TAKE: Duration = Duration::from_micros(300);

/// A `yield` that gives the CPU away for longer than this means another thread was runnable
/// on it: the machine has no spare CPU for a polling exporter (see [`Poll`]).
const SLOW_YIELD: Duration = Duration::from_micros(200);

/// How long the exporter parks instead of polling after a slow yield ([`Poll`]).
const CONTENDED_PARK: Duration = Duration::from_millis(50);

/// The exporter's choice between polling its source and parking on it. Polling (with a
/// `yield` between polls) saves a futex wake-up per message while a CPU is spare. When none
/// is, a polling exporter loses: Linux's scheduler (EEVDF) pushes a yielding thread's
/// deadline a time slice back on each `yield`, so behind other runnable threads (another
/// process's busy loops) it waits whole slices for the CPU while its item waits too (bench,
/// 2 CPUs at load 7-9: round-trip p50 of 1-3 ms in about half the runs, against ~0.15 ms),
/// whereas a parked thread is woken with a fresh deadline. So a yield that took longer than
/// [`SLOW_YIELD`] makes the exporter park for [`CONTENDED_PARK`] before it polls again.
#[derive(Debug, Clone, Copy)]
struct Poll {
    /// When items were last taken.
    last_taken: Instant,
    /// No polling before this.
    park_until: Instant,
}

impl Poll {
    fn new(now: Instant) -> Self {
        Self {
            last_taken: now,
            park_until: now,
        }
    }

    /// Whether to poll (rather than park) at `now`.
    fn polling(&self, now: Instant) -> bool {
        now >= self.park_until && now.saturating_duration_since(self.last_taken) < POLL_AFTER_TAKE
    }

    /// Records a `yield` that gave the CPU away for `took`, ending at `now`.
    fn yielded(&mut self, took: Duration, now: Instant) {
        if took > SLOW_YIELD {
            self.park_until = now + CONTENDED_PARK;
        }
    }

    /// Records items taken at `now`.
    fn took(&mut self, now: Instant) {
        self.last_taken = now;
    }
}

/// Takes the first items of a message: polls the source, yielding the CPU between polls,
/// while `poll` says so, then waits (parks).
fn take_first<T: Pod>(
    source: &mut impl Source<T>,
    buf: &mut DataBuf<T>,
    poll: &mut Poll,
) -> Result<Taken> {
    let mut now = Instant::now();
    while poll.polling(now) {
        match buf.fill(0, |d| source.try_take_into(d))? {
            Taken::Empty => {
                let t = Instant::now();
                std::thread::yield_now();
                now = Instant::now();
                poll.yielded(now.saturating_duration_since(t), now);
            }
            t => return Ok(t),
        }
    }
    buf.fill(0, |d| source.take_into(d, Duration::from_millis(50)))
}

/// Runs an export link: until the source is closed and every live importer acknowledged
/// the close, or `link.stop` is stopped. `exclusive`: only one importer at a time (channels).
pub(crate) fn export<T: Pod>(
    link: crate::Link<'_>,
    mut source: impl Source<T>,
    exclusive: bool,
) -> Result<()> {
    let (session, cfg, stats, stop) = (link.session, link.cfg, link.stats, link.stop);
    let end = link::ExportEnd::open(session, cfg, stats, exclusive)?;
    let (epoch, credits, publisher) = (end.epoch, &end.credits, &end.publisher);
    let es = std::mem::size_of::<T>();
    let max_batch = (BATCH_BYTES / es).clamp(1, BATCH_ITEMS);
    let mut seq = 0u64;
    let pool = Pool::default();
    let mut poll = Poll::new(Instant::now());
    stats.set_state("waiting for an importer");
    loop {
        if stop.is_stopped() {
            return Ok(());
        }
        // Take nothing from the local object until an importer has room for it.
        let room = credits.available(Duration::from_millis(200));
        if room == 0 {
            continue;
        }
        let room = (room as usize).min(max_batch);
        let mut buf = DataBuf::<T>::new(&pool, room);
        // The source's number of the first item taken now (single consumer of `source`).
        let position = source.position();
        let mut n = match take_first(&mut source, &mut buf, &mut poll)? {
            Taken::Items(k) => k,
            Taken::Empty => continue,
            Taken::Closed => 0,
        };
        if n > 0 {
            poll.took(Instant::now());
        }
        let mut closed = n == 0;
        // Whatever else is there already, up to the room (a source may hand out less than
        // it holds in one call, e.g. at the end of its ring).
        while n > 0 && n < room {
            match buf.fill(n, |d| source.try_take_into(d))? {
                Taken::Items(k) => n += k,
                Taken::Empty => break,
                Taken::Closed => {
                    closed = true;
                    break;
                }
            }
        }
        if n > 0 {
            let head = Msg {
                elem_size: es as u32,
                flags: if position.is_some() { FLAG_POSITION } else { 0 },
                ..Msg::new(Kind::Data, epoch, seq, n as u64, position.unwrap_or(0))
            };
            publisher
                .put(buf.finish(&head, n))
                .wait()
                .map_err(Error::zenoh)?;
            seq += n as u64;
            credits.advance(seq);
            let mut s = stats.lock();
            s.items += n as u64;
            s.bytes += (n * es) as u64;
            s.seq = seq;
            if s.state != "running" {
                s.state = "running".into();
            }
        }
        if closed {
            let end = source.position();
            return link::finish_export(publisher, credits, stats, (epoch, seq, end), stop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_after_taking_until_the_poll_window_ends() {
        let t0 = Instant::now();
        let mut p = Poll::new(t0);
        assert!(p.polling(t0));
        assert!(p.polling(t0 + POLL_AFTER_TAKE / 2));
        assert!(!p.polling(t0 + POLL_AFTER_TAKE));
        // Fast yields keep it polling; taking items opens a new window.
        p.yielded(SLOW_YIELD / 4, t0 + POLL_AFTER_TAKE / 2);
        assert!(p.polling(t0 + POLL_AFTER_TAKE / 2));
        p.took(t0 + POLL_AFTER_TAKE);
        assert!(p.polling(t0 + POLL_AFTER_TAKE * 3 / 2));
    }

    #[test]
    fn a_slow_yield_parks_it_for_a_while() {
        let t0 = Instant::now();
        let mut p = Poll::new(t0);
        let t1 = t0 + Duration::from_micros(10) + SLOW_YIELD;
        p.yielded(SLOW_YIELD + Duration::from_micros(1), t1);
        assert!(!p.polling(t1));
        // Items taken meanwhile do not bring the polling back before the park ends.
        p.took(t1 + CONTENDED_PARK / 2);
        assert!(!p.polling(t1 + CONTENDED_PARK / 2));
        // After it, items taken open a poll window again.
        let t2 = t1 + CONTENDED_PARK;
        assert!(!p.polling(t2));
        p.took(t2);
        assert!(p.polling(t2));
        assert!(!p.polling(t2 + POLL_AFTER_TAKE));
    }
}
