//! Bounds-checked raw views of segment memory.
//!
//! A [`Region`] is a byte range of a mapped segment together with a reference-counted handle
//! that keeps the mapping alive. Every access is checked against the region's length, which
//! was itself validated when the region was made, so no number read from shared memory can
//! steer an access outside the mapping.
//!
//! # Concurrency model
//! The bytes of a region may be written at any time by other processes. The region therefore
//! never hands out `&[u8]`, `&T` or `&mut` references to plain bytes. Words used for
//! synchronisation are accessed as hardware atomics ([`Region::atomic_u32`] and friends);
//! element data are moved with plain copies ([`Region::read`], [`Region::write`] and the slice
//! forms), whose visibility is ordered by the structure's atomics. A copy that races a writer
//! can observe a torn value; element types are [`bytemuck::Pod`], so every bit pattern is a
//! valid value and a torn read is a wrong number, never undefined behaviour of our own code.
#![allow(unsafe_code)]
// The views overlay hardware atomics on mapped memory: the one other place besides the
// facade that names them (through `atomic::shared`).
#![allow(clippy::disallowed_types)]

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ptr::NonNull;
use std::sync::Arc;

use bytemuck::Pod;

use crate::atomic::shared::{AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64};
use crate::error::{Error, Result};
use crate::map::Mapping;

