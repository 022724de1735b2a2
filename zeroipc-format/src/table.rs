//! Reading and validating the table: header checks, entry decoding and lookup (spec §3).
//!
//! Every number read here comes from shared memory and is untrusted: all arithmetic is
//! checked and every offset is validated against the geometry cached at open.
//!
//! `arithmetic_side_effects` and `indexing_slicing` are denied here: use `checked_*` and `get`,
//! and turn a `None` into an [`Error`] that says what was out of range.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use crate::atomic::Ordering;
use crate::error::{Corruption, Error, Result};
use crate::layout::{self, DEFAULT_MAX_ENTRIES, ENTRY_SIZE, HEADER_SIZE, MAGIC, VERSION};
use crate::view::Region;

/// A snapshot of the table header, as stored: the [`layout::TableHeader`] layout type itself
/// (one definition of the fields).
pub type Header = layout::TableHeader;

impl Header {
    /// `max_entries` with the stored 0 read as 64.
    pub fn effective_max_entries(&self) -> u32 {
        effective_max_entries(self.max_entries)
    }
}

pub(crate) fn effective_max_entries(stored: u32) -> u32 {
    if stored == 0 {
        DEFAULT_MAX_ENTRIES
    } else {
        stored
    }
}

/// A published table entry: a named byte range of the segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

impl Entry {
    /// Position in the table.
    pub fn index(&self) -> u32 {
        self.index
    }
    /// The entry's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Start of the structure, from the start of the segment (validated: 8-aligned, past the
    /// table, and `offset + size <= memory_size`).
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// Size of the structure in bytes, as recorded.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The validated, cached shape of a segment's table (spec D2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Effective `max_entries` (stored 0 → 64).
    pub max_entries: u32,
    /// `32 + 48 * max_entries`.
    pub table_size: u64,
    /// Stored `memory_size`, validated `table_size <= memory_size <= file length`.
    pub memory_size: u64,
}

pub(crate) fn load_header(root: &Region) -> Result<Header> {
    use layout::header as h;
    Ok(Header {
        magic: root.atomic_u32(h::MAGIC)?.load(Ordering::Acquire),
        version: root.atomic_u32(h::VERSION)?.load(Ordering::Relaxed),
        entry_count: root.atomic_u32(h::ENTRY_COUNT)?.load(Ordering::Acquire),
        max_entries: root.atomic_u32(h::MAX_ENTRIES)?.load(Ordering::Relaxed),
        memory_size: root.atomic_u64(h::MEMORY_SIZE)?.load(Ordering::Relaxed),
        next_offset: root.atomic_u64(h::NEXT_OFFSET)?.load(Ordering::Relaxed),
    })
}

/// Validates the header against the mapping and returns the geometry to cache.
///
/// Checks, in order: magic, version, table fits the file, `entry_count <= max_entries`,
/// `table <= memory_size <= file`, `table <= next_offset <= memory_size`.
pub(crate) fn validate_header(root: &Region) -> Result<(Header, Geometry)> {
    let file_len = root.len() as u64;
    if file_len < HEADER_SIZE as u64 {
        return Err(Error::Truncated {
            len: file_len,
            needed: HEADER_SIZE as u64,
        });
    }
    let header = load_header(root)?;
    if header.magic != MAGIC {
        return Err(Error::BadMagic {
            found: header.magic,
        });
    }
    if header.version != VERSION {
        return Err(Error::UnsupportedVersion {
            found: header.version,
        });
    }
    let max_entries = header.effective_max_entries();
    // Cannot overflow: u32::MAX * 48 + 32 fits in u64.
    let table_size = layout::table_size(max_entries).unwrap_or(u64::MAX);
    if table_size > file_len {
        return Err(Error::corrupt(Corruption::TableExceedsFile {
            table_size,
            file_len,
        }));
    }
    if header.entry_count > max_entries {
        return Err(Error::corrupt(Corruption::EntryCountExceedsMax {
            entry_count: header.entry_count,
            max_entries,
        }));
    }
    if header.memory_size > file_len {
        return Err(Error::corrupt(Corruption::MemorySizeExceedsFile {
            memory_size: header.memory_size,
            file_len,
        }));
    }
    if header.memory_size < table_size {
        return Err(Error::corrupt(Corruption::MemorySizeBelowTable {
            memory_size: header.memory_size,
            table_size,
        }));
    }
    let geometry = Geometry {
        max_entries,
        table_size,
        memory_size: header.memory_size,
    };
    check_next_offset(header.next_offset, &geometry)?;
    Ok((header, geometry))
}

