//! `Map<K, V>`: a lock-free hash map with open addressing and linear probing, in the upstream
//! C++ entry layout and with its hash, spec §4.5.
//!
//! Layout (`16 + capacity * entry_size` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u32 | `size`: occupied entries |
//! | 4 | u32 | `capacity`: entries |
//! | 8 | u32 | `key_size` |
//! | 12 | u32 | `value_size` |
//! | 16 | Entry[capacity] | `{ atomic u32 state; K key; V value }` in natural C layout |

use std::mem::{align_of, size_of};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::{Entry, Region};

use crate::common;
use crate::elem::assert_element;
use crate::error::{Error, PushError, Result};
use crate::hash::key_is_nan;
use crate::layout::MapHeader;
use crate::probe::{self, ENTRIES, EntryLayout, Inserted};

common::capacity_handle! {
    /// A fixed-capacity lock-free hash map in shared memory, byte-compatible with the upstream
    /// C++ `zeroipc::Map<K, V>` (same entry layout, same hash, same probing), so C++ processes
    /// find the keys Rust inserts and the reverse.
    ///
    /// Keys hash as upstream C++ does: integers by value, everything else over its bytes
    /// ([`key_hash`](crate::key_hash)). Values are at most 8 bytes (as upstream). Any number of
    /// processes may insert, look up and remove concurrently.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Map;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let prices = Map::<u32, f64>::create(&seg, "prices", 64)?;
    /// assert_eq!(prices.insert(7, 1.5)?, None);
    /// assert_eq!(prices.insert(7, 2.5)?, Some(1.5)); // update returns the old value
    /// assert_eq!(prices.get(&7)?, Some(2.5));
    /// assert_eq!(prices.remove(&7)?, Some(2.5));
    /// assert!(prices.is_empty()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct Map<K, V>;
    "map" of capacity "1..=u32::MAX", header MapHeader, valid |c| c != 0;
}

impl<K: Pod, V: Pod> Map<K, V> {
    fn init_header(region: &Region, cap: u32) -> Result<()> {
        region.write::<u32>(MapHeader::CAPACITY, cap)?;
        region.write::<u32>(MapHeader::KEY_SIZE, size_of::<K>() as u32)?;
        region.write::<u32>(MapHeader::VALUE_SIZE, size_of::<V>() as u32)?;
        Ok(())
    }

    fn check_types(entry: &Entry, region: &Region) -> Result<()> {
        for (field, off, want) in [
            ("key_size", MapHeader::KEY_SIZE, size_of::<K>()),
            ("value_size", MapHeader::VALUE_SIZE, size_of::<V>()),
        ] {
            let stored = region.read::<u32>(off)?;
            if stored as usize != want {
                return Err(FormatError::TypeMismatch {
                    name: entry.name().to_owned(),
                    what: field,
                    expected: want as u64,
                    found: u64::from(stored),
                }
                .into());
            }
        }
        Ok(())
    }
}

impl<K: Pod, V: Pod> Map<K, V> {
    /// The entry layout (`key_off`, `val_off`, `entry_size`) for `K` and `V`.
    const LAYOUT: EntryLayout = EntryLayout::new(
        size_of::<K>(),
        align_of::<K>(),
        size_of::<V>(),
        align_of::<V>(),
    );

    /// Bytes per entry: `{ u32 state; K key; V value }` with C alignment.
    pub const ENTRY_SIZE: usize = Self::LAYOUT.entry_size;

    /// Bytes a map of `capacity` entries occupies (`16 + capacity * ENTRY_SIZE`), or `None`
    /// if the capacity is 0 or too large.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<K>();
        assert_element::<V>();
        assert!(
            size_of::<V>() <= 8,
            "map values are at most 8 bytes (as upstream)"
        );
        common::table_size(capacity, Self::ENTRY_SIZE, ENTRIES)
    }

    common::shape_constructors! { Map;
        /// Creates the map `name` with `capacity` entries.
        ///
        /// # Errors
        /// [`FormatError::InvalidArgument`] for capacity 0; the segment's errors.
        create;

        /// Opens the existing map `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::TypeMismatch`] if the stored key or value size differs;
        /// `Corrupt` for capacity 0; [`FormatError::SizeMismatch`] if the entry size is not
        /// `16 + capacity * ENTRY_SIZE` (this rejects upstream Python maps, whose packed entries
        /// and different hash are not interoperable).
        open;
    }

    crate::probe::with_buckets!();

    /// Inserts `key → value`, or replaces the value of an existing key; returns the old value.
    ///
    /// # Errors
    /// [`PushError::Full`] (with the pair) when no slot is free; [`PushError::Failed`] with
    /// [`FormatError::InvalidArgument`] for a NaN key, `Corrupt` for an invalid slot state, or
    /// [`Error::SlotBusy`] if slots stay claimed by a peer past the bounded wait.
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>, PushError<(K, V)>> {
        if key_is_nan(&key) {
            return Err(PushError::Failed(Error::from(
                FormatError::InvalidArgument("NaN keys can never be found and are refused".into()),
            )));
        }
        match self.with(|b| probe::insert(b, key, value, true)) {
            Ok(Inserted::New) => Ok(None),
            Ok(Inserted::Updated(old)) => Ok(Some(old)),
            Ok(Inserted::Full | Inserted::Present) => Err(PushError::Full((key, value))),
            Err(e) => Err(PushError::Failed(e)),
        }
    }

    /// A copy of the value for `key`.
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.with(|b| probe::get(b, key))
    }

    /// Whether `key` is present.
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        Ok(self.with(|b| probe::find(b, key, true))?.is_some())
    }

    /// Removes `key`, returning its value.
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn remove(&self, key: &K) -> Result<Option<V>> {
        self.with(|b| probe::remove(b, key))
    }

    /// Every `(key, value)` pair, in slot order (a snapshot).
    ///
    /// # Errors
    /// `Corrupt` for an invalid slot state.
    pub fn snapshot(&self) -> Result<Vec<(K, V)>> {
        self.with(|b| probe::items(b))
    }

    /// Removes every entry. Not safe while other processes use the map (as upstream).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn clear(&self) -> Result<()> {
        self.with(|b| probe::clear(b))
    }

    /// Number of entries (the shared counter, clamped to the capacity).
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked read.
    pub fn len(&self) -> Result<usize> {
        common::clamped_count(&self.region, MapHeader::SIZE, self.capacity)
    }

    common::occupancy!(Map;);
}
