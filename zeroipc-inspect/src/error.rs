//! The library's and the CLI's error: a one-line message, the exit status it maps to, and the
//! spec's name for the error kind (`NotFound`, `LayoutMismatch`, `Corrupt`, ...).

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

/// An error of the decoder, the inference or a command: reported on stderr before exiting
/// with [`CliError::code`], or by a peer under [`CliError::kind`].
#[derive(Debug)]
pub struct CliError {
    code: u8,
    kind: String,
    message: String,
}

impl CliError {
    /// `target not found` (exit 1, kind `NotFound`).
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(EXIT_NOT_FOUND, "NotFound", message)
    }

    /// Corrupt or unrecognised content (exit 2, kind `Corrupt`).
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(EXIT_CORRUPT, "Corrupt", message)
    }

    /// Any other failure (exit 3, kind `Other`).
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(EXIT_OTHER, "Other", message)
    }

    fn new(code: u8, kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// The exit status.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The error kind as the spec's error table names it (`NotFound`, `LayoutMismatch`,
    /// `TypeMismatch`, `Corrupt`, `Incomplete`, `BadMagic`, ...), so that every
    /// implementation reports the same kinds; `Other` for the CLI's own errors.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with some context (e.g. the segment name).
    #[must_use]
    pub fn context(self, what: impl fmt::Display) -> Self {
        Self {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever the source error contains.
        f.write_str(&self.message.replace('\n', " "))
    }
}

impl std::error::Error for CliError {}

/// The variant name of an error's `Debug` form (`NotFound { .. }` → `NotFound`).
fn variant<E: fmt::Debug>(e: &E) -> String {
    format!("{e:?}")
        .split([' ', '{', '('])
        .next()
        .unwrap_or("Error")
        .to_owned()
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
        let kind = match &e {
            E::NameTooLong { .. } => "InvalidName".to_owned(),
            // The format's SizeMismatch is the spec's LayoutMismatch.
            E::SizeMismatch { .. } => "LayoutMismatch".to_owned(),
            E::NotInitialized { .. } => "NotInitialised".to_owned(),
            other => variant(other),
        };
        Self::new(code, kind, e.to_string())
    }
}

/// An error of a structure crate that is not a format error: by its variant name (exit 3).
fn of_crate<E: fmt::Debug + fmt::Display>(e: &E) -> CliError {
    CliError::new(EXIT_OTHER, variant(e), e.to_string())
}

impl From<zeroipc_structures::Error> for CliError {
    fn from(e: zeroipc_structures::Error) -> Self {
        use zeroipc_structures::Error as S;
        match e {
            S::Format(f) => f.into(),
            other => of_crate(&other),
        }
    }
}

impl From<zeroipc_sync::Error> for CliError {
    fn from(e: zeroipc_sync::Error) -> Self {
        use zeroipc_sync::Error as S;
        match e {
            S::Format(f) => f.into(),
            other => of_crate(&other),
        }
    }
}

impl From<zeroipc_codata::Error> for CliError {
    fn from(e: zeroipc_codata::Error) -> Self {
        use zeroipc_codata::Error as C;
        match e {
            C::Format(f) => f.into(),
            C::Structure(s) => s.into(),
            other => of_crate(&other),
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
        Self::new(code, variant(&e), e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Self::not_found(e.to_string())
        } else {
            Self::new(EXIT_OTHER, "Io", e.to_string())
        }
    }
}

/// `Result` with [`CliError`].
pub type Result<T, E = CliError> = std::result::Result<T, E>;
