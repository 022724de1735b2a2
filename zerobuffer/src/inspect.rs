//! Read-only inspection for tools (`zeroipc-inspect`): snapshots of a buffer's OIEB and
//! metadata, and the stale-resource scan of §13 with a dry run.
//!
//! Nothing here maps or writes a buffer: the object is opened read-only and its first bytes
//! are copied with `pread`, then validated like a peer would (§4). The copy is not an atomic
//! snapshot of a live buffer; each field is one 8-byte read, which is enough for monitoring.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::health::{Health, level_for};
use crate::layout::{Geometry, OIEB_SIZE, oieb_offsets as at};
use crate::liveness::is_process_alive;
use crate::names::{LOCK_DIR, Names};
use crate::resources::{map_open_err, peek_oieb, unlink_all};
use crate::ring::continuous_free;

/// The 128-byte OIEB as stored, field by field (protocol §3.1), not yet validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OiebFields {
    /// `oieb_size` (128 in a valid buffer).
    pub oieb_size: u32,
    /// Version bytes: major, minor, patch, reserved.
    pub version: [u8; 4],
    /// `M`, the metadata block size.
    pub metadata_size: u64,
    /// `M - metadata_written_bytes`.
    pub metadata_free_bytes: u64,
    /// 0 (no metadata) or `8 + content length`.
    pub metadata_written_bytes: u64,
    /// `P`, the payload ring size.
    pub payload_size: u64,
    /// Ring bytes not held by unreleased frames or wrap waste.
    pub payload_free_bytes: u64,
    /// Writer's ring offset.
    pub payload_write_pos: u64,
    /// Reader's ring offset.
    pub payload_read_pos: u64,
    /// Frames plus wrap markers written.
    pub payload_written_count: u64,
    /// Frames plus wrap markers consumed.
    pub payload_read_count: u64,
    /// Writer pid (0 = none).
    pub writer_pid: u64,
    /// Reader pid (0 = gone).
    pub reader_pid: u64,
    /// The four reserved words (zero in a conforming buffer).
    pub reserved: [u64; 4],
}

impl OiebFields {
    /// Decodes the first 128 bytes of a buffer (little-endian), `None` if `bytes` is shorter.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let u64_at = |off: usize| -> Option<u64> {
            let b = bytes.get(off..off.checked_add(8)?)?;
            Some(u64::from_le_bytes(b.try_into().ok()?))
        };
        let word_at = |off: usize| -> Option<[u8; 4]> {
            bytes.get(off..off.checked_add(4)?)?.try_into().ok()
        };
        Some(OiebFields {
            oieb_size: u32::from_le_bytes(word_at(at::OIEB_SIZE)?),
            version: word_at(at::VERSION)?,
            metadata_size: u64_at(at::METADATA_SIZE)?,
            metadata_free_bytes: u64_at(at::METADATA_FREE_BYTES)?,
            metadata_written_bytes: u64_at(at::METADATA_WRITTEN_BYTES)?,
            payload_size: u64_at(at::PAYLOAD_SIZE)?,
            payload_free_bytes: u64_at(at::PAYLOAD_FREE_BYTES)?,
            payload_write_pos: u64_at(at::PAYLOAD_WRITE_POS)?,
            payload_read_pos: u64_at(at::PAYLOAD_READ_POS)?,
            payload_written_count: u64_at(at::PAYLOAD_WRITTEN_COUNT)?,
            payload_read_count: u64_at(at::PAYLOAD_READ_COUNT)?,
            writer_pid: u64_at(at::WRITER_PID)?,
            reader_pid: u64_at(at::READER_PID)?,
            reserved: [
                u64_at(at::RESERVED)?,
                u64_at(at::RESERVED + 8)?,
                u64_at(at::RESERVED + 16)?,
                u64_at(at::RESERVED + 24)?,
            ],
        })
    }

    /// Whether these bytes look like a ZeroBuffer OIEB (`oieb_size == 128`, major 1): the
    /// content test used to recognise buffers among other shared-memory objects.
    pub fn looks_like_zerobuffer(&self) -> bool {
        u64::from(self.oieb_size) == OIEB_SIZE && self.version[0] == 1
    }
}

/// A validated snapshot of one buffer, taken without mapping or writing it.
#[derive(Clone, Debug, PartialEq)]
pub struct BufferSnapshot {
    /// The OIEB fields as read.
    pub oieb: OiebFields,
    /// Length of the shared-memory object (or image file).
    pub file_size: u64,
    /// The metadata content (`None` if none was written).
    pub metadata: Option<Vec<u8>>,
    /// Utilisation and positions (protocol §11).
    pub health: Health,
    /// Whether `writer_pid` names a live process.
    pub writer_alive: bool,
    /// Whether `reader_pid` names a live process.
    pub reader_alive: bool,
}

