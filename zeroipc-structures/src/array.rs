//! `Array<T>`: a fixed-size array of plain-old-data elements in a segment (spec §4.1).
//!
//! Layout: `{ u64 capacity; T data[capacity] }`, total `8 + capacity * size_of::<T>()`.
//! No element size is stored: the exact entry size is the only type check, and it is what
//! rejects the upstream C library's 16-byte-header arrays.

use std::marker::PhantomData;
use std::mem::size_of;
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::{Elements, Entry, Region, Segment};

use crate::elem::assert_element;
use crate::error::{Error, Result};
use crate::layout::ArrayHeader;

/// A fixed-size array of `T` in shared memory, visible to every process that opens the
/// segment.
///
/// The array has no internal synchronisation (as upstream): concurrent writers of one element
/// race, and a reader may see a torn value (still a valid `T`, since `T: Pod`). Use a
/// synchronisation primitive or a queue when that matters.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_structures::Array;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let temps = Array::<f32>::create(&seg, "temperature", 1000)?;
/// temps.set(0, 23.5)?;
/// temps.write(1, &[24.0, 24.5])?;
///
/// let same = Array::<f32>::open(&seg, "temperature")?; // as another process would
/// assert_eq!(same.get(0), Some(23.5));
/// assert_eq!(same.iter().take(3).sum::<f32>(), 72.0);
/// # Ok::<(), zeroipc_structures::Error>(())
/// ```
pub struct Array<T> {
    region: Region,
    entry: Entry,
    /// Element count, read once at open and validated: `8 + capacity * size_of::<T>()`
    /// equals the entry size, which lies inside the segment.
    capacity: usize,
    _elem: PhantomData<fn() -> T>,
}

crate::common::debug_by_name!(Array<T> { "offset": |s: &Self| s.entry.offset(), "capacity": |s: &Self| s.capacity });

