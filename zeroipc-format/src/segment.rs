//! Segments: creation, opening and removal of POSIX shared-memory objects, the creation lock
//! and the table operations built on it (spec §3, D3, D4).

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
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

/// How a segment is created or opened. Start from [`SegmentOptions::new`], change what you
/// need, then call one of the constructors.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::SegmentOptions;
///
/// let name = format!("doc_opts_{}", std::process::id());
/// let seg = SegmentOptions::new()
///     .mode(0o640)
///     .lock_timeout(Duration::from_secs(1))
///     .unlink_on_drop(true)
///     .create(&name, 1 << 16, 64)?;
/// assert_eq!(seg.max_entries(), 64);
/// # Ok::<(), zeroipc_format::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SegmentOptions {
    mode: u32,
    lock_timeout: Duration,
    init_grace: Duration,
    populate: bool,
    unlink_on_drop: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Retries of `open_or_create` when the object disappears between `create` and `open`.
const OPEN_OR_CREATE_ATTEMPTS: u32 = 8;

impl SegmentOptions {
    /// Defaults: mode `0600`, creation-lock timeout 5 s, initialisation grace 100 ms, no
    /// pre-faulting, no unlink on drop.
    pub fn new() -> Self {
        Self {
            mode: 0o600,
            lock_timeout: Duration::from_secs(5),
            init_grace: Duration::from_millis(100),
            populate: false,
            unlink_on_drop: false,
        }
    }

