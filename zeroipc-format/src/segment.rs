//! Segments: creation, opening and removal of POSIX shared-memory objects, the creation lock
//! and the table operations built on it (spec §3, D3, D4).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, Mode};
use rustix::io::Errno;
use rustix::shm;

use crate::atomic::Ordering;
use crate::error::{Error, Result};
use crate::file;
use crate::layout::{self, HEADER_SIZE, MAGIC, VERSION};
use crate::map::Mapping;
use crate::name::{canonical_segment_name, encode_entry_name};
use crate::table::{self, Entry, Geometry, Header};
use crate::view::Region;

#[path = "snapshot.rs"]
mod snapshot;
#[path = "table_lock.rs"]
mod table_lock;

pub use options::SegmentOptions;
pub use table_lock::TableLock;

#[path = "options.rs"]
mod options;

/// Validates `max_entries` and `size` and returns the table size.
fn check_geometry(size: u64, max_entries: u32) -> Result<u64> {
    if max_entries == 0 {
        return Err(Error::InvalidArgument(
            "max_entries must be at least 1".into(),
        ));
    }
    // Cannot fail for a u32 count; kept checked all the same.
    let table = layout::table_size(max_entries)
        .ok_or_else(|| Error::InvalidArgument(format!("max_entries {max_entries} too large")))?;
    if size < table {
        return Err(Error::InvalidArgument(format!(
            "size {size} cannot hold the {table}-byte table for {max_entries} entries"
        )));
    }
    if i64::try_from(size).is_err() {
        return Err(Error::InvalidArgument(format!("size {size} is too large")));
    }
    Ok(table)
}

/// Writes a fresh header; `magic` goes last with a Release store (spec D4).
fn init_header(root: &Region, size: u64, max_entries: u32, table: u64) -> Result<()> {
    use layout::header as h;
    let table_len = usize::try_from(table)
        .map_err(|_| Error::InvalidArgument(format!("table of {table} bytes is too large")))?;
    root.fill(0, table_len, 0)?;
    root.atomic_u32(h::VERSION)?
        .store(VERSION, Ordering::Relaxed);
    root.atomic_u32(h::ENTRY_COUNT)?.store(0, Ordering::Relaxed);
    root.atomic_u32(h::MAX_ENTRIES)?
        .store(max_entries, Ordering::Relaxed);
    root.atomic_u64(h::MEMORY_SIZE)?
        .store(size, Ordering::Relaxed);
    root.atomic_u64(h::NEXT_OFFSET)?
        .store(table, Ordering::Relaxed);
    // Release: publishes the header fields above; pairs with the Acquire load of `magic` in
    // `SegmentOptions::map_initialised` (and `table::load_header`).
    root.atomic_u32(h::MAGIC)?.store(MAGIC, Ordering::Release);
    Ok(())
}

fn open_error(e: Errno, name: &str) -> Error {
    match e {
        Errno::NOENT => Error::NotFound {
            name: name.to_owned(),
        },
        Errno::EXIST => Error::AlreadyExists {
            name: name.to_owned(),
        },
        Errno::ACCESS | Errno::PERM => Error::PermissionDenied {
            name: name.to_owned(),
        },
        Errno::LOOP => Error::NotRegularFile {
            name: name.to_owned(),
            kind: "symbolic link",
        },
        Errno::NAMETOOLONG => Error::NameTooLong {
            name: name.to_owned(),
            len: name.len(),
            max: crate::name::MAX_SEGMENT_NAME,
        },
        other => Error::io("shm_open", other),
    }
}

fn path_error(source: std::io::Error, label: &str) -> Error {
    if source.raw_os_error() == Some(Errno::LOOP.raw_os_error()) {
        return Error::NotRegularFile {
            name: label.to_owned(),
            kind: "symbolic link",
        };
    }
    match source.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            name: label.to_owned(),
        },
        std::io::ErrorKind::PermissionDenied => Error::PermissionDenied {
            name: label.to_owned(),
        },
        _ => Error::Io { op: "open", source },
    }
}

