//! The error type of `zeroipc-format`.

use std::fmt;

/// What was found corrupt in a segment.
///
/// Every variant names the field and carries the values that failed validation, so a
/// corrupt segment can be diagnosed from the error alone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The entry array (`32 + 48 * max_entries` bytes) does not fit in the file.
    TableExceedsFile {
        /// Bytes the table needs.
        table_size: u64,
        /// Length of the mapped file.
        file_len: u64,
    },
    /// `entry_count` is larger than `max_entries`.
    EntryCountExceedsMax {
        /// The stored `entry_count`.
        entry_count: u32,
        /// The effective `max_entries` (a stored 0 means 64).
        max_entries: u32,
    },
    /// `memory_size` is larger than the file.
    MemorySizeExceedsFile {
        /// The stored `memory_size`.
        memory_size: u64,
        /// Length of the mapped file.
        file_len: u64,
    },
    /// `memory_size` is smaller than the table it must contain.
    MemorySizeBelowTable {
        /// The stored `memory_size`.
        memory_size: u64,
        /// Bytes the table needs.
        table_size: u64,
    },
    /// `next_offset` lies outside `[table size, memory_size]`.
    NextOffsetOutOfRange {
        /// The stored `next_offset`.
        next_offset: u64,
        /// Bytes the table needs.
        table_size: u64,
        /// The stored `memory_size`.
        memory_size: u64,
    },
    /// An entry's 32-byte name field has no terminating NUL.
    NameNotTerminated {
        /// Index of the entry in the table.
        index: u32,
    },
    /// An entry's name is not UTF-8.
    NameNotUtf8 {
        /// Index of the entry in the table.
        index: u32,
    },
    /// An entry's offset is not a multiple of 8.
    EntryMisaligned {
        /// Index of the entry in the table.
        index: u32,
        /// The stored offset.
        offset: u64,
    },
    /// An entry starts inside the table area.
    EntryOverlapsTable {
        /// Index of the entry in the table.
        index: u32,
        /// The stored offset.
        offset: u64,
        /// Bytes the table needs.
        table_size: u64,
    },
    /// An entry's `offset + size` overflows or ends past `memory_size`.
    EntryOutOfBounds {
        /// Index of the entry in the table.
        index: u32,
        /// The stored offset.
        offset: u64,
        /// The stored size.
        size: u64,
        /// The bound it must stay within.
        memory_size: u64,
    },
    /// `entry_count` counts entries whose bytes are a hole of a sparse file: they were never
    /// written, so the count cannot be real (reading them would allocate memory for nothing).
    SparseTable {
        /// The stored `entry_count`.
        entry_count: u32,
        /// Offset of the first hole in the entry array.
        hole: u64,
    },
    /// A structure's stored header field has a value its layout forbids.
    Field {
        /// Name of the structure (table entry).
        entry: String,
        /// Name of the field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TableExceedsFile {
                table_size,
                file_len,
            } => write!(
                f,
                "table of {table_size} bytes does not fit in a {file_len}-byte file"
            ),
            Self::EntryCountExceedsMax {
                entry_count,
                max_entries,
            } => write!(
                f,
                "entry_count {entry_count} exceeds max_entries {max_entries}"
            ),
            Self::MemorySizeExceedsFile {
                memory_size,
                file_len,
            } => write!(
                f,
                "memory_size {memory_size} exceeds the file length {file_len}"
            ),
            Self::MemorySizeBelowTable {
                memory_size,
                table_size,
            } => write!(
                f,
                "memory_size {memory_size} is smaller than the {table_size}-byte table"
            ),
            Self::NextOffsetOutOfRange {
                next_offset,
                table_size,
                memory_size,
            } => write!(
                f,
                "next_offset {next_offset} is outside [{table_size}, {memory_size}]"
            ),
            Self::NameNotTerminated { index } => {
                write!(f, "entry {index}: name has no terminating NUL")
            }
            Self::NameNotUtf8 { index } => write!(f, "entry {index}: name is not UTF-8"),
            Self::EntryMisaligned { index, offset } => {
                write!(f, "entry {index}: offset {offset} is not 8-byte aligned")
            }
            Self::EntryOverlapsTable {
                index,
                offset,
                table_size,
            } => write!(
                f,
                "entry {index}: offset {offset} lies inside the {table_size}-byte table"
            ),
            Self::EntryOutOfBounds {
                index,
                offset,
                size,
                memory_size,
            } => write!(
                f,
                "entry {index}: offset {offset} + size {size} ends past memory_size {memory_size}"
            ),
            Self::SparseTable { entry_count, hole } => write!(
                f,
                "entry_count {entry_count} counts entries that were never written (the file has \
                 a hole at byte {hole} of its entry array): not a real table"
            ),
            Self::Field {
                entry,
                field,
                value,
            } => write!(
                f,
                "structure {entry:?}: field {field} has invalid value {value}"
            ),
        }
    }
}

