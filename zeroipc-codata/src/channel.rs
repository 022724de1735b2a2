//! `Channel<T>`: CSP channels (spec §4.20, the upstream C++ layout).
//!
//! Entries, in creation order: `name_header` (32 bytes), then **either** `name_buffer`
//! (buffered: a Queue, §4.2) **or** `name_slot` (unbuffered: a rendezvous slot). The second
//! entry is the existence marker. Channels created by this crate add a third entry,
//! `name_peers` (project extension, below), published in the same table update.
//!
//! `name_header`:
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u32 | `capacity` — 0 = unbuffered; otherwise a power of two |
//! | 4 | atomic u32 | `senders` — senders currently waiting |
//! | 8 | atomic u32 | `receivers` — receivers currently waiting |
//! | 12 | atomic u8 | `closed` (0/1) |
//! | 16 | atomic u64 | `send_seq` (unused, 0) |
//! | 24 | atomic u64 | `recv_seq` (unused, 0) |
//!
//! `name_slot` = `{u8 ready; u8 consumed; T data @ align_up(2, align_of T)}`; the futex word
//! of rendezvous waits is the aligned 32-bit word at the slot's start.
//!
//! `name_peers` (project extension; upstream ignores it): `u32 slots` (= 32), `u32
//! senders_ever`, `u32 receivers_ever`, `u32 reserved`, then `slots` atomic u64 words, each
//! 0 (free) or `kind << 32 | pid` with kind 1 = [`Sender`], 2 = [`Receiver`]. A registered
//! peer whose pid no longer exists is dead; a receiver whose every registered sender is gone
//! (after at least one registered) sees the channel as closed, and a sender whose every
//! registered receiver is gone gets [`Error::Disconnected`] instead of blocking forever.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::{Ordering, fence};
use zeroipc_format::{AtomicWords, Region, Segment};
use zeroipc_structures::{PushError, Queue};

use crate::common::{self, HwU32, HwU64};
use crate::error::{Error, Result, TrySendError};
use crate::layout::{ChannelHeader, PeersHeader, SlotFlags};
use crate::protocol::{self, SendStop};

/// Largest base name: `_header` (7 bytes) leaves 24.
const LONGEST_SUFFIX: usize = 7;

fn part(base: &str, suffix: &str) -> String {
    format!("{base}{suffix}")
}

enum Kind<T> {
    Buffered {
        /// Boxed: the handle keeps cache-line-aligned position hints.
        queue: Box<Queue<T>>,
        /// The queue's `head` and `tail` words (futex words of blocked senders/receivers).
        qwords: AtomicWords,
    },
    Unbuffered {
        /// The slot's first 4 bytes (the futex word), inside the segment.
        word: AtomicWords,
        /// The slot region (`ready`, `consumed`, data).
        slot: Region,
        data: usize,
    },
}

struct Inner<T> {
    name: String,
    header: Region,
    /// `capacity`, `senders`, `receivers`.
    words: AtomicWords,
    kind: Kind<T>,
    peers: Option<Region>,
    /// Serialises this handle's senders / receivers on a rendezvous slot (spec §4.20).
    send_lock: Mutex<()>,
    recv_lock: Mutex<()>,
}

/// A channel: FIFO of `T` between processes, buffered or unbuffered, closable.
///
/// Cloning is cheap and shares the handle (and its local rendezvous locks).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_codata::{Channel, TrySendError};
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let ch = Channel::<i32>::create(&seg, "ch", 2)?;
/// assert!(ch.try_send(1).is_ok());
/// assert!(ch.try_send(2).is_ok());
/// assert!(matches!(ch.try_send(3), Err(TrySendError::Full(3)))); // full: the value comes back
/// assert!(ch.send_timeout(3, Duration::from_millis(5)).unwrap_err().is_timeout());
/// assert_eq!(ch.recv()?, Some(1));
/// ch.close()?;
/// assert_eq!(ch.recv()?, Some(2)); // drained after close
/// assert_eq!(ch.recv()?, None);
/// # Ok::<(), zeroipc_codata::Error>(())
/// ```
pub struct Channel<T> {
    inner: Arc<Inner<T>>,
    _elem: PhantomData<fn() -> T>,
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            _elem: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.inner.name)
            .finish()
    }
}

/// Decrements a waiter counter on drop.
pub(crate) struct Waiting<'a>(&'a HwU32);

