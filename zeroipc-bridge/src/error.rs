//! The error type of `zeroipc-bridge`.

/// Errors of a bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-memory stream or channel operation failed.
    #[error(transparent)]
    Codata(#[from] zeroipc_codata::Error),
    /// A segment operation failed.
    #[error(transparent)]
    Format(#[from] zeroipc_format::Error),
    /// A ZeroBuffer operation failed.
    #[error(transparent)]
    ZeroBuffer(#[from] zerobuffer::Error),
    /// zenoh refused an operation (session, publisher, subscriber).
    #[error("zenoh: {0} (check the listen/connect endpoints: tcp/<ip>:<port>)")]
    Zenoh(String),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A message from the network is malformed (it is dropped and counted).
    #[error("malformed message: {0}")]
    Wire(String),
    /// A file operation failed (status files, configuration file).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// A [`Error::Zenoh`] from any zenoh error.
    pub(crate) fn zenoh(e: impl std::fmt::Display) -> Self {
        Self::Zenoh(e.to_string())
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
