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
    /// The structure is full (the value could not be added).
    #[error("structure is full")]
    Full,
    /// A peer holds a slot claim longer than the bounded wait (a crashed peer, or extreme
    /// contention); the operation did nothing.
    #[error("{name:?}: slot {slot} stayed in state {state} past the bounded wait (crashed peer?)")]
    SlotBusy {
        /// The structure name.
        name: String,
        /// The slot index.
        slot: u64,
        /// The state it stayed in.
        state: u32,
    },
    /// A pool index was freed while already free.
    #[error("{name:?}: index {index} is already free")]
    DoubleFree {
        /// The pool name.
        name: String,
        /// The index.
        index: u32,
    },
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

/// Why a value could not be added to a bounded structure. The value comes back in `Full`.
#[derive(Debug)]
pub enum PushError<T> {
    /// The structure is full; here is the value back.
    Full(T),
    /// The operation failed: the shared state is corrupt, or (Stack) a peer held the slot
    /// claim past the bounded wait, as a crashed peer would.
    Failed(Error),
}

impl<T> PushError<T> {
    /// Whether the structure was full.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// The value, if the structure was full.
    pub fn into_inner(self) -> Option<T> {
        match self {
            Self::Full(v) => Some(v),
            Self::Failed(_) => None,
        }
    }
}

impl<T> std::fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(_) => f.write_str("structure is full"),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

impl<T: std::fmt::Debug> std::error::Error for PushError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Full(_) => None,
            Self::Failed(e) => Some(e),
        }
    }
}

impl<T> From<PushError<T>> for Error {
    fn from(e: PushError<T>) -> Self {
        match e {
            PushError::Full(_) => Error::Full,
            PushError::Failed(e) => e,
        }
    }
}
