//! Validation of segment names and table entry names (spec D6).

use crate::error::{Error, Result};

/// Longest entry name in bytes (the 32-byte field keeps a terminating NUL).
pub const MAX_ENTRY_NAME: usize = 31;

/// Longest segment name in bytes, not counting the optional leading `/`.
pub const MAX_SEGMENT_NAME: usize = 255;

/// Checks a table entry name: 1..=31 bytes of UTF-8 without NUL.
///
/// # Errors
/// [`Error::InvalidName`] for an empty name or one containing NUL,
/// [`Error::NameTooLong`] for more than 31 bytes.
///
/// # Examples
/// ```
/// use zeroipc_format::validate_entry_name;
/// assert!(validate_entry_name("temperature").is_ok());
/// assert!(validate_entry_name("").is_err());
/// assert!(validate_entry_name(&"x".repeat(32)).is_err());
/// ```
pub fn validate_entry_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "entry names must not be empty",
        });
    }
    if name.len() > MAX_ENTRY_NAME {
        return Err(Error::NameTooLong {
            name: name.to_owned(),
            len: name.len(),
            max: MAX_ENTRY_NAME,
        });
    }
    if name.as_bytes().contains(&0) {
        return Err(Error::InvalidName {
            name: name.escape_debug().to_string(),
            reason: "entry names must not contain NUL",
        });
    }
    Ok(())
}

/// Checks the base name of a composite structure whose parts append suffixes of up to
/// `longest_suffix` bytes (`NAME_header`, `NAME_owner`, ...): a valid entry name short enough
/// that every part name fits in [`MAX_ENTRY_NAME`] bytes.
///
/// # Errors
/// As [`validate_entry_name`]; [`Error::NameTooLong`] with the shortened maximum.
///
/// # Examples
/// ```
/// use zeroipc_format::validate_base_name;
/// assert!(validate_base_name("jobs", 7).is_ok());
/// assert!(validate_base_name(&"x".repeat(25), 7).is_err()); // "xxx…_header" would be 32
/// ```
pub fn validate_base_name(name: &str, longest_suffix: usize) -> Result<()> {
    validate_entry_name(name)?;
    let max = MAX_ENTRY_NAME.saturating_sub(longest_suffix);
    if name.len() > max {
        return Err(Error::NameTooLong {
            name: name.to_owned(),
            len: name.len(),
            max,
        });
    }
    Ok(())
}

/// Checks a segment name and returns it in the canonical `/name` form passed to `shm_open`.
///
/// The part after an optional leading `/` must be 1..=255 bytes, contain no `/` and no NUL,
/// and not be `.` or `..`. Nothing is passed to the operating system before this check.
///
/// # Errors
/// [`Error::InvalidName`] or [`Error::NameTooLong`].
///
/// # Examples
/// ```
/// use zeroipc_format::canonical_segment_name;
/// assert_eq!(canonical_segment_name("sensors").unwrap(), "/sensors");
/// assert_eq!(canonical_segment_name("/sensors").unwrap(), "/sensors");
/// assert!(canonical_segment_name("../etc/passwd").is_err());
/// ```
pub fn canonical_segment_name(name: &str) -> Result<String> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let invalid = |reason| {
        Err(Error::InvalidName {
            name: name.escape_debug().to_string(),
            reason,
        })
    };
    if bare.is_empty() {
        return invalid("segment names must not be empty");
    }
    if bare.len() > MAX_SEGMENT_NAME {
        return Err(Error::NameTooLong {
            name: name.to_owned(),
            len: bare.len(),
            max: MAX_SEGMENT_NAME,
        });
    }
    if bare.contains('/') {
        return invalid("segment names must not contain '/' after the leading one");
    }
    if bare.as_bytes().contains(&0) {
        return invalid("segment names must not contain NUL");
    }
    if bare == "." || bare == ".." {
        return invalid("segment names must not be '.' or '..'");
    }
    Ok(format!("/{bare}"))
}

/// Encodes a validated entry name into the zero-padded 32-byte field.
pub(crate) fn encode_entry_name(name: &str) -> Result<[u8; 32]> {
    validate_entry_name(name)?;
    let mut field = [0u8; 32];
    field
        .get_mut(..name.len())
        .ok_or_else(|| Error::InvalidArgument("entry name longer than its field".into()))?
        .copy_from_slice(name.as_bytes());
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_at_the_limits() {
        assert!(validate_entry_name(&"a".repeat(31)).is_ok());
        assert!(matches!(
            validate_entry_name(&"a".repeat(32)),
            Err(Error::NameTooLong {
                len: 32,
                max: 31,
                ..
            })
        ));
        assert!(matches!(
            validate_entry_name(""),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            validate_entry_name("a\0b"),
            Err(Error::InvalidName { .. })
        ));
    }

    #[test]
    fn segment_names() {
        assert_eq!(canonical_segment_name("x").unwrap(), "/x");
        assert_eq!(canonical_segment_name("/x").unwrap(), "/x");
        for bad in ["", "/", "a/b", "//a", ".", "..", "/..", "a\0"] {
            assert!(
                matches!(canonical_segment_name(bad), Err(Error::InvalidName { .. })),
                "{bad:?} should be rejected"
            );
        }
        assert!(canonical_segment_name(&"n".repeat(255)).is_ok());
        assert!(matches!(
            canonical_segment_name(&"n".repeat(256)),
            Err(Error::NameTooLong { .. })
        ));
    }

    #[test]
    fn encoded_names_are_zero_padded() {
        let f = encode_entry_name("abc").unwrap();
        assert_eq!(&f[..3], b"abc");
        assert!(f[3..].iter().all(|&b| b == 0));
    }
}
