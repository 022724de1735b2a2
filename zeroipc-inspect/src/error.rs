//! The CLI's error: a one-line message and the exit status it maps to.

use std::fmt;

/// Exit status: the target (segment, buffer, entry or file) does not exist.
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit status: the target exists but is corrupt or not a ZeroIPC/ZeroBuffer object.
pub const EXIT_CORRUPT: u8 = 2;
/// Exit status: anything else (the layout does not match `--as`, an I/O error, a range outside
/// the object, a kind that cannot be inferred).
pub const EXIT_OTHER: u8 = 3;
/// Exit status: the command line could not be parsed.
pub const EXIT_USAGE: u8 = 64;

/// An error to report on stderr before exiting with [`CliError::code`].
#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// `target not found` (exit 1).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(EXIT_NOT_FOUND, message)
    }

    /// Corrupt or unrecognised content (exit 2).
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(EXIT_CORRUPT, message)
    }

    /// Any other failure (exit 3).
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(EXIT_OTHER, message)
    }

    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The exit status.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Prefixes the message with some context (e.g. the segment name).
    #[must_use]
    pub fn context(self, what: impl fmt::Display) -> Self {
        Self {
            code: self.code,
            message: format!("{what}: {}", self.message),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the source error contains.
        f.write_str(&self.message.replace('\n', " "))
    }
}

impl From<zeroipc_format::Error> for CliError {
    fn from(e: zeroipc_format::Error) -> Self {
        use zeroipc_format::Error as E;
        let code = match &e {
            E::NotFound { .. } => EXIT_NOT_FOUND,
            E::BadMagic { .. }
            | E::UnsupportedVersion { .. }
            | E::Corrupt { .. }
            | E::Truncated { .. }
            | E::NotInitialized { .. }
            | E::OutOfBounds { .. } => EXIT_CORRUPT,
            _ => EXIT_OTHER,
        };
        Self::new(code, e.to_string())
    }
}

impl From<zeroipc_structures::Error> for CliError {
    fn from(e: zeroipc_structures::Error) -> Self {
        match e {
            zeroipc_structures::Error::Format(f) => f.into(),
            other => Self::other(other.to_string()),
        }
    }
}

impl From<zeroipc_sync::Error> for CliError {
    fn from(e: zeroipc_sync::Error) -> Self {
        match e {
            zeroipc_sync::Error::Format(f) => f.into(),
            other => Self::other(other.to_string()),
        }
    }
}

impl From<zeroipc_codata::Error> for CliError {
    fn from(e: zeroipc_codata::Error) -> Self {
        match e {
            zeroipc_codata::Error::Format(f) => f.into(),
            zeroipc_codata::Error::Structure(s) => s.into(),
            other => Self::other(other.to_string()),
        }
    }
}

impl From<zerobuffer::Error> for CliError {
    fn from(e: zerobuffer::Error) -> Self {
        use zerobuffer::Error as E;
        let code = match &e {
            E::BufferNotFound { .. } => EXIT_NOT_FOUND,
            E::InvalidOieb { .. } | E::Corrupt { .. } | E::InvalidMetadata { .. } => EXIT_CORRUPT,
            _ => EXIT_OTHER,
        };
        Self::new(code, e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Self::not_found(e.to_string())
        } else {
            Self::other(e.to_string())
        }
    }
}

/// `Result` with [`CliError`].
pub type Result<T, E = CliError> = std::result::Result<T, E>;
