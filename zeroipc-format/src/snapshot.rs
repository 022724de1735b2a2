//! Snapshots: a segment image read into private memory with bounded `pread`s, for inspection
//! tools. The file is never mapped, so a peer that shrinks it cannot raise SIGBUS here, and
//! only the bytes asked for are read: the header and the counted entries at first, then each
//! structure that [`Segment::load`] is asked for.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use super::{Segment, SegmentOptions, path_error};
use crate::error::{Corruption, Error, Result};
use crate::file;
use crate::layout::{self, HEADER_SIZE};
use crate::map::Mapping;
use crate::table::{self, Entry};
use crate::view::Region;

/// Bytes copied per `pread`.
const CHUNK: usize = 1 << 20;

/// Copies `len` bytes at `at` of `file` into `root` at the same offset.
fn copy_in(file: &File, root: &Region, at: u64, len: u64) -> Result<()> {
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK))];
    let mut done = 0u64;
    while done < len {
        let want = usize::try_from(len - done).unwrap_or(CHUNK).min(CHUNK);
        let chunk = buf.get_mut(..want).unwrap_or_default();
        let pos = at + done;
        let n = rustix::io::pread(file, &mut *chunk, pos).map_err(|e| Error::io("pread", e))?;
        if n == 0 {
            // The file shrank under us: what it says it holds is no longer there.
            return Err(Error::corrupt(Corruption::MemorySizeExceedsFile {
                memory_size: at + len,
                file_len: file::file_len(file).unwrap_or(pos),
            }));
        }
        let offset = usize::try_from(pos).map_err(|_| Error::OutOfBounds {
            offset: usize::MAX,
            len: n,
            region_len: root.len(),
        })?;
        root.write_slice(offset, chunk.get(..n).unwrap_or_default())?;
        done += n as u64;
    }
    Ok(())
}

impl SegmentOptions {
    /// Reads the segment image at `path` (a `/dev/shm` object or an image file) into private
    /// memory: the header and the counted table entries only, validated like
    /// [`SegmentOptions::open`]. Structures are read with [`Segment::load`]. The handle is
    /// read-only.
    ///
    /// The path is opened without following a final symbolic link and without blocking, and
    /// must be a regular file. Pages not read stay unallocated, so a huge or sparse file costs
    /// only what is read; a table whose counted entries lie in a hole is refused before any
    /// entry is read.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::PermissionDenied`], [`Error::NotRegularFile`],
    /// [`Error::Truncated`], [`Error::NotInitialized`], [`Error::BadMagic`],
    /// [`Error::UnsupportedVersion`], [`Error::Corrupt`], [`Error::Io`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::{Segment, SegmentOptions};
    ///
    /// let name = format!("doc_snapshot_{}", std::process::id());
    /// let seg = Segment::create(&name, 1 << 16, 8)?;
    /// seg.add("n", 8, |r| r.write::<u64>(0, 7))?;
    /// let snap = SegmentOptions::new().snapshot_path(format!("/dev/shm/{name}"))?;
    /// let entry = snap.find("n")?;
    /// snap.load(&entry)?;
    /// assert_eq!(snap.region(&entry)?.read::<u64>(0)?, 7);
    /// Segment::unlink(&name)?;
    /// # Ok::<(), zeroipc_format::Error>(())
    /// ```
    pub fn snapshot_path(&self, path: impl AsRef<Path>) -> Result<Segment> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let file = file::open_nonblocking(path, false)
            .map_err(|e| path_error(std::io::Error::from(e), &label))?;
        file::check_regular(&file, &label)?;
        let len = file::file_len(&file)?;
        if len < HEADER_SIZE as u64 {
            return Err(Error::Truncated {
                len,
                needed: HEADER_SIZE as u64,
            });
        }
        let size = usize::try_from(len).map_err(|_| {
            Error::InvalidArgument(format!("{label}: {len} bytes do not fit in memory"))
        })?;
        let root = Region::whole(Arc::new(Mapping::anonymous(size)?));
        copy_in(&file, &root, 0, HEADER_SIZE as u64)?;
        if root.read::<u32>(layout::header::MAGIC)? == 0 {
            return Err(Error::NotInitialized { name: label });
        }
        let (header, _) = table::validate_header(&root)?;
        file::check_table_backed(&file, header.entry_count)?;
        let counted = table::entry_field(header.entry_count, 0)? - HEADER_SIZE;
        copy_in(&file, &root, HEADER_SIZE as u64, counted as u64)?;
        let mut seg = Segment::assemble(root, label, None, Some(file), self, false)?;
        seg.set_read_only();
        Ok(seg)
    }
}

impl Segment {
    /// Reads the bytes of `entry` from the file into this snapshot (see
    /// [`SegmentOptions::snapshot_path`]); a no-op for any other kind of handle, whose bytes
    /// are already there.
    ///
    /// # Errors
    /// [`Error::OutOfBounds`] for an entry outside the segment, [`Error::Corrupt`]
    /// (`MemorySizeExceedsFile`) if the file has shrunk meanwhile, [`Error::Io`].
    pub fn load(&self, entry: &Entry) -> Result<()> {
        if !self.inner.read_only {
            return Ok(());
        }
        let Some(file) = &self.inner.file else {
            return Ok(());
        };
        // Checks the extent against memory_size and the snapshot.
        self.region(entry)?;
        copy_in(file, &self.inner.root, entry.offset(), entry.size())
    }

    /// Like [`Segment::load`], but at most the first `max` bytes of `entry`.
    ///
    /// # Errors
    /// As [`Segment::load`].
    pub fn load_prefix(&self, entry: &Entry, max: u64) -> Result<()> {
        let part = Entry {
            size: entry.size().min(max),
            ..entry.clone()
        };
        self.load(&part)
    }
}
