//! Lock file, shared-memory object helpers and stale-resource cleanup (protocol §5, §13).

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, FlockOperation, Mode, OFlags};
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
    /// Steps 2–3 of §5: checks (or creates) the lock directory, then opens and locks
    /// `NAME.lock` in it, retrying if a concurrent cleanup unlinked the file under us.
    ///
    /// The file is opened with `O_NOFOLLOW` relative to the checked directory, must be a
    /// regular file owned by us, and gets `mode` with `fchmod` on the open descriptor when
    /// `exact` (never `chmod` through a path another user could swap).
    pub(crate) fn acquire(names: &Names, mode: u32, exact: bool) -> Result<Self> {
        let dir = open_lock_dir()?;
        let lock_path = names.lock.display().to_string();
        let file_name = names
            .lock
            .file_name()
            .ok_or(Error::InvalidArgument("lock file name"))?;
        // Another process's stale-resource scan (`cleanup_one`) takes every lock file for a
        // moment to probe it; a lock that stays held past this grace belongs to a live reader.
        let busy_until = std::time::Instant::now() + LOCK_PROBE_GRACE;
        let mut unlinked = 0;
        while unlinked < 8 {
            let fd = rustix::fs::openat(
                &dir,
                file_name,
                OFlags::CREATE
                    | OFlags::RDWR
                    | OFlags::CLOEXEC
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK,
                Mode::from_raw_mode(mode & 0o777),
            )
            .map_err(|e| {
                // O_NOFOLLOW gives ELOOP, or EACCES when O_CREAT meets a link in a sticky
                // directory: say what is there.
                let is_link = rustix::fs::statat(&dir, file_name, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
                if is_link {
                    Error::UnsafeLockPath {
                        path: lock_path.clone(),
                        reason: "it is a symbolic link (planted by someone else?); it is never \
                                 followed: remove it"
                            .into(),
                    }
                } else {
                    map_open_err(e, &lock_path, "open lock file")
                }
            })?;
            let held = rustix::fs::fstat(&fd).map_err(|e| Error::io("fstat lock file", e))?;
            check_lock_file(&held, &lock_path)?;
            if exact {
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o777))
                    .map_err(|e| Error::io("fchmod lock file", e))?;
            }
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
            match rustix::fs::statat(&dir, file_name, AtFlags::SYMLINK_NOFOLLOW) {
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

/// The effective user id, as lock-file ownership is checked against it.
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A lock file must be a regular file that we own: anything else was put there by someone
/// else (or is left from a reader of another user, which we must not take over).
fn check_lock_file(st: &rustix::fs::Stat, path: &str) -> Result<()> {
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(Error::UnsafeLockPath {
            path: path.to_owned(),
            reason: "it is not a regular file; remove it".into(),
        });
    }
    if st.st_uid != euid() {
        return Err(Error::UnsafeLockPath {
            path: path.to_owned(),
            reason: format!(
                "it belongs to uid {}, not to us (uid {}); remove it if its reader is gone",
                st.st_uid,
                euid()
            ),
        });
    }
    Ok(())
}

/// Opens the lock directory, creating it (mode 1777) if absent, and checks it is safe: a real
/// directory (not a symbolic link), owned by us or root, and sticky if world-writable (so no
/// other user can replace our lock files).
fn open_lock_dir() -> Result<OwnedFd> {
    let created = match rustix::fs::mkdir(LOCK_DIR, Mode::from_raw_mode(0o1777)) {
        Ok(()) => true,
        Err(e) if e == Errno::EXIST => false,
        Err(e) => return Err(Error::io("create /tmp/zerobuffer", e)),
    };
    let refuse = |reason: String| Error::UnsafeLockPath {
        path: LOCK_DIR.to_owned(),
        reason,
    };
    let dir = rustix::fs::open(
        LOCK_DIR,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::LOOP | Errno::NOTDIR => {
            refuse("it is not a directory (a symbolic link?); remove it".into())
        }
        e => Error::io("open /tmp/zerobuffer", e),
    })?;
    let st = rustix::fs::fstat(&dir).map_err(|e| Error::io("fstat /tmp/zerobuffer", e))?;
    let me = euid();
    if st.st_uid != me && st.st_uid != 0 {
        return Err(refuse(format!(
            "it belongs to uid {}, neither us (uid {me}) nor root; remove it",
            st.st_uid
        )));
    }
    let world_writable = st.st_mode & 0o002 != 0;
    let sticky = st.st_mode & 0o1000 != 0;
    if created && st.st_uid == me {
        // mkdir applied the umask: every user's readers need it, sticky and world-writable.
        rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o1777))
            .map_err(|e| Error::io("fchmod /tmp/zerobuffer", e))?;
    } else if world_writable && !sticky {
        if st.st_uid == me {
            // Ours (made by mkdir under a umask, or by a peer of ours): make it sticky.
            rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o1777))
                .map_err(|e| Error::io("fchmod /tmp/zerobuffer", e))?;
        } else {
            return Err(refuse(
                "it is world-writable without the sticky bit, so anyone could replace lock \
                 files in it; chmod +t it"
                    .into(),
            ));
        }
    }
    Ok(dir)
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
    let Ok(fd) = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::empty(),
    ) else {
        return;
    };
    match rustix::fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => {}
        _ => return,
    }
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

/// Bytes free for an unprivileged writer on the filesystem of `fd`, if it can tell.
fn space_free(fd: &OwnedFd) -> Option<u64> {
    let st = rustix::fs::fstatvfs(fd).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Reserves `size` bytes for the new object `fd` (`fallocate`) before it is mapped, so that
/// no later touch of the mapping can raise SIGBUS for want of space. A size beyond the space
/// free fails at once, before anything is allocated or prefaulted.
pub(crate) fn reserve(fd: &OwnedFd, size: u64, what: &str) -> Result<()> {
    let no_space = |available| Error::NoSpace {
        what: what.to_owned(),
        requested: size,
        available,
    };
    if let Some(free) = space_free(fd)
        && size > free
    {
        return Err(no_space(free));
    }
    match rustix::fs::fallocate(fd, rustix::fs::FallocateFlags::empty(), 0, size) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::NOSPC => Err(no_space(space_free(fd).unwrap_or(0))),
        // A filesystem that cannot reserve is used as before (tmpfs always can).
        Err(e) if e == Errno::OPNOTSUPP => Ok(()),
        Err(e) => Err(Error::io("fallocate", e)),
    }
}

/// Sets `mode` exactly on the glibc semaphore `sem` (`/dev/shm/sem.NAME`) through a
/// descriptor opened without following links: `fchmod`, never `chmod` by path.
pub(crate) fn fchmod_semaphore(sem: &str, mode: u32) -> Result<()> {
    let path = format!("/dev/shm/sem.{}", sem.trim_start_matches('/'));
    let fd = rustix::fs::open(
        path.as_str(),
        OFlags::RDWR | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io("open semaphore", e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io("fstat semaphore", e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_uid != euid() {
        return Err(Error::UnsafeLockPath {
            path,
            reason: "the semaphore just created is not our regular file".into(),
        });
    }
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o777))
        .map_err(|e| Error::io("fchmod semaphore", e))
}
