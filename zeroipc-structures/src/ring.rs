//! `Ring<T>`: a single-producer single-consumer byte ring, spec §4.4.
//!
//! Layout (`24 + capacity` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u64 | `write_pos`: total bytes ever written |
//! | 8 | atomic u64 | `read_pos`: total bytes ever read |
//! | 16 | u32 | `capacity` in **bytes**, a multiple of `elem_size` |
//! | 20 | u32 | `elem_size` |
//! | 24 | u8[capacity] | buffer; byte position `p` lives at `p % capacity` |
//!
//! Exactly one writer and one reader at a time (there is no CAS). Positions read from shared
//! memory are validated on every use: `write_pos - read_pos` must lie in `0..=capacity`.

use std::marker::PhantomData;
use std::mem::size_of;
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::{AtomicU64, Ordering};
use zeroipc_format::{Entry, Region, Segment};

use crate::common;
use crate::elem::assert_element;
use crate::error::{Error, PushError, Result};
use crate::layout::RingHeader;
use crate::word::Word64;

/// A single-producer single-consumer ring of `T` in shared memory, compatible with the
/// upstream C++ `zeroipc::Ring<T>`; the capacity is stored in bytes.
///
/// One process (or thread) writes and one reads; both may be different processes. Whole
/// elements and bulk slices move with one position update each.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_structures::Ring;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let ring = Ring::<i32>::create(&seg, "samples", 8)?; // 8 elements = 32 bytes
/// assert_eq!(ring.write_slice(&[1, 2, 3, 4, 5])?, 5);
/// assert_eq!(ring.read()?, Some(1));
/// let mut out = [0; 8];
/// assert_eq!(ring.read_into(&mut out)?, 4);
/// assert_eq!(&out[..4], &[2, 3, 4, 5]);
/// # Ok::<(), zeroipc_structures::Error>(())
/// ```
pub struct Ring<T> {
    region: Region,
    entry: Entry,
    /// Buffer bytes: `> 0`, a multiple of `size_of::<T>()`, validated at open.
    capacity: u64,
    /// The producer's last Acquire-loaded `read_pos` (process-local): room is computed
    /// against it and `read_pos` is reloaded only when the ring looks full, so a producer
    /// does not pull the consumer's cache line on every element.
    cached_read: AtomicU64,
    /// The consumer's last Acquire-loaded `write_pos`, reloaded only when the ring looks
    /// empty.
    cached_write: AtomicU64,
    _elem: PhantomData<fn() -> T>,
}

crate::common::debug_by_name!(Ring<T> { "capacity_bytes": |s: &Self| s.capacity });

impl<T: Pod> common::Shape for Ring<T> {
    type Geometry = u32;

    fn layout_for(capacity: usize) -> Result<(u32, u64)> {
        let bytes = Self::bytes_for(capacity).ok_or_else(|| {
            FormatError::InvalidArgument(format!(
                "ring capacity must be 1.. elements within 4 GiB, got {capacity}"
            ))
        })?;
        Ok((bytes, RingHeader::BUFFER as u64 + u64::from(bytes)))
    }

    fn init(region: &Region, bytes: u32) -> Result<()> {
        region.write::<u32>(RingHeader::CAPACITY, bytes)?;
        region.write::<u32>(RingHeader::ELEM_SIZE, size_of::<T>() as u32)?;
        Ok(())
    }

    fn open_entry(seg: &Segment, entry: Entry) -> Result<Self> {
        let region = common::region_with_header(seg, &entry, RingHeader::BUFFER as u64)?;
        common::check_stored_elem_size::<T>(&entry, &region, RingHeader::ELEM_SIZE)?;
        let bytes = region.read::<u32>(RingHeader::CAPACITY)?;
        if bytes == 0 || !(bytes as usize).is_multiple_of(size_of::<T>()) {
            return Err(common::corrupt_capacity(&entry, bytes));
        }
        common::check_total(&entry, Some(RingHeader::BUFFER as u64 + u64::from(bytes)))?;
        Ok(Self::from_parts(region, entry, bytes))
    }