/// Errors of segment and table operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The segment or the named table entry does not exist.
    #[error("{name:?} not found")]
    NotFound {
        /// The segment or entry name.
        name: String,
    },
    /// The segment exists (on `create`), or the entry name is already in the table.
    #[error("{name:?} already exists")]
    AlreadyExists {
        /// The segment or entry name.
        name: String,
    },
    /// A segment or entry name is empty, contains NUL or `/`, or is `.`/`..`.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name (lossily printable).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A name is longer than the format allows.
    #[error("name {name:?} is {len} bytes, longer than the {max}-byte limit")]
    NameTooLong {
        /// The rejected name.
        name: String,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// An argument is out of range (size too small for the table, zero capacity, negative
    /// count, `initial > max`, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A structure's entry is not the size its layout requires for its stored geometry (the
    /// spec's `LayoutMismatch`: e.g. an upstream C array, or a different element type). Shared
    /// by every structure crate.
    #[error("{name:?}: entry is {found} bytes, the layout needs {expected}")]
    SizeMismatch {
        /// The entry name.
        name: String,
        /// Size the layout requires.
        expected: u64,
        /// Size recorded in the table.
        found: u64,
    },
    /// The stored geometry or kind differs from what the caller asked for (the spec's
    /// `TypeMismatch`: a different element size, a Mutex whose `max_count` is not 1, ...).
    #[error("{name:?}: stored {what} is {found}, expected {expected}")]
    TypeMismatch {
        /// The entry name.
        name: String,
        /// The mismatching property (e.g. `elem_size`).
        what: &'static str,
        /// The caller's (expected) value.
        expected: u64,
        /// The stored value.
        found: u64,
    },
    /// Some parts of a composite structure exist but not all, after the grace period
    /// ([`GRACE`](crate::GRACE)).
    #[error("{name:?}: composite structure is incomplete (missing {missing:?})")]
    Incomplete {
        /// The structure's base name.
        name: String,
        /// The first missing part.
        missing: String,
    },
    /// The segment is shorter than its header or its magic is still 0 after the grace period.
    #[error("segment {name:?} is not initialised")]
    NotInitialized {
        /// The segment name or path.
        name: String,
    },
    /// A file at rest is too short to hold even the 32-byte header.
    #[error("file of {len} bytes is too short for the {needed}-byte header")]
    Truncated {
        /// The file length.
        len: u64,
        /// The bytes needed.
        needed: u64,
    },
    /// The header magic is not `0x5A49504D`.
    #[error("bad magic {found:#010x} (expected 0x5a49504d)")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// The header version is not 2.
    #[error("unsupported format version {found} (expected 2)")]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// Shared state failed validation.
    #[error("corrupt segment: {what}")]
    Corrupt {
        /// What was wrong.
        what: Corruption,
    },
    /// The table has no free entry for the structure.
    #[error("table full: {needed} more entries needed, max_entries is {max_entries}")]
    TableFull {
        /// Entries requested.
        needed: u32,
        /// The table's capacity.
        max_entries: u32,
    },
    /// The segment has too little free space for the structure.
    #[error("out of space: {requested} bytes requested, {available} available")]
    OutOfSpace {
        /// Bytes requested (including alignment).
        requested: u64,
        /// Bytes still free.
        available: u64,
    },
    /// The filesystem holding the segment (`/dev/shm`) has too little space free to reserve it.
    #[error(
        "not enough space for {what}: {requested} bytes asked, {available} free in /dev/shm; \
         free space there (remove unused segments) or enlarge it (Docker: --shm-size)"
    )]
    NoSpace {
        /// What was being created (the segment name).
        what: String,
        /// Bytes asked for.
        requested: u64,
        /// Bytes free on the filesystem when it was asked.
        available: u64,
    },
    /// A structure is valid as stored but uses a feature this implementation refuses on
    /// purpose (for example a capacity-1 queue created by upstream C++).
    #[error("structure {name:?} is unsupported: {reason}")]
    Unsupported {
        /// The structure (table entry) name.
        name: String,
        /// What is unsupported, why, and what to do instead.
        reason: String,
    },
    /// The path names something other than a regular file (a FIFO, directory, device...).
    #[error("{name:?} is a {kind}, not a regular file holding a segment")]
    NotRegularFile {
        /// The name or path.
        name: String,
        /// What it is.
        kind: &'static str,
    },
    /// A timed operation (e.g. taking the creation lock) expired.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
    },
    /// The caller may not open the segment.
    #[error("permission denied for {name:?}")]
    PermissionDenied {
        /// The segment name or path.
        name: String,
    },
    /// The handle is a read-only view; the operation would change the segment.
    #[error("segment {name:?} is opened read-only")]
    ReadOnly {
        /// The segment name or path.
        name: String,
    },
    /// An access fell outside a region (an internal bounds check refused it).
    #[error("access of {len} bytes at offset {offset} is outside the {region_len}-byte region")]
    OutOfBounds {
        /// Offset of the access within the region.
        offset: usize,
        /// Length of the access.
        len: usize,
        /// Length of the region.
        region_len: usize,
    },
    /// An operating-system call failed.
    #[error("{op} failed: {source}")]
    Io {
        /// The call that failed (`shm_open`, `ftruncate`, `mmap`, ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn corrupt(what: Corruption) -> Self {
        Self::Corrupt { what }
    }

    /// [`Error::Corrupt`] with [`Corruption::Field`]: field `field` of structure `entry`
    /// holds `value`, which its layout forbids. Signed values are passed as their
    /// two's-complement bits (`v as u64`), as stored.
    ///
    /// # Examples
    /// ```
    /// let e = zeroipc_format::Error::corrupt_field("q", "capacity", 3);
    /// assert_eq!(e.to_string(), "corrupt segment: structure \"q\": field capacity has invalid value 3");
    /// ```
    pub fn corrupt_field(entry: &str, field: &'static str, value: u64) -> Self {
        Self::Corrupt {
            what: Corruption::Field {
                entry: entry.to_owned(),
                field,
                value,
            },
        }
    }

    /// [`Error::SizeMismatch`] for `entry`, whose layout needs `expected` bytes.
    pub fn size_mismatch(entry: &crate::Entry, expected: u64) -> Self {
        Self::SizeMismatch {
            name: entry.name().to_owned(),
            expected,
            found: entry.size(),
        }
    }

    /// [`Error::TypeMismatch`] for `entry`: its stored `what` is `found`, the caller expected
    /// `expected`.
    pub fn type_mismatch(
        entry: &crate::Entry,
        what: &'static str,
        expected: u64,
        found: u64,
    ) -> Self {
        Self::TypeMismatch {
            name: entry.name().to_owned(),
            what,
            expected,
            found,
        }
    }

    pub(crate) fn io(op: &'static str, errno: rustix::io::Errno) -> Self {
        Self::Io {
            op,
            source: errno.into(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