impl<'a> Waiting<'a> {
    pub(crate) fn register(w: &'a HwU32) -> Self {
        w.fetch_add(1, Ordering::SeqCst);
        // Store-load handshake with the waker's push/pop, fence, counter load (spec D5).
        fence(Ordering::SeqCst);
        Self(w)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a blocked caller checks once per slice besides its own condition.
type Abort<'a> = &'a dyn Fn() -> Result<()>;

fn no_abort() -> Result<()> {
    Ok(())
}

impl<T: Pod> Channel<T> {
    const ELEMENT_OK: () = assert!(
        size_of::<T>() >= 1 && align_of::<T>() <= 8,
        "element types must be 1 or more bytes with alignment at most 8"
    );

    /// Data offset within the rendezvous slot: `align_up(2, align_of T)`
    /// ([`SlotFlags::data_offset`]).
    pub const fn slot_data_offset() -> usize {
        SlotFlags::data_offset(align_of::<T>())
    }

    /// Size of the rendezvous slot: `align_up(data + es, align_of T)`
    /// ([`SlotFlags::slot_size`]).
    pub const fn slot_size() -> u64 {
        let () = Self::ELEMENT_OK;
        SlotFlags::slot_size(size_of::<T>(), align_of::<T>())
    }

    /// Creates a buffered channel holding up to `capacity` elements (rounded up to a power of
    /// two, at least 2), or an unbuffered (rendezvous) channel for `capacity == 0`.
    ///
    /// # Errors
    /// `InvalidName`/`NameTooLong` (base names are at most 24 bytes);
    /// [`FormatError::InvalidArgument`] for a capacity above 2^31; the segment's errors.
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self> {
        let mut lock = seg.lock_table()?;
        Self::create_locked(seg, &mut lock, name, capacity)
    }

    /// Creates an unbuffered (rendezvous) channel: `send` returns only once a receiver took
    /// the value.
    ///
    /// # Errors
    /// As [`Channel::create`].
    pub fn create_unbuffered(seg: &Segment, name: &str) -> Result<Self> {
        Self::create(seg, name, 0)
    }

    fn create_locked(
        seg: &Segment,
        lock: &mut zeroipc_format::TableLock<'_>,
        name: &str,
        capacity: usize,
    ) -> Result<Self> {
        let () = Self::ELEMENT_OK;
        zeroipc_format::validate_base_name(name, LONGEST_SUFFIX)?;
        let header = part(name, "_header");
        let peers = part(name, "_peers");
        let (second, size, cap) = if capacity == 0 {
            (part(name, "_slot"), Self::slot_size(), 0u32)
        } else {
            let cap = Queue::<T>::stored_capacity(capacity).ok_or_else(|| {
                FormatError::InvalidArgument(format!(
                    "channel capacity must be in 0..=2^31, got {capacity}"
                ))
            })?;
            let size = Queue::<T>::memory_size(capacity).ok_or_else(|| {
                FormatError::InvalidArgument(format!("channel of {capacity} slots is too large"))
            })?;
            (part(name, "_buffer"), size, cap)
        };
        let parts = [
            (header.as_str(), ChannelHeader::SIZE),
            (second.as_str(), size),
            (peers.as_str(), PeersHeader::TOTAL),
        ];
        lock.add(&parts, |regions: &[Region]| {
            let [h, b, p] = regions else {
                return Err(Error::from(FormatError::InvalidArgument(
                    "three regions expected".into(),
                )));
            };
            h.write::<u32>(ChannelHeader::CAPACITY, cap)?;
            if cap > 0 {
                Queue::<T>::init_region(b, cap as usize)?;
            }
            p.write::<u32>(PeersHeader::SLOT_COUNT_AT, PeersHeader::SLOT_COUNT)?;
            Ok(())
        })?;
        Self::open_parts(seg, name)
    }

    /// Opens the existing channel `name` (buffered or unbuffered, as stored).
    ///
    /// # Errors
    /// `NotFound`; `Incomplete`; [`FormatError::SizeMismatch`]; [`FormatError::TypeMismatch`]; `Corrupt`
    /// (capacity not a power of two, flags above 1, a queue whose capacity differs).
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        zeroipc_format::validate_base_name(name, LONGEST_SUFFIX)?;
        Self::open_parts(seg, name)
    }

    /// Opens `name` if it exists, else creates it with `capacity` (decided under the
    /// creation lock).
    ///
    /// # Errors
    /// As [`Channel::open`] and [`Channel::create`].
    pub fn open_or_create(seg: &Segment, name: &str, capacity: usize) -> Result<Self> {
        zeroipc_format::validate_base_name(name, LONGEST_SUFFIX)?;
        let mut lock = seg.lock_table()?;
        if lock.get(&part(name, "_header"))?.is_some() {
            drop(lock);
            return Self::open_parts(seg, name);
        }
        Self::create_locked(seg, &mut lock, name, capacity)
    }

    fn open_parts(seg: &Segment, name: &str) -> Result<Self> {
        let hname = part(name, "_header");
        let [header_entry] = seg.find_composite(name, &[&hname])?;
        header_entry.expect_size(ChannelHeader::SIZE)?;
        let header = seg.region(&header_entry)?;
        let words = header.atomic_words(ChannelHeader::CAPACITY, 3)?;
        let cap = header
            .atomic_u32(ChannelHeader::CAPACITY)?
            .load(Ordering::Acquire);
        let marker = if cap == 0 {
            part(name, "_slot")
        } else {
            part(name, "_buffer")
        };
        let [_, entry] = seg.find_composite(name, &[&hname, &marker])?;
        let kind = if cap == 0 {
            let size = Self::slot_size();
            entry.expect_size(size)?;
            let slot = seg.region(&entry)?;
            let off = usize::try_from(entry.offset()).map_err(|_| {
                Error::from(FormatError::corrupt_field(
                    name,
                    "slot offset",
                    entry.offset(),
                ))
            })?;
            // The futex word spans the first 4 bytes even for slots of 3 bytes; they lie
            // inside the mapping (checked by `subregion`) and inside the 8-aligned unit.
            let word = seg.raw().subregion(off, 4)?.atomic_words(0, 1)?;
            let flags = slot.read::<SlotFlags>(0)?;
            if flags.ready > 1 {
                return Err(Error::from(FormatError::corrupt_field(
                    name,
                    "ready",
                    u64::from(flags.ready),
                )));
            }
            if flags.consumed > 1 {
                return Err(Error::from(FormatError::corrupt_field(
                    name,
                    "consumed",
                    u64::from(flags.consumed),
                )));
            }
            Kind::Unbuffered {
                word,
                slot,
                data: Self::slot_data_offset(),
            }
        } else {
            if !cap.is_power_of_two() {
                return Err(Error::from(FormatError::corrupt_field(
                    name,
                    "capacity",
                    u64::from(cap),
                )));
            }
            let queue = Queue::<T>::open(seg, &marker)?;
            if queue.capacity() != cap as usize {
                return Err(FormatError::TypeMismatch {
                    name: name.to_owned(),
                    what: "buffer capacity",
                    expected: u64::from(cap),
                    found: queue.capacity() as u64,
                }
                .into());
            }
            let qwords = queue.counter_words()?;
            Kind::Buffered {
                queue: Box::new(queue),
                qwords,
            }
        };
        let closed = header
            .atomic_u8(ChannelHeader::CLOSED)?
            .load(Ordering::Acquire);
        if closed > 1 {
            return Err(Error::from(FormatError::corrupt_field(
                name,
                "closed",
                u64::from(closed),
            )));
        }
        let peers = match seg.get(&part(name, "_peers"))? {
            Some(e) => {
                e.expect_size(PeersHeader::TOTAL)?;
                let r = seg.region(&e)?;
                let slots = r
                    .atomic_u32(PeersHeader::SLOT_COUNT_AT)?
                    .load(Ordering::Acquire);
                if slots != PeersHeader::SLOT_COUNT {
                    return Err(Error::from(FormatError::corrupt_field(
                        name,
                        "peer slots",
                        u64::from(slots),
                    )));
                }
                Some(r)
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                header,
                words,
                kind,
                peers,
                send_lock: Mutex::new(()),
                recv_lock: Mutex::new(()),
            }),
            _elem: PhantomData,
        })
    }

    /// The channel's base name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether the channel is buffered (a queue) rather than a rendezvous.
    pub fn is_buffered(&self) -> bool {
        matches!(self.inner.kind, Kind::Buffered { .. })
    }

    /// Buffer capacity in elements (0 for an unbuffered channel).
    pub fn capacity(&self) -> usize {
        match &self.inner.kind {
            Kind::Buffered { queue, .. } => queue.capacity(),
            Kind::Unbuffered { .. } => 0,
        }
    }

    /// Elements buffered now (a snapshot; for a rendezvous, 1 while a value is offered).
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked reads.
    pub fn len(&self) -> Result<usize> {
        Ok(match &self.inner.kind {
            Kind::Buffered { queue, .. } => queue.len()?,
            Kind::Unbuffered { slot, .. } => {
                usize::from(slot.atomic_u8(SlotFlags::READY)?.load(Ordering::Acquire) == 1)
            }
        })
    }

    /// Whether nothing is buffered (a snapshot).
    ///
    /// # Errors
    /// As [`Channel::len`].
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Whether a send would have to wait now (a snapshot): the buffer holds `capacity`
    /// elements, or, for an unbuffered channel, a value is already offered.
    ///
    /// # Errors
    /// As [`Channel::len`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::Channel;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ch = Channel::<u32>::create(&seg, "jobs", 2)?;
    /// assert!(!ch.is_full()?);
    /// ch.send(1)?;
    /// ch.send(2)?;
    /// assert!(ch.is_full()?);
    /// ch.recv()?;
    /// assert!(!ch.is_full()?);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn is_full(&self) -> Result<bool> {
        Ok(self.len()? >= self.capacity().max(1))
    }

    fn word(&self, i: usize) -> Result<&HwU32> {
        self.inner.words.get(i).ok_or_else(|| {
            Error::from(FormatError::corrupt_field(
                &self.inner.name,
                "header word",
                i as u64,
            ))
        })
    }

    /// Whether the channel was closed.
    ///
    /// # Errors
    /// `Corrupt` if the `closed` byte is neither 0 nor 1.
    pub fn is_closed(&self) -> Result<bool> {
        match self
            .inner
            .header
            .atomic_u8(ChannelHeader::CLOSED)?
            .load(Ordering::Acquire)
        {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::from(FormatError::corrupt_field(
                &self.inner.name,
                "closed",
                u64::from(v),
            ))),
        }
    }

    fn closed_err(&self) -> Error {
        Error::Closed {
            name: self.inner.name.clone(),
        }
    }

    /// Closes the channel and wakes every blocked sender and receiver. Senders then fail with
    /// [`Error::Closed`]; receivers drain what is buffered, then see the end.
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn close(&self) -> Result<()> {
        self.inner
            .header
            .atomic_u8(ChannelHeader::CLOSED)?
            .store(1, Ordering::SeqCst);
        match &self.inner.kind {
            Kind::Buffered { qwords, .. } => {
                for w in qwords.iter() {
                    common::wake_all(w);
                }
            }
            Kind::Unbuffered { word, .. } => {
                for w in word.iter() {
                    common::wake_all(w);
                }
            }
        }
        Ok(())
    }

    // ----- buffered -------------------------------------------------------------------

    fn q_word<'a>(qwords: &'a AtomicWords, i: usize, name: &str) -> Result<&'a HwU32> {
        qwords
            .get(i)
            .ok_or_else(|| Error::from(FormatError::corrupt_field(name, "queue word", i as u64)))
    }

    fn buffered_try_send(&self, queue: &Queue<T>, qwords: &AtomicWords, v: T) -> Result<bool> {
        if self.is_closed()? {
            return Err(self.closed_err());
        }
        match queue.push_with_position(v) {
            Ok(position) => {
                self.wake_receivers(queue, qwords, position)?;
                Ok(true)
            }
            Err(PushError::Full(_)) => Ok(false),
            Err(PushError::Failed(e)) => Err(e.into()),
        }
    }

    fn buffered_try_recv(&self, queue: &Queue<T>, qwords: &AtomicWords) -> Result<Option<T>> {
        match queue.pop()? {
            Some(v) => {
                self.wake_senders(qwords)?;
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    fn buffered_try_send_slice(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
        src: &[T],
    ) -> Result<usize> {
        if self.is_closed()? {
            return Err(self.closed_err());
        }
        let (n, first) = queue.push_slice_with_position(src)?;
        if n > 0 {
            self.wake_receivers(queue, qwords, first)?;
        }
        Ok(n)
    }

    /// After a pop freed slots: wakes senders sleeping on a full buffer, if any registered.
    fn wake_senders(&self, qwords: &AtomicWords) -> Result<()> {
        // Store-load handshake with a sender's SeqCst registration (spec D5).
        fence(Ordering::SeqCst);
        if self.word(ChannelHeader::W_SENDERS)?.load(Ordering::SeqCst) > 0 {
            common::wake_all(Self::q_word(qwords, 0, &self.inner.name)?);
        }
        Ok(())
    }

    /// After publishing the element(s) from queue position `position` on: wakes sleeping
    /// receivers if there are any and nothing was still queued ahead of `position`.
    ///
    /// A receiver sleeps only after a poll found the slot at `head` (say position `H`)
    /// unpublished. Whoever publishes `H` checks after publishing, when `head` is still `H`
    /// (or past it, if another receiver already took it), so it always wakes; a producer
    /// whose element sits behind an unconsumed one (`head < position`) leaves the wake to
    /// that element's producer. So a burst into a channel with a sleeping receiver costs one
    /// `FUTEX_WAKE`, not one per message. Upstream producers never wake; receivers notice
    /// them through their sleep slices, as before.
    fn wake_receivers(&self, queue: &Queue<T>, qwords: &AtomicWords, position: u32) -> Result<()> {
        // Store-load handshake with a receiver's SeqCst registration (spec D5): either we see
        // the registration or its poll sees our element.
        fence(Ordering::SeqCst);
        if self
            .word(ChannelHeader::W_RECEIVERS)?
            .load(Ordering::SeqCst)
            > 0
        {
            let (head, _) = queue.counters()?;
            if (head.wrapping_sub(position) as i32) >= 0 {
                common::wake_all(Self::q_word(qwords, 1, &self.inner.name)?);
            }
        }
        Ok(())
    }

    fn buffered_try_recv_into(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
        dst: &mut [T],
    ) -> Result<usize> {
        let n = queue.pop_into(dst)?;
        if n > 0 {
            self.wake_senders(qwords)?;
        }
        Ok(n)
    }

    /// Blocks until `attempt` reports success: a short spin, then sleeps on the queue's
    /// `head` word (which every pop changes) as a registered waiting sender.
    fn buffered_block_send(
        &self,
        qwords: &AtomicWords,
        deadline: Option<Instant>,
        abort: Abort<'_>,
        mut attempt: impl FnMut() -> Result<bool>,
    ) -> Result<()> {
        for _ in 0..common::SPIN {
            if attempt()? {
                return Ok(());
            }
            std::hint::spin_loop();
        }
        let head = Self::q_word(qwords, 0, &self.inner.name)?;
        let _waiting = Waiting::register(self.word(ChannelHeader::W_SENDERS)?);
        let since = Instant::now();
        loop {
            let seen = head.load(Ordering::SeqCst);
            if attempt()? {
                return Ok(());
            }
            abort()?;
            let Some(s) = common::next_slice(deadline, since) else {
                return Err(Error::Timeout {
                    what: "room in a channel",
                });
            };
            common::park(head, seen, s);
        }
    }

    // ----- rendezvous -----------------------------------------------------------------

    fn rendezvous<'a>(
        &'a self,
        word: &'a AtomicWords,
        slot: &'a Region,
        data: usize,
    ) -> RegionSlot<'a, T> {
        RegionSlot {
            chan: self,
            word,
            slot,
            data,
        }
    }

    fn rendezvous_send(
        &self,
        slot: &RegionSlot<'_, T>,
        v: T,
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<()> {
        let _local = self
            .inner
            .send_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        protocol::rendezvous_send(slot, v, deadline, abort).map_err(|stop| match stop {
            SendStop::Closed => self.closed_err(),
            SendStop::Timeout => Error::Timeout {
                what: "a receiver to take the value",
            },
            SendStop::Abort(e) | SendStop::Fault(e) => e,
        })
    }

    // ----- public operations ----------------------------------------------------------

    /// Sends `v` if possible without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] with the value back when the buffer is full (or, for a
    /// rendezvous, when no receiver takes the value within one 1 ms slice);
    /// [`TrySendError::Failed`] with [`Error::Closed`] or `Corrupt`.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.try_send_inner(v) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TrySendError::Full(v)),
            Err(e) => Err(TrySendError::Failed(e)),
        }
    }

    /// [`Channel::try_send`] as the blocking paths use it: `Ok(false)` when full.
    fn try_send_inner(&self, v: T) -> Result<bool> {
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => self.buffered_try_send(queue, qwords, v),
            Kind::Unbuffered { word, slot, data } => {
                if self
                    .word(ChannelHeader::W_RECEIVERS)?
                    .load(Ordering::SeqCst)
                    == 0
                {
                    if self.is_closed()? {
                        return Err(self.closed_err());
                    }
                    return Ok(false);
                }
                let deadline = common::deadline_after(zeroipc_sync::futex::SLICE);
                let rs = self.rendezvous(word, slot, *data);
                match self.rendezvous_send(&rs, v, deadline, &no_abort) {
                    Ok(()) => Ok(true),
                    Err(Error::Timeout { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Sends `v`, blocking while the buffer is full (or, unbuffered, until a receiver took
    /// it).
    ///
    /// # Errors
    /// [`Error::Closed`] (also when closed while blocked); `Corrupt`.
    pub fn send(&self, v: T) -> Result<()> {
        self.send_until(v, None, &no_abort)
    }

    /// As [`Channel::send`], giving up after `timeout`. An unbuffered send that times out
    /// withdraws its value (a receiver copying it at that very moment may still get it: the
    /// layout has no claim field, spec §4.20).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; `Corrupt`.
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<()> {
        self.send_until(v, common::deadline_after(timeout), &no_abort)
    }

    fn send_until(&self, v: T, deadline: Option<Instant>, abort: Abort<'_>) -> Result<()> {
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => {
                self.buffered_block_send(qwords, deadline, abort, || {
                    self.buffered_try_send(queue, qwords, v)
                })
            }
            Kind::Unbuffered { word, slot, data } => {
                self.rendezvous_send(&self.rendezvous(word, slot, *data), v, deadline, abort)
            }
        }
    }

    /// Sends a prefix of `src` without blocking; returns how many values were sent (0 when
    /// the buffer is full or `src` is empty). A buffered channel claims runs of free slots
    /// with one atomic update each ([`Queue::push_slice`]); an unbuffered one offers at most
    /// `src[0]`, as [`Channel::try_send`] does.
    ///
    /// # Errors
    /// [`Error::Closed`]; `Corrupt`.
    pub fn try_send_slice(&self, src: &[T]) -> Result<usize> {
        let Some(&first) = src.first() else {
            return Ok(0);
        };
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => self.buffered_try_send_slice(queue, qwords, src),
            Kind::Unbuffered { .. } => Ok(usize::from(self.try_send_inner(first)?)),
        }
    }

    /// Sends a prefix of `src`, blocking until at least one value went in (as `write(2)`
    /// does); returns how many were sent, which is less than `src.len()` when the buffer
    /// filled up. Loop to send everything. An unbuffered channel sends `src[0]` by
    /// rendezvous and returns 1. Returns 0 at once for an empty `src`.
    ///
    /// Batching is how a buffered channel reaches memory bandwidth: one slot-claiming
    /// atomic update and at most one wake-up per run instead of per value.
    ///
    /// # Errors
    /// [`Error::Closed`] (nothing was sent); `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// # use zeroipc_format::Segment;
    /// # use zeroipc_codata::Channel;
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ch = Channel::<u64>::create(&seg, "nums", 4)?;
    /// let data: Vec<u64> = (1..=3).collect();
    /// let mut sent = 0;
    /// while sent < data.len() {
    ///     sent += ch.send_slice(&data[sent..])?;
    /// }
    /// let mut buf = [0u64; 8];
    /// assert_eq!(ch.recv_into(&mut buf)?, 3);
    /// assert_eq!(buf[..3], [1, 2, 3]);
    /// ch.close()?;
    /// assert_eq!(ch.recv_into(&mut buf)?, 0); // closed and drained
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn send_slice(&self, src: &[T]) -> Result<usize> {
        self.send_slice_until(src, None, &no_abort)
    }

    /// As [`Channel::send_slice`], giving up after `timeout` (nothing was sent then).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; `Corrupt`.
    pub fn send_slice_timeout(&self, src: &[T], timeout: Duration) -> Result<usize> {
        self.send_slice_until(src, common::deadline_after(timeout), &no_abort)
    }

    fn send_slice_until(
        &self,
        src: &[T],
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<usize> {
        let Some(&first) = src.first() else {
            return Ok(0);
        };
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => {
                let mut sent = 0;
                self.buffered_block_send(qwords, deadline, abort, || {
                    sent = self.buffered_try_send_slice(queue, qwords, src)?;
                    Ok(sent > 0)
                })?;
                Ok(sent)
            }
            Kind::Unbuffered { .. } => self.send_until(first, deadline, abort).map(|()| 1),
        }
    }

    /// Receives up to `dst.len()` values without blocking; returns how many (0 when nothing
    /// is available or `dst` is empty). A buffered channel claims runs of published slots
    /// with one atomic update each ([`Queue::pop_into`]).
    ///
    /// # Errors
    /// [`Error::Closed`] when the channel is closed and drained; `Corrupt`.
    pub fn try_recv_into(&self, dst: &mut [T]) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        match self.poll_recv_into(dst)? {
            Some(0) => Err(self.closed_err()),
            Some(n) => Ok(n),
            None => Ok(0),
        }
    }

    /// Receives up to `dst.len()` values, blocking until at least one arrives (as `read(2)`
    /// does); returns how many, or 0 once the channel is closed and drained (and at once for
    /// an empty `dst`). An unbuffered channel receives one value per call.
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv_into(&self, dst: &mut [T]) -> Result<usize> {
        self.recv_into_until(dst, None, &no_abort)
    }

    /// As [`Channel::recv_into`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_into_timeout(&self, dst: &mut [T], timeout: Duration) -> Result<usize> {
        self.recv_into_until(dst, common::deadline_after(timeout), &no_abort)
    }

    /// One bulk receive attempt: `Some(n > 0)` got values, `Some(0)` closed and drained,
    /// `None` nothing yet.
    fn poll_recv_into(&self, dst: &mut [T]) -> Result<Option<usize>> {
        let Some(first) = dst.first_mut() else {
            return Ok(Some(0));
        };
        let Kind::Buffered { queue, qwords } = &self.inner.kind else {
            return Ok(self.poll_recv()?.map(|got| match got {
                Some(v) => {
                    *first = v;
                    1
                }
                None => 0,
            }));
        };
        let n = self.buffered_try_recv_into(queue, qwords, dst)?;
        if n > 0 {
            return Ok(Some(n));
        }
        if self.is_closed()? {
            // Values pushed just before the close are still delivered.
            return Ok(Some(self.buffered_try_recv_into(queue, qwords, dst)?));
        }
        Ok(None)
    }

    fn recv_into_until(
        &self,
        dst: &mut [T],
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        if let Kind::Unbuffered { .. } = &self.inner.kind {
            return Ok(match (self.recv_until(deadline, abort)?, dst.first_mut()) {
                (Some(v), Some(first)) => {
                    *first = v;
                    1
                }
                _ => 0,
            });
        }
        Ok(self
            .buffered_block_recv(deadline, abort, || {
                Ok(self.poll_recv_into(dst)?.map(|n| (n > 0).then_some(n)))
            })?
            .unwrap_or(0))
    }

    /// Receives a value without blocking: `Ok(None)` when nothing is available.
    ///
    /// # Errors
    /// [`Error::Closed`] when the channel is closed and drained; `Corrupt`.
    pub fn try_recv(&self) -> Result<Option<T>> {
        let got = match &self.inner.kind {
            Kind::Buffered { queue, qwords } => self.buffered_try_recv(queue, qwords)?,
            Kind::Unbuffered { word, slot, data } => {
                let _local = self
                    .inner
                    .recv_lock
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                protocol::rendezvous_take(&self.rendezvous(word, slot, *data))?
            }
        };
        match got {
            Some(v) => Ok(Some(v)),
            None if self.is_closed()? => {
                // A value pushed just before the close is still delivered.
                match &self.inner.kind {
                    Kind::Buffered { queue, qwords } => {
                        match self.buffered_try_recv(queue, qwords)? {
                            Some(v) => Ok(Some(v)),
                            None => Err(self.closed_err()),
                        }
                    }
                    Kind::Unbuffered { .. } => Err(self.closed_err()),
                }
            }
            None => Ok(None),
        }
    }

    /// Receives a value, blocking until one arrives; `Ok(None)` once the channel is closed
    /// and drained.
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv(&self) -> Result<Option<T>> {
        self.recv_until(None, &no_abort)
    }

    /// As [`Channel::recv`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        self.recv_until(common::deadline_after(timeout), &no_abort)
    }

    /// For [`crate::Select`]: the word a receive arm sleeps on and the receivers' waiter
    /// counter it registers on (senders wake only registered receivers).
    pub(crate) fn select_recv_words(&self) -> Result<(&HwU32, &HwU32)> {
        Ok((self.recv_word()?, self.word(ChannelHeader::W_RECEIVERS)?))
    }

    /// For [`crate::Select`]: the word a send arm sleeps on (bumped when room frees up or a
    /// rendezvous changes hands) and the senders' waiter counter it registers on.
    pub(crate) fn select_send_words(&self) -> Result<(&HwU32, &HwU32)> {
        let word = match &self.inner.kind {
            Kind::Buffered { qwords, .. } => Self::q_word(qwords, 0, &self.inner.name)?,
            Kind::Unbuffered { word, .. } => Self::q_word(word, 0, &self.inner.name)?,
        };
        Ok((word, self.word(ChannelHeader::W_SENDERS)?))
    }

    /// The futex word a blocked receiver sleeps on, and the value to sleep on.
    fn recv_word(&self) -> Result<&HwU32> {
        match &self.inner.kind {
            Kind::Buffered { qwords, .. } => Self::q_word(qwords, 1, &self.inner.name),
            Kind::Unbuffered { word, .. } => Self::q_word(word, 0, &self.inner.name),
        }
    }

    /// One receive attempt: `Ok(Some(Some(v)))` got a value, `Ok(Some(None))` closed and
    /// drained, `Ok(None)` nothing yet.
    pub(crate) fn poll_recv(&self) -> Result<Option<Option<T>>> {
        match self.try_recv() {
            Ok(Some(v)) => Ok(Some(Some(v))),
            Ok(None) => Ok(None),
            Err(Error::Closed { .. }) => Ok(Some(None)),
            Err(e) => Err(e),
        }
    }

    fn recv_until(&self, deadline: Option<Instant>, abort: Abort<'_>) -> Result<Option<T>> {
        if let Kind::Unbuffered { word, slot, data } = &self.inner.kind {
            let _local = self
                .inner
                .recv_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let rs = self.rendezvous(word, slot, *data);
            return match protocol::rendezvous_recv(&rs, deadline, abort) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => Err(Error::Timeout {
                    what: "a value on a channel",
                }),
                // Every registered sender gone: the end, after a last look at the slot.
                Err(Error::Disconnected { .. }) => protocol::rendezvous_take(&rs),
                Err(e) => Err(e),
            };
        }
        self.buffered_block_recv(deadline, abort, || self.poll_recv())
    }

    /// Blocks until `poll` reports a result (`Some(r)`): a short spin, then sleeps on the
    /// receive word as a registered waiting receiver. `poll` returns `Some(Some(_))` for
    /// values, `Some(None)` for the end (closed and drained), `None` for nothing yet.
    /// Disconnected senders (the abort check) end the wait like a close, after a last poll.
    fn buffered_block_recv<R>(
        &self,
        deadline: Option<Instant>,
        abort: Abort<'_>,
        mut poll: impl FnMut() -> Result<Option<Option<R>>>,
    ) -> Result<Option<R>> {
        for _ in 0..common::SPIN {
            if let Some(r) = poll()? {
                return Ok(r);
            }
            std::hint::spin_loop();
        }
        let word = self.recv_word()?;
        let _waiting = Waiting::register(self.word(ChannelHeader::W_RECEIVERS)?);
        let since = Instant::now();
        loop {
            let seen = word.load(Ordering::SeqCst);
            if let Some(r) = poll()? {
                return Ok(r);
            }
            if let Err(e) = abort() {
                // Disconnected senders: behave as closed once drained (a value pushed just
                // before the last sender left is still delivered).
                return match e {
                    Error::Disconnected { .. } => Ok(poll()?.flatten()),
                    other => Err(other),
                };
            }
            let Some(s) = common::next_slice(deadline, since) else {
                return Err(Error::Timeout {
                    what: "a value on a channel",
                });
            };
            common::park(word, seen, s);
        }
    }

    /// Receives from whichever of `channels` has a value first; `Ok(None)` once every one of
    /// them is closed and drained. The caller registers as a waiting receiver on all of them
    /// and sleeps on one at a time in slices of at most 1 ms, so a value anywhere is seen
    /// within about 1 ms (immediately on the channel slept on).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`FormatError::InvalidArgument`] for an empty set; `Corrupt`.
    pub fn select(channels: &[&Channel<T>], timeout: Duration) -> Result<Option<(usize, T)>> {
        if channels.is_empty() {
            return Err(FormatError::InvalidArgument("select over no channels".into()).into());
        }
        let deadline = common::deadline_after(timeout);
        let mut guards = Vec::with_capacity(channels.len());
        for c in channels {
            guards.push(Waiting::register(c.word(ChannelHeader::W_RECEIVERS)?));
        }
        let mut turn = 0usize;
        loop {
            let mut open = None;
            let n = channels.len();
            for k in 0..n {
                let i = (turn + k) % n;
                let Some(c) = channels.get(i) else { continue };
                let seen = c.recv_word()?.load(Ordering::SeqCst);
                match c.poll_recv()? {
                    Some(Some(v)) => return Ok(Some((i, v))),
                    Some(None) => {}
                    None => {
                        if open.is_none() {
                            open = Some((i, seen));
                        }
                    }
                }
            }
            let Some((i, seen)) = open else {
                return Ok(None);
            };
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::Timeout {
                    what: "a value on any channel",
                });
            }
            let mut slice = zeroipc_sync::futex::SLICE;
            if let Some(d) = deadline {
                slice = slice.min(d - now);
            }
            if let Some(c) = channels.get(i) {
                common::park(c.recv_word()?, seen, slice);
            }
            turn = turn.wrapping_add(1);
        }
    }

    // ----- peers ----------------------------------------------------------------------

    fn peer_words(&self) -> Option<Result<(&HwU32, &HwU32, Vec<&HwU64>)>> {
        let r = self.inner.peers.as_ref()?;
        Some((|| {
            let s = r.atomic_u32(PeersHeader::SENDERS_EVER)?;
            let rcv = r.atomic_u32(PeersHeader::RECEIVERS_EVER)?;
            let mut slots = Vec::with_capacity(PeersHeader::SLOT_COUNT as usize);
            for i in 0..PeersHeader::SLOT_COUNT as usize {
                slots.push(r.atomic_u64(PeersHeader::SLOTS + 8 * i)?);
            }
            Ok((s, rcv, slots))
        })())
    }

    fn register(&self, kind: u64) -> Result<Option<usize>> {
        let Some(p) = self.peer_words() else {
            return Ok(None);
        };
        let (s_ever, r_ever, slots) = p?;
        let me = (kind << 32) | u64::from(common::my_pid());
        for (i, w) in slots.iter().enumerate() {
            let cur = w.load(Ordering::Acquire);
            let free = cur == 0 || common::is_dead(cur as u32);
            if free
                && w.compare_exchange(cur, me, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                let ever = if kind == PeersHeader::KIND_SENDER {
                    s_ever
                } else {
                    r_ever
                };
                ever.fetch_add(1, Ordering::SeqCst);
                return Ok(Some(i));
            }
        }
        Err(FormatError::InvalidArgument(format!(
            "{:?}: all {} peer slots are taken",
            self.inner.name,
            PeersHeader::SLOT_COUNT
        ))
        .into())
    }

    fn unregister(&self, slot: usize, kind: u64) {
        if let Some(Ok((_, _, slots))) = self.peer_words()
            && let Some(w) = slots.get(slot)
        {
            let me = (kind << 32) | u64::from(common::my_pid());
            let _ = w.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// `(ever registered, alive now)` for peers of `kind`; `None` without a registry.
    fn peer_counts(&self, kind: u64) -> Result<Option<(u32, u32)>> {
        let Some(p) = self.peer_words() else {
            return Ok(None);
        };
        let (s_ever, r_ever, slots) = p?;
        let ever = if kind == PeersHeader::KIND_SENDER {
            s_ever
        } else {
            r_ever
        }
        .load(Ordering::SeqCst);
        let mut alive = 0;
        for w in slots {
            let v = w.load(Ordering::Acquire);
            if v >> 32 == kind && !common::is_dead(v as u32) {
                alive += 1;
            }
        }
        Ok(Some((ever, alive)))
    }

    /// Registered [`Sender`]s whose process is alive (`None` for a channel without the
    /// project's peer registry, e.g. one created by upstream C++).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn live_senders(&self) -> Result<Option<u32>> {
        Ok(self.peer_counts(PeersHeader::KIND_SENDER)?.map(|(_, a)| a))
    }

    /// Registered [`Receiver`]s whose process is alive (`None` without a registry).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn live_receivers(&self) -> Result<Option<u32>> {
        Ok(self
            .peer_counts(PeersHeader::KIND_RECEIVER)?
            .map(|(_, a)| a))
    }

    fn gone(&self, kind: u64, side: &'static str) -> Result<()> {
        match self.peer_counts(kind)? {
            Some((ever, 0)) if ever > 0 => Err(Error::Disconnected {
                name: self.inner.name.clone(),
                side,
            }),
            _ => Ok(()),
        }
    }

    /// A registered sending end: while any sender is registered, receivers wait; once every
    /// registered sender has dropped its handle or died, [`Receiver`]s see the end of the
    /// channel after draining it.
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] when all 32 peer slots are taken by live processes.
    pub fn sender(&self) -> Result<Sender<T>> {
        let slot = self.register(PeersHeader::KIND_SENDER)?;
        Ok(Sender {
            chan: self.clone(),
            slot,
        })
    }

    /// A registered receiving end; a [`Sender`] blocked on a full (or unbuffered) channel
    /// gets [`Error::Disconnected`] once every registered receiver is gone.
    ///
    /// # Errors
    /// As [`Channel::sender`].
    pub fn receiver(&self) -> Result<Receiver<T>> {
        let slot = self.register(PeersHeader::KIND_RECEIVER)?;
        Ok(Receiver {
            chan: self.clone(),
            slot,
            #[cfg(all(feature = "async", not(zeroipc_loom)))]
            next: None,
        })
    }
}