struct Inner {
    root: Region,
    geometry: Geometry,
    /// `/name` for shm segments, the path for files, `<anonymous>` or `<bytes>`.
    label: String,
    /// The shm name, for unlink-on-drop.
    shm_name: Option<String>,
    /// The open file, for `flock`; `None` for heap and read-only segments.
    file: Option<File>,
    /// Excludes threads of this process, which share the file description (flock does not).
    lock: Mutex<()>,
    lock_timeout: Duration,
    unlink_on_drop: bool,
    created: bool,
    read_only: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.unlink_on_drop
            && let Some(name) = &self.shm_name
        {
            let _ = shm::unlink(name.as_str());
        }
    }
}

/// A mapped ZeroIPC segment: a POSIX shared-memory object (or a file, or private memory)
/// holding the v2 table and the structures it lists.
///
/// A `Segment` is a cheap, clonable handle (`Arc`); structures keep a clone, so the mapping
/// lives as long as anything uses it. Dropping the last handle unmaps; it never unlinks unless
/// [`SegmentOptions::unlink_on_drop`] was set.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
///
/// let name = format!("doc_segment_{}", std::process::id());
/// let seg = Segment::create(&name, 1 << 20, 64)?;
/// let (entry, region) = seg.add("block", 128, |r| r.write::<u64>(0, 42))?;
/// assert_eq!(entry.offset(), 3104);
///
/// let other = Segment::open(&name)?; // another process would do the same
/// let found = other.find("block")?;
/// assert_eq!(other.region(&found)?.read::<u64>(0)?, 42);
/// # drop(region);
/// Segment::unlink(&name)?;
/// # Ok::<(), zeroipc_format::Error>(())
/// ```
#[derive(Clone)]
pub struct Segment {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.inner.label)
            .field("len", &self.inner.root.len())
            .field("max_entries", &self.inner.geometry.max_entries)
            .field("read_only", &self.inner.read_only)
            .finish()
    }
}

impl Segment {
    /// Creates segment `name` with default [`SegmentOptions`] (mode `0600`).
    ///
    /// # Errors
    /// See [`SegmentOptions::create`].
    pub fn create(name: &str, size: u64, max_entries: u32) -> Result<Self> {
        SegmentOptions::new().create(name, size, max_entries)
    }

    /// Opens segment `name` (with or without the leading `/`).
    ///
    /// # Errors
    /// See [`SegmentOptions::open`].
    pub fn open(name: &str) -> Result<Self> {
        SegmentOptions::new().open(name)
    }

    /// Opens `name`, or creates it if it does not exist; see [`Segment::created`].
    ///
    /// # Errors
    /// See [`SegmentOptions::open_or_create`].
    pub fn open_or_create(name: &str, size: u64, max_entries: u32) -> Result<Self> {
        SegmentOptions::new().open_or_create(name, size, max_entries)
    }

    /// Unlinks `name` if it exists, then creates it.
    ///
    /// # Errors
    /// See [`SegmentOptions::create_or_replace`].
    pub fn create_or_replace(name: &str, size: u64, max_entries: u32) -> Result<Self> {
        SegmentOptions::new().create_or_replace(name, size, max_entries)
    }

    /// Opens a segment image file, shared and read-write.
    ///
    /// # Errors
    /// See [`SegmentOptions::open_path`].
    pub fn open_path(path: impl AsRef<Path>) -> Result<Self> {
        SegmentOptions::new().open_path(path)
    }

    /// A private in-memory segment (tests, Miri, single-process use).
    ///
    /// # Errors
    /// See [`SegmentOptions::anonymous`].
    pub fn anonymous(size: u64, max_entries: u32) -> Result<Self> {
        SegmentOptions::new().anonymous(size, max_entries)
    }

    /// A private copy of a segment image, validated.
    ///
    /// # Errors
    /// See [`SegmentOptions::from_bytes`].
    pub fn from_bytes(image: &[u8]) -> Result<Self> {
        SegmentOptions::new().from_bytes(image)
    }

    /// Removes the name `name` (the memory lives on while mapped).
    ///
    /// # Errors
    /// [`Error::NotFound`] if no such segment exists, [`Error::InvalidName`],
    /// [`Error::PermissionDenied`], [`Error::Io`].
    pub fn unlink(name: &str) -> Result<()> {
        let canon = canonical_segment_name(name)?;
        shm::unlink(canon.as_str()).map_err(|e| open_error(e, &canon))
    }