/// Snapshots the buffer `name` (`/dev/shm/NAME`) read-only.
///
/// # Errors
/// [`Error::InvalidName`], [`Error::BufferNotFound`], [`Error::PermissionDenied`],
/// [`Error::InvalidOieb`] (not a ZeroBuffer OIEB), [`Error::Corrupt`] (a value breaks §4),
/// [`Error::InvalidMetadata`], [`Error::Io`].
pub fn inspect(name: &str) -> Result<BufferSnapshot> {
    let names = Names::new(name)?;
    let fd = rustix::shm::open(
        names.shm.as_str(),
        rustix::shm::OFlags::RDONLY,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == Errno::NOENT {
            Error::BufferNotFound {
                name: name.to_owned(),
            }
        } else {
            map_open_err(e, &names.shm, "shm_open")
        }
    })?;
    snapshot_fd(&fd)
}

/// Snapshots a buffer image file (for example a copy of a `/dev/shm` object) read-only.
///
/// # Errors
/// As [`inspect`]; a missing file is [`Error::BufferNotFound`].
pub fn inspect_file(path: &Path) -> Result<BufferSnapshot> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == Errno::NOENT {
            Error::BufferNotFound {
                name: path.display().to_string(),
            }
        } else {
            map_open_err(e, &path.display().to_string(), "open")
        }
    })?;
    snapshot_fd(&fd)
}

fn snapshot_fd(fd: &OwnedFd) -> Result<BufferSnapshot> {
    let st = rustix::fs::fstat(fd).map_err(|e| Error::io("fstat", e))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(Error::InvalidOieb {
            what: "not a regular file (a FIFO, directory or device holds no buffer)".into(),
        });
    }
    let file_size = u64::try_from(st.st_size).unwrap_or(0);
    let mut head = [0u8; OIEB_SIZE as usize];
    let n = pread_full(fd, &mut head, 0)?;
    let Some(oieb) = OiebFields::parse(head.get(..n).unwrap_or(&[])) else {
        return Err(Error::InvalidOieb {
            what: format!("object of {file_size} bytes is shorter than the 128-byte OIEB"),
        });
    };
    let geo = validate(&oieb, file_size)?;
    let metadata = if oieb.metadata_written_bytes == 0 {
        None
    } else {
        // validate() checked 8 <= written <= M, and M fits the file.
        let len = usize::try_from(oieb.metadata_written_bytes)
            .map_err(|_| Error::corrupt("metadata length does not fit in memory"))?;
        let mut block = vec![0u8; len];
        let got = pread_full(fd, &mut block, OIEB_SIZE)?;
        if got != len {
            return Err(Error::corrupt("object shrank while reading the metadata"));
        }
        Some(decode_metadata(&block)?)
    };
    Ok(snapshot(oieb, geo, file_size, metadata))
}

fn pread_full(fd: &OwnedFd, buf: &mut [u8], offset: u64) -> Result<usize> {
    let mut done = 0usize;
    while let Some(rest) = buf.get_mut(done..) {
        if rest.is_empty() {
            break;
        }
        let at = offset.saturating_add(done as u64);
        match rustix::io::pread(fd, rest, at) {
            Ok(0) => break,
            Ok(n) => done = done.saturating_add(n),
            Err(e) if e == Errno::INTR => {}
            Err(e) => return Err(Error::io("pread", e)),
        }
    }
    Ok(done)
}

/// The checks of §4 on a copied OIEB.
fn validate(o: &OiebFields, file_size: u64) -> Result<Geometry> {
    if u64::from(o.oieb_size) != OIEB_SIZE {
        return Err(Error::InvalidOieb {
            what: format!("oieb_size is {}, expected 128", o.oieb_size),
        });
    }
    if o.version[0] != 1 {
        return Err(Error::InvalidOieb {
            what: format!("protocol major version {}, expected 1", o.version[0]),
        });
    }
    let g = Geometry::new(o.metadata_size, o.payload_size)?;
    if g.total > file_size {
        return Err(Error::corrupt(format!(
            "128 + M + P = {} exceeds the object size {file_size}",
            g.total
        )));
    }
    let p = g.p;
    if o.payload_free_bytes > p {
        return Err(Error::corrupt(format!(
            "payload_free_bytes {} exceeds P={p}",
            o.payload_free_bytes
        )));
    }
    if o.payload_write_pos > p {
        return Err(Error::corrupt(format!(
            "payload_write_pos {} exceeds P={p}",
            o.payload_write_pos
        )));
    }
    if o.payload_read_pos >= p {
        return Err(Error::corrupt(format!(
            "payload_read_pos {} not below P={p}",
            o.payload_read_pos
        )));
    }
    let wb = o.metadata_written_bytes;
    if wb != 0 && (wb < 8 || wb > g.m) {
        return Err(Error::InvalidMetadata {
            what: format!("metadata_written_bytes {wb} outside 8..={}", g.m),
        });
    }
    Ok(g)
}