#[cfg(all(feature = "async", not(zeroipc_loom)))]
impl<T: Pod> Channel<T> {
    /// The futex word or waiter counter an async wait uses (`crate::async_api`).
    pub(crate) fn async_word(&self, which: crate::async_api::ChannelWord) -> Option<&HwU32> {
        use crate::async_api::ChannelWord as W;
        match which {
            W::Recv => self.recv_word().ok(),
            W::Send => match &self.inner.kind {
                Kind::Buffered { qwords, .. } => qwords.first(),
                Kind::Unbuffered { word, .. } => word.first(),
            },
            W::Receivers => self.word(ChannelHeader::W_RECEIVERS).ok(),
            W::Senders => self.word(ChannelHeader::W_SENDERS).ok(),
        }
    }

    /// [`Error::Disconnected`] once every registered receiver (`receivers`) or sender is
    /// gone, as the blocking handles check once per slice.
    pub(crate) fn peers_gone(&self, receivers: bool) -> Result<()> {
        if receivers {
            self.gone(PeersHeader::KIND_RECEIVER, "receiver")
        } else {
            self.gone(PeersHeader::KIND_SENDER, "sender")
        }
    }
}

#[cfg(all(feature = "async", not(zeroipc_loom)))]
impl<T: Pod> Receiver<T> {
    /// The channel and the pending stream state, borrowed apart (`crate::async_api`).
    pub(crate) fn parts_for_stream(&mut self) -> (&Channel<T>, &mut crate::async_api::NextState) {
        (&self.chan, &mut self.next)
    }
}

