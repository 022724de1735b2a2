//! `Stream<T>`: a single-producer sequence of values with multicast subscribers (spec §4.19,
//! the upstream C++ layout plus the project's `name_subs` extension).
//!
//! Entries, in creation order: `name_header` (56 bytes), `name_buffer` (a Ring, §4.4, of
//! `buffer_capacity * es` bytes) and, for streams created by this crate, `name_subs`:
//!
//! `name_header`: `u64 sequence` @0 (elements ever emitted), `u32 subscribers` @8,
//! `u8 closed` @12, `u32 buffer_capacity` @16 (elements), `u8 transform_name[32]` @20.
//!
//! `name_subs` (project extension, `32 + 16 * SUB_SLOTS` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | u32 | `slots` (16) |
//! | 4 | atomic u32 | `sub_waiting` — subscribers sleeping on the ring's `write_pos` low word |
//! | 8 | atomic u32 | `prod_waiting` — producers sleeping on `progress` |
//! | 12 | atomic u32 | `progress` — bumped by subscribers after advancing while a producer waits |
//! | 16 | atomic u32 | `multicast` — 0 until the first subscription, then 1 |
//! | 20 | u8[12] | reserved (0) |
//! | 32 + 16 i | atomic u64 | `cursor` of slot i — absolute byte position of its next element |
//! | 40 + 16 i | atomic u32 | `pid` of slot i's subscriber, 0 = free |
//! | 44 + 16 i | u32 | reserved |
//!
//! Multicast rules: free slots hold `pid` 0 and `cursor` `u64::MAX` (SubSlot::JOINING). A subscriber
//! claims a free slot (CAS `pid` 0 → own pid), sets `multicast` to 1 and stores its start in
//! `cursor`: the ring's `read_pos` for the first subscriber ever (it inherits what the stream
//! retained), `write_pos` for later ones (they see what is emitted after they subscribed).
//! While a claimed slot still reads SubSlot::JOINING the producer holds `read_pos` where it is.
//! Before each emit the producer computes the slowest cursor of the live slots and stores
//! it into the ring's `read_pos`, so upstream's capacity check (`write_pos - read_pos <=
//! capacity`) still holds and the producer never overwrites bytes a subscriber has not
//! passed. A producer blocked on a full ring checks, once per sleep slice (1–10 ms), whether
//! the pid of each slot still exists; a dead subscriber's slot is freed (CAS pid → 0) and
//! `subscribers` decremented, so a crashed subscriber holds the producer back for at most
//! one slice after its death is visible to `kill(pid, 0)`. Until the first subscription
//! (`multicast` 0) the ring behaves as upstream: `read_pos` is advanced by competing
//! consumers ([`Stream::try_next`]). Once `multicast` is 1, an emit with no live subscriber
//! sets `read_pos = write_pos` first (elements nobody subscribed to are not retained, like a
//! broadcast channel without receivers).
//! One producer at a time (the ring has no CAS).

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::{Ordering, fence};
use zeroipc_format::{Region, Segment};
use zeroipc_structures::Ring;
use zeroipc_structures::layout::RingHeader;

use crate::layout::{StreamHeader, SubSlot, SubsHeader};

mod batch;
mod subscription;

pub use subscription::Subscription;

use crate::common::{self, HwU32, HwU64};
use crate::error::{Error, Result, TrySendError};

/// Subscriber slots of `name_subs`.
pub const SUB_SLOTS: usize = SubsHeader::SLOT_COUNT;

/// Default buffer capacity in elements (upstream's default).
pub const DEFAULT_CAPACITY: usize = 1024;

const LONGEST_SUFFIX: usize = 7; // `_header`, `_buffer`

struct Inner {
    name: String,
    header: Region,
    ring: Region,
    subs: Option<Region>,
    /// Ring capacity in bytes (validated: a non-zero multiple of `es`).
    cap: u64,
}