    fn assemble(
        root: Region,
        label: String,
        shm_name: Option<String>,
        file: Option<File>,
        opts: &SegmentOptions,
        created: bool,
    ) -> Result<Self> {
        let (_, geometry) = table::validate_header(&root)?;
        table::validate_entries(&root, &geometry)?;
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                geometry,
                label,
                shm_name,
                file,
                lock: Mutex::new(()),
                lock_timeout: opts.lock_timeout,
                unlink_on_drop: opts.unlink_on_drop,
                created,
                read_only: false,
            }),
        })
    }

    fn set_read_only(&mut self) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.read_only = true;
        }
    }

    /// The segment's name (`/name`), path, or `<anonymous>`.
    pub fn name(&self) -> &str {
        &self.inner.label
    }

    /// Whether this handle created the segment (as opposed to opening an existing one).
    pub fn created(&self) -> bool {
        self.inner.created
    }

    /// Whether the handle is a read-only, copy-on-write view.
    pub fn is_read_only(&self) -> bool {
        self.inner.read_only
    }

    /// Length of the mapping (the file size at open).
    pub fn len(&self) -> usize {
        self.inner.root.len()
    }

    /// Whether the mapping is empty (never true for a valid segment).
    pub fn is_empty(&self) -> bool {
        self.inner.root.is_empty()
    }

    /// Effective table capacity, from the stored header (0 is read as 64).
    pub fn max_entries(&self) -> u32 {
        self.inner.geometry.max_entries
    }

    /// Size of the table area (`32 + 48 * max_entries`).
    pub fn table_size(&self) -> u64 {
        self.inner.geometry.table_size
    }

    /// The `memory_size` validated at open: the bound for every structure.
    pub fn memory_size(&self) -> u64 {
        self.inner.geometry.memory_size
    }

    /// A fresh snapshot of the header.
    ///
    /// # Errors
    /// Never for a mapped segment; the `Result` guards the bounds-checked read.
    pub fn header(&self) -> Result<Header> {
        table::load_header(&self.inner.root)
    }

    /// Bytes still free for structures (`memory_size - next_offset`), re-validated.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `next_offset` has been corrupted since open.
    pub fn free_space(&self) -> Result<u64> {
        let next = self.next_offset()?;
        Ok(self.inner.geometry.memory_size - next)
    }

    fn next_offset(&self) -> Result<u64> {
        let next = self
            .inner
            .root
            .atomic_u64(layout::header::NEXT_OFFSET)?
            .load(Ordering::Relaxed);
        table::check_next_offset(next, &self.inner.geometry)?;
        Ok(next)
    }

    /// Every published entry, validated, in table order.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the table was corrupted since open.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        table::entries(&self.inner.root, &self.inner.geometry)
    }

    /// The entry called `name`.
    ///
    /// # Errors
    /// [`Error::NotFound`], or [`Error::Corrupt`] if the table was corrupted since open.
    pub fn find(&self, name: &str) -> Result<Entry> {
        self.get(name)?.ok_or_else(|| Error::NotFound {
            name: name.to_owned(),
        })
    }

    /// The entry called `name`, or `None`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the table was corrupted since open.
    pub fn get(&self, name: &str) -> Result<Option<Entry>> {
        table::find(&self.inner.root, &self.inner.geometry, name)
    }

    /// Looks up every part of a composite structure (a structure stored as several entries,
    /// such as a channel's `NAME_header` and `NAME_buffer`). Its creator adds the parts one
    /// after another, so a process opening it at that moment may see only some: while some
    /// but not all are present, this re-reads the table every millisecond for up to `grace`.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the table was corrupted since open.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_format::{Parts, Segment};
    ///
    /// let seg = Segment::anonymous(1 << 16, 16)?;
    /// seg.add("ch_header", 32, |_| Ok::<_, zeroipc_format::Error>(()))?;
    /// let grace = Duration::from_millis(5);
    /// match seg.find_parts(&["ch_header", "ch_buffer"], grace)? {
    ///     Parts::Incomplete { missing } => assert_eq!(missing, "ch_buffer"),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(matches!(seg.find_parts(&["x_header"], grace)?, Parts::None));
    /// assert!(matches!(seg.find_parts(&["ch_header"], grace)?, Parts::All(e) if e.len() == 1));
    /// # Ok::<(), zeroipc_format::Error>(())
    /// ```
    pub fn find_parts<S: AsRef<str>>(&self, parts: &[S], grace: Duration) -> Result<Parts> {
        let deadline = Instant::now().checked_add(grace);
        loop {
            let mut found = Vec::with_capacity(parts.len());
            let mut missing = None;
            for p in parts {
                match self.get(p.as_ref())? {
                    Some(e) => found.push(e),
                    None => {
                        if missing.is_none() {
                            missing = Some(p.as_ref().to_owned());
                        }
                    }
                }
            }
            let Some(missing) = missing else {
                return Ok(Parts::All(found));
            };
            if found.is_empty() {
                return Ok(Parts::None);
            }
            if deadline.is_none_or(|d| Instant::now() >= d) {
                return Ok(Parts::Incomplete { missing });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The bytes of an entry as a bounds-checked region.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] if the entry does not lie inside this segment's mapping.
    pub fn region(&self, entry: &Entry) -> Result<Region> {
        if entry
            .offset
            .checked_add(entry.size)
            .is_none_or(|end| end > self.memory_size())
        {
            return Err(Error::OutOfBounds {
                offset: usize::try_from(entry.offset).unwrap_or(usize::MAX),
                len: usize::try_from(entry.size).unwrap_or(usize::MAX),
                region_len: self.len(),
            });
        }
        table::entry_region(&self.inner.root, entry)
    }

    /// The whole mapping as a region (header, table and structures).
    ///
    /// Writing through it bypasses every protocol: it exists for inspection tools and for
    /// tests that simulate a hostile peer.
    pub fn raw(&self) -> &Region {
        &self.inner.root
    }

    /// Takes the creation lock: the in-process mutex, then `flock(LOCK_EX)` on the segment's
    /// descriptor, polled until the configured timeout.
    ///
    /// Do not call it again on the same thread while holding the guard.
    ///
    /// # Errors
    /// [`Error::ReadOnly`] for read-only handles, [`Error::Timeout`], [`Error::Io`].
    pub fn lock_table(&self) -> Result<TableLock<'_>> {
        if self.inner.read_only {
            return Err(Error::ReadOnly {
                name: self.inner.label.clone(),
            });
        }
        let deadline = Instant::now() + self.inner.lock_timeout;
        // A poisoned mutex only means another thread panicked while holding it; the table
        // itself is protected by the publish protocol, so carry on.
        let guard = self.inner.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = &self.inner.file {
            let mut pause = Duration::from_micros(50);
            loop {
                match rustix::fs::flock(file, FlockOperation::NonBlockingLockExclusive) {
                    Ok(()) => break,
                    Err(Errno::WOULDBLOCK | Errno::INTR) => {}
                    Err(e) => return Err(Error::io("flock", e)),
                }
                if Instant::now() >= deadline {
                    return Err(Error::Timeout {
                        what: "the segment creation lock",
                    });
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(1));
            }
        }
        Ok(TableLock {
            seg: self,
            _guard: guard,
        })
    }

    /// Adds one entry of `size` bytes and lets `init` initialise its (zeroed) bytes before the
    /// entry is published; see [`TableLock::add`].
    ///
    /// # Errors
    /// As [`TableLock::add`], plus the errors of [`Segment::lock_table`].
    pub fn add<E: From<Error>>(
        &self,
        name: &str,
        size: u64,
        init: impl FnOnce(&Region) -> std::result::Result<(), E>,
    ) -> std::result::Result<(Entry, Region), E> {
        let mut lock = self.lock_table()?;
        let ([entry], [region]) = lock.add(&[(name, size)], |[r]| init(r))?;
        Ok((entry, region))
    }
}

/// What [`Segment::find_parts`] found of a composite structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parts {
    /// Every part, in the order asked for.
    All(Vec<Entry>),
    /// No part at all: the structure does not exist.
    None,
    /// Some parts but not all, still after the grace period; `missing` is the first absent.
    Incomplete {
        /// The first missing part's name.
        missing: String,
    },
}
