//! The error type of `zeroipc-codata`.

/// Errors of codata operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or table error (not found, corrupt table or field, out of space, name too
    /// long, ...), including the errors every structure crate shares:
    /// [`SizeMismatch`](zeroipc_format::Error::SizeMismatch),
    /// [`TypeMismatch`](zeroipc_format::Error::TypeMismatch),
    /// [`Incomplete`](zeroipc_format::Error::Incomplete) and
    /// [`InvalidArgument`](zeroipc_format::Error::InvalidArgument). Invalid shared state is
    /// reported as [`zeroipc_format::Error::Corrupt`] inside this variant.
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
    /// An error of an underlying structure (the Queue of a channel, the Ring of a stream)
    /// that is not a segment error (those arrive as [`Error::Format`]).
    #[error(transparent)]
    Structure(zeroipc_structures::Error),
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

impl From<zeroipc_structures::Error> for Error {
    /// A structure's segment error becomes [`Error::Format`], so one pattern matches a
    /// shared error whichever layer raised it; the rest stay [`Error::Structure`].
    fn from(e: zeroipc_structures::Error) -> Self {
        match e {
            zeroipc_structures::Error::Format(f) => Self::Format(f),
            other => Self::Structure(other),
        }
    }
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

/// Why [`Channel::try_send`](crate::Channel::try_send) or
/// [`Stream::try_emit`](crate::Stream::try_emit) did not send: `Full(v)` gives the value
/// back, `Failed(e)` carries the error (closed, disconnected, corrupt). The same type as the
/// structures' [`PushError`](zeroipc_structures::PushError), with this crate's error.
pub type TrySendError<T> = zeroipc_structures::PushError<T, Error>;