    fn wrap(region: Region, entry: Entry, geometry: u32) -> Result<Self> {
        Ok(Self::from_parts(region, entry, geometry))
    }
}

impl<T: Pod> Ring<T> {
    /// Bytes a ring of `capacity` **elements** occupies (`24 + capacity * es`), or `None` if
    /// the capacity is 0 or its byte size does not fit a `u32`.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<T>();
        match Self::bytes_for(capacity) {
            Some(b) => Some(RingHeader::BUFFER as u64 + b as u64),
            None => None,
        }
    }

    const fn bytes_for(capacity: usize) -> Option<u32> {
        if capacity == 0 {
            return None;
        }
        match capacity.checked_mul(size_of::<T>()) {
            Some(b) if b <= u32::MAX as usize => Some(b as u32),
            _ => None,
        }
    }

    common::shape_constructors! { Ring;
        /// Creates the ring `name` holding up to `capacity` elements.
        ///
        /// # Errors
        /// [`FormatError::InvalidArgument`] for capacity 0 or more than 4 GiB of buffer; the segment's
        /// errors.
        create;

        /// Opens the existing ring `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::TypeMismatch`] for another element size; `Corrupt` if the byte
        /// capacity is 0 or not a multiple of the element size; [`FormatError::SizeMismatch`] if the
        /// entry size is not `24 + capacity`.
        open;
        embeddable;
    }

    fn from_parts(region: Region, entry: Entry, bytes: u32) -> Self {
        Self {
            region,
            entry,
            capacity: u64::from(bytes),
            cached_read: AtomicU64::new(0),
            cached_write: AtomicU64::new(0),
            _elem: PhantomData,
        }
    }

    /// `(write_pos, read_pos)` with `0 <= write_pos - read_pos <= capacity` checked.
    /// `producer` selects which side's orderings apply: each side loads its own position
    /// Relaxed and the other side's with Acquire.
    fn positions(&self, producer: bool) -> Result<(u64, u64)> {
        let wp = self.region.atomic_u64(RingHeader::WRITE_POS)?;
        let rp = self.region.atomic_u64(RingHeader::READ_POS)?;
        let (w, r) = if producer {
            // Acquire: pairs with the Release store of `read_pos` in `consume_bytes`, so the
            // bytes the reader copied out may now be overwritten.
            (
                Word64::load(wp, Ordering::Relaxed),
                Word64::load(rp, Ordering::Acquire),
            )
        } else {
            // Acquire: pairs with the Release store of `write_pos` in `produce`, so the
            // written bytes are visible.
            (
                Word64::load(wp, Ordering::Acquire),
                Word64::load(rp, Ordering::Relaxed),
            )
        };
        self.check(w, r)
    }

    fn check(&self, w: u64, r: u64) -> Result<(u64, u64)> {
        // Wrapping, as upstream's unsigned subtraction: only the distance matters.
        let used = w.wrapping_sub(r);
        if used <= self.capacity {
            Ok((w, r))
        } else {
            Err(Error::from(FormatError::corrupt_field(
                self.entry.name(),
                "write_pos - read_pos",
                used,
            )))
        }
    }

    /// The position word at `at` that only this side writes (`write_pos` for the producer,
    /// `read_pos` for the consumer), loaded Relaxed.
    fn own_position(&self, at: usize) -> Result<u64> {
        Ok(Word64::load(self.region.atomic_u64(at)?, Ordering::Relaxed))
    }

    /// The producer's view: its own `write_pos` and a `read_pos` recent enough to find room
    /// for `need` bytes if there is any (reloaded with Acquire only when the cached one
    /// shows too little room).
    fn producer_positions(&self, need: u64) -> Result<(u64, u64)> {
        let w = self.own_position(RingHeader::WRITE_POS)?;
        let r = self.cached_read.load(Ordering::Relaxed);
        let used = w.wrapping_sub(r);
        if used <= self.capacity && self.capacity - used >= need {
            return Ok((w, r));
        }
        let (w, r) = self.positions(true)?;
        self.cached_read.store(r, Ordering::Relaxed);
        Ok((w, r))
    }

    /// The consumer's view: its own `read_pos` and a `write_pos` recent enough to find `need`
    /// bytes if they exist (reloaded with Acquire only when the cached one shows too few).
    fn consumer_positions(&self, need: u64) -> Result<(u64, u64)> {
        let r = self.own_position(RingHeader::READ_POS)?;
        let w = self.cached_write.load(Ordering::Relaxed);
        let used = w.wrapping_sub(r);
        if used <= self.capacity && used >= need {
            return Ok((w, r));
        }
        let (w, r) = self.positions(false)?;
        self.cached_write.store(w, Ordering::Relaxed);
        Ok((w, r))
    }

    /// Where `len` bytes from stream position `pos` go in the region: the offset of the first
    /// part and its length, up to the end of the buffer; the rest continue at its start.
    fn split_at_end(&self, pos: u64, len: usize) -> (usize, usize) {
        let at = (pos % self.capacity) as usize;
        (
            RingHeader::BUFFER + at,
            len.min(self.capacity as usize - at),
        )
    }

    /// Copies `bytes` into the buffer at stream position `pos`, split at the end.
    fn copy_in(&self, pos: u64, bytes: &[u8]) -> Result<()> {
        let (at, first) = self.split_at_end(pos, bytes.len());
        let (a, b) = bytes.split_at(first);
        self.region.write_slice(at, a)?;
        Ok(self.region.write_slice(RingHeader::BUFFER, b)?)
    }

    /// Copies from stream position `pos` into `out`, split at the end.
    fn copy_out(&self, pos: u64, out: &mut [u8]) -> Result<()> {
        let (at, first) = self.split_at_end(pos, out.len());
        let (a, b) = out.split_at_mut(first);
        self.region.read_slice(at, a)?;
        Ok(self.region.read_slice(RingHeader::BUFFER, b)?)
    }

    /// Stores `pos + bytes` into the position word at `at` with Release: the publication of
    /// [`produce`](Self::produce) or [`consume_bytes`](Self::consume_bytes).
    fn advance(&self, at: usize, pos: u64, bytes: u64) -> Result<()> {
        Word64::store(
            self.region.atomic_u64(at)?,
            pos.wrapping_add(bytes),
            Ordering::Release,
        );
        Ok(())
    }

    fn produce(&self, w: u64, bytes: u64) -> Result<()> {
        // Release: publishes the copied bytes; pairs with the Acquire load of `write_pos` in
        // `positions(false)` on the reader's side.
        self.advance(RingHeader::WRITE_POS, w, bytes)
    }

    fn consume_bytes(&self, r: u64, bytes: u64) -> Result<()> {
        // Release: hands the space back after the copy; pairs with the Acquire load of
        // `read_pos` in `positions(true)` on the writer's side.
        self.advance(RingHeader::READ_POS, r, bytes)
    }

    /// Appends one element (producer side).
    ///
    /// # Errors
    /// [`PushError::Full`] when there is no room; [`PushError::Failed`] with `Corrupt` for
    /// inconsistent positions.
    pub fn write(&self, value: T) -> Result<(), PushError<T>> {
        let es = size_of::<T>() as u64;
        let (w, r) = self.producer_positions(es).map_err(PushError::Failed)?;
        if w.wrapping_sub(r) + es > self.capacity {
            return Err(PushError::Full(value));
        }
        self.copy_in(w, bytemuck::bytes_of(&value))
            .and_then(|()| self.produce(w, es))
            .map_err(PushError::Failed)
    }

    /// Appends as many whole elements of `src` as fit, with one position update; returns how
    /// many (producer side).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn write_slice(&self, src: &[T]) -> Result<usize> {
        let es = size_of::<T>() as u64;
        let want = (src.len() as u64).saturating_mul(es);
        let (w, r) = self.producer_positions(want.min(self.capacity))?;
        let n = (((self.capacity - w.wrapping_sub(r)) / es) as usize).min(src.len());
        if n == 0 {
            return Ok(0);
        }
        let bytes: &[u8] = bytemuck::cast_slice(src.get(..n).unwrap_or_default());
        self.copy_in(w, bytes)?;
        self.produce(w, bytes.len() as u64)?;
        Ok(n)
    }

    /// Removes the oldest element (consumer side); `Ok(None)` when empty.
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn read(&self) -> Result<Option<T>> {
        let es = size_of::<T>() as u64;
        let (w, r) = self.consumer_positions(es)?;
        if w.wrapping_sub(r) < es {
            return Ok(None);
        }
        let mut value = T::zeroed();
        self.copy_out(r, bytemuck::bytes_of_mut(&mut value))?;
        self.consume_bytes(r, es)?;
        Ok(Some(value))
    }

    /// Moves as many whole elements as are available into `dst`, with one position update;
    /// returns how many (consumer side).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn read_into(&self, dst: &mut [T]) -> Result<usize> {
        let es = size_of::<T>() as u64;
        let want = (dst.len() as u64).saturating_mul(es);
        let (w, r) = self.consumer_positions(want.min(self.capacity))?;
        let n = ((w.wrapping_sub(r) / es) as usize).min(dst.len());
        if n == 0 {
            return Ok(0);
        }
        let out: &mut [u8] = bytemuck::cast_slice_mut(dst.get_mut(..n).unwrap_or_default());
        self.copy_out(r, out)?;
        self.consume_bytes(r, out.len() as u64)?;
        Ok(n)
    }

    /// Whole elements available to read (unread; `write_pos - read_pos` in elements).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn len(&self) -> Result<usize> {
        let (w, r) = self.positions(false)?;
        Ok((w.wrapping_sub(r) / size_of::<T>() as u64) as usize)
    }

    /// Whole elements that can still be written (the producer's view).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn free_slots(&self) -> Result<usize> {
        let (w, r) = self.positions(true)?;
        Ok(((self.capacity - w.wrapping_sub(r)) / size_of::<T>() as u64) as usize)
    }

    /// `true` when no whole element is waiting to be read (a snapshot).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Ring;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ring = Ring::<u16>::create(&seg, "r", 2)?;
    /// assert!(ring.is_empty()?);
    /// ring.write_slice(&[1, 2])?;
    /// assert!(!ring.is_empty()? && ring.is_full()?);
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `true` when not one more whole element fits (a snapshot).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Ring;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ring = Ring::<u32>::create(&seg, "r", 1)?;
    /// assert!(!ring.is_full()?);
    /// ring.write(7).expect("room for one");
    /// assert!(ring.is_full()?);
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub fn is_full(&self) -> Result<bool> {
        Ok(self.free_slots()? == 0)
    }

    /// Discards every unread whole element with one `read_pos` update and returns how many
    /// were discarded (**consumer side**: only the one reader may call it, as for
    /// [`Ring::read`]; elements the producer writes concurrently are either discarded or
    /// kept whole).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Ring;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ring = Ring::<u8>::create(&seg, "r", 8)?;
    /// ring.write_slice(b"stale")?;
    /// assert_eq!(ring.clear()?, 5);
    /// assert!(ring.is_empty()?);
    /// ring.write(b'x').expect("room");
    /// assert_eq!(ring.read()?, Some(b'x'));
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub fn clear(&self) -> Result<usize> {
        let es = size_of::<T>() as u64;
        let (w, r) = self.positions(false)?;
        let n = w.wrapping_sub(r) / es;
        if n > 0 {
            self.consume_bytes(r, n * es)?;
        }
        Ok(n as usize)
    }

    /// Capacity in elements.
    pub fn capacity(&self) -> usize {
        (self.capacity / size_of::<T>() as u64) as usize
    }

    /// Capacity in bytes, as stored.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity
    }

    /// The raw `(write_pos, read_pos)`, for inspection.
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn positions_snapshot(&self) -> Result<(u64, u64)> {
        self.positions(false)
    }

    /// Borrows the unread bytes without copying (consumer side): up to two slices, because the
    /// unread span may wrap around the end of the buffer. Release what you used with
    /// [`ReadView::consume`]; dropping the view consumes nothing.
    ///
    /// The borrow relies on the single-producer protocol: the producer never writes the
    /// unread span. A producer that breaks the protocol can change the bytes under the view
    /// (never outside the ring).
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Ring;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ring = Ring::<u32>::create(&seg, "r", 4)?;
    /// ring.write_slice(&[1, 2, 3])?;
    /// let view = ring.read_slices()?;
    /// let (a, b) = view.elements().expect("aligned elements");
    /// let total: u32 = a.iter().chain(b).sum();
    /// assert_eq!(total, 6);
    /// view.consume(3)?;
    /// assert_eq!(ring.len()?, 0);
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub fn read_slices(&self) -> Result<ReadView<'_, T>> {
        let (w, r) = self.positions(false)?;
        let es = size_of::<T>() as u64;
        let len = (w.wrapping_sub(r) / es * es) as usize;
        let at = (r % self.capacity) as usize;
        let first_len = len.min(self.capacity as usize - at);
        let first = crate::elem::ring_unread(&self.region, RingHeader::BUFFER + at, first_len)?;
        let second = crate::elem::ring_unread(&self.region, RingHeader::BUFFER, len - first_len)?;
        Ok(ReadView {
            ring: self,
            read_pos: r,
            first,
            second,
        })
    }

    /// A copy of the unread elements, oldest first, without consuming them.
    ///
    /// # Errors
    /// `Corrupt` for inconsistent positions.
    pub fn snapshot(&self) -> Result<Vec<T>> {
        let (w, r) = self.positions(false)?;
        let n = (w.wrapping_sub(r) / size_of::<T>() as u64) as usize;
        let mut out = vec![T::zeroed(); n];
        self.copy_out(r, bytemuck::cast_slice_mut(&mut out))?;
        Ok(out)
    }
}