/// A registered sending end of a [`Channel`] (see [`Channel::sender`]). Unregisters on drop.
#[derive(Debug)]
pub struct Sender<T: Pod> {
    chan: Channel<T>,
    slot: Option<usize>,
}

impl<T: Pod> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(s) = self.slot {
            self.chan.unregister(s, PeersHeader::KIND_SENDER);
        }
    }
}

impl<T: Pod> Sender<T> {
    /// The channel.
    pub fn channel(&self) -> &Channel<T> {
        &self.chan
    }

    /// As [`Channel::send`], failing with [`Error::Disconnected`] when every registered
    /// receiver is gone while we wait.
    ///
    /// # Errors
    /// [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send(&self, v: T) -> Result<()> {
        self.chan.send_until(v, None, &|| {
            self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
        })
    }

    /// As [`Sender::send`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<()> {
        self.chan
            .send_until(v, common::deadline_after(timeout), &|| {
                self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
            })
    }

    /// As [`Channel::try_send`].
    ///
    /// # Errors
    /// As [`Channel::try_send`].
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(v)
    }

    /// As [`Channel::send_slice`], failing with [`Error::Disconnected`] when every
    /// registered receiver is gone while we wait.
    ///
    /// # Errors
    /// [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send_slice(&self, src: &[T]) -> Result<usize> {
        self.chan.send_slice_until(src, None, &|| {
            self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
        })
    }

    /// As [`Sender::send_slice`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send_slice_timeout(&self, src: &[T], timeout: Duration) -> Result<usize> {
        self.chan
            .send_slice_until(src, common::deadline_after(timeout), &|| {
                self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
            })
    }
}