pub(crate) fn check_next_offset(next_offset: u64, g: &Geometry) -> Result<()> {
    if next_offset < g.table_size || next_offset > g.memory_size {
        return Err(Error::corrupt(Corruption::NextOffsetOutOfRange {
            next_offset,
            table_size: g.table_size,
            memory_size: g.memory_size,
        }));
    }
    Ok(())
}

/// Byte offset of field `field` (a [`layout::entry`] offset) of entry `index` in the segment;
/// `entry_field(n, 0)` is where entry `n` starts (and entry `n - 1` ends).
///
/// # Errors
/// [`Error::InvalidArgument`] if the position does not fit in `usize`; `validate_header`
/// checked that the whole table fits in the mapping, so this cannot happen for an index below
/// `max_entries` of a mapped segment.
pub(crate) fn entry_field(index: u32, field: usize) -> Result<usize> {
    usize::try_from(index)
        .ok()
        .and_then(|i| i.checked_mul(ENTRY_SIZE))
        .and_then(|at| at.checked_add(HEADER_SIZE))
        .and_then(|at| at.checked_add(field))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "table entry {index} lies beyond this machine's address space: open the \
                 segment on a 64-bit host, or recreate it with a smaller max_entries"
            ))
        })
}

/// The current entry count, re-validated against the cached geometry.
pub(crate) fn entry_count(root: &Region, g: &Geometry) -> Result<u32> {
    // Acquire: pairs with the Release store that publishes a new entry in `publish`, so the
    // entry's bytes (and the structure's initialised bytes) are visible once counted.
    let n = root
        .atomic_u32(layout::header::ENTRY_COUNT)?
        .load(Ordering::Acquire);
    if n > g.max_entries {
        return Err(Error::corrupt(Corruption::EntryCountExceedsMax {
            entry_count: n,
            max_entries: g.max_entries,
        }));
    }
    Ok(n)
}

/// The raw 32-byte name field of entry `index` (index must be below `max_entries`).
pub(crate) fn raw_name(root: &Region, index: u32) -> Result<[u8; 32]> {
    root.read::<[u8; 32]>(entry_field(index, layout::entry::NAME)?)
}

/// Length of a name field up to its NUL, or `Corrupt` if it has none.
fn name_len(field: &[u8; 32], index: u32) -> Result<usize> {
    field
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| Error::corrupt(Corruption::NameNotTerminated { index }))
}

/// Reads and validates entry `index`; `Ok(None)` for a slot whose name is still empty
/// (an upstream creator bumps `entry_count` before writing the entry).
pub(crate) fn read_entry(root: &Region, g: &Geometry, index: u32) -> Result<Option<Entry>> {
    let field = raw_name(root, index)?;
    if field[0] == 0 {
        return Ok(None);
    }
    let len = name_len(&field, index)?;
    let name = std::str::from_utf8(field.get(..len).unwrap_or_default())
        .map_err(|_| Error::corrupt(Corruption::NameNotUtf8 { index }))?
        .to_owned();
    let (offset, size) = read_extent(root, g, index)?;
    Ok(Some(Entry {
        index,
        name,
        offset,
        size,
    }))
}

/// Reads and validates the offset and size of entry `index`.
fn read_extent(root: &Region, g: &Geometry, index: u32) -> Result<(u64, u64)> {
    let offset = root.read::<u64>(entry_field(index, layout::entry::OFFSET)?)?;
    let size = root.read::<u64>(entry_field(index, layout::entry::SIZE)?)?;
    if offset % layout::ALIGN != 0 {
        return Err(Error::corrupt(Corruption::EntryMisaligned {
            index,
            offset,
        }));
    }
    if offset < g.table_size {
        return Err(Error::corrupt(Corruption::EntryOverlapsTable {
            index,
            offset,
            table_size: g.table_size,
        }));
    }
    match offset.checked_add(size) {
        Some(end) if end <= g.memory_size => Ok((offset, size)),
        _ => Err(Error::corrupt(Corruption::EntryOutOfBounds {
            index,
            offset,
            size,
            memory_size: g.memory_size,
        })),
    }
}

/// A name to look up, as the four little-endian words of its zero-padded 32-byte field, with a
/// mask covering the name bytes and its terminating NUL.
struct NameKey {
    words: [u64; 4],
    mask: [u64; 4],
}

impl NameKey {
    /// `None` for names that can never be stored (empty or longer than 31 bytes).
    fn new(name: &[u8]) -> Option<Self> {
        if name.is_empty() || name.len() > crate::name::MAX_ENTRY_NAME {
            return None;
        }
        let mut field = [0u8; 32];
        let mut mask = [0u8; 32];
        field.get_mut(..name.len())?.copy_from_slice(name);
        mask.get_mut(..=name.len())?.fill(0xFF);
        Some(Self {
            words: words(&field),
            mask: words(&mask),
        })
    }