/// The unread bytes of a [`Ring`], borrowed in place; see [`Ring::read_slices`].
pub struct ReadView<'a, T> {
    ring: &'a Ring<T>,
    read_pos: u64,
    first: &'a [u8],
    second: &'a [u8],
}

impl<T: Pod> ReadView<'_, T> {
    /// The unread bytes, oldest first: `first` then `second` (empty unless the span wraps).
    pub fn bytes(&self) -> (&[u8], &[u8]) {
        (self.first, self.second)
    }

    /// The unread elements as typed slices, or `None` if the bytes are not aligned for `T`
    /// (only possible when a peer wrote positions that are not multiples of the element
    /// size).
    pub fn elements(&self) -> Option<(&[T], &[T])> {
        let a = bytemuck::try_cast_slice(self.first).ok()?;
        let b = bytemuck::try_cast_slice(self.second).ok()?;
        Some((a, b))
    }

    /// Number of whole unread elements in the view.
    pub fn len(&self) -> usize {
        (self.first.len() + self.second.len()) / size_of::<T>()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Releases the first `n` elements (clamped to the view) to the producer.
    ///
    /// # Errors
    /// Never for a validated ring; the `Result` guards the bounds-checked store.
    pub fn consume(self, n: usize) -> Result<()> {
        let n = n.min(self.len());
        self.ring
            .consume_bytes(self.read_pos, (n * size_of::<T>()) as u64)
    }
}