/// A registered receiving end of a [`Channel`] (see [`Channel::receiver`]). Unregisters on
/// drop.
#[derive(Debug)]
pub struct Receiver<T: Pod> {
    chan: Channel<T>,
    slot: Option<usize>,
    /// The pending `Stream::poll_next`, if any (feature `async`).
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    next: crate::async_api::NextState,
}

impl<T: Pod> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(s) = self.slot {
            self.chan.unregister(s, PeersHeader::KIND_RECEIVER);
        }
    }
}

impl<T: Pod> Receiver<T> {
    /// The channel.
    pub fn channel(&self) -> &Channel<T> {
        &self.chan
    }

    /// As [`Channel::recv`], also ending (`Ok(None)`) once drained when every registered
    /// sender is gone (after at least one registered).
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv(&self) -> Result<Option<T>> {
        self.chan
            .recv_until(None, &|| self.chan.gone(PeersHeader::KIND_SENDER, "sender"))
    }

    /// As [`Receiver::recv`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        self.chan.recv_until(common::deadline_after(timeout), &|| {
            self.chan.gone(PeersHeader::KIND_SENDER, "sender")
        })
    }

    /// As [`Channel::try_recv`].
    ///
    /// # Errors
    /// As [`Channel::try_recv`].
    pub fn try_recv(&self) -> Result<Option<T>> {
        self.chan.try_recv()
    }

    /// As [`Channel::recv_into`], also ending (`Ok(0)`) once drained when every registered
    /// sender is gone (after at least one registered).
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv_into(&self, dst: &mut [T]) -> Result<usize> {
        self.chan.recv_into_until(dst, None, &|| {
            self.chan.gone(PeersHeader::KIND_SENDER, "sender")
        })
    }

    /// As [`Receiver::recv_into`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_into_timeout(&self, dst: &mut [T], timeout: Duration) -> Result<usize> {
        self.chan
            .recv_into_until(dst, common::deadline_after(timeout), &|| {
                self.chan.gone(PeersHeader::KIND_SENDER, "sender")
            })
    }
}

