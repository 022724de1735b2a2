//! The peer's error: a kind named as in the spec's error table, and a message.

use serde_json::{Value, json};

/// An error with the spec's kind name (`NotFound`, `LayoutMismatch`, `TypeMismatch`,
/// `Corrupt`, ...), so the Rust and Python peers report the same kinds.
#[derive(Debug)]
pub struct PeerError {
    /// The kind, as in the spec's error table.
    pub kind: String,
    /// A human-readable message.
    pub message: String,
}

impl PeerError {
    /// An error of kind `kind`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind.to_owned(),
            message: message.into(),
        }
    }

    /// A malformed scenario or command line.
    pub fn scenario(message: impl Into<String>) -> Self {
        Self::new("Scenario", message)
    }

    /// The error as `{"error": kind, "message": ...}`.
    pub fn to_json(&self) -> Value {
        json!({"error": self.kind, "message": self.message})
    }
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// The library's errors carry the spec's kind names already (`zeroipc_inspect::CliError::kind`):
/// one mapping from the crates' errors to the spec's table, used by the decoder and here.
impl From<zeroipc_inspect::CliError> for PeerError {
    fn from(e: zeroipc_inspect::CliError) -> Self {
        Self::new(e.kind(), e.message())
    }
}

/// `From` each crate's error, through the library's mapping to the spec's kinds.
macro_rules! via_cli_error {
    ($($error:ty),*) => {
        $(
            impl From<$error> for PeerError {
                fn from(e: $error) -> Self {
                    zeroipc_inspect::CliError::from(e).into()
                }
            }
        )*
    };
}

via_cli_error!(
    zeroipc_format::Error,
    zeroipc_structures::Error,
    zeroipc_sync::Error,
    zeroipc_codata::Error
);

impl<T, E: Into<PeerError>> From<zeroipc_structures::PushError<T, E>> for PeerError {
    /// A full structure becomes the error kind `Full` (the value is not needed: the peer
    /// reports and stops).
    fn from(e: zeroipc_structures::PushError<T, E>) -> Self {
        match e {
            zeroipc_structures::PushError::Full(_) => Self::new("Full", "structure is full"),
            zeroipc_structures::PushError::Failed(e) => e.into(),
        }
    }
}

/// A `try_send`/`try_emit` outcome as "was it sent": `Ok(false)` when full.
pub fn sent<T, E>(r: Result<(), zeroipc_structures::PushError<T, E>>) -> Result<bool, E> {
    match r {
        Ok(()) => Ok(true),
        Err(zeroipc_structures::PushError::Full(_)) => Ok(false),
        Err(zeroipc_structures::PushError::Failed(e)) => Err(e),
    }
}

impl From<std::io::Error> for PeerError {
    fn from(e: std::io::Error) -> Self {
        Self::new("Io", e.to_string())
    }
}

impl From<serde_json::Error> for PeerError {
    fn from(e: serde_json::Error) -> Self {
        Self::scenario(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_spec_names() {
        let e: PeerError = zeroipc_structures::Error::from(zeroipc_format::Error::SizeMismatch {
            name: "m".into(),
            expected: 112,
            found: 144,
        })
        .into();
        assert_eq!(e.kind, "LayoutMismatch");
        let e: PeerError = zeroipc_format::Error::NotFound { name: "x".into() }.into();
        assert_eq!(e.kind, "NotFound");
        let e: PeerError =
            zeroipc_structures::Error::from(zeroipc_format::Error::NotFound { name: "x".into() })
                .into();
        assert_eq!(e.to_json()["error"], "NotFound");
    }
}