/// A bounds-checked byte range of a mapped segment.
///
/// Cloning is cheap (a reference count). The mapping stays valid as long as any region of it
/// (or its [`Segment`](crate::Segment)) is alive.
#[derive(Clone)]
pub struct Region {
    map: Arc<Mapping>,
    /// Start of the region within the mapping.
    start: usize,
    /// Length of the region; `start + len <= map.len()` (checked at construction).
    len: usize,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("start", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

macro_rules! atomic_accessor {
    ($(#[$doc:meta])* $name:ident, $ty:ty) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// [`Error::OutOfBounds`] if the word does not lie inside the region or is not
        /// aligned to its size.
        #[inline]
        pub fn $name(&self, offset: usize) -> Result<&$ty> {
            let ptr = self.checked_ptr(offset, size_of::<$ty>())?;
            if ptr.align_offset(align_of::<$ty>()) != 0 {
                return Err(self.out_of_bounds(offset, size_of::<$ty>()));
            }
            // SAFETY: `checked_ptr` proved `[ptr, ptr + size)` lies inside the live mapping,
            // which `self.map` keeps alive for the lifetime of the returned reference; the
            // pointer is aligned (checked above). Atomic types have interior mutability, so
            // a shared reference to a word that other processes write is sound, and every
            // bit pattern is a valid integer.
            Ok(unsafe { &*ptr.cast::<$ty>() })
        }
    };
}

impl Region {
    /// A region covering the whole mapping.
    pub(crate) fn whole(map: Arc<Mapping>) -> Self {
        let len = map.len();
        Self { map, start: 0, len }
    }

    /// Length of the region in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of the region's first byte from the start of the segment.
    pub fn segment_offset(&self) -> usize {
        self.start
    }

    #[cold]
    fn out_of_bounds(&self, offset: usize, len: usize) -> Error {
        Error::OutOfBounds {
            offset,
            len,
            region_len: self.len,
        }
    }

    /// Pointer to `offset` after checking `offset + len <= self.len`.
    #[inline]
    fn checked_ptr(&self, offset: usize, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {}
            _ => return Err(self.out_of_bounds(offset, len)),
        }
        // The sum cannot overflow: `start + len <= map.len()` is an invariant.
        let at = self.start + offset;
        // SAFETY: `at <= start + self.len <= map.len()`, so the result is within (or one past
        // the end of) the mapping's allocation.
        Ok(unsafe { self.map.ptr().as_ptr().add(at) })
    }

    /// The sub-range `[offset, offset + len)` of this region.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if it does not lie inside this region.
    pub fn subregion(&self, offset: usize, len: usize) -> Result<Region> {
        self.checked_ptr(offset, len)?;
        Ok(Region {
            map: Arc::clone(&self.map),
            start: self.start + offset,
            len,
        })
    }

    atomic_accessor!(
        /// The naturally aligned `u8` at `offset`, as an atomic.
        atomic_u8, AtomicU8
    );
    atomic_accessor!(
        /// The naturally aligned `u32` at `offset`, as an atomic.
        atomic_u32, AtomicU32
    );
    atomic_accessor!(
        /// The naturally aligned `i32` at `offset`, as an atomic.
        atomic_i32, AtomicI32
    );
    atomic_accessor!(
        /// The naturally aligned `u64` at `offset`, as an atomic.
        atomic_u64, AtomicU64
    );
    atomic_accessor!(
        /// The naturally aligned `i64` at `offset`, as an atomic.
        atomic_i64, AtomicI64
    );

    /// `count` consecutive naturally aligned `u32` words starting at `offset`, as atomics.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the words do not lie inside the region or are misaligned.
    #[inline]
    pub fn atomic_u32_slice(&self, offset: usize, count: usize) -> Result<&[AtomicU32]> {
        let bytes = count
            .checked_mul(size_of::<AtomicU32>())
            .ok_or_else(|| self.out_of_bounds(offset, usize::MAX))?;
        let ptr = self.checked_ptr(offset, bytes)?;
        if ptr.align_offset(align_of::<AtomicU32>()) != 0 {
            return Err(self.out_of_bounds(offset, bytes));
        }
        // SAFETY: `[ptr, ptr + 4 * count)` lies inside the live mapping (checked), which
        // `self.map` keeps alive for the returned lifetime; the pointer is aligned for
        // `AtomicU32` (checked) and non-null; atomics have interior mutability, so shared
        // references to words other processes write are sound; any bits are a valid `u32`.
        Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<AtomicU32>().cast_const(), count) })
    }

    /// `count` consecutive aligned `u32` words at `offset` as an owned view, validated once:
    /// dereferencing it later costs nothing (it keeps the mapping alive itself), which suits
    /// the words a structure touches on every operation.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the words do not lie inside the region or are misaligned.
    pub fn atomic_words(&self, offset: usize, count: usize) -> Result<AtomicWords> {
        let words = self.atomic_u32_slice(offset, count)?;
        Ok(AtomicWords {
            _map: Arc::clone(&self.map),
            ptr: NonNull::from(words).cast::<AtomicU32>(),
            len: count,
        })
    }

    /// Borrows `len` bytes at `offset` without copying, for zero-copy readers.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the range is not inside the region.
    ///
    /// # Safety
    /// While the returned slice lives, no process may write these bytes. A structure's
    /// protocol must guarantee it (for example the consumer's unread span of a
    /// single-producer ring, which the producer does not touch until the consumer releases
    /// it). A peer that breaks the protocol can make the bytes change under the borrow.
    pub unsafe fn shared_bytes(&self, offset: usize, len: usize) -> Result<&[u8]> {
        let ptr = self.checked_ptr(offset, len)?;
        // SAFETY: `[ptr, ptr + len)` is inside the live mapping (checked), kept alive by
        // `self.map` for the returned lifetime; `u8` has no alignment or validity
        // requirement; the caller guarantees that nothing writes the bytes meanwhile.
        Ok(unsafe { std::slice::from_raw_parts(ptr.cast_const(), len) })
    }

    /// Copies the `T` stored at `offset` out of the region (no alignment required).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if `[offset, offset + size_of::<T>())` is not inside the region.
    #[inline]
    pub fn read<T: Pod>(&self, offset: usize) -> Result<T> {
        let ptr = self.checked_ptr(offset, size_of::<T>())?;
        // SAFETY: the range is inside the live mapping (checked); `read_unaligned` has no
        // alignment requirement; `T: Pod` accepts every bit pattern, including a value torn
        // by a concurrent writer in another process.
        Ok(unsafe { ptr.cast::<T>().read_unaligned() })
    }

    /// Stores `value` at `offset` (no alignment required).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the value does not fit inside the region.
    #[inline]
    pub fn write<T: Pod>(&self, offset: usize, value: T) -> Result<()> {
        let ptr = self.checked_ptr(offset, size_of::<T>())?;
        // SAFETY: the range is inside the live, writable mapping (checked); no reference to
        // these bytes exists (the module never creates one); `write_unaligned` has no
        // alignment requirement.
        unsafe { ptr.cast::<T>().write_unaligned(value) };
        Ok(())
    }

    /// Copies `dst.len()` elements starting at `offset` into `dst`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the source range is not inside the region.
    #[inline]
    pub fn read_slice<T: Pod>(&self, offset: usize, dst: &mut [T]) -> Result<()> {
        let bytes = size_of_val(dst);
        let src = self.checked_ptr(offset, bytes)?;
        // SAFETY: `[src, src + bytes)` is inside the live mapping (checked) and `dst` is a
        // distinct, exclusively borrowed Rust allocation of exactly `bytes` bytes, so the
        // ranges do not overlap; byte copies need no alignment; `T: Pod` accepts any bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr().cast::<u8>(), bytes);
        }
        Ok(())
    }

    /// Copies `src` into the region starting at `offset`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the destination range is not inside the region.
    #[inline]
    pub fn write_slice<T: Pod>(&self, offset: usize, src: &[T]) -> Result<()> {
        let bytes = size_of_val(src);
        let dst = self.checked_ptr(offset, bytes)?;
        // SAFETY: `[dst, dst + bytes)` is inside the live, writable mapping (checked); `src`
        // is a Rust slice, which cannot overlap memory we never hand out references to.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr().cast::<u8>(), dst, bytes);
        }
        Ok(())
    }

    /// Copies `len` bytes from `offset` in this region to `dst_offset` in `dst` (one
    /// `memmove`, no bounce buffer; the ranges may overlap, for example two regions of one
    /// segment).
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if either range is not inside its region.
    pub fn copy_to(
        &self,
        offset: usize,
        dst: &Region,
        dst_offset: usize,
        len: usize,
    ) -> Result<()> {
        let src = self.checked_ptr(offset, len)?;
        let to = dst.checked_ptr(dst_offset, len)?;
        // SAFETY: both ranges lie inside live mappings (checked), kept alive by `self.map` and
        // `dst.map`; `ptr::copy` allows overlapping ranges and needs no alignment; no Rust
        // reference to either range exists.
        unsafe { std::ptr::copy(src, to, len) };
        Ok(())
    }

    /// Sets `len` bytes starting at `offset` to `byte`.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the range is not inside the region.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<()> {
        let dst = self.checked_ptr(offset, len)?;
        // SAFETY: `[dst, dst + len)` is inside the live, writable mapping (checked).
        unsafe { std::ptr::write_bytes(dst, byte, len) };
        Ok(())
    }

    /// Copies the whole region into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len];
        // Cannot fail: the destination has exactly the region's length.
        let _ = self.read_slice(0, &mut out);
        out
    }

    /// An iterator that copies out `count` consecutive `T`s starting at `offset`.
    ///
    /// The range is checked once, here; the iterator then reads without further checks,
    /// which lets the compiler treat it like a slice iterator.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if `count` elements do not fit inside the region.
    pub fn elements<T: Pod>(&self, offset: usize, count: usize) -> Result<Elements<'_, T>> {
        let bytes = count
            .checked_mul(size_of::<T>())
            .ok_or_else(|| self.out_of_bounds(offset, usize::MAX))?;
        let ptr = self.checked_ptr(offset, bytes)?;
        Ok(Elements {
            ptr: ptr.cast::<T>().cast_const(),
            index: 0,
            count,
            _region: PhantomData,
        })
    }
}

