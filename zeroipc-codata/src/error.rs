//! The error type of `zeroipc-codata`.

/// Errors of codata operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or table error (not found, corrupt table or field, out of space, name too
    /// long, ...). Invalid shared state is reported as [`zeroipc_format::Error::Corrupt`]
    /// inside this variant.
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
    /// An error of an underlying structure (the Queue of a channel, the Ring of a stream).
    #[error(transparent)]
    Structure(#[from] zeroipc_structures::Error),
    /// The entry's size is not the one the layout requires (the spec's `LayoutMismatch`).
    #[error("{name:?}: entry is {found} bytes, the layout needs {expected}")]
    SizeMismatch {
        /// The entry name.
        name: String,
        /// Size the layout requires.
        expected: u64,
        /// Size recorded in the table.
        found: u64,
    },
    /// The stored geometry differs from the caller's type (the spec's `TypeMismatch`).
    #[error("{name:?}: stored {what} is {found}, expected {expected}")]
    TypeMismatch {
        /// The entry name.
        name: String,
        /// The mismatching property.
        what: &'static str,
        /// The expected value.
        expected: u64,
        /// The stored value.
        found: u64,
    },
    /// Some parts of a composite structure exist but not all, after the grace period.
    #[error("{name:?}: composite structure is incomplete (missing {missing:?})")]
    Incomplete {
        /// The structure's base name.
        name: String,
        /// The first missing part.
        missing: String,
    },
    /// An argument is out of range (zero capacity, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A timed wait expired.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
    },
    /// The stream or channel is closed.
    #[error("{name:?} is closed")]
    Closed {
        /// The structure name.
        name: String,
    },
    /// An async wait could not start its helper thread (feature `async`).
    #[error(
        "could not start the async helper thread ({0}); the process may have hit its thread limit (ulimit -u, /proc/sys/kernel/threads-max)"
    )]
    Reactor(#[from] std::io::Error),
    /// Every registered peer on the other side of a channel is gone (exited or crashed).
    #[error("{name:?}: every {side} has gone")]
    Disconnected {
        /// The channel name.
        name: String,
        /// `"receiver"` or `"sender"`.
        side: &'static str,
    },
    /// The future (or lazy value) was already completed.
    #[error("{name:?} is already set")]
    AlreadySet {
        /// The structure name.
        name: String,
    },
    /// The future completed with an error, or the lazy computation failed.
    #[error("{name:?} failed: {message}")]
    Failed {
        /// The structure name.
        name: String,
        /// The stored error message.
        message: String,
    },
}

impl Error {
    /// The message of a [`Error::Failed`], if this is one.
    pub fn failure_message(&self) -> Option<&str> {
        match self {
            Self::Failed { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether this is a [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
