//! Plumbing shared by every structure: creation, open-or-create under the creation lock,
//! header checks and error construction.

use zeroipc_format::Error as FormatError;
use zeroipc_format::{Entry, Region, Segment};

use crate::error::{Error, Result};

/// How a single-entry structure is sized, initialised and opened: what its `create`, `open`
/// and `open_or_create` have in common (see [`create_shape`], [`open_shape`],
/// [`open_or_create_shape`]).
pub(crate) trait Shape: Sized {
    /// What the layout computes from a requested capacity besides the total size, and
    /// initialisation and wrapping need (the stored capacity, a data offset...).
    type Geometry: Copy;
    /// `(geometry, total bytes)` for a requested capacity, or `InvalidArgument`.
    fn layout_for(capacity: usize) -> Result<(Self::Geometry, u64)>;
    /// Writes the header of a fresh entry, before it is published.
    fn init(region: &Region, geometry: Self::Geometry) -> Result<()>;
    /// Validates an existing entry and wraps it.
    fn open_entry(seg: &Segment, entry: Entry) -> Result<Self>;
    /// Wraps an entry just created with `geometry`.
    fn wrap(region: Region, entry: Entry, geometry: Self::Geometry) -> Result<Self>;
}

/// `S::create`: adds and initialises the entry, then wraps it.
pub(crate) fn create_shape<S: Shape>(seg: &Segment, name: &str, capacity: usize) -> Result<S> {
    let (geo, total) = S::layout_for(capacity)?;
    let (entry, region) = create(seg, name, total, |r| S::init(r, geo))?;
    S::wrap(region, entry, geo)
}

/// `S::open`: finds the entry and validates it.
pub(crate) fn open_shape<S: Shape>(seg: &Segment, name: &str) -> Result<S> {
    let entry = seg.find(name)?;
    S::open_entry(seg, entry)
}

/// `S::open_or_create`, decided under the creation lock.
pub(crate) fn open_or_create_shape<S: Shape>(
    seg: &Segment,
    name: &str,
    capacity: usize,
) -> Result<S> {
    let (geo, total) = S::layout_for(capacity)?;
    open_or_create(
        seg,
        name,
        total,
        |r| S::init(r, geo),
        |entry| S::open_entry(seg, entry),
        |entry, region| S::wrap(region, entry, geo),
    )
}

/// The public `create`, `open`, `open_or_create` and `entry` of a [`Shape`] `$ty` in its
/// inherent `impl`, and with `embeddable;` also `init_region` and `open_entry` (for the composites
/// that add the entry themselves). `create` and `open` keep the doc comments written before
/// their names; the others' docs are generated:
///
/// ```text
/// common::shape_constructors! { Set;
///     /// Creates the set `name` ...
///     create;
///     /// Opens the existing set `name` ...
///     open;
/// }
/// ```
macro_rules! shape_constructors {
    (
        $ty:ident;
        $(#[$create:meta])* create;
        $(#[$open:meta])* open;
        $($embeddable:ident;)?
    ) => {
        $(#[$create])*
        pub fn create(
            seg: &zeroipc_format::Segment,
            name: &str,
            capacity: usize,
        ) -> $crate::error::Result<Self> {
            $crate::common::create_shape(seg, name, capacity)
        }

        $(#[$open])*
        pub fn open(seg: &zeroipc_format::Segment, name: &str) -> $crate::error::Result<Self> {
            $crate::common::open_shape(seg, name)
        }

        /// Opens `name` if it exists, else creates it with `capacity` (decided under the
        /// segment's creation lock, so concurrent callers agree).
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($ty), "::create`] and [`", stringify!($ty), "::open`].")]
        pub fn open_or_create(
            seg: &zeroipc_format::Segment,
            name: &str,
            capacity: usize,
        ) -> $crate::error::Result<Self> {
            $crate::common::open_or_create_shape(seg, name, capacity)
        }

        /// The table entry (name, offset, size).
        pub fn entry(&self) -> &zeroipc_format::Entry {
            &self.entry
        }

        $($crate::common::shape_constructors!(@$embeddable $ty);)?
    };
    (@embeddable $ty:ident) => {
        #[doc = concat!(
            "Initialises `region` as an empty ", stringify!($ty), " of `capacity` elements ",
            "(stored as [`", stringify!($ty), "::create`] stores it), for a composite structure ",
            "that adds the entry itself together with its other parts (`TableLock::add`): the ",
            "region must be fresh (zeroed) and [`", stringify!($ty), "::memory_size`]`(capacity)` ",
            "bytes long. Open it afterwards with [`", stringify!($ty), "::open`] or [`",
            stringify!($ty), "::open_entry`]."
        )]
        ///
        /// # Errors
        /// `InvalidArgument` for an impossible capacity; `OutOfBounds` if the region is too
        /// small.
        pub fn init_region(
            region: &zeroipc_format::Region,
            capacity: usize,
        ) -> $crate::error::Result<()> {
            let (geometry, _) = <Self as $crate::common::Shape>::layout_for(capacity)?;
            <Self as $crate::common::Shape>::init(region, geometry)
        }

        #[doc = concat!(
            "Opens the ", stringify!($ty), " stored in `entry` of `seg`, with every check of [`",
            stringify!($ty), "::open`]."
        )]
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($ty), "::open`].")]
        pub fn open_entry(
            seg: &zeroipc_format::Segment,
            entry: zeroipc_format::Entry,
        ) -> $crate::error::Result<Self> {
            <Self as $crate::common::Shape>::open_entry(seg, entry)
        }
    };
}
pub(crate) use shape_constructors;

