//! Integration tests of `zeroipc-structures` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod array;
mod convenience;
mod crash;
mod crash_matrix;
mod golden;
mod hostile;
mod hostile_headers;
mod model;
mod multiprocess;
mod scenario;
mod stress;

use zeroipc_format::Segment;
use zeroipc_structures::Error;

/// A fresh anonymous segment of 64 KiB with room for 64 entries.
fn small_segment() -> Segment {
    Segment::anonymous(1 << 16, 64).unwrap()
}

/// `(expected, found)` sizes of a `SizeMismatch`, or `None` for any other result.
fn size_mismatch<T>(r: &Result<T, Error>) -> Option<(u64, u64)> {
    match r {
        Err(Error::Format(zeroipc_format::Error::SizeMismatch {
            expected, found, ..
        })) => Some((*expected, *found)),
        _ => None,
    }
}