/// Validated atomic words of a mapping that keep it alive; see [`Region::atomic_words`].
/// Dereferences to a slice of hardware atomics. A clone is another view of the same words
/// (it keeps the mapping alive too).
#[derive(Clone)]
pub struct AtomicWords {
    _map: Arc<Mapping>,
    /// Start of `len` aligned words inside `_map` (checked by `atomic_words`).
    ptr: NonNull<AtomicU32>,
    len: usize,
}

// SAFETY: the view only hands out `&[AtomicU32]`; atomics are `Sync`, and the mapping it
// points into is owned by the `Arc<Mapping>` it holds (itself `Send + Sync`).
unsafe impl Send for AtomicWords {}
// SAFETY: as for `Send`.
unsafe impl Sync for AtomicWords {}

impl std::ops::Deref for AtomicWords {
    type Target = [AtomicU32];
    #[inline]
    fn deref(&self) -> &[AtomicU32] {
        // SAFETY: `ptr` points to `len` aligned `AtomicU32`s inside the mapping (validated
        // by `Region::atomic_words`), which `_map` keeps alive as long as `self`; atomics
        // allow shared references to memory other processes write.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast_const(), self.len) }
    }
}

impl AtomicWords {
    /// Words `start .. start + len` of this view as an owned view of their own (it keeps
    /// the mapping alive too), or `None` if they are not all inside this view. No new
    /// validation is needed: they lie inside words validated already.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_format::atomic::Ordering;
    ///
    /// let seg = Segment::anonymous(1 << 16, 16)?;
    /// let (_, region) = seg.add("words", 16, |_| Ok::<_, zeroipc_format::Error>(()))?;
    /// let words = region.atomic_words(0, 4)?;
    /// let third = words.range(2, 1).expect("inside");
    /// third[0].store(7, Ordering::Relaxed);
    /// assert_eq!(words[2].load(Ordering::Relaxed), 7);
    /// assert!(words.range(3, 2).is_none(), "past the end");
    /// # Ok::<(), zeroipc_format::Error>(())
    /// ```
    #[must_use]
    pub fn range(&self, start: usize, len: usize) -> Option<AtomicWords> {
        if start.checked_add(len)? > self.len {
            return None;
        }
        // SAFETY: `start + len <= self.len`, so `ptr + start` and the `len` words after it
        // lie inside this view's validated, aligned words, inside the mapping that the
        // cloned `Arc` keeps alive.
        let ptr = unsafe { self.ptr.add(start) };
        Some(AtomicWords {
            _map: Arc::clone(&self._map),
            ptr,
            len,
        })
    }
}

