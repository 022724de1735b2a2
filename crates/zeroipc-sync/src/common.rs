//! Helpers shared by the primitives: open checks, composite lookup, name rules.

use std::time::{Duration, Instant};

use zeroipc_format::{Corruption, Entry, MAX_ENTRY_NAME, Region, Segment, validate_entry_name};

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
    validate_entry_name(name)?;
    let max = MAX_ENTRY_NAME - longest_suffix;
    if name.len() > max {
        return Err(zeroipc_format::Error::NameTooLong {
            name: name.to_owned(),
            len: name.len(),
            max,
        }
        .into());
    }
    Ok(())
}

/// Finds every part of a composite structure (`parts` are full names, in creation order; the
/// last one is the marker). None present → `NotFound` (for `base`); some present → waits up
/// to [`GRACE`] for the rest, then `Incomplete`.
pub(crate) fn find_parts(seg: &Segment, base: &str, parts: &[String]) -> Result<Vec<Entry>> {
    let deadline = Instant::now() + GRACE;
    loop {
        let mut found = Vec::with_capacity(parts.len());
        let mut missing = None;
        for p in parts {
            match seg.get(p)? {
                Some(e) => found.push(e),
                None => {
                    if missing.is_none() {
                        missing = Some(p.clone());
                    }
                }
            }
        }
        let Some(missing) = missing else {
            return Ok(found);
        };
        if found.is_empty() {
            return Err(zeroipc_format::Error::NotFound {
                name: base.to_owned(),
            }
            .into());
        }
        if Instant::now() >= deadline {
            return Err(Error::Incomplete {
                name: base.to_owned(),
                missing,
            });
        }
        std::thread::sleep(Duration::from_millis(1));
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
