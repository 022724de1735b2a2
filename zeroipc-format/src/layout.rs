//! The v2 table layout (spec §3.2, §3.3), pinned by compile-time asserts.
//!
//! `table_size` and `align8` size untrusted numbers: `arithmetic_side_effects` and
//! `indexing_slicing` are denied, as in `table.rs`.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use core::mem::{offset_of, size_of};

/// `magic` as stored: bytes `4D 50 49 5A`.
pub const MAGIC: u32 = 0x5A49_504D;
/// The only supported format version.
pub const VERSION: u32 = 2;
/// `max_entries` used when the stored value is 0, and the usual default.
pub const DEFAULT_MAX_ENTRIES: u32 = 64;
/// Size of the table header.
pub const HEADER_SIZE: usize = size_of::<TableHeader>();
/// Size of one table entry.
pub const ENTRY_SIZE: usize = size_of::<TableEntry>();
/// Alignment of every structure in a segment.
pub const ALIGN: u64 = 8;

/// The table header at offset 0 of every segment.
///
/// Invariants (checked at open, re-checked on use): `magic == MAGIC`, `version == VERSION`,
/// `entry_count <= max_entries` (0 meaning 64), `table_size <= memory_size <= file length`,
/// `table_size <= next_offset <= memory_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableHeader {
    /// `0x5A49504D`, written last with a Release store when the segment is created.
    pub magic: u32,
    /// Format version, 2.
    pub version: u32,
    /// Entries `0..entry_count` are in use; published with a Release store after the entry.
    pub entry_count: u32,
    /// Capacity of the entry array; a stored 0 means 64.
    pub max_entries: u32,
    /// Segment size at creation.
    pub memory_size: u64,
    /// First free byte (not kept aligned).
    pub next_offset: u64,
}

/// One table entry; entry `i` starts at `32 + 48 * i`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableEntry {
    /// UTF-8 name, NUL-terminated and zero-padded; byte 31 is always 0.
    pub name: [u8; 32],
    /// Structure start from the segment start; a multiple of 8, at or past the table.
    pub offset: u64,
    /// Structure size in bytes, as requested (unpadded).
    pub size: u64,
}

#[cfg(not(zeroipc_loom))]
const _: () = {
    assert!(size_of::<TableHeader>() == 32);
    assert!(offset_of!(TableHeader, magic) == 0x00);
    assert!(offset_of!(TableHeader, version) == 0x04);
    assert!(offset_of!(TableHeader, entry_count) == 0x08);
    assert!(offset_of!(TableHeader, max_entries) == 0x0C);
    assert!(offset_of!(TableHeader, memory_size) == 0x10);
    assert!(offset_of!(TableHeader, next_offset) == 0x18);
    assert!(size_of::<TableEntry>() == 48);
    assert!(offset_of!(TableEntry, name) == 0x00);
    assert!(offset_of!(TableEntry, offset) == 0x20);
    assert!(offset_of!(TableEntry, size) == 0x28);
};

/// Offsets of the header fields, for atomic access through a view.
pub(crate) mod header {
    use super::{TableHeader, offset_of};
    pub const MAGIC: usize = offset_of!(TableHeader, magic);
    pub const VERSION: usize = offset_of!(TableHeader, version);
    pub const ENTRY_COUNT: usize = offset_of!(TableHeader, entry_count);
    pub const MAX_ENTRIES: usize = offset_of!(TableHeader, max_entries);
    pub const MEMORY_SIZE: usize = offset_of!(TableHeader, memory_size);
    pub const NEXT_OFFSET: usize = offset_of!(TableHeader, next_offset);
}

/// Offsets of the entry fields, relative to the entry start.
pub(crate) mod entry {
    use super::{TableEntry, offset_of};
    pub const NAME: usize = offset_of!(TableEntry, name);
    pub const OFFSET: usize = offset_of!(TableEntry, offset);
    pub const SIZE: usize = offset_of!(TableEntry, size);
}

/// Size of the table (header plus entry array) for `max_entries` entries, or `None` on
/// overflow.
///
/// # Examples
/// ```
/// assert_eq!(zeroipc_format::table_size(64), Some(3104));
/// ```
pub const fn table_size(max_entries: u32) -> Option<u64> {
    match (max_entries as u64).checked_mul(ENTRY_SIZE as u64) {
        Some(n) => n.checked_add(HEADER_SIZE as u64),
        None => None,
    }
}

/// `n` rounded up to a multiple of 8, or `None` on overflow.
pub const fn align8(n: u64) -> Option<u64> {
    match n.checked_add(ALIGN - 1) {
        Some(v) => Some(v & !(ALIGN - 1)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_sizes() {
        assert_eq!(table_size(64), Some(0xC20));
        assert_eq!(table_size(1), Some(80));
        assert_eq!(table_size(u32::MAX), Some(32 + 48 * u32::MAX as u64));
    }

    #[test]
    fn align8_rounds_up_and_reports_overflow() {
        assert_eq!(align8(0), Some(0));
        assert_eq!(align8(1), Some(8));
        assert_eq!(align8(8), Some(8));
        assert_eq!(align8(5455), Some(5456));
        assert_eq!(align8(u64::MAX), None);
    }
}
