//! The error type of `zeroipc-structures`.

#[allow(unused_imports)] // for the doc links
use zeroipc_format::Error as FormatError;

/// Errors of structure operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or table error (not found, corrupt table or field, out of space, ...),
    /// including the errors every structure crate shares: [`FormatError::SizeMismatch`],
    /// [`FormatError::TypeMismatch`], [`FormatError::Incomplete`] and
    /// [`FormatError::InvalidArgument`].
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
    /// The structure was full: what [`PushError::into_error`] makes of
    /// [`PushError::Full`] when the caller chooses to drop the value.
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

/// Why a value could not be added to a bounded structure: "full" gives the value back, as
/// crossbeam's `TrySendError::Full(T)` does. The structures use it with their [`Error`];
/// `zeroipc-codata` uses it with its own error type for `Channel::try_send` and
/// `Stream::try_emit`.
///
/// There is deliberately no `From<PushError<T>> for Error`: `?` would drop the value. Use
/// [`PushError::into_error`] to make that choice explicit.
#[derive(Debug)]
pub enum PushError<T, E = Error> {
    /// The structure is full; here is the value back.
    Full(T),
    /// The operation failed: the shared state is corrupt, or (Stack) a peer held the slot
    /// claim past the bounded wait, as a crashed peer would.
    Failed(E),
}

impl<T, E> PushError<T, E> {
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

    /// The error of a failed operation, with `full` standing for "full": the value is
    /// dropped.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_structures::{Error, PushError};
    ///
    /// let e = PushError::<u8>::Full(7).into_error(|_| Error::Full);
    /// assert!(matches!(e, Error::Full));
    /// ```
    pub fn into_error(self, full: impl FnOnce(T) -> E) -> E {
        match self {
            Self::Full(v) => full(v),
            Self::Failed(e) => e,
        }
    }
}

impl<T, E: std::fmt::Display> std::fmt::Display for PushError<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(_) => f.write_str("structure is full"),
            Self::Failed(e) => e.fmt(f),
        }
    }
}

impl<T: std::fmt::Debug, E: std::error::Error + 'static> std::error::Error for PushError<T, E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Full(_) => None,
            Self::Failed(e) => Some(e),
        }
    }
}
