//! [`SegmentOptions`]: how a segment is created or opened, and the constructors that create,
//! stage, reserve, publish and open segments with them.

use super::*;

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
    pub(super) mode: u32,
    pub(super) lock_timeout: Duration,
    pub(super) init_grace: Duration,
    pub(super) populate: bool,
    pub(super) unlink_on_drop: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Builder methods that store their argument in the field of the same name, in the
/// `impl` of [`SegmentOptions`].
macro_rules! setters {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty; )+) => {
        $(
            $(#[$doc])*
            pub fn $field(mut self, $field: $ty) -> Self {
                self.$field = $field;
                self
            }
        )+
    };
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

    setters! {
        /// How long table mutations wait for the creation lock before failing with
        /// [`Error::Timeout`].
        lock_timeout: Duration;

        /// How long an opener waits for a segment that is still being created (shorter than
        /// its header, or magic 0) before failing with [`Error::NotInitialized`].
        init_grace: Duration;

        /// Pre-fault every page when mapping (`MAP_POPULATE`), so first touches do not fault
        /// in a hot path.
        populate: bool;

        /// Unlink the segment's name when the last handle in this process is dropped.
        unlink_on_drop: bool;
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
        let (file, root, label) = self.map_path(path.as_ref(), true)?;
        Segment::assemble(root, label, None, Some(file), self, false)
    }

    /// Opens a segment image file read-only, mapped copy-on-write (the file never changes).
    ///
    /// # Errors
    /// As [`SegmentOptions::open_path`].
    pub fn open_path_read_only(&self, path: impl AsRef<Path>) -> Result<Segment> {
        let (_file, root, label) = self.map_path(path.as_ref(), false)?;
        let mut seg = Segment::assemble(root, label, None, None, self, false)?;
        seg.set_read_only();
        Ok(seg)
    }

    /// Opens the image file at `path` and maps it, read-write and shared if `writable`, else
    /// read-only and copy-on-write: the file, its root region and its label (the path).
    fn map_path(&self, path: &Path, writable: bool) -> Result<(File, Region, String)> {
        let label = path.display().to_string();
        let file = file::open_nonblocking(path, writable)
            .map_err(|e| path_error(std::io::Error::from(e), &label))?;
        let root = self.map_initialised(&file, &label, !writable, true)?;
        Ok((file, root, label))
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
