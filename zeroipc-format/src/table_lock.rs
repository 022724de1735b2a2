//! The creation lock of a segment and the table operations that run under it: find an entry,
//! add entries (allocation and publication, spec D3/D4).

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

    /// Adds the entries `parts` (name, size) as one unit.
    ///
    /// Everything is checked before any space is taken: names, duplicates (in the table and
    /// within `parts`), free table entries and free space. Then `next_offset` is advanced,
    /// each part's bytes are zeroed (each part 8-aligned), `init` initialises them, the
    /// entries are written and `entry_count` is published with one Release store, so other
    /// processes see all parts at once. If `init` fails, `next_offset` is restored and nothing
    /// is published.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NameTooLong`], [`Error::AlreadyExists`],
    /// [`Error::TableFull`], [`Error::OutOfSpace`], [`Error::Corrupt`], or `init`'s error.
    pub fn add<E: From<Error>>(
        &mut self,
        parts: &[(&str, u64)],
        init: impl FnOnce(&[Region]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(Vec<Entry>, Vec<Region>), E> {
        let seg = self.seg;
        let root = &seg.inner.root;
        let g = seg.inner.geometry;
        // A peer that shrank the file would make the pages we are about to zero raise SIGBUS.
        if let Some(file) = &seg.inner.file {
            file::check_not_shrunk(file, root.len() as u64)?;
        }
        let names = parts
            .iter()
            .map(|(name, _)| encode_entry_name(name))
            .collect::<Result<Vec<_>>>()?;
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
        let needed = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        if count.checked_add(needed).is_none_or(|n| n > g.max_entries) {
            return Err(Error::TableFull {
                needed,
                max_entries: g.max_entries,
            }
            .into());
        }
        let start = seg.next_offset()?;
        let mut cursor = start;
        let mut spans = Vec::with_capacity(parts.len());
        for (_, size) in parts {
            let end = layout::align8(cursor).and_then(|at| Some((at, at.checked_add(*size)?)));
            match end {
                Some((at, end)) if end <= g.memory_size => {
                    spans.push((at, *size));
                    cursor = end;
                }
                _ => {
                    let requested = parts.iter().fold(0u64, |acc, (_, s)| {
                        acc.saturating_add(layout::align8(*s).unwrap_or(u64::MAX))
                    });
                    return Err(Error::OutOfSpace {
                        requested,
                        available: g.memory_size - start,
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
        let mut entries = Vec::with_capacity(parts.len());
        let mut regions = Vec::with_capacity(parts.len());
        for (i, ((name, _), (offset, size))) in parts.iter().zip(&spans).enumerate() {
            let entry = Entry {
                index: count + i as u32,
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
        init(&regions).map_err(rollback)?;
        for (entry, name) in entries.iter().zip(&names) {
            let pos = table::entry_position(entry.index);
            root.write(pos + layout::entry::NAME, *name)?;
            root.write(pos + layout::entry::OFFSET, entry.offset)?;
            root.write(pos + layout::entry::SIZE, entry.size)?;
        }
        // Release: publishes the entries and the structures' initialised bytes; pairs with the
        // Acquire load in `table::entry_count` (every lookup and listing goes through it).
        root.atomic_u32(layout::header::ENTRY_COUNT)?
            .store(count + needed, Ordering::Release);
        Ok((entries, regions))
    }
}