/// A stream handle. Cloning shares the handle.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_codata::Stream;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let s = Stream::<i32>::create(&seg, "ticks", 16)?;
/// let mut sub = s.subscribe()?;
/// for v in 1..=3 {
///     s.emit(v)?;
/// }
/// s.close()?;
/// let got: Vec<i32> = sub.by_ref().collect::<Result<_, _>>()?;
/// assert_eq!(got, [1, 2, 3]);
/// # Ok::<(), zeroipc_codata::Error>(())
/// ```
pub struct Stream<T> {
    inner: Arc<Inner>,
    _elem: PhantomData<fn() -> T>,
}

crate::common::shared_handle!(Stream);

impl<T: Pod> Stream<T> {
    const ELEMENT_OK: () = assert!(
        size_of::<T>() >= 1 && align_of::<T>() <= 8,
        "element types must be 1 or more bytes with alignment at most 8"
    );
    const ES: u64 = size_of::<T>() as u64;

    /// Creates the stream `name` with a buffer of `capacity` elements.
    ///
    /// # Errors
    /// `InvalidName`/`NameTooLong` (base names at most 24 bytes); [`FormatError::InvalidArgument`]
    /// for capacity 0 or a buffer above `u32::MAX` bytes; the segment's errors.
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self> {
        Self::create_with(seg, name, capacity, "")
    }

    /// Creates a derived stream with `transform` in its header (used by the operators).
    pub(crate) fn create_derived(
        seg: &Segment,
        name: &str,
        capacity: usize,
        transform: &str,
    ) -> Result<Self> {
        Self::create_with(seg, name, capacity, transform)
    }

    fn create_with(seg: &Segment, name: &str, capacity: usize, transform: &str) -> Result<Self> {
        let () = Self::ELEMENT_OK;
        zeroipc_format::validate_base_name(name, LONGEST_SUFFIX)?;
        // The Ring's rule (1.. elements within 4 GiB) also keeps the stored u32 capacity exact.
        let ring_size = Ring::<T>::memory_size(capacity).ok_or_else(|| {
            FormatError::InvalidArgument(format!("stream capacity {capacity} is out of range"))
        })?;
        let h = format!("{name}_header");
        let b = format!("{name}_buffer");
        let s = format!("{name}_subs");
        let mut lock = seg.lock_table()?;
        lock.add(
            &[
                (h.as_str(), StreamHeader::SIZE),
                (b.as_str(), ring_size),
                (s.as_str(), SubsHeader::TOTAL),
            ],
            |[h, b, s]: &[Region; 3]| {
                h.write::<u32>(StreamHeader::BUFFER_CAPACITY, capacity as u32)?;
                let mut t = [0u8; 32];
                for (d, c) in t.iter_mut().zip(transform.bytes().take(31)) {
                    *d = c;
                }
                h.write(StreamHeader::TRANSFORM_NAME, t)?;
                Ring::<T>::init_region(b, capacity)?;
                s.write::<u32>(SubsHeader::SLOT_COUNT_AT, SUB_SLOTS as u32)?;
                for i in 0..SUB_SLOTS {
                    s.write::<u64>(SubsHeader::slot(i) + SubSlot::CURSOR, SubSlot::JOINING)?;
                }
                Ok::<_, Error>(())
            },
        )?;
        drop(lock);
        Self::open(seg, name)
    }