/// Splits the metadata block copy (`u64 length` + content) and checks the stored length.
fn decode_metadata(block: &[u8]) -> Result<Vec<u8>> {
    let len_bytes: [u8; 8] = block
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::InvalidMetadata {
            what: "metadata block shorter than its length prefix".into(),
        })?;
    let stored = u64::from_le_bytes(len_bytes);
    let content = block.get(8..).unwrap_or(&[]);
    if stored != content.len() as u64 {
        return Err(Error::InvalidMetadata {
            what: format!(
                "stored length {stored} differs from metadata_written_bytes - 8 = {}",
                content.len()
            ),
        });
    }
    Ok(content.to_vec())
}

fn snapshot(
    oieb: OiebFields,
    g: Geometry,
    file_size: u64,
    metadata: Option<Vec<u8>>,
) -> BufferSnapshot {
    let used = g.p.saturating_sub(oieb.payload_free_bytes);
    #[allow(clippy::cast_precision_loss)]
    let utilisation = used as f64 / g.p as f64;
    let health = Health {
        payload_size: g.p,
        free_bytes: oieb.payload_free_bytes,
        used_bytes: used,
        utilisation,
        level: level_for(utilisation),
        frames_written: oieb.payload_written_count,
        frames_read: oieb.payload_read_count,
        write_pos: oieb.payload_write_pos,
        read_pos: oieb.payload_read_pos,
        continuous_free: continuous_free(g.p, oieb.payload_write_pos, oieb.payload_read_pos),
        writer_pid: oieb.writer_pid,
        reader_pid: oieb.reader_pid,
    };
    BufferSnapshot {
        writer_alive: is_process_alive(oieb.writer_pid),
        reader_alive: is_process_alive(oieb.reader_pid),
        oieb,
        file_size,
        metadata,
        health,
    }
}

/// What the stale-resource scan found for one lock file (§13).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleBuffer {
    /// The buffer name (the lock file's stem).
    pub name: String,
    /// The lock file `/tmp/zerobuffer/NAME.lock`.
    pub lock_path: PathBuf,
    /// Whether the shared-memory object `/NAME` exists.
    pub shm_exists: bool,
    /// `reader_pid` in the OIEB (0 if there is no ZeroBuffer object).
    pub reader_pid: u64,
    /// `writer_pid` in the OIEB (0 if there is no ZeroBuffer object).
    pub writer_pid: u64,
    /// Whether the shared memory and semaphores are (or, in a dry run, would be) removed:
    /// false when the object exists but is not a ZeroBuffer or a peer is still alive.
    pub remove_objects: bool,
}

