//! `Set<T>`: a lock-free hash set, spec §4.6 — the Map table with no value.
//!
//! Layout (`16 + capacity * entry_size` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u32 | `size` |
//! | 4 | u32 | `capacity` |
//! | 8 | u32 | `elem_size` |
//! | 12 | u32 | `reserved` = 0 |
//! | 16 | Entry[capacity] | `{ atomic u32 state; T value }` in natural C layout |

use std::mem::{align_of, size_of};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::{Entry, Region};

use crate::common;
use crate::elem::assert_element;
use crate::error::{Error, PushError, Result};
use crate::hash::key_is_nan;
use crate::layout::SetHeader;
use crate::probe::{self, ENTRIES, EntryLayout, Inserted};

common::capacity_handle! {
    /// A fixed-capacity lock-free hash set in shared memory, byte-compatible with the upstream
    /// C++ `zeroipc::Set<T>`.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Set;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let seen = Set::<u64>::create(&seg, "seen", 128)?;
    /// assert!(seen.insert(42)?);
    /// assert!(!seen.insert(42)?, "already present");
    /// assert!(seen.contains(&42)?);
    /// assert!(seen.remove(&42)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct Set<T>;
    "set" of capacity "1..=u32::MAX", header SetHeader, valid |c| c != 0, then check_reserved;
}

impl<T: Pod> Set<T> {
    fn init_header(region: &Region, cap: u32) -> Result<()> {
        region.write::<u32>(SetHeader::CAPACITY, cap)?;
        region.write::<u32>(SetHeader::ELEM_SIZE, size_of::<T>() as u32)?;
        Ok(())
    }

    fn check_types(entry: &Entry, region: &Region) -> Result<()> {
        common::check_stored_elem_size::<T>(entry, region, SetHeader::ELEM_SIZE)
    }

    /// The `reserved` word must be 0 (checked after the capacity).
    fn check_reserved(entry: &Entry, region: &Region) -> Result<()> {
        let reserved = region.read::<u32>(SetHeader::RESERVED)?;
        if reserved != 0 {
            return Err(FormatError::TypeMismatch {
                name: entry.name().to_owned(),
                what: "reserved",
                expected: 0,
                found: u64::from(reserved),
            }
            .into());
        }
        Ok(())
    }
}

impl<T: Pod> Set<T> {
    const LAYOUT: EntryLayout = EntryLayout::new(size_of::<T>(), align_of::<T>(), 0, 1);

    /// Bytes per entry: `{ u32 state; T value }` with C alignment.
    pub const ENTRY_SIZE: usize = Self::LAYOUT.entry_size;

    /// Bytes a set of `capacity` entries occupies (`16 + capacity * ENTRY_SIZE`), or `None`
    /// if the capacity is 0 or too large.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<T>();
        common::table_size(capacity, Self::ENTRY_SIZE, ENTRIES)
    }

    common::shape_constructors! { Set;
        /// Creates the set `name` with `capacity` entries.
        ///
        /// # Errors
        /// [`FormatError::InvalidArgument`] for capacity 0; the segment's errors.
        create;

        /// Opens the existing set `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::TypeMismatch`] for another element size or a non-zero
        /// `reserved` word; `Corrupt` for capacity 0; [`FormatError::SizeMismatch`] if the entry size
        /// is not `16 + capacity * ENTRY_SIZE` (this rejects the upstream Python "set", a packed
        /// `Map<T, u8>`).
        open;
    }

    crate::probe::with_buckets!();

    /// Adds `value`; `Ok(false)` if it was already present.
    ///
    /// # Errors
    /// [`PushError::Full`] when no slot is free; [`PushError::Failed`] for a NaN value,
    /// corruption or slots held by a peer past the bounded wait.
    pub fn insert(&self, value: T) -> Result<bool, PushError<T>> {
        if key_is_nan(&value) {
            return Err(PushError::Failed(Error::from(
                FormatError::InvalidArgument(
                    "NaN values can never be found and are refused".into(),
                ),
            )));
        }
        match self.with(|b| probe::insert::<_, T, ()>(b, value, (), false)) {
            Ok(Inserted::New) => Ok(true),
            Ok(Inserted::Present | Inserted::Updated(())) => Ok(false),
            Ok(Inserted::Full) => Err(PushError::Full(value)),
            Err(e) => Err(PushError::Failed(e)),
        }
    }

    /// Whether `value` is present (slots being written are skipped without waiting, as
    /// upstream).
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn contains(&self, value: &T) -> Result<bool> {
        Ok(self.with(|b| probe::find(b, value, false))?.is_some())
    }

    /// Removes `value`; `Ok(false)` if it was absent.
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn remove(&self, value: &T) -> Result<bool> {
        Ok(self
            .with(|b| probe::remove::<_, T, ()>(b, value))?
            .is_some())
    }

    /// Every element, in slot order (a snapshot).
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn snapshot(&self) -> Result<Vec<T>> {
        Ok(self
            .with(|b| probe::items::<_, T, ()>(b))?
            .into_iter()
            .map(|(v, ())| v)
            .collect())
    }

    /// Removes every element. Not safe while other processes use the set (as upstream).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn clear(&self) -> Result<()> {
        self.with(|b| probe::clear(b))
    }

    /// Number of elements (the shared counter, clamped to the capacity).
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked read.
    pub fn len(&self) -> Result<usize> {
        common::clamped_count(&self.region, SetHeader::SIZE, self.capacity)
    }

    common::occupancy!(Set;);
}
