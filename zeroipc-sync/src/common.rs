//! Helpers shared by the primitives (the checks every structure crate shares live in
//! `zeroipc-format`: `Entry::expect_size`, `Segment::find_composite`, `Error::corrupt_field`).

use zeroipc_format::{Entry, Region, Segment, TableLock};

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

/// `InvalidArgument` with `message()` unless the caller's argument is `valid`.
pub(crate) fn require(valid: bool, message: impl FnOnce() -> String) -> Result<()> {
    if valid {
        Ok(())
    } else {
        Err(zeroipc_format::Error::InvalidArgument(message()).into())
    }
}

/// Composite-structure part name `base` + `suffix`.
pub(crate) fn part(base: &str, suffix: &str) -> String {
    let mut s = String::with_capacity(base.len() + suffix.len());
    s.push_str(base);
    s.push_str(suffix);
    s
}

/// The entry names of the composite `name`: `name + suffix` for each suffix (`""` names the
/// marker entry `name` itself).
pub(crate) fn part_names<const N: usize>(name: &str, suffixes: [&str; N]) -> [String; N] {
    suffixes.map(|suffix| part(name, suffix))
}

/// `open_or_create` of a composite: `open()` if any of its `names` exists, else
/// `create(lock)`, decided under the creation lock so concurrent callers agree.
pub(crate) fn open_or_create_parts<S>(
    seg: &Segment,
    names: &[String],
    open: impl FnOnce() -> Result<S>,
    create: impl FnOnce(&mut TableLock<'_>) -> Result<S>,
) -> Result<S> {
    let mut lock = seg.lock_table()?;
    let mut any = false;
    for n in names {
        any |= lock.get(n)?.is_some();
    }
    if any {
        drop(lock);
        return open();
    }
    create(&mut lock)
}
