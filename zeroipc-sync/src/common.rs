//! Helpers shared by the primitives: open checks, composite lookup, name rules.

use std::time::Duration;

use zeroipc_format::{Corruption, Entry, Parts, Region, Segment};

use crate::error::{Error, Result};

/// How long an opener waits for the missing parts of a composite structure (spec §3.8).
pub(crate) const GRACE: Duration = Duration::from_millis(100);

/// `Corrupt` for field `field` of structure `entry` holding `value`.
pub(crate) fn corrupt(entry: &str, field: &'static str, value: i64) -> Error {
    Error::Format(zeroipc_format::Error::Corrupt {
        what: Corruption::Field {
            entry: entry.to_owned(),
            field,
            // Negative values are shown as their two's-complement bits, as stored.
            value: value as u64,
        },
    })
}

/// Requires `entry.size() == expected`.
pub(crate) fn exact_size(entry: &Entry, expected: u64) -> Result<()> {
    if entry.size() == expected {
        Ok(())
    } else {
        Err(Error::SizeMismatch {
            name: entry.name().to_owned(),
            expected,
            found: entry.size(),
        })
    }
}

/// Checks a base name that will carry suffixes up to `longest_suffix` bytes (spec D6).
pub(crate) fn check_base(name: &str, longest_suffix: usize) -> Result<()> {
    Ok(zeroipc_format::validate_base_name(name, longest_suffix)?)
}

/// Finds every part of a composite structure (`parts` are full names, the marker among
/// them). None present → `NotFound` (for `base`); some present → waits up to [`GRACE`] for
/// the rest, then `Incomplete`.
pub(crate) fn find_parts(seg: &Segment, base: &str, parts: &[String]) -> Result<Vec<Entry>> {
    match seg.find_parts(parts, GRACE)? {
        Parts::All(found) => Ok(found),
        Parts::None => Err(zeroipc_format::Error::NotFound {
            name: base.to_owned(),
        }
        .into()),
        Parts::Incomplete { missing } => Err(Error::Incomplete {
            name: base.to_owned(),
            missing,
        }),
    }
}

/// Region of `entry` in `seg`.
pub(crate) fn region(seg: &Segment, entry: &Entry) -> Result<Region> {
    Ok(seg.region(entry)?)
}

/// The i32 stored at `offset` (atomic, Relaxed: open-time geometry fields are written once
/// before publication).
pub(crate) fn load_i32(region: &Region, offset: usize) -> Result<i32> {
    Ok(region
        .atomic_i32(offset)?
        .load(zeroipc_format::atomic::Ordering::Relaxed))
}

/// Composite-structure part name `base` + `suffix`.
pub(crate) fn part(base: &str, suffix: &str) -> String {
    let mut s = String::with_capacity(base.len() + suffix.len());
    s.push_str(base);
    s.push_str(suffix);
    s
}
