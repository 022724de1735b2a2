//! Helpers shared by the primitives (the checks every structure crate shares live in
//! `zeroipc-format`: `Entry::expect_size`, `Segment::find_composite`, `Error::corrupt_field`).

use zeroipc_format::{Entry, Region, Segment};

use crate::error::Result;

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