impl std::fmt::Debug for AtomicWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicWords")
            .field("len", &self.len)
            .finish()
    }
}

/// Iterator over copies of consecutive elements of a [`Region`]; see [`Region::elements`].
pub struct Elements<'a, T> {
    ptr: *const T,
    /// Next element to read; `index <= count`.
    index: usize,
    /// Number of elements; `[ptr, ptr + count)` lies inside the region (checked on creation).
    count: usize,
    _region: PhantomData<&'a Region>,
}

impl<T: Pod> Iterator for Elements<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.index >= self.count {
            return None;
        }
        // SAFETY: `index < count` and `[ptr, ptr + count)` lies inside the mapping, which the
        // borrowed region keeps alive for `'a`; `read_unaligned` needs no alignment and
        // `T: Pod` accepts any bit pattern.
        let value = unsafe { self.ptr.wrapping_add(self.index).read_unaligned() };
        self.index += 1;
        Some(value)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.count - self.index;
        (left, Some(left))
    }
}

impl<T: Pod> ExactSizeIterator for Elements<'_, T> {}
impl<T: Pod> std::iter::FusedIterator for Elements<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(len: usize) -> Region {
        Region::whole(Arc::new(Mapping::heap(len).unwrap()))
    }

    #[test]
    fn reads_and_writes_stay_in_bounds() {
        let r = region(64);
        r.write::<u64>(56, 0xdead_beef).unwrap();
        assert_eq!(r.read::<u64>(56).unwrap(), 0xdead_beef);
        assert!(matches!(
            r.read::<u64>(57),
            Err(Error::OutOfBounds { offset: 57, .. })
        ));
        assert!(r.write::<u8>(64, 1).is_err());
        assert!(r.read::<u8>(usize::MAX).is_err());
    }

    #[test]
    fn subregions_are_bounded_by_their_parent() {
        let r = region(64);
        let s = r.subregion(16, 16).unwrap();
        assert_eq!(s.segment_offset(), 16);
        s.write::<u32>(12, 7).unwrap();
        assert_eq!(r.read::<u32>(28).unwrap(), 7);
        assert!(s.read::<u32>(13).is_err());
        assert!(r.subregion(60, 8).is_err());
        assert!(r.subregion(usize::MAX, 2).is_err());
    }

    #[test]
    fn atomics_require_alignment() {
        let r = region(64);
        r.atomic_u32(4)
            .unwrap()
            .store(5, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.read::<u32>(4).unwrap(), 5);
        assert!(r.atomic_u32(2).is_err());
        assert!(r.atomic_u64(4).is_err());
        assert!(r.atomic_u64(64).is_err());
        let words = r.atomic_u32_slice(8, 14).unwrap();
        words[13].store(3, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(r.read::<u32>(60).unwrap(), 3);
        assert!(r.atomic_u32_slice(8, 15).is_err());
        assert!(r.atomic_u32_slice(2, 1).is_err());
        assert!(r.atomic_u32_slice(0, usize::MAX).is_err());
    }

    #[test]
    fn slices_and_elements_round_trip() {
        let r = region(128);
        let src: Vec<f64> = (0..10).map(f64::from).collect();
        r.write_slice(8, &src).unwrap();
        let mut dst = vec![0.0f64; 10];
        r.read_slice(8, &mut dst).unwrap();
        assert_eq!(dst, src);
        let seen: Vec<f64> = r.elements::<f64>(8, 10).unwrap().collect();
        assert_eq!(seen, src);
        assert!(r.elements::<f64>(8, 16).is_err());
        assert!(r.elements::<f64>(0, usize::MAX).is_err());
        r.fill(0, 128, 0).unwrap();
        assert!(r.to_vec().iter().all(|&b| b == 0));
        // Region to region, overlapping, and out of bounds on either side.
        let a = r.subregion(0, 64).unwrap();
        let b = r.subregion(32, 96).unwrap();
        a.write_slice(0, &[1u8, 2, 3, 4]).unwrap();
        a.copy_to(0, &b, 0, 4).unwrap();
        assert_eq!(r.read::<[u8; 4]>(32).unwrap(), [1, 2, 3, 4]);
        b.copy_to(0, &a, 2, 8).unwrap();
        assert_eq!(r.read::<[u8; 4]>(2).unwrap(), [1, 2, 3, 4]);
        assert!(a.copy_to(60, &b, 0, 8).is_err());
        assert!(a.copy_to(0, &b, 90, 8).is_err());
    }
}
