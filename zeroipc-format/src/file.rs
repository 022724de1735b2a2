//! The file behind a segment, as opposed to its contents: reserving its space, publishing it
//! under its name only once it is complete, and the checks that keep a hostile file (sparse,
//! shrunk, not a regular file) from costing memory or raising SIGBUS (issue 18).
//!
//! The header's numbers are untrusted here too: `arithmetic_side_effects` and
//! `indexing_slicing` are denied, as in `table.rs`.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::fs::File;

use rustix::fs::{FallocateFlags, FileType, RenameFlags, SeekFrom};
use rustix::io::Errno;

use crate::error::{Corruption, Error, Result};
use crate::layout::HEADER_SIZE;

/// Where Linux keeps POSIX shared-memory objects (`shm_open("/NAME")` is `/dev/shm/NAME`).
pub const SHM_DIR: &str = "/dev/shm";

/// Prefix of the hidden name a segment has while it is being created. Tools that list
/// `/dev/shm` skip names starting with `.`.
pub const STAGING_PREFIX: &str = ".zeroipc-new-";

/// Distinguishes the staging names of concurrent creations in one process. A process-local
/// counter, never in shared memory, so not the atomic facade (which loom would replace).
#[allow(clippy::disallowed_types)]
static STAGING_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A fresh hidden shm name (`/.zeroipc-new-PID-N`) for a segment under construction.
pub(crate) fn staging_name() -> String {
    let n = STAGING_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("/{STAGING_PREFIX}{}-{n}", std::process::id())
}

/// `/dev/shm/NAME` for the shm name `/NAME`.
fn shm_path(shm_name: &str) -> String {
    format!("{SHM_DIR}{shm_name}")
}

/// Gives the staged object `staged` its final name `canon`, failing with
/// [`Error::AlreadyExists`] if that name exists (`renameat2(RENAME_NOREPLACE)`, or `link`
/// plus `unlink` where the filesystem lacks it). Either way no opener ever sees the name
/// before the segment is complete, and an existing segment is never replaced.
pub(crate) fn publish(staged: &str, canon: &str) -> Result<()> {
    let (from, to) = (shm_path(staged), shm_path(canon));
    let cwd = rustix::fs::CWD;
    match rustix::fs::renameat_with(cwd, from.as_str(), cwd, to.as_str(), RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) => Err(Error::AlreadyExists {
            name: canon.to_owned(),
        }),
        Err(Errno::INVAL | Errno::NOSYS | Errno::NOTSUP) => {
            match rustix::fs::link(from.as_str(), to.as_str()) {
                Ok(()) => {
                    let _ = rustix::fs::unlink(from.as_str());
                    Ok(())
                }
                Err(Errno::EXIST) => Err(Error::AlreadyExists {
                    name: canon.to_owned(),
                }),
                Err(e) => Err(Error::io("link", e)),
            }
        }
        Err(e) => Err(Error::io("renameat2", e)),
    }
}

/// Bytes free for an unprivileged writer on the filesystem of `file`, if it can tell.
fn space_free(file: &File) -> Option<u64> {
    let st = rustix::fs::fstatvfs(file).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Reserves `size` bytes for `file` (`fallocate`), so that touching any page of the mapping
/// later cannot raise SIGBUS for want of space.
///
/// A size beyond the space free fails at once, before anything is allocated; `ENOSPC` from
/// `fallocate` itself gives the same [`Error::NoSpace`]. A filesystem that cannot reserve
/// (`EOPNOTSUPP`) is left as it was: tmpfs, where `/dev/shm` lives, always can.
pub(crate) fn reserve(file: &File, size: u64, what: &str) -> Result<()> {
    let no_space = |available| Error::NoSpace {
        what: what.to_owned(),
        requested: size,
        available,
    };
    if let Some(free) = space_free(file)
        && size > free
    {
        return Err(no_space(free));
    }
    if size == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(Errno::NOSPC) => Err(no_space(space_free(file).unwrap_or(0))),
        Err(Errno::OPNOTSUPP) => Ok(()),
        Err(e) => Err(Error::io("fallocate", e)),
    }
}

/// The current length of `file`.
pub(crate) fn file_len(file: &File) -> Result<u64> {
    let st = rustix::fs::fstat(file).map_err(|e| Error::io("fstat", e))?;
    Ok(u64::try_from(st.st_size).unwrap_or(0))
}

/// Refuses anything but a regular file (a FIFO would block a reader forever, a directory or
/// device has no segment in it).
pub(crate) fn check_regular(file: &File, label: &str) -> Result<()> {
    let st = rustix::fs::fstat(file).map_err(|e| Error::io("fstat", e))?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind == FileType::RegularFile {
        return Ok(());
    }
    Err(Error::NotRegularFile {
        name: label.to_owned(),
        kind: file_type_name(kind),
    })
}

/// A word for a file type, for messages.
pub(crate) fn file_type_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "FIFO",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        _ => "special file",
    }
}

/// Refuses a mapped file that has shrunk below `needed` bytes since it was mapped: touching
/// the missing pages would raise SIGBUS.
pub(crate) fn check_not_shrunk(file: &File, needed: u64) -> Result<()> {
    let len = file_len(file)?;
    if len < needed {
        return Err(Error::corrupt(Corruption::MemorySizeExceedsFile {
            memory_size: needed,
            file_len: len,
        }));
    }
    Ok(())
}

/// Checks, without touching them, that the bytes of entries `0..entry_count - 1` are backed by
/// data, not a hole of a sparse file.
///
/// Reading a hole through a tmpfs mapping allocates a page for it, so a few KiB of file that
/// claims millions of entries would cost hundreds of MB (or SIGBUS when tmpfs fills). Entries
/// are written when they are published, so the pages of real entries are never holes; only
/// the last counted entry may still be unwritten (an upstream creator counts it first).
pub(crate) fn check_table_backed(file: &File, entry_count: u32) -> Result<()> {
    let Some(before_last) = entry_count.checked_sub(1) else {
        return Ok(());
    };
    // Where entry `before_last` starts: the size of a table of that many entries (at most
    // 32 + 48 * (2^32 - 1), so never `None`; `u64::MAX` would only widen the check).
    let end = crate::layout::table_size(before_last).unwrap_or(u64::MAX);
    if end <= HEADER_SIZE as u64 {
        return Ok(());
    }
    let hole = match rustix::fs::seek(file, SeekFrom::Hole(HEADER_SIZE as u64)) {
        Ok(at) => at,
        // No SEEK_HOLE here (or a concurrent truncation): nothing can be told, read normally.
        Err(_) => return Ok(()),
    };
    // The "hole" at the end of the file is not one: a table that runs past the end is
    // reported by the header checks (`TableExceedsFile`).
    if hole < end && hole < file_len(file)? {
        return Err(Error::corrupt(Corruption::SparseTable {
            entry_count,
            hole,
        }));
    }
    Ok(())
}

/// Opens `path` without following a final symbolic link and without blocking (a FIFO would
/// otherwise block `open` until a writer appears); the caller checks the kind with
/// [`check_regular`].
pub(crate) fn open_nonblocking(
    path: impl AsRef<std::path::Path>,
    write: bool,
) -> rustix::io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let access = if write { OFlags::RDWR } else { OFlags::RDONLY };
    let fd = rustix::fs::open(
        path.as_ref(),
        access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}