impl<T: Pod> Iterator for Receiver<T> {
    type Item = Result<T>;

    /// Blocks for the next value; ends when the channel is closed (or every registered
    /// sender is gone) and drained.
    fn next(&mut self) -> Option<Result<T>> {
        self.recv().transpose()
    }
}

/// The rendezvous slot of a channel in shared memory, for the shared protocol code.
struct RegionSlot<'a, T> {
    chan: &'a Channel<T>,
    /// The slot's first 4 bytes.
    word: &'a AtomicWords,
    slot: &'a Region,
    data: usize,
}

impl<T: Pod> protocol::Slot<T> for RegionSlot<'_, T> {
    type W = HwU32;

    fn word(&self) -> &HwU32 {
        // Validated at open: one word.
        &self.word[0]
    }
    fn senders(&self) -> &HwU32 {
        &self.chan.inner.words[ChannelHeader::W_SENDERS]
    }
    fn receivers(&self) -> &HwU32 {
        &self.chan.inner.words[ChannelHeader::W_RECEIVERS]
    }
    fn flags(&self) -> Result<(u32, u8, u8)> {
        let w = self.word().load(Ordering::SeqCst);
        let [ready, consumed, ..] = w.to_le_bytes();
        let name = &self.chan.inner.name;
        if ready > 1 {
            return Err(Error::from(FormatError::corrupt_field(
                name,
                "ready",
                u64::from(ready),
            )));
        }
        if consumed > 1 {
            return Err(Error::from(FormatError::corrupt_field(
                name,
                "consumed",
                u64::from(consumed),
            )));
        }
        Ok((w, ready, consumed))
    }
    fn set_ready(&self, v: u8, order: Ordering) -> Result<()> {
        self.slot.atomic_u8(SlotFlags::READY)?.store(v, order);
        Ok(())
    }
    fn set_consumed(&self, v: u8, order: Ordering) -> Result<()> {
        self.slot.atomic_u8(SlotFlags::CONSUMED)?.store(v, order);
        Ok(())
    }
    fn withdraw(&self) -> Result<bool> {
        Ok(self
            .slot
            .atomic_u8(SlotFlags::READY)?
            .compare_exchange(1, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok())
    }
    fn write(&self, v: T) -> Result<()> {
        Ok(self.slot.write(self.data, v)?)
    }
    fn read(&self) -> Result<T> {
        Ok(self.slot.read(self.data)?)
    }
    fn closed(&self) -> Result<bool> {
        self.chan.is_closed()
    }
}