impl<T: Pod> Array<T> {
    /// Bytes an array of `capacity` elements occupies (`8 + capacity * size_of::<T>()`), or
    /// `None` on overflow.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<T>();
        match (capacity as u64).checked_mul(size_of::<T>() as u64) {
            Some(data) => data.checked_add(ArrayHeader::DATA as u64),
            None => None,
        }
    }

    /// Creates the array `name` with `capacity` zeroed elements.
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] for capacity 0 or an overflowing size; the segment's
    /// errors for the name, a duplicate, a full table or too little space.
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self> {
        let size = Self::checked_size(capacity)?;
        let (entry, region) = seg.add(name, size, |r: &Region| init(r, capacity))?;
        Ok(Self::from_parts(region, entry, capacity))
    }

    /// Opens the existing array `name`, taking its capacity from the segment.
    ///
    /// # Errors
    /// [`zeroipc_format::Error::NotFound`] (wrapped), [`FormatError::SizeMismatch`] if the entry
    /// size is not `8 + capacity * size_of::<T>()` (another element type, or an upstream C
    /// array), [`zeroipc_format::Error::Corrupt`] for an impossible capacity.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        Self::open_entry(seg, entry, None)
    }

    /// Opens the existing array `name` and checks that it holds `capacity` elements.
    ///
    /// # Errors
    /// As [`Array::open`], plus [`FormatError::TypeMismatch`] if the stored capacity differs.
    pub fn open_with_capacity(seg: &Segment, name: &str, capacity: usize) -> Result<Self> {
        let entry = seg.find(name)?;
        Self::open_entry(seg, entry, Some(capacity))
    }

    /// Opens `name` if it exists (checking its capacity), else creates it; the decision is
    /// made under the segment's creation lock, so concurrent callers agree.
    ///
    /// # Errors
    /// As [`Array::create`] and [`Array::open_with_capacity`].
    pub fn open_or_create(seg: &Segment, name: &str, capacity: usize) -> Result<Self> {
        let size = Self::checked_size(capacity)?;
        let mut lock = seg.lock_table()?;
        if let Some(entry) = lock.get(name)? {
            drop(lock);
            return Self::open_entry(seg, entry, Some(capacity));
        }
        let ([entry], [region]) =
            lock.add(&[(name, size)], |[one]: &[Region; 1]| init(one, capacity))?;
        Ok(Self::from_parts(region, entry, capacity))
    }

    fn checked_size(capacity: usize) -> Result<u64> {
        if capacity == 0 {
            return Err(
                FormatError::InvalidArgument("array capacity must be at least 1".into()).into(),
            );
        }
        Ok(Self::memory_size(capacity).ok_or_else(|| {
            FormatError::InvalidArgument(format!("array of {capacity} elements is too large"))
        })?)
    }

    fn open_entry(seg: &Segment, entry: Entry, expected: Option<usize>) -> Result<Self> {
        entry.expect_min_size(ArrayHeader::DATA as u64)?;
        let region = seg.region(&entry)?;
        let stored = region.read::<u64>(ArrayHeader::CAPACITY)?;
        let corrupt = || FormatError::corrupt_field(entry.name(), "capacity", stored);
        let capacity = usize::try_from(stored).map_err(|_| corrupt())?;
        let size = Self::memory_size(capacity).ok_or_else(corrupt)?;
        entry.expect_size(size)?;
        if let Some(want) = expected
            && want != capacity
        {
            return Err(FormatError::type_mismatch(&entry, "capacity", want as u64, stored).into());
        }
        Ok(Self::from_parts(region, entry, capacity))
    }

    fn from_parts(region: Region, entry: Entry, capacity: usize) -> Self {
        Self {
            region,
            entry,
            capacity,
            _elem: PhantomData,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.capacity
    }

    /// Whether the array has no elements (only possible for an array created elsewhere).
    pub fn is_empty(&self) -> bool {
        self.capacity == 0
    }

    /// The table entry (name, offset, size).
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Byte offset of element `index` (the caller checked `index <= capacity`).
    fn offset_of(index: usize) -> usize {
        // Cannot overflow: index <= capacity and 8 + capacity * size fits in the mapping.
        ArrayHeader::DATA + index * size_of::<T>()
    }

    fn check_range(&self, start: usize, count: usize) -> Result<()> {
        match start.checked_add(count) {
            Some(end) if end <= self.capacity => Ok(()),
            _ => Err(Error::OutOfRange {
                start,
                end: start.saturating_add(count),
                len: self.capacity,
            }),
        }
    }

    /// A copy of element `index`, or `None` if it is out of range.
    #[inline]
    pub fn get(&self, index: usize) -> Option<T> {
        if index >= self.capacity {
            return None;
        }
        self.region.read(Self::offset_of(index)).ok()
    }

    /// Stores `value` at `index`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] if `index >= len()`.
    #[inline]
    pub fn set(&self, index: usize, value: T) -> Result<()> {
        self.check_range(index, 1)?;
        Ok(self.region.write(Self::offset_of(index), value)?)
    }

    /// Copies `dst.len()` elements starting at `start` into `dst`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] if the range passes the end.
    pub fn read(&self, start: usize, dst: &mut [T]) -> Result<()> {
        self.check_range(start, dst.len())?;
        Ok(self.region.read_slice(Self::offset_of(start), dst)?)
    }

    /// Copies `src` into the array starting at `start`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] if the range passes the end.
    pub fn write(&self, start: usize, src: &[T]) -> Result<()> {
        self.check_range(start, src.len())?;
        Ok(self.region.write_slice(Self::offset_of(start), src)?)
    }

    /// Sets every element to `value`.
    pub fn fill(&self, value: T) {
        for i in 0..self.capacity {
            // Cannot fail: i < capacity.
            let _ = self.region.write(Self::offset_of(i), value);
        }
    }

    /// A snapshot of all elements.
    pub fn to_vec(&self) -> Vec<T> {
        let mut out = vec![T::zeroed(); self.capacity];
        // Cannot fail: the destination has exactly `capacity` elements.
        let _ = self.read(0, &mut out);
        out
    }

    /// An iterator over copies of the elements, read in place without a snapshot: summing
    /// through it runs as fast as summing a slice.
    pub fn iter(&self) -> Elements<'_, T> {
        match self.region.elements(ArrayHeader::DATA, self.capacity) {
            Ok(it) => it,
            // Unreachable: the capacity was validated against the region at open. An empty
            // iterator is the safe answer all the same.
            Err(_) => self
                .region
                .elements(ArrayHeader::DATA, 0)
                .unwrap_or_else(|_| unreachable_empty()),
        }
    }
}

#[cold]
fn unreachable_empty<'a, T: Pod>() -> Elements<'a, T> {
    unreachable!("a region always holds its 8-byte array header")
}

/// Writes the header of a fresh array (the data is already zero).
fn init(region: &Region, capacity: usize) -> Result<()> {
    region.write::<u64>(ArrayHeader::CAPACITY, capacity as u64)?;
    Ok(())
}

impl<'a, T: Pod> IntoIterator for &'a Array<T> {
    type Item = T;
    type IntoIter = Elements<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}
