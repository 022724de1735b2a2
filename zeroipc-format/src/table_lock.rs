//! The creation lock of a segment and the table operations that run under it: find an entry,
//! add entries (allocation and publication, spec D3/D4).
//!
//! The offsets computed here come from shared-memory words (`entry_count`, `next_offset`):
//! `arithmetic_side_effects` and `indexing_slicing` are denied, as in `table.rs`.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::sync::MutexGuard;

use rustix::fs::FlockOperation;

use super::*;

/// The creation lock of a segment, held while the table is read and changed (spec D3).
/// Released on drop.
pub struct TableLock<'a> {
    pub(super) seg: &'a Segment,
    pub(super) _guard: MutexGuard<'a, ()>,
}

impl Drop for TableLock<'_> {
    fn drop(&mut self) {
        if let Some(file) = &self.seg.inner.file {
            let _ = rustix::fs::flock(file, FlockOperation::Unlock);
        }
    }
}

impl TableLock<'_> {
    /// The entry called `name`, or `None` (decided under the lock).
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the table was corrupted since open.
    pub fn get(&self, name: &str) -> Result<Option<Entry>> {
        self.seg.get(name)
    }

    /// Adds the `N` entries `parts` (name, size) as one unit and returns them with their
    /// regions, in the order of `parts`.
    ///
    /// Everything is checked before any space is taken: names, duplicates (in the table and
    /// within `parts`), free table entries and free space. Then `next_offset` is advanced,
    /// each part's bytes are zeroed (each part 8-aligned), `init` initialises them, the
    /// entries are written and `entry_count` is published with one Release store, so other
    /// processes see all parts at once. If `init` fails, `next_offset` is restored and nothing
    /// is published.
    ///
    /// The part count is a const generic, so callers destructure the results
    /// (`let ([h, b], [hr, br]) = lock.add(&[..2 parts..], |[hr, br]| ..)?`) with no arm
    /// for a count that cannot happen.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NameTooLong`], [`Error::AlreadyExists`],
    /// [`Error::TableFull`], [`Error::OutOfSpace`], [`Error::Corrupt`], or `init`'s error.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::{Error, Segment};
    ///
    /// let seg = Segment::anonymous(1 << 16, 16)?;
    /// let mut lock = seg.lock_table()?;
    /// let ([header, _], [h, body]) = lock.add(&[("pair_header", 8), ("pair_body", 64)], |[h, _]| {
    ///     h.write::<u64>(0, 64)
    /// })?;
    /// assert_eq!(header.name(), "pair_header");
    /// assert_eq!((h.len(), body.len()), (8, 64));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn add<const N: usize, E: From<Error>>(
        &mut self,
        parts: &[(&str, u64); N],
        init: impl FnOnce(&[Region; N]) -> std::result::Result<(), E>,
    ) -> std::result::Result<([Entry; N], [Region; N]), E> {
        let seg = self.seg;
        let root = &seg.inner.root;
        let g = seg.inner.geometry;
        // A peer that shrank the file would make the pages we are about to zero raise SIGBUS.
        if let Some(file) = &seg.inner.file {
            file::check_not_shrunk(file, root.len() as u64)?;
        }
        let mut names = [[0u8; 32]; N];
        for (slot, (name, _)) in names.iter_mut().zip(parts) {
            *slot = encode_entry_name(name)?;
        }
        for (i, (name, _)) in parts.iter().enumerate() {
            if parts
                .get(..i)
                .is_some_and(|prev| prev.iter().any(|(p, _)| p == name))
                || seg.get(name)?.is_some()
            {
                return Err(Error::AlreadyExists {
                    name: (*name).to_owned(),
                }
                .into());
            }
        }
        let count = table::entry_count(root, &g)?;
        let needed = u32::try_from(N).unwrap_or(u32::MAX);
        let Some(total) = count
            .checked_add(needed)
            .filter(|total| *total <= g.max_entries)
        else {
            return Err(Error::TableFull {
                needed,
                max_entries: g.max_entries,
            }
            .into());
        };
        let start = seg.next_offset()?;
        let mut cursor = start;
        let mut spans = [(0u64, 0u64); N];
        for (span, (_, size)) in spans.iter_mut().zip(parts) {
            let end = layout::align8(cursor).and_then(|at| Some((at, at.checked_add(*size)?)));
            match end {
                Some((at, end)) if end <= g.memory_size => {
                    *span = (at, *size);
                    cursor = end;
                }
                _ => {
                    let requested = parts.iter().fold(0u64, |acc, (_, s)| {
                        acc.saturating_add(layout::align8(*s).unwrap_or(u64::MAX))
                    });
                    return Err(Error::OutOfSpace {
                        requested,
                        // `start` (next_offset) was checked to be at most memory_size.
                        available: g.memory_size.saturating_sub(start),
                    }
                    .into());
                }
            }
        }
        let next = root.atomic_u64(layout::header::NEXT_OFFSET)?;
        next.store(cursor, Ordering::Relaxed);
        let rollback = |e: E| {
            next.store(start, Ordering::Relaxed);
            e
        };
        let mut entries = Vec::with_capacity(N);
        let mut regions = Vec::with_capacity(N);
        for (((name, _), (offset, size)), index) in parts.iter().zip(&spans).zip(count..total) {
            let entry = Entry {
                index,
                name: (*name).to_owned(),
                offset: *offset,
                size: *size,
            };
            let region = seg.region(&entry).map_err(|e| rollback(e.into()))?;
            region
                .fill(0, region.len(), 0)
                .map_err(|e| rollback(e.into()))?;
            entries.push(entry);
            regions.push(region);
        }
        let (entries, regions) = match (exactly::<N, _>(entries), exactly::<N, _>(regions)) {
            (Ok(e), Ok(r)) => (e, r),
            (Err(e), _) | (_, Err(e)) => return Err(rollback(e.into())),
        };
        init(&regions).map_err(rollback)?;
        for (entry, name) in entries.iter().zip(&names) {
            let at = |field| table::entry_field(entry.index, field);
            root.write(at(layout::entry::NAME)?, *name)?;
            root.write(at(layout::entry::OFFSET)?, entry.offset)?;
            root.write(at(layout::entry::SIZE)?, entry.size)?;
        }
        // Release: publishes the entries and the structures' initialised bytes; pairs with the
        // Acquire load in `table::entry_count` (every lookup and listing goes through it).
        root.atomic_u32(layout::header::ENTRY_COUNT)?
            .store(total, Ordering::Release);
        Ok((entries, regions))
    }
}

/// `v` as an array of `N`; one value per part was pushed, so a different length is a bug here.
fn exactly<const N: usize, T>(v: Vec<T>) -> Result<[T; N]> {
    <[T; N]>::try_from(v).map_err(|v| {
        Error::InvalidArgument(format!(
            "internal: {} values for {N} table parts (a bug in TableLock::add; please report it)",
            v.len()
        ))
    })
}