/// `is_empty`, `is_full`, `free_slots` and `capacity` of a structure `$ty` with a `len()` and
/// a `capacity: u32` field, in its inherent `impl`, with generated docs; doc comments written
/// before `is_empty;` or `is_full;` (examples) are appended to theirs.
macro_rules! occupancy {
    (
        $ty:ident;
        $( $(#[$empty:meta])* is_empty; $(#[$full:meta])* is_full; )?
    ) => {
        /// Whether nothing is stored (a snapshot: `len() == 0`).
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($ty), "::len`].")]
        $($(#[$empty])*)?
        pub fn is_empty(&self) -> $crate::error::Result<bool> {
            Ok(self.len()? == 0)
        }

        /// Whether every slot is taken (a snapshot: `len() >= capacity()`).
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($ty), "::len`].")]
        $($(#[$full])*)?
        pub fn is_full(&self) -> $crate::error::Result<bool> {
            Ok(self.len()? >= self.capacity())
        }

        /// Slots still free (a snapshot: `capacity - len`).
        ///
        /// # Errors
        #[doc = concat!("As [`", stringify!($ty), "::len`].")]
        pub fn free_slots(&self) -> $crate::error::Result<usize> {
            Ok(self.capacity().saturating_sub(self.len()?))
        }

        /// Number of slots: how many elements it holds when full.
        pub fn capacity(&self) -> usize {
            self.capacity as usize
        }
    };
}
pub(crate) use occupancy;

/// A structure handle whose geometry is its stored capacity (Map, Set, Pool): the struct
/// `$ty` (doc comments written before it) holding its region, table entry and capacity, its
/// `Debug`, and its [`Shape`]. The layout is `$ty::memory_size` (`InvalidArgument` naming the
/// `$what` and the capacities it takes, `$range`, where that is `None`); a fresh header is
/// written by `$ty::init_header(region, capacity)`; an existing entry must hold the `$header`
/// type, pass `$ty::check_types(entry, region)` (stored sizes), have a capacity at
/// `$header::CAPACITY` that `$valid` accepts and `memory_size` matches (see
/// [`stored_capacity`]), and pass `$ty::$after` if given.
macro_rules! capacity_handle {
    (
        $(#[$meta:meta])*
        pub struct $ty:ident<$($g:ident),+>;
        $what:literal of capacity $range:literal, header $header:ident, valid $valid:expr
        $(, then $after:ident)?;
    ) => {
        $(#[$meta])*
        pub struct $ty<$($g),+> {
            region: zeroipc_format::Region,
            entry: zeroipc_format::Entry,
            capacity: u32,
            _elem: std::marker::PhantomData<fn() -> ($($g,)+)>,
        }

        $crate::common::debug_by_name!($ty<$($g),+> { "capacity": |s: &Self| s.capacity });

        impl<$($g: bytemuck::Pod),+> $crate::common::Shape for $ty<$($g),+> {
            type Geometry = u32;

            fn layout_for(capacity: usize) -> $crate::error::Result<(u32, u64)> {
                let total = Self::memory_size(capacity);
                $crate::common::capacity_layout(capacity, total, $what, $range)
            }

            fn init(region: &zeroipc_format::Region, capacity: u32) -> $crate::error::Result<()> {
                Self::init_header(region, capacity)
            }

            fn open_entry(
                seg: &zeroipc_format::Segment,
                entry: zeroipc_format::Entry,
            ) -> $crate::error::Result<Self> {
                let header = std::mem::size_of::<$header>() as u64;
                let region = $crate::common::region_with_header(seg, &entry, header)?;
                Self::check_types(&entry, &region)?;
                let capacity = $crate::common::stored_capacity(
                    &entry,
                    &region,
                    $header::CAPACITY,
                    $valid,
                    Self::memory_size,
                )?;
                $(Self::$after(&entry, &region)?;)?
                Self::wrap(region, entry, capacity)
            }

            fn wrap(
                region: zeroipc_format::Region,
                entry: zeroipc_format::Entry,
                capacity: u32,
            ) -> $crate::error::Result<Self> {
                Ok(Self {
                    region,
                    entry,
                    capacity,
                    _elem: std::marker::PhantomData,
                })
            }
        }
    };
}
pub(crate) use capacity_handle;

/// Checks the element size stored at `at` of `region` against `T`'s (`TypeMismatch`).
pub(crate) fn check_stored_elem_size<T>(entry: &Entry, region: &Region, at: usize) -> Result<()> {
    let stored = region.read::<u32>(at)?;
    check_elem_size(entry, stored, std::mem::size_of::<T>())
}

/// `Debug` for a structure handle `$ty<..>`: its entry name and the given fields.
macro_rules! debug_by_name {
    ($ty:ident<$($g:ident),+> { $($label:literal: $value:expr),* }) => {
        impl<$($g),+> std::fmt::Debug for $ty<$($g),+> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($ty));
                d.field("name", &self.entry.name());
                $(d.field($label, &$value(self));)*
                d.finish()
            }
        }
    };
}
pub(crate) use debug_by_name;

/// [`Shape::layout_for`] of a structure whose geometry is its capacity as stored (`u32`):
/// `(capacity, total)`, or `InvalidArgument` saying which capacities the `what` takes
/// (`range`) when `total` (its `memory_size`) is `None`.
pub(crate) fn capacity_layout(
    capacity: usize,
    total: Option<u64>,
    what: &str,
    range: &str,
) -> Result<(u32, u64)> {
    let total = total.ok_or_else(|| {
        FormatError::InvalidArgument(format!(
            "{what} capacity must be in {range}, got {capacity}"
        ))
    })?;
    // `total` is `Some` only for capacities within `range`, all of which fit in a u32.
    Ok((capacity as u32, total))
}

/// Bytes of a header of `header` bytes followed by `capacity` entries of `entry` bytes, or
/// `None` if the capacity is 0, above `u32::MAX` or the total overflows (Map and Set).
pub(crate) const fn table_size(capacity: usize, entry: usize, header: usize) -> Option<u64> {
    if capacity == 0 || capacity > u32::MAX as usize {
        return None;
    }
    match (capacity as u64).checked_mul(entry as u64) {
        Some(n) => n.checked_add(header as u64),
        None => None,
    }
}

/// A shared element counter at `at` of `region`, clamped to `capacity` (a peer may have
/// stored any value there).
pub(crate) fn clamped_count(region: &Region, at: usize, capacity: u32) -> Result<usize> {
    let n = region
        .atomic_u32(at)?
        .load(zeroipc_format::atomic::Ordering::Relaxed);
    Ok(n.min(capacity) as usize)
}

/// Adds entry `name` of `size` bytes, initialised by `init` before it is published.
pub(crate) fn create(
    seg: &Segment,
    name: &str,
    size: u64,
    init: impl FnOnce(&Region) -> Result<()>,
) -> Result<(Entry, Region)> {
    seg.add(name, size, init)
}

/// Opens `name` if it exists (through `open`), else creates it (`init`, then `wrap`); the
/// decision is made under the creation lock, so concurrent callers agree.
pub(crate) fn open_or_create<S>(
    seg: &Segment,
    name: &str,
    size: u64,
    init: impl FnOnce(&Region) -> Result<()>,
    open: impl FnOnce(Entry) -> Result<S>,
    wrap: impl FnOnce(Entry, Region) -> Result<S>,
) -> Result<S> {
    let mut lock = seg.lock_table()?;
    if let Some(entry) = lock.get(name)? {
        drop(lock);
        return open(entry);
    }
    let ([entry], [region]) = lock.add(&[(name, size)], |[one]: &[Region; 1]| init(one))?;
    drop(lock);
    wrap(entry, region)
}

/// The region of `entry`, after checking it can hold a `header`-byte header.
pub(crate) fn region_with_header(seg: &Segment, entry: &Entry, header: u64) -> Result<Region> {
    entry.expect_min_size(header)?;
    Ok(seg.region(entry)?)
}

/// Checks a stored element size against the caller's type.
pub(crate) fn check_elem_size(entry: &Entry, stored: u32, es: usize) -> Result<()> {
    if stored as usize != es {
        return Err(
            FormatError::type_mismatch(entry, "elem_size", es as u64, u64::from(stored)).into(),
        );
    }
    Ok(())
}

/// The capacity stored at `at` of `entry`'s `region`, validated: `Corrupt` unless `valid`
/// accepts it, [`FormatError::SizeMismatch`] unless the entry is `total(capacity)` bytes.
pub(crate) fn stored_capacity(
    entry: &Entry,
    region: &Region,
    at: usize,
    valid: impl FnOnce(u32) -> bool,
    total: impl FnOnce(usize) -> Option<u64>,
) -> Result<u32> {
    let cap = region.read::<u32>(at)?;
    if !valid(cap) {
        return Err(corrupt_capacity(entry, cap));
    }
    check_total(entry, total(cap as usize))?;
    Ok(cap)
}

/// `Corrupt` for an impossible stored capacity `cap`.
pub(crate) fn corrupt_capacity(entry: &Entry, cap: u32) -> Error {
    FormatError::corrupt_field(entry.name(), "capacity", u64::from(cap)).into()
}

/// The offset of the per-slot words of a data-then-words layout (Queue, Stack), after
/// checking the entry size against its total; `geometry` is the layout's `(offset, total)`
/// for the stored capacity, `None` if it overflows (then no entry size matches).
pub(crate) fn slot_words(entry: &Entry, geometry: Option<(u64, u64)>) -> Result<u64> {
    check_total(entry, geometry.map(|(_, total)| total))?;
    Ok(geometry.map_or(0, |(words, _)| words))
}

/// Checks the entry size against the layout's total for the stored geometry (`None`: the
/// geometry overflows, so no entry can match).
pub(crate) fn check_total(entry: &Entry, expected: Option<u64>) -> Result<()> {
    Ok(entry.expect_size(expected.unwrap_or(u64::MAX))?)
}

/// `n` rounded up to a multiple of `a` (a power of two).
pub(crate) const fn align_up(n: usize, a: usize) -> usize {
    (n + a - 1) & !(a - 1)
}

/// A fault found by an algorithm core, which does not know the structure's name.
#[derive(Debug)]
pub(crate) enum Fault {
    /// A shared field holds an impossible value.
    Field { field: &'static str, value: u64 },
    /// A slot stayed claimed past the bounded wait.
    Busy { slot: u64, state: u32 },
    /// A bounds-checked access failed (cannot happen with validated geometry).
    Access(zeroipc_format::Error),
}

impl From<zeroipc_format::Error> for Fault {
    fn from(e: zeroipc_format::Error) -> Self {
        Self::Access(e)
    }
}

impl Fault {
    pub(crate) fn field(field: &'static str, value: u64) -> Self {
        Self::Field { field, value }
    }

    /// The structure-level error for the structure `name`.
    pub(crate) fn into_error(self, name: &str) -> Error {
        match self {
            Self::Field { field, value } => FormatError::corrupt_field(name, field, value).into(),
            Self::Busy { slot, state } => Error::SlotBusy {
                name: name.to_owned(),
                slot,
                state,
            },
            Self::Access(e) => Error::Format(e),
        }
    }
}
