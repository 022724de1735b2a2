//! The reader: creates and owns a buffer, reads frames zero-copy (protocol §5, §8, §9).

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::time::Duration;
use try_lock::{Locked, TryLock};

use crate::atomic::{Ordering, fence};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::layout::{FRAME_HEADER_SIZE, Geometry, Oieb};
use crate::liveness::is_process_alive;
use crate::names::Names;
use crate::os::{Mapping, NamedSemaphore};
use crate::resources::{LockFile, unlink_all};
use crate::wait::{deadline_after, slice_until, spin_try};

mod config;
mod create;
mod frame;

pub use frame::{Frame, OwnedFrame};

pub use config::{
    BufferConfig, DEFAULT_LIVENESS_INTERVAL, DEFAULT_READ_TIMEOUT, ReaderOptions, ReaderStats,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WrapKind {
    None,
    Implicit,
    Explicit,
}

struct Decoded {
    wrap: WrapKind,
    /// Ring bytes given up before the frame (`P - pos` when it wraps, else 0).
    waste: u64,
    start: u64,
    size: u64,
    /// Ring bytes the frame occupies (`16 + size`).
    total: u64,
    /// Ring offset just past the frame (`start + total <= P`).
    end: u64,
    seq: u64,
    writer_pid: u64,
}

/// One entry of the outstanding queue (§9), in ring order.
struct Entry {
    bytes: u64,
    /// `Some(sequence)` for a frame, `None` for wrap waste (always releasable).
    sequence: Option<u64>,
    released: bool,
}

struct ReadState {
    stats: ReaderStats,
    read_pos: u64,
    expected: u64,
    last_writer_pid: u64,
    writer_seen: bool,
    /// The last writer connection ended and was drained ([`Error::WriterDead`]): the next
    /// frame may be a new connection's sequence 1.
    fresh: bool,
    queue: VecDeque<Entry>,
    /// Id of `queue[0]`; ids are consecutive.
    front_id: u64,
}

impl ReadState {
    /// Nothing read yet: the first frame expected is sequence 1.
    fn new() -> Self {
        Self {
            stats: ReaderStats::default(),
            read_pos: 0,
            expected: 1,
            last_writer_pid: 0,
            writer_seen: false,
            fresh: false,
            queue: VecDeque::new(),
            front_id: 0,
        }
    }
}

/// The reading side of a buffer. It creates and owns every shared resource and removes them
/// all when dropped.
///
/// A `Reader` is `Send` and `Sync`: an async read may move between runtime workers, frames
/// may be dropped on worker threads while another thread waits for the next one, and threads
/// that read at once each get different frames (every frame goes to exactly one of them).
/// Frames borrow the reader, so they cannot outlive it; a reader in an `Arc` also hands out
/// [`OwnedFrame`]s, which hold it ([`Reader::read_frame_owned`]).
///
/// # Examples
///
/// ```
/// use zerobuffer::{BufferConfig, Reader, Writer};
/// # fn main() -> Result<(), zerobuffer::Error> {
/// let name = format!("doc-reader-{}", std::process::id());
/// let reader = Reader::create(&name, BufferConfig::new(256, 4096))?;
/// let mut writer = Writer::connect(&name)?;
/// writer.set_metadata(b"{\"fmt\":\"raw\"}")?;
/// writer.write_frame(b"hello")?;
/// let frame = reader.read_frame()?.expect("a frame was written");
/// assert_eq!(frame.data(), b"hello");
/// assert_eq!(frame.sequence(), 1);
/// assert_eq!(reader.metadata()?.as_deref(), Some(&b"{\"fmt\":\"raw\"}"[..]));
/// # Ok(()) }
/// ```
///
/// A pipeline: this thread reads, a worker processes each frame in place and drops it, which
/// returns its space to the writer even while this thread waits for the next frame.
///
/// ```
/// use std::sync::mpsc;
/// use zerobuffer::{BufferConfig, Frame, Reader, Writer};
/// # fn main() -> Result<(), zerobuffer::Error> {
/// let name = format!("doc-pipeline-{}", std::process::id());
/// let reader = Reader::create(&name, BufferConfig::new(0, 4096))?;
/// let total = std::thread::scope(|s| -> Result<u64, zerobuffer::Error> {
///     let writer = s.spawn(|| -> Result<(), zerobuffer::Error> {
///         let mut w = Writer::connect(&name)?;
///         for i in 0..100u8 {
///             w.write_frame(&[i; 1000])?; // about four frames fit: the writer needs releases
///         }
///         Ok(())
///     });
///     let (tx, rx) = mpsc::sync_channel::<Frame<'_>>(2);
///     let worker = s.spawn(move || rx.iter().map(|f| u64::from(f.data()[0])).sum::<u64>());
///     for _ in 0..100 {
///         tx.send(reader.read_frame()?.expect("a frame")).expect("worker alive");
///     }
///     drop(tx);
///     writer.join().expect("writer thread")?;
///     Ok(worker.join().expect("worker thread"))
/// })?;
/// assert_eq!(total, (0..100).sum::<u64>());
/// # Ok(()) }
/// ```
pub struct Reader {
    names: Names,
    geo: Geometry,
    map: Mapping,
    sem_w: NamedSemaphore,
    sem_r: NamedSemaphore,
    lock: Option<LockFile>,
    pid: u64,
    liveness: Duration,
    /// The local read state. A try-only lock: a read takes it once and a frame's release
    /// once, and its release is a plain store (std's `Mutex` releases with an atomic swap,
    /// which cost this 1 KiB path 8 % of its rate: two more locked instructions per frame).
    state: TryLock<ReadState>,
    /// How this reader's waits for a frame spin (learnt from the previous waits).
    pace: crate::wait::Pace,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("name", &self.names.name)
            .field("metadata_size", &self.geo.m)
            .field("payload_size", &self.geo.p)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// Buffer name.
    pub fn name(&self) -> &str {
        &self.names.name
    }

    /// Metadata block size `M` (rounded).
    pub fn metadata_size(&self) -> u64 {
        self.geo.m
    }

    /// Payload ring size `P` (rounded).
    pub fn payload_size(&self) -> u64 {
        self.geo.p
    }

    /// Changes the liveness interval (wait slice).
    pub fn set_liveness_interval(&mut self, interval: Duration) {
        self.liveness = interval.max(Duration::from_millis(1));
    }

    fn oieb(&self) -> &Oieb {
        self.map.oieb()
    }

    /// The metadata written by the writer: `None` if none was written yet, possibly empty.
    ///
    /// # Errors
    /// [`Error::InvalidMetadata`] if the stored length disagrees with the OIEB.
    pub fn metadata(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.metadata_ref()?.map(<[u8]>::to_vec))
    }

    /// The mapping and geometry, for the reader's extension modules (`attach`, `metadata`).
    pub(crate) fn parts(&self) -> (&Mapping, &Geometry) {
        (&self.map, &self.geo)
    }

    /// `true` if a writer is attached and its process is alive.
    pub fn is_writer_connected(&self) -> bool {
        let wp = self.oieb().writer_pid.load(Ordering::Acquire);
        wp != 0 && is_process_alive(wp)
    }

    /// A snapshot of the buffer's fill level and counters.
    ///
    /// # Errors
    /// [`Error::Corrupt`] / [`Error::InvalidOieb`] if the OIEB is inconsistent.
    pub fn health(&self) -> Result<Health> {
        Health::snapshot(self.oieb(), &self.geo)
    }

    /// Local counters: frames, bytes, wraps crossed (explicit and implicit).
    pub fn stats(&self) -> ReaderStats {
        self.state().stats
    }

    /// Number of frames read and not yet released.
    pub fn held_frames(&self) -> usize {
        self.state()
            .queue
            .iter()
            .filter(|e| e.sequence.is_some() && !e.released)
            .count()
    }

    /// The local read state, for one short step: the lock is never held while waiting (a
    /// frame dropped on another thread while a read waits must get in to return its space),
    /// so a caller that finds it taken retries, and yields if the holder was preempted.
    fn state(&self) -> Locked<'_, ReadState> {
        let mut tries = 0u32;
        loop {
            if let Some(st) = self.state.try_lock() {
                return st;
            }
            tries = tries.saturating_add(1);
            if tries < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Reads the next frame, waiting up to [`DEFAULT_READ_TIMEOUT`].
    ///
    /// # Errors
    /// As [`Reader::read_frame_timeout`].
    pub fn read_frame(&self) -> Result<Option<Frame<'_>>> {
        self.read_frame_timeout(DEFAULT_READ_TIMEOUT)
    }

    /// Reads the next frame if one is already available (no waiting); `Ok(None)` otherwise.
    ///
    /// # Errors
    /// As [`Reader::read_frame_timeout`].
    pub fn try_read_frame(&self) -> Result<Option<Frame<'_>>> {
        self.read_frame_timeout(Duration::ZERO)
    }

    /// Reads the next frame, waiting up to `timeout`; `Ok(None)` on timeout.
    ///
    /// The frame borrows the ring (zero copy) until it is dropped or released. Several frames
    /// may be held; their space returns to the writer in read order.
    ///
    /// # Errors
    /// [`Error::WriterDead`] when the writer died or closed and nothing is pending;
    /// [`Error::SequenceError`], [`Error::InvalidFrameSize`], [`Error::Corrupt`],
    /// [`Error::InvalidOieb`] when the shared state is inconsistent (the frame stays
    /// unread and the same error is reported again).
    pub fn read_frame_timeout(&self, timeout: Duration) -> Result<Option<Frame<'_>>> {
        // Fast path: a frame is already signalled (one atomic operation, no clock read).
        if !self.sem_w.try_wait() && !self.wait_data(deadline_after(timeout))? {
            return Ok(None);
        }
        self.consume(self.state()).map(Some)
    }

    /// [`Reader::read_frame_timeout`] for a reader in an `Arc`: the frame holds the reader
    /// instead of borrowing it, so it is `'static` (see [`OwnedFrame`]).
    ///
    /// # Errors
    /// As [`Reader::read_frame_timeout`].
    pub fn read_frame_owned(
        reader: &std::sync::Arc<Self>,
        timeout: Duration,
    ) -> Result<Option<OwnedFrame>> {
        Ok(reader
            .read_frame_timeout(timeout)?
            .map(|f| f.into_owned(std::sync::Arc::clone(reader))))
    }

    /// Reads the frame whose `sem-w` token the caller holds.
    fn consume(&self, mut st: Locked<'_, ReadState>) -> Result<Frame<'_>> {
        // Acquire: pairs with the writer's fence(Release) before sem_post(sem-w).
        fence(Ordering::Acquire);
        let d = match self.decode(&st) {
            Ok(d) => d,
            Err(e) => {
                // Give the token back: the same error is reported on the next call.
                let _ = self.sem_w.post();
                return Err(e);
            }
        };
        let o = self.oieb();
        if d.wrap != WrapKind::None {
            self.push(&mut st, d.waste, None, true);
        }
        match d.wrap {
            WrapKind::Explicit => {
                bump(&o.payload_read_count);
                st.stats.explicit_wraps = st.stats.explicit_wraps.wrapping_add(1);
            }
            WrapKind::Implicit => st.stats.implicit_wraps = st.stats.implicit_wraps.wrapping_add(1),
            WrapKind::None => {}
        }
        st.stats.frames = st.stats.frames.wrapping_add(1);
        st.stats.bytes = st.stats.bytes.wrapping_add(d.size);
        st.read_pos = if d.end == self.geo.p { 0 } else { d.end };
        // Release: diagnostic only (health snapshots); pairs with Acquire loads in validate().
        o.payload_read_pos.store(st.read_pos, Ordering::Release);
        bump(&o.payload_read_count);
        st.expected = d.seq.wrapping_add(1);
        // R5 needs the pid of the writer whose frames are being read. The OIEB names only the
        // *current* writer, which is already the next connection when a new writer connected
        // while the dead one's frames were still in the ring; taking it from every frame
        // would then make the new writer's sequence 1 look like a gap (found by the soak).
        // So it is taken when a connection's first frame (sequence 1) is read. A writer that
        // already closed (pid 0) must not make the next connection's 1 look like a gap either.
        if d.seq == 1 && d.writer_pid != 0 {
            st.last_writer_pid = d.writer_pid;
        }
        st.writer_seen = true;
        st.fresh = false;
        let id = self.push(&mut st, d.total, Some(d.seq), false);
        self.reclaim(&mut st);
        drop(st);
        let len = usize::try_from(d.size).map_err(|_| Error::corrupt("frame size"))?;
        let outside = || Error::corrupt("frame outside the mapping");
        let at = d.start.checked_add(FRAME_HEADER_SIZE).ok_or_else(outside)?;
        let at = self.ring_at(at).ok_or_else(outside)?;
        let data = self.map.slice(at, len).ok_or_else(outside)?;
        Ok(Frame {
            reader: self,
            id,
            sequence: d.seq,
            writer_pid: d.writer_pid,
            data,
            at,
            released: false,
        })
    }

    fn wait_data(&self, deadline: std::time::Instant) -> Result<bool> {
        let Some(parked) = spin_try(&self.sem_w, &self.pace) else {
            return Ok(true);
        };
        loop {
            let slice = slice_until(deadline, self.liveness);
            if !slice.is_zero()
                && self
                    .sem_w
                    .wait_timeout(slice)
                    .map_err(|e| Error::io("sem_timedwait", e))?
            {
                parked.learn();
                return Ok(true);
            }
            if self.writer_gone(&mut self.state())? {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    /// The liveness check after an empty wait: `Ok(true)` if the writer is gone but a token
    /// arrived meanwhile (that frame is still delivered), `Ok(false)` if it is alive,
    /// [`Error::WriterDead`] once it is gone and everything it sent was read.
    fn writer_gone(&self, st: &mut ReadState) -> Result<bool> {
        let wp = self.oieb().writer_pid.load(Ordering::Acquire);
        let dead = if wp != 0 {
            st.writer_seen = true;
            !is_process_alive(wp)
        } else {
            st.writer_seen
        };
        if dead {
            // A frame posted just before the writer went away is still delivered.
            if self.sem_w.try_wait() {
                return Ok(true);
            }
            // That writer connection is over and fully drained: the next frame can only
            // come from a new connection, which starts at sequence 1. (It may also be the
            // expected one: a second thread reading this reader may hold a token it took
            // before the writer went, for a frame it has not consumed yet.)
            st.fresh = true;
            st.writer_seen = false;
            return Err(Error::WriterDead { pid: wp });
        }
        Ok(false)
    }

    /// One read attempt that never waits (the async form's step): the frame if the caller
    /// holds a `sem-w` token (`token`), takes one now, or one arrives as the writer is found
    /// gone; `Ok(None)` while the writer lives and nothing is signalled.
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn try_read_now(&self, token: bool) -> Result<Option<Frame<'_>>> {
        let mut st = self.state();
        if token || self.sem_w.try_wait() || self.writer_gone(&mut st)? {
            return self.consume(st).map(Some);
        }
        Ok(None)
    }

    /// `/sem-w-NAME`, for the async helper's own handle.
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn data_semaphore_name(&self) -> &str {
        &self.names.sem_w
    }

    /// The wait slice after which the writer's liveness is checked.
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn liveness_slice(&self) -> Duration {
        self.liveness
    }

    /// The mapping offset of ring offset `ring_off`; `None` past the address space.
    fn ring_at(&self, ring_off: u64) -> Option<u64> {
        self.geo.payload_offset.checked_add(ring_off)
    }

    fn header(&self, ring_off: u64) -> Result<(u64, u64)> {
        let size_at = self.ring_at(ring_off);
        let seq_at = size_at.and_then(|at| at.checked_add(8));
        match (
            size_at.and_then(|at| self.map.read_u64(at)),
            seq_at.and_then(|at| self.map.read_u64(at)),
        ) {
            (Some(size), Some(seq)) => Ok((size, seq)),
            _ => Err(Error::corrupt("frame header outside the ring")),
        }
    }

    fn decode(&self, st: &ReadState) -> Result<Decoded> {
        let c = self.oieb().validate(&self.geo)?;
        let p = self.geo.p;
        let pos = st.read_pos;
        let tail = p
            .checked_sub(pos)
            .ok_or_else(|| Error::corrupt("read position beyond ring"))?;
        let (mut wrap, mut start) = if (1..FRAME_HEADER_SIZE).contains(&tail) {
            (WrapKind::Implicit, 0) // R1
        } else {
            (WrapKind::None, pos)
        };
        let (mut size, mut seq) = self.header(start)?;
        if size == 0 {
            if wrap != WrapKind::None || start == 0 {
                return Err(Error::InvalidFrameSize { size: 0 });
            }
            wrap = WrapKind::Explicit;
            start = 0;
            (size, seq) = self.header(0)?;
            if size == 0 {
                return Err(Error::InvalidFrameSize { size: 0 });
            }
        }
        let past_end = || {
            Error::corrupt(format!(
                "frame extends past buffer boundary (size {size} at ring offset {start}, ring {p})"
            ))
        };
        // start is 0 or pos <= P; the frame, header included, must end within the ring.
        let total = size.checked_add(FRAME_HEADER_SIZE).ok_or_else(past_end)?;
        let end = start
            .checked_add(total)
            .filter(|&e| e <= p)
            .ok_or_else(past_end)?;
        if seq != st.expected && !(seq == 1 && (st.fresh || c.writer_pid != st.last_writer_pid)) {
            return Err(Error::SequenceError {
                expected: st.expected,
                got: seq,
            });
        }
        Ok(Decoded {
            wrap,
            // pos <= P (tail above): the bytes from pos to the ring end.
            waste: if wrap == WrapKind::None { 0 } else { tail },
            start,
            size,
            total,
            end,
            seq,
            writer_pid: c.writer_pid,
        })
    }

    fn push(&self, st: &mut ReadState, bytes: u64, sequence: Option<u64>, released: bool) -> u64 {
        let id = st.front_id.wrapping_add(st.queue.len() as u64);
        st.queue.push_back(Entry {
            bytes,
            sequence,
            released,
        });
        id
    }

    /// Returns the releasable prefix of the outstanding queue to the writer (§9).
    fn reclaim(&self, st: &mut ReadState) {
        let mut n: u64 = 0;
        while let Some(e) = st.queue.front() {
            if !e.released {
                break;
            }
            n = n.saturating_add(e.bytes);
            st.queue.pop_front();
            st.front_id = st.front_id.wrapping_add(1);
        }
        if n > 0 {
            // AcqRel: the Release half publishes that we are done with the frame bytes;
            // pairs with the writer's Acquire load of `payload_free_bytes` in validate().
            self.oieb()
                .payload_free_bytes
                .fetch_add(n, Ordering::AcqRel);
            // Release: pairs with the writer's fence(Acquire) after waiting on sem-r.
            fence(Ordering::Release);
            // EOVERFLOW: the semaphore is saturated, a token is available anyway (§4).
            let _ = self.sem_r.post();
        }
    }

    fn release_id(&self, id: u64, explicit: bool) -> Result<()> {
        let mut st = self.state();
        let idx = id.wrapping_sub(st.front_id);
        let idx = usize::try_from(idx).map_err(|_| Error::InvalidArgument("unknown frame"))?;
        if idx >= st.queue.len() {
            return Err(Error::InvalidArgument("unknown frame"));
        }
        if explicit {
            let older_held = st
                .queue
                .iter()
                .take(idx)
                .any(|e| e.sequence.is_some() && !e.released);
            if older_held {
                let sequence = st.queue.get(idx).and_then(|e| e.sequence).unwrap_or(0);
                return Err(Error::OutOfOrderRelease { sequence });
            }
        }
        if let Some(e) = st.queue.get_mut(idx) {
            e.released = true;
        }
        self.reclaim(&mut st);
        Ok(())
    }

    /// Current value of the "data available" semaphore (frames posted and not yet read).
    ///
    /// # Errors
    /// [`Error::Io`] if `sem_getvalue` fails.
    pub fn pending_signals(&self) -> Result<i32> {
        self.sem_w.value().map_err(|e| Error::io("sem_getvalue", e))
    }
}

fn bump(counter: &crate::atomic::AtomicU64) {
    // Single writer per counter: load + store is enough, and cheaper than an RMW.
    let v = counter.load(Ordering::Relaxed);
    counter.store(v.wrapping_add(1), Ordering::Relaxed);
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Release (in the AcqRel CAS): pairs with the writer's Acquire load of `reader_pid`
        // (ReaderDead). Only our own pid is cleared.
        let _ = self.oieb().reader_pid.compare_exchange(
            self.pid,
            0,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        // The lock is held for the reader's whole life; only a loom model has none (and no
        // named objects to remove).
        if let Some(lock) = self.lock.take() {
            unlink_all(&self.names);
            lock.release();
        }
    }
}
