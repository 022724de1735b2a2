//! The error type of `zeroipc-sync`.

/// Errors of synchronisation primitives.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or table error (not found, corrupt state, out of space, name too long, ...).
    /// Invalid shared state (an out-of-range field or state code) is reported as
    /// [`zeroipc_format::Error::Corrupt`] inside this variant.
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
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
    /// The stored structure is not of the requested kind (e.g. a Mutex whose `max_count` is
    /// not 1, or a Signal whose state is too small for `T`).
    #[error("{name:?}: stored {what} is {found}, expected {expected}")]
    TypeMismatch {
        /// The entry name.
        name: String,
        /// The mismatching property.
        what: &'static str,
        /// The expected value.
        expected: i64,
        /// The stored value.
        found: i64,
    },
    /// Some parts of a composite structure exist but not all, after the grace period.
    #[error("{name:?}: composite structure is incomplete (missing {missing:?})")]
    Incomplete {
        /// The structure's base name.
        name: String,
        /// The first missing part.
        missing: String,
    },
    /// An argument is out of range (negative count, `initial > max`, zero participants, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A timed wait expired.
    #[error("timed out waiting for {what}")]
    Timeout {
        /// What was waited for.
        what: &'static str,
    },
    /// A release would pass the semaphore's `max_count` (or unlock an unlocked mutex).
    #[error("{name:?}: release would exceed max_count {max}")]
    Overflow {
        /// The entry name.
        name: String,
        /// The stored `max_count`.
        max: i32,
    },
    /// An `*_async` wait could not start its helper thread (feature `async`).
    #[error(
        "could not start the async helper thread ({0}); the process may have hit its thread limit (ulimit -u, /proc/sys/kernel/threads-max)"
    )]
    Reactor(#[from] std::io::Error),
    /// An unlock of a lock that is not held (RWLock).
    #[error("{name:?}: {what} is not held")]
    NotHeld {
        /// The entry name.
        name: String,
        /// Which lock (`read lock`, `write lock`).
        what: &'static str,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
