//! Names of the shared objects of a buffer (protocol §2).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Longest accepted buffer name in bytes (`sem.sem-w-NAME` must fit `NAME_MAX` = 255).
pub const MAX_NAME_LEN: usize = 245;
/// Directory holding the reader lock files.
pub const LOCK_DIR: &str = "/tmp/zerobuffer";

/// Validated object names of one buffer.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    pub name: String,
    /// `/NAME`
    pub shm: String,
    /// `/sem-w-NAME` (writer posts "data available")
    pub sem_w: String,
    /// `/sem-r-NAME` (reader posts "space available")
    pub sem_r: String,
    /// `/tmp/zerobuffer/NAME.lock`
    pub lock: PathBuf,
}

/// Checks a buffer name: non-empty, at most 245 bytes, no `/`, no NUL, not `.` or `..`.
///
/// # Errors
/// [`Error::InvalidName`] describing the violated rule.
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_NAME_LEN {
        "longer than 245 bytes"
    } else if name.contains('/') {
        "contains '/'"
    } else if name.contains('\0') {
        "contains NUL"
    } else if name == "." || name == ".." {
        // `/..` would name /dev/shm's parent directory.
        "is '.' or '..'"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

impl Names {
    pub(crate) fn new(name: &str) -> Result<Self> {
        validate_name(name)?;
        Ok(Names {
            name: name.to_owned(),
            shm: format!("/{name}"),
            sem_w: format!("/sem-w-{name}"),
            sem_r: format!("/sem-r-{name}"),
            lock: PathBuf::from(format!("{LOCK_DIR}/{name}.lock")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_upstream() {
        let n = Names::new("test_buffer-123").expect("valid");
        assert_eq!(n.shm, "/test_buffer-123");
        assert_eq!(n.sem_w, "/sem-w-test_buffer-123");
        assert_eq!(n.sem_r, "/sem-r-test_buffer-123");
        assert_eq!(
            n.lock,
            PathBuf::from("/tmp/zerobuffer/test_buffer-123.lock")
        );
    }

    #[test]
    fn name_rules() {
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("a\0b").is_err());
        assert!(validate_name(".").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name("a..b").is_ok());
        assert!(validate_name(&"x".repeat(245)).is_ok());
        assert!(validate_name(&"x".repeat(246)).is_err());
        assert!(validate_name("550e8400-e29b-41d4-a716-446655440000").is_ok());
    }
}