/// Scans `/tmp/zerobuffer` for stale lock files (not held by a live reader) and, unless
/// `dry_run`, removes each one's resources exactly as a reader does at creation (§13): the
/// shared memory and both semaphores if no peer is alive (only the semaphores if the shared
/// memory is gone), then the lock file. With `only`, just that buffer's lock file is examined.
///
/// A dry run takes each lock for a moment to probe it (as the real scan does) and releases it
/// without removing anything. Live buffers are never touched: their reader holds the lock.
pub fn scan_stale(only: Option<&str>, dry_run: bool) -> Vec<StaleBuffer> {
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir(LOCK_DIR) else {
        return found;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "lock") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if only.is_some_and(|o| o != stem) {
            continue;
        }
        let Ok(names) = Names::new(stem) else {
            continue;
        };
        if let Some(stale) = probe_one(&names, &path, dry_run) {
            found.push(stale);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

fn probe_one(names: &Names, path: &Path, dry_run: bool) -> Option<StaleBuffer> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .ok()?;
    // Held by a live reader: not stale.
    rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).ok()?;
    let mut stale = StaleBuffer {
        name: names.name.clone(),
        lock_path: path.to_path_buf(),
        shm_exists: false,
        reader_pid: 0,
        writer_pid: 0,
        remove_objects: false,
    };
    match crate::resources::shm_open_existing(&names.shm) {
        Ok(shm) => {
            stale.shm_exists = true;
            let peek = peek_oieb(&shm);
            if peek.is_zerobuffer {
                stale.reader_pid = peek.reader_pid;
                stale.writer_pid = peek.writer_pid;
                stale.remove_objects =
                    !is_process_alive(peek.reader_pid) && !is_process_alive(peek.writer_pid);
            }
            if stale.remove_objects && !dry_run {
                unlink_all(names);
            }
        }
        Err(e) if e == Errno::NOENT => {
            stale.remove_objects = true;
            if !dry_run {
                let _ = crate::os::NamedSemaphore::unlink(&names.sem_w);
                let _ = crate::os::NamedSemaphore::unlink(&names.sem_r);
            }
        }
        Err(_) => {}
    }
    if !dry_run {
        // Unlinked while we still hold the lock (§12), as the reader's own scan does.
        let _ = rustix::fs::unlink(path);
    }
    drop(fd);
    Some(stale)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // The test vector of protocol §3.1: M=128, P=1024, metadata "hello", two frames.
        let mut b = vec![0u8; 1280];
        let mut put = |off: usize, v: u64| {
            b[off..off + 8].copy_from_slice(&v.to_le_bytes());
        };
        put(0x08, 128);
        put(0x10, 115);
        put(0x18, 13);
        put(0x20, 1024);
        put(0x28, 962);
        put(0x30, 62);
        put(0x40, 2);
        put(0x50, 0);
        put(128, 5);
        b[0..4].copy_from_slice(&128u32.to_le_bytes());
        b[4] = 1;
        b[136..141].copy_from_slice(b"hello");
        b
    }

    #[test]
    fn parses_the_spec_vector() {
        let b = sample();
        let o = OiebFields::parse(&b).expect("128 bytes");
        assert!(o.looks_like_zerobuffer());
        assert_eq!(o.metadata_size, 128);
        assert_eq!(o.payload_free_bytes, 962);
        assert_eq!(o.payload_write_pos, 62);
        let g = validate(&o, b.len() as u64).expect("valid");
        assert_eq!(g.total, 1280);
        let meta = decode_metadata(&b[128..128 + 13]).expect("metadata");
        assert_eq!(meta, b"hello");
        let s = snapshot(o, g, 1280, Some(meta));
        assert_eq!(s.health.used_bytes, 62);
        assert!(!s.writer_alive && !s.reader_alive);
    }

    #[test]
    fn rejects_short_and_inconsistent_oiebs() {
        assert!(OiebFields::parse(&[0u8; 127]).is_none());
        let b = sample();
        let o = OiebFields::parse(&b).expect("parse");
        assert!(matches!(validate(&o, 1279), Err(Error::Corrupt { .. })));
        type Spoil = fn(&mut OiebFields);
        type Want = fn(&Error) -> bool;
        let cases: [(&str, Spoil, Want); 3] = [
            (
                "oieb_size 64",
                |o| o.oieb_size = 64,
                |e| matches!(e, Error::InvalidOieb { .. }),
            ),
            (
                "read_pos 1024",
                |o| o.payload_read_pos = 1024,
                |e| matches!(e, Error::Corrupt { .. }),
            ),
            (
                "metadata_written 4",
                |o| o.metadata_written_bytes = 4,
                |e| matches!(e, Error::InvalidMetadata { .. }),
            ),
        ];
        for (case, spoil, want) in cases {
            let mut bad = o;
            spoil(&mut bad);
            let got = validate(&bad, 1280);
            assert!(got.as_ref().is_err_and(want), "{case}: {got:?}");
        }
        assert!(decode_metadata(&[9, 0, 0, 0, 0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn live_buffer_snapshot_and_stale_scan_leave_it_alone() {
        let name = format!("zb-inspect-unit-{}", std::process::id());
        let reader = crate::Reader::create(&name, crate::BufferConfig::new(128, 1024))
            .expect("create reader");
        let s = inspect(&name).expect("inspect");
        assert!(s.reader_alive);
        assert_eq!(s.oieb.payload_size, 1024);
        assert_eq!(s.metadata, None);
        assert!(scan_stale(Some(&name), false).is_empty());
        assert!(inspect(&name).is_ok());
        drop(reader);
        assert!(matches!(inspect(&name), Err(Error::BufferNotFound { .. })));
    }
}
