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

/// A primitive stored as three part entries `NAME<suffix>` and its marker entry `NAME`, all
/// added at once under the creation lock (RwLock, Monitor); [`create_four`], [`open_four`]
/// and [`open_or_create_four`] are its `create`, `open` and `open_or_create`.
pub(crate) trait FourParts: Sized {
    /// The parts' suffixes, in table order.
    const SUFFIXES: [&'static str; 3];
    /// The parts' sizes in bytes, in the same order (the marker is 1 byte).
    const SIZES: [u64; 3];
    /// Initialises the fresh (zeroed) regions of the parts and the marker before they are
    /// published.
    fn init(regions: &[Region; 4]) -> Result<()>;
    /// Wraps the entries just created for `name` and their regions.
    fn created(name: &str, entries: [Entry; 4], regions: [Region; 4]) -> Self;
    /// Checks the entries found for `name` (the three parts, then the marker) and wraps them.
    fn from_entries(seg: &Segment, name: &str, entries: [Entry; 4]) -> Result<Self>;
}

/// The entry names of `P`'s composite `name`: its three parts, then the marker; `NameTooLong`
/// if the longest part name would not fit a table entry.
pub(crate) fn four_part_names<P: FourParts>(name: &str) -> Result<[String; 4]> {
    let longest = P::SUFFIXES.iter().map(|s| s.len()).max().unwrap_or(0);
    zeroipc_format::validate_base_name(name, longest)?;
    let [a, b, c] = P::SUFFIXES;
    Ok(part_names(name, [a, b, c, ""]))
}

/// Adds and initialises the entries of `P`'s composite `name` under `lock`, all published at
/// once.
pub(crate) fn create_four_locked<P: FourParts>(lock: &mut TableLock<'_>, name: &str) -> Result<P> {
    let n = four_part_names::<P>(name)?;
    let [a, b, c] = P::SIZES;
    let (entries, regions) = lock.add(
        &[(&n[0], a), (&n[1], b), (&n[2], c), (&n[3], 1)],
        |regions: &[Region; 4]| P::init(regions),
    )?;
    Ok(P::created(name, entries, regions))
}

/// `create` of a [`FourParts`] primitive.
pub(crate) fn create_four<P: FourParts>(seg: &Segment, name: &str) -> Result<P> {
    four_part_names::<P>(name)?;
    create_four_locked(&mut seg.lock_table()?, name)
}

/// `open` of a [`FourParts`] primitive.
pub(crate) fn open_four<P: FourParts>(seg: &Segment, name: &str) -> Result<P> {
    let names = four_part_names::<P>(name)?;
    let entries = seg.find_composite(name, &names)?;
    P::from_entries(seg, name, entries)
}

/// `open_or_create` of a [`FourParts`] primitive.
pub(crate) fn open_or_create_four<P: FourParts>(seg: &Segment, name: &str) -> Result<P> {
    let names = four_part_names::<P>(name)?;
    open_or_create_parts(
        seg,
        &names,
        || open_four(seg, name),
        |lock| create_four_locked(lock, name),
    )
}

/// The public `create`, `open` and `open_or_create` of a [`FourParts`] primitive, in its
/// inherent `impl`, each with the doc comments written before its name.
macro_rules! four_part_constructors {
    (
        $(#[$create:meta])* create;
        $(#[$open:meta])* open;
        $(#[$open_or_create:meta])* open_or_create;
    ) => {
        $(#[$create])*
        pub fn create(seg: &zeroipc_format::Segment, name: &str) -> $crate::error::Result<Self> {
            $crate::common::create_four(seg, name)
        }

        $(#[$open])*
        pub fn open(seg: &zeroipc_format::Segment, name: &str) -> $crate::error::Result<Self> {
            $crate::common::open_four(seg, name)
        }

        $(#[$open_or_create])*
        pub fn open_or_create(
            seg: &zeroipc_format::Segment,
            name: &str,
        ) -> $crate::error::Result<Self> {
            $crate::common::open_or_create_four(seg, name)
        }
    };
}
pub(crate) use four_part_constructors;

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
