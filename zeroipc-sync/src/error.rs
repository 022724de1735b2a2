//! The error type of `zeroipc-sync`.

/// Errors of synchronisation primitives.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or table error (not found, corrupt state, out of space, name too long, ...),
    /// including the errors every structure crate shares:
    /// [`SizeMismatch`](zeroipc_format::Error::SizeMismatch),
    /// [`TypeMismatch`](zeroipc_format::Error::TypeMismatch),
    /// [`Incomplete`](zeroipc_format::Error::Incomplete) and
    /// [`InvalidArgument`](zeroipc_format::Error::InvalidArgument).
    /// Invalid shared state (an out-of-range field or state code) is reported as
    /// [`zeroipc_format::Error::Corrupt`] inside this variant.
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
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
