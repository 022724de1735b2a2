//! # zeroipc-format
//!
//! The ZeroIPC segment format, version 2: POSIX shared-memory segments holding a table of
//! named structures, byte-compatible with the upstream C++, Python, C and Go implementations.
//!
//! * [`Segment`] creates, opens and unlinks segments (`/dev/shm/NAME`), validates their
//!   table, looks entries up and allocates new ones under a cross-process creation lock.
//! * [`Region`] is a bounds-checked view of a range of a segment: atomics for
//!   synchronisation words, copies for element data, and never a reference to bytes another
//!   process may write.
//! * Every number read from shared memory is treated as hostile: a corrupt segment gives an
//!   [`Error`], never a panic or an out-of-bounds access.
//!
//! The structures built on top live in `zeroipc-structures`, `zeroipc-sync` and
//! `zeroipc-codata`.
//!
//! # Examples
//! ```
//! use zeroipc_format::Segment;
//!
//! let name = format!("doc_lib_{}", std::process::id());
//! let seg = Segment::create(&name, 64 * 1024, 64)?;
//! seg.add("counter", 8, |r| r.write::<u64>(0, 7))?;
//!
//! let reader = Segment::open(&name)?;
//! for entry in reader.entries()? {
//!     println!("{} @ {} ({} bytes)", entry.name(), entry.offset(), entry.size());
//! }
//! Segment::unlink(&name)?;
//! # Ok::<(), zeroipc_format::Error>(())
//! ```

pub mod atomic;
mod composite;
mod error;
mod file;
mod layout;
mod map;
mod name;
mod segment;
mod table;
mod view;

pub use composite::GRACE;
pub use error::{Corruption, Error, Result};
pub use file::{SHM_DIR, STAGING_PREFIX};
pub use layout::{
    ALIGN, DEFAULT_MAX_ENTRIES, ENTRY_SIZE, HEADER_SIZE, MAGIC, TableEntry, TableHeader, VERSION,
    align8, table_size,
};
pub use name::{
    MAX_ENTRY_NAME, MAX_SEGMENT_NAME, canonical_segment_name, validate_base_name,
    validate_entry_name,
};
pub use segment::{Parts, Segment, SegmentOptions, TableLock};
pub use table::{Entry, Header};
pub use view::{AtomicWords, Elements, Region};

/// The crate README's example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
