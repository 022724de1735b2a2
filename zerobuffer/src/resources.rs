//! Lock file, shared-memory object helpers and stale-resource cleanup (protocol §5, §13).

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::layout::OIEB_SIZE;
use crate::liveness::is_process_alive;
use crate::names::{LOCK_DIR, Names};
use crate::os::NamedSemaphore;

/// How long a held lock file is retried before it is taken to belong to a live reader.
const LOCK_PROBE_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// The reader's lock file, held with `flock(LOCK_EX)` for the reader's lifetime.
pub(crate) struct LockFile {
    fd: Option<OwnedFd>,
    path: PathBuf,
}

impl LockFile {
    /// Steps 2–3 of §5: creates the lock directory, then opens and locks `NAME.lock`,
    /// retrying if a concurrent cleanup unlinked the file under us.
    pub(crate) fn acquire(names: &Names, mode: u32) -> Result<Self> {
        ensure_lock_dir()?;
        // Another process's stale-resource scan (`cleanup_one`) takes every lock file for a
        // moment to probe it; a lock that stays held past this grace belongs to a live reader.
        let busy_until = std::time::Instant::now() + LOCK_PROBE_GRACE;
        let mut unlinked = 0;
        while unlinked < 8 {
            let fd = rustix::fs::open(
                &names.lock,
                OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC,
                Mode::from_raw_mode(mode),
            )
            .map_err(|e| map_open_err(e, &names.lock.display().to_string(), "open lock file"))?;
            match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => {}
                Err(e) if e == Errno::WOULDBLOCK => {
                    if std::time::Instant::now() >= busy_until {
                        return Err(Error::ReaderAlreadyConnected {
                            name: names.name.clone(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    continue;
                }
                Err(e) => return Err(Error::io("flock lock file", e)),
            }
            let held = rustix::fs::fstat(&fd).map_err(|e| Error::io("fstat lock file", e))?;
            match rustix::fs::stat(&names.lock) {
                Ok(st) if st.st_dev == held.st_dev && st.st_ino == held.st_ino => {
                    return Ok(LockFile {
                        fd: Some(fd),
                        path: names.lock.clone(),
                    });
                }
                // Unlinked or replaced by a concurrent cleanup: start again.
                _ => unlinked += 1,
            }
        }
        Err(Error::io(
            "lock file",
            io::Error::other("lock file kept disappearing"),
        ))
    }

    /// Unlinks the file while still holding the lock, then closes it (§12).
    pub(crate) fn release(mut self) {
        self.release_inner();
    }

    fn release_inner(&mut self) {
        if let Some(fd) = self.fd.take() {
            let _ = rustix::fs::unlink(&self.path);
            drop(fd);
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        self.release_inner();
    }
}

fn ensure_lock_dir() -> Result<()> {
    match rustix::fs::mkdir(LOCK_DIR, Mode::from_raw_mode(0o1777)) {
        Ok(()) => {
            // mkdir applies the umask: set the sticky world-writable mode explicitly.
            let _ = rustix::fs::chmod(LOCK_DIR, Mode::from_raw_mode(0o1777));
            Ok(())
        }
        Err(e) if e == Errno::EXIST => Ok(()),
        Err(e) => Err(Error::io("create /tmp/zerobuffer", e)),
    }
}

pub(crate) fn map_open_err(e: Errno, what: &str, op: &'static str) -> Error {
    if e == Errno::ACCESS || e == Errno::PERM {
        Error::PermissionDenied {
            what: what.to_owned(),
        }
    } else {
        Error::io(op, e)
    }
}

/// Opens an existing shared-memory object read-write.
pub(crate) fn shm_open_existing(shm: &str) -> rustix::io::Result<OwnedFd> {
    rustix::shm::open(shm, rustix::shm::OFlags::RDWR, Mode::from_raw_mode(0))
}

/// Creates a new shared-memory object exclusively with `mode`.
pub(crate) fn shm_create_exclusive(shm: &str, mode: u32) -> rustix::io::Result<OwnedFd> {
    rustix::shm::open(
        shm,
        rustix::shm::OFlags::CREATE | rustix::shm::OFlags::EXCL | rustix::shm::OFlags::RDWR,
        Mode::from_raw_mode(mode),
    )
}

/// What the first 128 bytes of an existing object say, read with `pread` (no mapping).
pub(crate) struct OiebPeek {
    pub is_zerobuffer: bool,
    pub reader_pid: u64,
    pub writer_pid: u64,
}

pub(crate) fn peek_oieb(fd: &OwnedFd) -> OiebPeek {
    let mut buf = [0u8; OIEB_SIZE as usize];
    let n = rustix::io::pread(fd, &mut buf, 0).unwrap_or(0);
    let word = |off: usize| {
        buf.get(off..off.saturating_add(8))
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let size = buf
        .get(0..4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_le_bytes);
    OiebPeek {
        is_zerobuffer: n == buf.len() && u64::from(size) == OIEB_SIZE,
        reader_pid: word(0x58),
        writer_pid: word(0x50),
    }
}

/// Unlinks the shared memory and both semaphores of `names`, ignoring `ENOENT`.
pub(crate) fn unlink_all(names: &Names) {
    let _ = NamedSemaphore::unlink(&names.sem_w);
    let _ = NamedSemaphore::unlink(&names.sem_r);
    let _ = rustix::shm::unlink(names.shm.as_str());
}

/// §13: removes the resources of every stale lock file in `/tmp/zerobuffer`.
pub(crate) fn cleanup_stale() {
    let Ok(dir) = std::fs::read_dir(LOCK_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        let Some(stem) = lock_stem(&path) else {
            continue;
        };
        let Ok(names) = Names::new(&stem) else {
            continue;
        };
        cleanup_one(&names, &path);
    }
}

fn lock_stem(path: &Path) -> Option<String> {
    if path.extension()? != "lock" {
        return None;
    }
    Some(path.file_stem()?.to_str()?.to_owned())
}

fn cleanup_one(names: &Names, path: &Path) {
    let Ok(fd) = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) else {
        return;
    };
    if rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
        return; // a live reader owns it
    }
    match shm_open_existing(&names.shm) {
        Ok(shm) => {
            let peek = peek_oieb(&shm);
            if peek.is_zerobuffer
                && !is_process_alive(peek.reader_pid)
                && !is_process_alive(peek.writer_pid)
            {
                unlink_all(names);
            }
        }
        Err(e) if e == Errno::NOENT => {
            let _ = NamedSemaphore::unlink(&names.sem_w);
            let _ = NamedSemaphore::unlink(&names.sem_r);
        }
        Err(_) => {}
    }
    let _ = rustix::fs::unlink(path);
    drop(fd);
}
