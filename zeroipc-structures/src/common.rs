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