    /// Whether `field` holds this name followed by its NUL (bytes after the NUL are ignored,
    /// as upstream readers ignore them).
    #[inline]
    fn matches(&self, field: &[u64; 4]) -> bool {
        field
            .iter()
            .zip(&self.words)
            .zip(&self.mask)
            .all(|((f, w), m)| (f ^ w) & m == 0)
    }
}

fn words(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (w, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    out
}

/// Finds the first published entry called `name` (spec §3.6).
///
/// Only the matching entry is decoded and validated; other entries cost four masked word
/// compares. A match needs the name bytes and the NUL after them, so it is terminated by
/// construction; other names' termination was validated at open and is re-validated by
/// [`entries`]. Half-written entries (empty name) never match.
pub(crate) fn find(root: &Region, g: &Geometry, name: &str) -> Result<Option<Entry>> {
    let Some(key) = NameKey::new(name.as_bytes()) else {
        return Ok(None);
    };
    let n = entry_count(root, g)?;
    for index in 0..n {
        let field = root.read::<[u64; 4]>(entry_field(index, layout::entry::NAME)?)?;
        // Words are compared as little-endian values, matching `words`.
        let field = field.map(u64::from_le);
        if key.matches(&field) {
            let (offset, size) = read_extent(root, g, index)?;
            return Ok(Some(Entry {
                index,
                name: name.to_owned(),
                offset,
                size,
            }));
        }
    }
    Ok(None)
}

/// Every published entry, validated, in table order.
pub(crate) fn entries(root: &Region, g: &Geometry) -> Result<Vec<Entry>> {
    let n = entry_count(root, g)?;
    let mut out = Vec::with_capacity(n as usize);
    for index in 0..n {
        if let Some(e) = read_entry(root, g, index)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// The region of a validated entry.
pub(crate) fn entry_region(root: &Region, entry: &Entry) -> Result<Region> {
    let offset = usize::try_from(entry.offset).map_err(|_| Error::OutOfBounds {
        offset: usize::MAX,
        len: 0,
        region_len: root.len(),
    })?;
    let size = usize::try_from(entry.size).map_err(|_| Error::OutOfBounds {
        offset,
        len: usize::MAX,
        region_len: root.len(),
    })?;
    root.subregion(offset, size)
}

/// Validates every published entry (names terminated and UTF-8, extents in bounds) without
/// allocating; done once at open (spec D2).
pub(crate) fn validate_entries(root: &Region, g: &Geometry) -> Result<()> {
    let n = entry_count(root, g)?;
    for index in 0..n {
        let field = raw_name(root, index)?;
        if field[0] == 0 {
            continue;
        }
        let len = name_len(&field, index)?;
        if std::str::from_utf8(field.get(..len).unwrap_or_default()).is_err() {
            return Err(Error::corrupt(Corruption::NameNotUtf8 { index }));
        }
        read_extent(root, g, index)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn field(bytes: &[u8]) -> [u64; 4] {
        let mut f = [0u8; 32];
        f[..bytes.len()].copy_from_slice(bytes);
        words(&f)
    }

    #[test]
    fn entry_fields_are_where_the_layout_puts_them() {
        use layout::entry;
        assert_eq!(entry_field(0, entry::NAME).unwrap(), HEADER_SIZE);
        assert_eq!(
            entry_field(2, entry::SIZE).unwrap(),
            HEADER_SIZE + 2 * ENTRY_SIZE + entry::SIZE
        );
        // Entry n starts where a table of n entries ends, for every u32 on a 64-bit host.
        for n in [0, 7, u32::MAX] {
            assert_eq!(
                entry_field(n, 0).unwrap() as u64,
                layout::table_size(n).unwrap()
            );
        }
    }

    #[test]
    fn name_keys_match_the_name_and_its_nul_only() {
        let key = NameKey::new(b"arr").unwrap();
        assert!(key.matches(&field(b"arr")));
        assert!(
            key.matches(&field(b"arr\0garbage")),
            "bytes after the NUL are ignored"
        );
        assert!(!key.matches(&field(b"arr_f32")));
        assert!(!key.matches(&field(b"ar")));
        assert!(!key.matches(&field(b"")));
        let long = [b'x'; 31];
        let key = NameKey::new(&long).unwrap();
        assert!(key.matches(&field(&long)));
        let mut unterminated = [b'x'; 32];
        unterminated[31] = b'y';
        assert!(!key.matches(&words(&unterminated)));
        assert!(NameKey::new(b"").is_none());
        assert!(NameKey::new(&[b'x'; 32]).is_none());
    }
}
