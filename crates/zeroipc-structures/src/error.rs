//! The error type of `zeroipc-structures`.

/// Errors of structure operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or table error (not found, corrupt table, out of space, ...).
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
    /// The entry's size is not the one the layout requires for its stored geometry (the
    /// spec's `LayoutMismatch`: e.g. an upstream C array, or a different element type).
    #[error("{name:?}: entry is {found} bytes, the layout needs {expected}")]
    SizeMismatch {
        /// The entry name.
        name: String,
        /// Size the layout requires.
        expected: u64,
        /// Size recorded in the table.
        found: u64,
    },
    /// The stored geometry differs from what the caller asked for (the spec's
    /// `TypeMismatch`).
    #[error("{name:?}: stored {what} is {found}, expected {expected}")]
    TypeMismatch {
        /// The entry name.
        name: String,
        /// The mismatching property (e.g. `capacity`).
        what: &'static str,
        /// The caller's value.
        expected: u64,
        /// The stored value.
        found: u64,
    },
    /// An invalid argument (e.g. capacity 0).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An index or range outside the structure.
    #[error("index range {start}..{end} is outside 0..{len}")]
    OutOfRange {
        /// First index accessed.
        start: usize,
        /// One past the last index accessed.
        end: usize,
        /// The structure's length.
        len: usize,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