    /// Opens the existing stream `name`.
    ///
    /// # Errors
    /// `NotFound`; `Incomplete`; [`FormatError::SizeMismatch`]; [`FormatError::TypeMismatch`];
    /// `Corrupt` (`closed` above 1, ring capacity not `buffer_capacity * es`).
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        zeroipc_format::validate_base_name(name, LONGEST_SUFFIX)?;
        let h = format!("{name}_header");
        let b = format!("{name}_buffer");
        let [he, be] = seg.find_composite(name, &[&h, &b])?;
        he.expect_size(StreamHeader::SIZE)?;
        let header = seg.region(&he)?;
        let ring_handle = Ring::<T>::open_entry(seg, be.clone())?;
        let cap = ring_handle.capacity_bytes();
        let elems = header.read::<u32>(StreamHeader::BUFFER_CAPACITY)?;
        if u64::from(elems) * Self::ES != cap {
            return Err(FormatError::SizeMismatch {
                name: name.to_owned(),
                expected: Ring::<T>::memory_size(elems as usize).unwrap_or(u64::MAX),
                found: be.size(),
            }
            .into());
        }
        let ring = seg.region(&be)?;
        let subs = common::slot_table(
            seg,
            name,
            "_subs",
            SubsHeader::TOTAL,
            SubsHeader::SLOT_COUNT_AT,
            SUB_SLOTS as u32,
            "subscriber slots",
        )?;
        let s = Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                header,
                ring,
                subs,
                cap,
            }),
            _elem: PhantomData,
        };
        s.is_closed()?;
        Ok(s)
    }

    /// The stream's base name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Buffer capacity in elements.
    pub fn capacity(&self) -> usize {
        (self.inner.cap / Self::ES) as usize
    }

    /// The `transform_name` of a derived stream (`"map"`, `"filter"`, ...; empty otherwise).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn transform(&self) -> Result<String> {
        let raw: [u8; 32] = self.inner.header.read(StreamHeader::TRANSFORM_NAME)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(32);
        Ok(String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).into_owned())
    }

    /// Elements ever emitted: the `sequence` counter, which a producer bumps after it
    /// published the element (a producer killed in between leaves it one behind; see
    /// [`Stream::position`]).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn sequence(&self) -> Result<u64> {
        Ok(self
            .inner
            .header
            .atomic_u64(StreamHeader::SEQUENCE)?
            .load(Ordering::Acquire))
    }

    /// The stream's own number of the next element to be emitted: the ring's `write_pos`
    /// in elements, the numbering [`Subscription::position`] uses. It counts exactly what
    /// was published, also when a producer was killed between publishing an element and
    /// bumping [`Stream::sequence`].
    ///
    /// # Errors
    /// `Corrupt` if `write_pos` is not a whole number of elements.
    ///
    /// # Examples
    /// ```
    /// # use zeroipc_format::Segment;
    /// # use zeroipc_codata::Stream;
    /// # let name = format!("/zipc_doc_stpos_{}", std::process::id());
    /// # let seg = Segment::create(&name, 1 << 16, 8)?;
    /// let s = Stream::<u32>::create(&seg, "ticks", 16)?;
    /// let mut sub = s.subscribe()?;
    /// s.emit(7)?;
    /// assert_eq!(s.position()?, 1);
    /// assert_eq!(sub.position()?, 0);
    /// # drop(sub); drop(s); drop(seg); Segment::unlink(&name)?;
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn position(&self) -> Result<u64> {
        // Acquire: pairs with the producer's store of `write_pos`.
        let w = self.wpos()?.load(Ordering::Acquire);
        if !w.is_multiple_of(Self::ES) {
            return Err(FormatError::corrupt_field(&self.inner.name, "write_pos", w).into());
        }
        Ok(w / Self::ES)
    }

    /// The `subscribers` count.
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn subscribers(&self) -> Result<u32> {
        Ok(self
            .inner
            .header
            .atomic_u32(StreamHeader::SUBSCRIBERS)?
            .load(Ordering::Acquire))
    }

    /// Whether the stream was closed.
    ///
    /// # Errors
    /// `Corrupt` if the `closed` byte is neither 0 nor 1.
    pub fn is_closed(&self) -> Result<bool> {
        common::closed(&self.inner.header, StreamHeader::CLOSED, &self.inner.name)
    }

    fn wpos(&self) -> Result<&HwU64> {
        Ok(self.inner.ring.atomic_u64(RingHeader::WRITE_POS)?)
    }

    fn rpos(&self) -> Result<&HwU64> {
        Ok(self.inner.ring.atomic_u64(RingHeader::READ_POS)?)
    }

    /// The low 32-bit half of `write_pos` (the subscribers' futex word, spec D5).
    fn wlow(&self) -> Result<&HwU32> {
        Ok(self.inner.ring.atomic_u32(RingHeader::WRITE_POS)?)
    }

    fn subs_u32(&self, off: usize) -> Result<Option<&HwU32>> {
        match &self.inner.subs {
            Some(r) => Ok(Some(r.atomic_u32(off)?)),
            None => Ok(None),
        }
    }

    /// Whether the stream has had a subscriber (multicast mode).
    fn multicast(&self) -> Result<bool> {
        match self.subs_u32(SubsHeader::MULTICAST)? {
            None => Ok(false),
            Some(m) => common::flag(
                &self.inner.name,
                "multicast",
                u64::from(m.load(Ordering::Acquire)),
            ),
        }
    }

    /// `(cursor, pid)` words of slot `i`.
    fn slot(&self, i: usize) -> Result<Option<(&HwU64, &HwU32)>> {
        match &self.inner.subs {
            Some(r) => {
                let at = SubsHeader::SLOTS + size_of::<SubSlot>() * i;
                Ok(Some((r.atomic_u64(at)?, r.atomic_u32(at + SubSlot::PID)?)))
            }
            None => Ok(None),
        }
    }

    fn buffer_offset(&self, pos: u64) -> usize {
        RingHeader::BUFFER + (pos % self.inner.cap) as usize
    }

    /// `pos + es`, or `Corrupt` if a hostile position would overflow.
    fn advance(&self, pos: u64, field: &'static str) -> Result<u64> {
        pos.checked_add(Self::ES)
            .ok_or_else(|| Error::from(FormatError::corrupt_field(&self.inner.name, field, pos)))
    }

    /// Checks `0 <= w - r <= capacity`.
    fn check_span(&self, w: u64, r: u64, field: &'static str) -> Result<()> {
        match w.checked_sub(r) {
            Some(d)
                if d <= self.inner.cap
                    && r.is_multiple_of(Self::ES)
                    && w.is_multiple_of(Self::ES) =>
            {
                Ok(())
            }
            _ => Err(Error::from(FormatError::corrupt_field(
                &self.inner.name,
                field,
                r,
            ))),
        }
    }

    /// The slowest live cursor, or `None` without subscribers. With `reap`, frees the slots
    /// of dead subscribers first.
    fn slowest(&self, w: u64, reap: bool) -> Result<Option<u64>> {
        let mut min: Option<u64> = None;
        for i in 0..SUB_SLOTS {
            let Some((cursor, pid)) = self.slot(i)? else {
                return Ok(None);
            };
            let p = pid.load(Ordering::SeqCst);
            if p == 0 {
                continue;
            }
            if reap && common::is_dead(p) {
                // Free slots hold `SubSlot::JOINING`; only the producer frees a dead subscriber's
                // slot (subscribers claim only free ones), so nobody else writes it now.
                cursor.store(SubSlot::JOINING, Ordering::SeqCst);
                if pid
                    .compare_exchange(p, 0, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
                {
                    self.inner
                        .header
                        .atomic_u32(StreamHeader::SUBSCRIBERS)?
                        .fetch_sub(1, Ordering::AcqRel);
                }
                continue;
            }
            let mut c = cursor.load(Ordering::SeqCst);
            if c == SubSlot::JOINING {
                // A subscriber between claiming the slot and storing its start: hold
                // `read_pos` where it is (its start is `read_pos` or `write_pos`).
                c = self.rpos()?.load(Ordering::Acquire);
            }
            self.check_span(w, c, "subscriber cursor")?;
            min = Some(min.map_or(c, |m| m.min(c)));
        }
        Ok(min)
    }

    fn try_emit_inner(&self, v: T, reap: bool) -> Result<bool> {
        Ok(self.try_emit_run(std::slice::from_ref(&v), reap)? == 1)
    }

    /// Emits the longest prefix of `values` that fits now, with one slowest-subscriber scan,
    /// one publication of `write_pos` and at most one wake-up; returns how many (0: full, or
    /// `values` is empty).
    fn try_emit_run(&self, values: &[T], reap: bool) -> Result<usize> {
        if values.is_empty() {
            return Ok(0);
        }
        if self.is_closed()? {
            return Err(Error::Closed {
                name: self.inner.name.clone(),
            });
        }
        let wp = self.wpos()?;
        let rp = self.rpos()?;
        let w = wp.load(Ordering::Relaxed);
        // `multicast` before the slots: a subscriber sets it after claiming its slot, so a
        // producer that sees 1 also sees the slot (SeqCst).
        let multicast = self.multicast()?;
        let r = match self.slowest(w, reap)? {
            Some(min) => {
                let r = rp.load(Ordering::Acquire).max(min).min(w);
                rp.store(r, Ordering::Release);
                r
            }
            None if multicast => {
                rp.store(w, Ordering::Release);
                w
            }
            // Acquire: pairs with the Release store of `read_pos` by a competing consumer.
            None => rp.load(Ordering::Acquire),
        };
        self.check_span(w, r, "read_pos")?;
        // `check_span` bounds `w - r` by the capacity.
        let room = ((self.inner.cap - (w - r)) / Self::ES) as usize;
        let n = values.len().min(room);
        let Some(run) = values.get(..n).filter(|run| !run.is_empty()) else {
            return Ok(0);
        };
        // Elements never straddle the end of the buffer (its capacity is a multiple of the
        // element size): the run is at most two contiguous pieces.
        let to_end = ((self.inner.cap - w % self.inner.cap) / Self::ES) as usize;
        let (a, b) = run.split_at(n.min(to_end));
        self.inner.ring.write_slice(self.buffer_offset(w), a)?;
        self.inner.ring.write_slice(RingHeader::BUFFER, b)?;
        // Release: publishes the elements to the subscribers' / consumers' Acquire load of
        // `write_pos`.
        let next = w.checked_add(n as u64 * Self::ES).ok_or_else(|| {
            Error::from(FormatError::corrupt_field(&self.inner.name, "write_pos", w))
        })?;
        wp.store(next, Ordering::SeqCst);
        self.inner
            .header
            .atomic_u64(StreamHeader::SEQUENCE)?
            .fetch_add(n as u64, Ordering::AcqRel);
        if let Some(waiting) = self.subs_u32(SubsHeader::SUB_WAITING)?
            && waiting.load(Ordering::SeqCst) > 0
        {
            common::wake_all(self.wlow()?);
        }
        Ok(n)
    }

    /// Emits `v` if there is room.
    ///
    /// # Errors
    /// [`TrySendError::Full`] with the value back when the slowest live subscriber (or,
    /// without subscribers, the competing consumers) has not freed space;
    /// [`TrySendError::Failed`] with [`Error::Closed`] or `Corrupt`.
    pub fn try_emit(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.try_emit_inner(v, false) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TrySendError::Full(v)),
            Err(e) => Err(TrySendError::Failed(e)),
        }
    }

    /// Emits `v`, blocking while the buffer is full (backpressure from the slowest live
    /// subscriber; dead subscribers are dropped, see the module docs).
    ///
    /// # Errors
    /// [`Error::Closed`]; `Corrupt`.
    pub fn emit(&self, v: T) -> Result<()> {
        self.emit_until(v, None)
    }

    /// As [`Stream::emit`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; `Corrupt`.
    pub fn emit_timeout(&self, v: T, timeout: Duration) -> Result<()> {
        self.emit_until(v, common::deadline_after(timeout))
    }

    fn emit_until(&self, v: T, deadline: Option<Instant>) -> Result<()> {
        self.emit_run_until(std::slice::from_ref(&v), deadline)
            .map(|_| ())
    }

    /// Emits a prefix of the non-empty `values`, blocking until at least one element fits;
    /// returns how many went in.
    fn emit_run_until(&self, values: &[T], deadline: Option<Instant>) -> Result<usize> {
        let attempt = |reap| -> Result<Option<usize>> {
            Ok(Some(self.try_emit_run(values, reap)?).filter(|&n| n > 0))
        };
        if let Some(n) = common::spin_for_room(|| attempt(false))? {
            return Ok(n);
        }
        common::park_until(
            self.subs_u32(SubsHeader::PROD_WAITING)?,
            self.subs_u32(SubsHeader::PROGRESS)?,
            deadline,
            "room in a stream",
            || attempt(true),
        )
    }

    /// Closes the stream: emits fail with [`Error::Closed`]; subscribers drain what is
    /// buffered, then their iterators end.
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn close(&self) -> Result<()> {
        self.inner
            .header
            .atomic_u8(StreamHeader::CLOSED)?
            .store(1, Ordering::SeqCst);
        common::wake_all(self.wlow()?);
        if let Some(p) = self.subs_u32(SubsHeader::PROGRESS)? {
            p.fetch_add(1, Ordering::SeqCst);
            common::wake_all(p);
        }
        Ok(())
    }

    /// Takes the oldest unread element as an upstream-style **competing** consumer (advances
    /// the ring's `read_pos`; one consumer at a time). Not for multicast streams with
    /// subscribers, whose `read_pos` the producer manages.
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn try_next(&self) -> Result<Option<T>> {
        let rp = self.rpos()?;
        let r = rp.load(Ordering::Relaxed);
        let w = self.wpos()?.load(Ordering::Acquire);
        self.check_span(w, r, "read_pos")?;
        if w - r < Self::ES {
            return Ok(None);
        }
        let v = self.inner.ring.read(self.buffer_offset(r))?;
        rp.store(self.advance(r, "read_pos")?, Ordering::Release);
        Ok(Some(v))
    }

    /// Subscribes: the returned [`Subscription`] receives, in order, every element emitted
    /// from now on (the first subscriber of a stream also gets what the stream retained
    /// before it), and holds the producer back while it lags (multicast; see the module
    /// docs).
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] if the stream has no `name_subs` entry (created upstream)
    /// or all [`SUB_SLOTS`] slots are taken (slots of dead subscribers are freed by a blocked
    /// producer).
    pub fn subscribe(&self) -> Result<Subscription<T>> {
        let me = common::my_pid();
        for i in 0..SUB_SLOTS {
            let Some((cursor, pid)) = self.slot(i)? else {
                break;
            };
            if pid
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            // The slot's cursor is `SubSlot::JOINING` (free slots hold it): the producer holds
            // `read_pos` still until the start is stored.
            let first = match self.subs_u32(SubsHeader::MULTICAST)? {
                Some(m) => m.swap(1, Ordering::SeqCst) == 0,
                None => false,
            };
            let start = if first {
                // The first subscriber inherits what the stream retained before it.
                self.rpos()?.load(Ordering::SeqCst)
            } else {
                self.wpos()?.load(Ordering::SeqCst)
            };
            cursor.store(start, Ordering::SeqCst);
            self.inner
                .header
                .atomic_u32(StreamHeader::SUBSCRIBERS)?
                .fetch_add(1, Ordering::AcqRel);
            return Ok(Subscription {
                stream: self.clone(),
                slot: i,
                done: false,
                pace: zeroipc_sync::backoff::Pace::default(),
                spin: true,
                #[cfg(all(feature = "async", not(zeroipc_loom)))]
                next: None,
            });
        }
        Err(FormatError::InvalidArgument(format!(
            "{:?}: no free subscriber slot (or no name_subs entry)",
            self.inner.name
        ))
        .into())
    }
}

#[cfg(all(feature = "async", not(zeroipc_loom)))]
impl<T: Pod> Stream<T> {
    /// For async waits (`crate::async_api`): the subscribers' futex word (the low half of
    /// `write_pos`), or with `counter` the `sub_waiting` counter (`None` without one).
    pub(crate) fn async_word(&self, counter: bool) -> Option<&HwU32> {
        if counter {
            self.subs_u32(SubsHeader::SUB_WAITING).ok().flatten()
        } else {
            self.wlow().ok()
        }
    }
}
