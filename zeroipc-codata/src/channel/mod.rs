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
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{AtomicWords, Region, Segment};
use zeroipc_structures::{PushError, Queue};

use crate::common::{self, HwU32, HwU64};
use crate::error::{Error, Result, TrySendError};
use crate::layout::{ChannelHeader, PeersHeader, SlotFlags};
use crate::protocol::{self, SendStop};

mod buffered;
mod handles;
mod ops;
mod peers;
mod rendezvous;
mod select;

pub use handles::{Receiver, Sender};

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
    /// How this handle's blocked receivers spin (learnt from their previous wait).
    recv_pace: zeroipc_sync::backoff::Pace,
    /// How this handle's rendezvous senders wait for the take (learnt the same way).
    send_pace: zeroipc_sync::backoff::Pace,
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

crate::common::shared_handle!(Channel);

pub(crate) use crate::protocol::Registered;

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
        lock.add(&parts, |[h, b, p]: &[Region; 3]| {
            h.write::<u32>(ChannelHeader::CAPACITY, cap)?;
            if cap > 0 {
                Queue::<T>::init_region(b, cap as usize)?;
            }
            p.write::<u32>(PeersHeader::SLOT_COUNT_AT, PeersHeader::SLOT_COUNT)?;
            Ok::<_, Error>(())
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
        let peers = common::slot_table(
            seg,
            name,
            "_peers",
            PeersHeader::TOTAL,
            PeersHeader::SLOT_COUNT_AT,
            PeersHeader::SLOT_COUNT,
            "peer slots",
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                header,
                words,
                kind,
                peers,
                send_lock: Mutex::new(()),
                recv_lock: Mutex::new(()),
                recv_pace: zeroipc_sync::backoff::Pace::yielding(),
                send_pace: zeroipc_sync::backoff::Pace::yielding(),
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
        common::closed(&self.inner.header, ChannelHeader::CLOSED, &self.inner.name)
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
}