    /// Permission bits of a new segment (applied with `fchmod`, so the umask does not apply).
    /// Use e.g. `0o660` to let a group open it.
    /// Only the permission bits are kept (`mode & 0o777`): setuid, setgid and sticky are
    /// never set on a segment.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o777;
        self
    }

    /// How long table mutations wait for the creation lock before failing with
    /// [`Error::Timeout`].
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// How long an opener waits for a segment that is still being created (shorter than its
    /// header, or magic 0) before failing with [`Error::NotInitialized`].
    pub fn init_grace(mut self, grace: Duration) -> Self {
        self.init_grace = grace;
        self
    }

    /// Pre-fault every page when mapping (`MAP_POPULATE`), so first touches do not fault in a
    /// hot path.
    pub fn populate(mut self, populate: bool) -> Self {
        self.populate = populate;
        self
    }

    /// Unlink the segment's name when the last handle in this process is dropped.
    pub fn unlink_on_drop(mut self, unlink: bool) -> Self {
        self.unlink_on_drop = unlink;
        self
    }

    /// Creates a new segment `name` of `size` bytes with room for `max_entries` entries.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::InvalidArgument`] (`max_entries` 0, or `size` smaller
    /// than the table), [`Error::AlreadyExists`], [`Error::PermissionDenied`], [`Error::Io`].
    pub fn create(&self, name: &str, size: u64, max_entries: u32) -> Result<Segment> {
        let canon = canonical_segment_name(name)?;
        let table = check_geometry(size, max_entries)?;
        let len = usize::try_from(size)
            .map_err(|_| Error::InvalidArgument(format!("size {size} does not fit in memory")))?;
        // Cheap early answer; the no-replace rename below is what decides.
        if std::fs::symlink_metadata(format!("{}{canon}", file::SHM_DIR)).is_ok() {
            return Err(Error::AlreadyExists { name: canon });
        }
        // Built under a hidden name and renamed into place only when complete, so no opener
        // (ours or upstream's, which does not wait) ever sees a 0-byte or half-written table.
        let staged = file::staging_name();
        let fd = shm::open(
            staged.as_str(),
            shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR,
            Mode::from_bits_truncate(self.mode),
        )
        .map_err(|e| open_error(e, &canon))?;
        let file = File::from(fd);
        let built = (|| {
            rustix::fs::fchmod(&file, Mode::from_bits_truncate(self.mode))
                .map_err(|e| Error::io("fchmod", e))?;
            // Held across the rename (flock belongs to the object, not the name): a process
            // that opens the name at once waits for the table lock until we are done.
            rustix::fs::flock(&file, FlockOperation::LockExclusive)
                .map_err(|e| Error::io("flock", e))?;
            file::reserve(&file, size, &canon)?;
            rustix::fs::ftruncate(&file, size).map_err(|e| Error::io("ftruncate", e))?;
            let map = Mapping::map_file(&file, len, false, self.populate)?;
            let root = Region::whole(Arc::new(map));
            init_header(&root, size, max_entries, table)?;
            file::publish(&staged, &canon)?;
            // Cannot fail for a descriptor we hold; closing it would release the lock anyway.
            let _ = rustix::fs::flock(&file, FlockOperation::Unlock);
            Ok(root)
        })();
        match built {
            Ok(root) => Segment::assemble(
                root,
                canon.clone(),
                Some(canon.clone()),
                Some(file),
                self,
                true,
            )
            .inspect_err(|_| {
                let _ = shm::unlink(canon.as_str());
            }),
            Err(e) => {
                // Every failure happens before publication: only the staged name exists.
                let _ = shm::unlink(staged.as_str());
                Err(e)
            }
        }
    }

    /// Opens the existing segment `name`, validating its header and every entry.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::PermissionDenied`], [`Error::NotInitialized`],
    /// [`Error::BadMagic`], [`Error::UnsupportedVersion`], [`Error::Corrupt`], [`Error::Io`].
    pub fn open(&self, name: &str) -> Result<Segment> {
        let canon = canonical_segment_name(name)?;
        let fd = shm::open(canon.as_str(), shm::OFlags::RDWR, Mode::empty())
            .map_err(|e| open_error(e, &canon))?;
        let file = File::from(fd);
        let root = self.map_initialised(&file, &canon, false, false)?;
        Segment::assemble(root, canon.clone(), Some(canon), Some(file), self, false)
    }

    /// Opens the existing segment `name` for inspection: the object is opened read-only and
    /// mapped copy-on-write, so nothing done through the handle reaches other processes, and
    /// table mutations fail with [`Error::ReadOnly`].
    ///
    /// # Errors
    /// As [`SegmentOptions::open`].
    pub fn open_read_only(&self, name: &str) -> Result<Segment> {
        let canon = canonical_segment_name(name)?;
        let path = format!("{}{canon}", file::SHM_DIR);
        let file = file::open_nonblocking(&path, false).map_err(|e| open_error(e, &canon))?;
        let root = self.map_initialised(&file, &canon, true, false)?;
        let mut seg = Segment::assemble(root, canon.clone(), Some(canon), None, self, false)?;
        seg.set_read_only();
        Ok(seg)
    }

    /// Opens `name` if it exists, else creates it. [`Segment::created`] tells which happened;
    /// when opening, `size` and `max_entries` are ignored.
    ///
    /// # Errors
    /// As [`SegmentOptions::create`] and [`SegmentOptions::open`].
    pub fn open_or_create(&self, name: &str, size: u64, max_entries: u32) -> Result<Segment> {
        let mut last = None;
        for _ in 0..OPEN_OR_CREATE_ATTEMPTS {
            match self.create(name, size, max_entries) {
                Err(Error::AlreadyExists { .. }) => {}
                other => return other,
            }
            match self.open(name) {
                // Unlinked between our create and open: try again.
                Err(e @ Error::NotFound { .. }) => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| Error::NotFound {
            name: name.to_owned(),
        }))
    }

    /// Unlinks `name` if it exists, then creates it anew.
    ///
    /// # Errors
    /// As [`SegmentOptions::create`].
    pub fn create_or_replace(&self, name: &str, size: u64, max_entries: u32) -> Result<Segment> {
        match Segment::unlink(name) {
            Ok(()) | Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        self.create(name, size, max_entries)
    }

    /// Opens any file holding a segment image (for example a copied `/dev/shm` object),
    /// mapped shared and read-write.
    ///
    /// # Errors
    /// [`Error::Truncated`] for a file shorter than the header, otherwise as
    /// [`SegmentOptions::open`].
    pub fn open_path(&self, path: impl AsRef<Path>) -> Result<Segment> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let file = file::open_nonblocking(path, true)
            .map_err(|e| path_error(std::io::Error::from(e), &label))?;
        let root = self.map_initialised(&file, &label, false, true)?;
        Segment::assemble(root, label, None, Some(file), self, false)
    }

    /// Opens a segment image file read-only, mapped copy-on-write (the file never changes).
    ///
    /// # Errors
    /// As [`SegmentOptions::open_path`].
    pub fn open_path_read_only(&self, path: impl AsRef<Path>) -> Result<Segment> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let file = file::open_nonblocking(path, false)
            .map_err(|e| path_error(std::io::Error::from(e), &label))?;
        let root = self.map_initialised(&file, &label, true, true)?;
        let mut seg = Segment::assemble(root, label, None, None, self, false)?;
        seg.set_read_only();
        Ok(seg)
    }

    /// Maps `file` once it is initialised (length ≥ 32 and magic ≠ 0), waiting up to the
    /// grace period for a concurrent creator.
    fn map_initialised(
        &self,
        file: &File,
        label: &str,
        private: bool,
        at_rest: bool,
    ) -> Result<Region> {
        file::check_regular(file, label)?;
        let deadline = Instant::now() + self.init_grace;
        loop {
            let len = file::file_len(file)?;
            if len >= HEADER_SIZE as u64 {
                let len = usize::try_from(len).map_err(|_| {
                    Error::InvalidArgument(format!("{label}: {len} bytes do not fit in memory"))
                })?;
                let map = Mapping::map_file(file, len, private, self.populate)?;
                let root = Region::whole(Arc::new(map));
                // Acquire: pairs with the Release store of `magic` in `init_header`, so a
                // non-zero magic means the rest of the header is visible.
                if root
                    .atomic_u32(layout::header::MAGIC)?
                    .load(Ordering::Acquire)
                    != 0
                {
                    let count = root
                        .atomic_u32(layout::header::ENTRY_COUNT)?
                        .load(Ordering::Relaxed);
                    file::check_table_backed(file, count)?;
                    return Ok(root);
                }
            }
            if Instant::now() >= deadline {
                return Err(if at_rest && len < HEADER_SIZE as u64 {
                    Error::Truncated {
                        len,
                        needed: HEADER_SIZE as u64,
                    }
                } else {
                    Error::NotInitialized {
                        name: label.to_owned(),
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// A segment in private heap memory, initialised like [`SegmentOptions::create`]. Useful
    /// for tests, Miri and single-process use; other processes cannot see it.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] as for `create`; [`Error::Io`] if allocation fails.
    pub fn anonymous(&self, size: u64, max_entries: u32) -> Result<Segment> {
        let table = check_geometry(size, max_entries)?;
        let len = usize::try_from(size)
            .map_err(|_| Error::InvalidArgument(format!("size {size} does not fit in memory")))?;
        let root = Region::whole(Arc::new(Mapping::heap(len)?));
        init_header(&root, size, max_entries, table)?;
        Segment::assemble(root, "<anonymous>".into(), None, None, self, true)
    }

    /// A private heap copy of a segment image, validated like [`SegmentOptions::open`].
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::NotInitialized`] (magic 0) and the validation errors of
    /// `open`.
    pub fn from_bytes(&self, image: &[u8]) -> Result<Segment> {
        if image.len() < HEADER_SIZE {
            return Err(Error::Truncated {
                len: image.len() as u64,
                needed: HEADER_SIZE as u64,
            });
        }
        let root = Region::whole(Arc::new(Mapping::heap(image.len())?));
        root.write_slice(0, image)?;
        if root.read::<u32>(layout::header::MAGIC)? == 0 {
            return Err(Error::NotInitialized {
                name: "<bytes>".into(),
            });
        }
        Segment::assemble(root, "<bytes>".into(), None, None, self, false)
    }
}

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
        let (mut entries, mut regions) = lock.add(&[(name, size)], |r| match r {
            [one] => init(one),
            _ => Err(Error::InvalidArgument("one region expected".into()).into()),
        })?;
        match (entries.pop(), regions.pop()) {
            (Some(e), Some(r)) => Ok((e, r)),
            _ => Err(Error::InvalidArgument("one entry expected".into()).into()),
        }
    }
}

/// The creation lock of a segment, held while the table is read and changed (spec D3).
/// Released on drop.
pub struct TableLock<'a> {
    seg: &'a Segment,
    _guard: MutexGuard<'a, ()>,
}

impl Drop for TableLock<'_> {
    fn drop(&mut self) {
        if let Some(file) = &self.seg.inner.file {
            let _ = rustix::fs::flock(file, FlockOperation::Unlock);
        }
    }
}

impl TableLock<'_> {
    /// The entry called `name`, or `None` (decided under the lock).
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the table was corrupted since open.
    pub fn get(&self, name: &str) -> Result<Option<Entry>> {
        self.seg.get(name)
    }

    /// Adds the entries `parts` (name, size) as one unit.
    ///
    /// Everything is checked before any space is taken: names, duplicates (in the table and
    /// within `parts`), free table entries and free space. Then `next_offset` is advanced,
    /// each part's bytes are zeroed (each part 8-aligned), `init` initialises them, the
    /// entries are written and `entry_count` is published with one Release store, so other
    /// processes see all parts at once. If `init` fails, `next_offset` is restored and nothing
    /// is published.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::NameTooLong`], [`Error::AlreadyExists`],
    /// [`Error::TableFull`], [`Error::OutOfSpace`], [`Error::Corrupt`], or `init`'s error.
    pub fn add<E: From<Error>>(
        &mut self,
        parts: &[(&str, u64)],
        init: impl FnOnce(&[Region]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(Vec<Entry>, Vec<Region>), E> {
        let seg = self.seg;
        let root = &seg.inner.root;
        let g = seg.inner.geometry;
        // A peer that shrank the file would make the pages we are about to zero raise SIGBUS.
        if let Some(file) = &seg.inner.file {
            file::check_not_shrunk(file, root.len() as u64)?;
        }
        let names = parts
            .iter()
            .map(|(name, _)| encode_entry_name(name))
            .collect::<Result<Vec<_>>>()?;
        for (i, (name, _)) in parts.iter().enumerate() {
            if parts
                .get(..i)
                .is_some_and(|prev| prev.iter().any(|(p, _)| p == name))
                || seg.get(name)?.is_some()
            {
                return Err(Error::AlreadyExists {
                    name: (*name).to_owned(),
                }
                .into());
            }
        }
        let count = table::entry_count(root, &g)?;
        let needed = u32::try_from(parts.len()).unwrap_or(u32::MAX);
        if count.checked_add(needed).is_none_or(|n| n > g.max_entries) {
            return Err(Error::TableFull {
                needed,
                max_entries: g.max_entries,
            }
            .into());
        }
        let start = seg.next_offset()?;
        let mut cursor = start;
        let mut spans = Vec::with_capacity(parts.len());
        for (_, size) in parts {
            let end = layout::align8(cursor).and_then(|at| Some((at, at.checked_add(*size)?)));
            match end {
                Some((at, end)) if end <= g.memory_size => {
                    spans.push((at, *size));
                    cursor = end;
                }
                _ => {
                    let requested = parts.iter().fold(0u64, |acc, (_, s)| {
                        acc.saturating_add(layout::align8(*s).unwrap_or(u64::MAX))
                    });
                    return Err(Error::OutOfSpace {
                        requested,
                        available: g.memory_size - start,
                    }
                    .into());
                }
            }
        }
        let next = root.atomic_u64(layout::header::NEXT_OFFSET)?;
        next.store(cursor, Ordering::Relaxed);
        let rollback = |e: E| {
            next.store(start, Ordering::Relaxed);
            e
        };
        let mut entries = Vec::with_capacity(parts.len());
        let mut regions = Vec::with_capacity(parts.len());
        for (i, ((name, _), (offset, size))) in parts.iter().zip(&spans).enumerate() {
            let entry = Entry {
                index: count + i as u32,
                name: (*name).to_owned(),
                offset: *offset,
                size: *size,
            };
            let region = seg.region(&entry).map_err(|e| rollback(e.into()))?;
            region
                .fill(0, region.len(), 0)
                .map_err(|e| rollback(e.into()))?;
            entries.push(entry);
            regions.push(region);
        }
        init(&regions).map_err(rollback)?;
        for (entry, name) in entries.iter().zip(&names) {
            let pos = table::entry_position(entry.index);
            root.write(pos + layout::entry::NAME, *name)?;
            root.write(pos + layout::entry::OFFSET, entry.offset)?;
            root.write(pos + layout::entry::SIZE, entry.size)?;
        }
        // Release: publishes the entries and the structures' initialised bytes; pairs with the
        // Acquire load in `table::entry_count` (every lookup and listing goes through it).
        root.atomic_u32(layout::header::ENTRY_COUNT)?
            .store(count + needed, Ordering::Release);
        Ok((entries, regions))
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
