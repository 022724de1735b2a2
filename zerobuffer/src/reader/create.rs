//! Creating a buffer (protocol §5): stale cleanup, the lock file, the shared memory and the
//! semaphores, and publishing the OIEB; the loom models' in-memory pair.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use try_lock::TryLock;

use super::{BufferConfig, ReadState, Reader, ReaderOptions};
use crate::atomic::Ordering;
use crate::error::{Error, Result};
use crate::layout::{Geometry, OIEB_SIZE, Oieb, VERSION_1_0_0, round_up_64};
use crate::liveness::is_process_alive;
use crate::names::Names;
use crate::os::{Mapping, NamedSemaphore};
use crate::resources::{
    LockFile, cleanup_stale, fchmod_semaphore, map_open_err, peek_oieb, reserve,
    shm_create_exclusive, shm_open_existing, unlink_all,
};

impl Reader {
    /// Creates buffer `name` with default options (§5): cleans stale resources, takes the
    /// lock file, creates the shared memory (pre-faulted) and both semaphores, and publishes
    /// the OIEB.
    ///
    /// # Errors
    /// [`Error::InvalidName`], [`Error::InvalidArgument`] (payload size 0 or sizes too large),
    /// [`Error::ReaderAlreadyConnected`] if a live reader owns the name,
    /// [`Error::PermissionDenied`], or [`Error::Io`] for other OS failures. Nothing is left
    /// behind on failure.
    pub fn create(name: &str, config: BufferConfig) -> Result<Self> {
        Self::create_with(name, config, ReaderOptions::default())
    }

    /// Like [`Reader::create`] with explicit options.
    ///
    /// # Errors
    /// As [`Reader::create`].
    pub fn create_with(name: &str, config: BufferConfig, options: ReaderOptions) -> Result<Self> {
        let names = Names::new(name)?;
        if config.payload_size == 0 {
            return Err(Error::InvalidArgument("payload size must be > 0"));
        }
        let m = round_up_64(config.metadata_size)
            .ok_or(Error::InvalidArgument("metadata size too large"))?;
        let p = round_up_64(config.payload_size)
            .ok_or(Error::InvalidArgument("payload size too large"))?;
        let geo = Geometry::new(m, p).map_err(|_| Error::InvalidArgument("sizes too large"))?;
        let pid = u64::from(std::process::id());

        cleanup_stale();
        let lock = LockFile::acquire(&names, options.mode & 0o777, options.exact_mode)?;
        let fd = match create_segment(&names, options.mode & 0o777, pid) {
            Ok(fd) => fd,
            Err(e) => {
                lock.release();
                return Err(e);
            }
        };
        match Self::init(&names, &fd, geo, options, pid) {
            Ok((map, sem_w, sem_r)) => Ok(Reader {
                names,
                geo,
                map,
                sem_w,
                sem_r,
                lock: Some(lock),
                pid,
                liveness: options.liveness_interval,
                state: TryLock::new(ReadState::new()),
                pace: crate::wait::Pace::new(),
            }),
            Err(e) => {
                unlink_all(&names);
                lock.release();
                Err(e)
            }
        }
    }

    fn init(
        names: &Names,
        fd: &std::os::fd::OwnedFd,
        geo: Geometry,
        options: ReaderOptions,
        pid: u64,
    ) -> Result<(Mapping, NamedSemaphore, NamedSemaphore)> {
        let mode = options.mode & 0o777;
        if options.exact_mode {
            let m = rustix::fs::Mode::from_raw_mode(mode);
            rustix::fs::fchmod(fd, m).map_err(|e| Error::io("fchmod", e))?;
        }
        // Reserved before mapping: a full /dev/shm is an error here, never a SIGBUS later.
        reserve(fd, geo.total, &names.shm)?;
        rustix::fs::ftruncate(fd, geo.total).map_err(|e| Error::io("ftruncate", e))?;
        // A fresh object extended by ftruncate reads as zeros; MAP_POPULATE pre-faults it.
        let map =
            Mapping::map(fd, geo.total, options.prefault).map_err(|e| Error::io("mmap", e))?;
        let mut sems = Vec::with_capacity(2);
        for sem in [&names.sem_w, &names.sem_r] {
            NamedSemaphore::unlink(sem).map_err(|e| Error::io("sem_unlink", e))?;
            let s = NamedSemaphore::create_exclusive(sem, mode).map_err(|e| {
                if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
                    Error::PermissionDenied { what: sem.clone() }
                } else {
                    Error::io("sem_open", e)
                }
            })?;
            if options.exact_mode {
                // glibc keeps named semaphores in /dev/shm/sem.<name without '/'>.
                fchmod_semaphore(sem, mode)?;
            }
            sems.push(s);
        }
        let sem_r = sems.pop().ok_or(Error::InvalidArgument("semaphores"))?;
        let sem_w = sems.pop().ok_or(Error::InvalidArgument("semaphores"))?;
        publish_oieb(map.oieb(), geo, pid);
        Ok((map, sem_w, sem_r))
    }

    /// Loom only: a reader and a connected writer on an in-memory segment.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for unusable sizes.
    #[cfg(zeroipc_loom)]
    pub fn loom_pair(config: BufferConfig) -> Result<(Reader, crate::Writer)> {
        let m = round_up_64(config.metadata_size).ok_or(Error::InvalidArgument("metadata"))?;
        let p = round_up_64(config.payload_size).ok_or(Error::InvalidArgument("payload"))?;
        let geo = Geometry::new(m, p)?;
        let total = usize::try_from(geo.total).map_err(|_| Error::InvalidArgument("size"))?;
        let pid = u64::from(std::process::id());
        let map = Mapping::in_memory(total);
        publish_oieb(map.oieb(), geo, pid);
        let (sem_w, sem_r) = (NamedSemaphore::in_memory(), NamedSemaphore::in_memory());
        let writer = crate::writer::Writer::loom_attach(
            Names::new("loom")?,
            geo,
            map.clone(),
            sem_w.clone(),
            sem_r.clone(),
        )?;
        let reader = Reader {
            names: Names::new("loom")?,
            geo,
            map,
            sem_w,
            sem_r,
            lock: None,
            pid,
            liveness: super::DEFAULT_LIVENESS_INTERVAL,
            state: TryLock::new(ReadState::new()),
            pace: crate::wait::Pace::new(),
        };
        Ok((reader, writer))
    }
}

/// §5 step 7: initialises the OIEB and publishes it (`oieb_size`, then `reader_pid`, last).
fn publish_oieb(o: &Oieb, geo: Geometry, pid: u64) {
    o.metadata_size.store(geo.m, Ordering::Relaxed);
    o.metadata_free_bytes.store(geo.m, Ordering::Relaxed);
    o.metadata_written_bytes.store(0, Ordering::Relaxed);
    o.payload_size.store(geo.p, Ordering::Relaxed);
    o.payload_free_bytes.store(geo.p, Ordering::Relaxed);
    o.payload_write_pos.store(0, Ordering::Relaxed);
    o.payload_read_pos.store(0, Ordering::Relaxed);
    o.payload_written_count.store(0, Ordering::Relaxed);
    o.payload_read_count.store(0, Ordering::Relaxed);
    o.writer_pid.store(0, Ordering::Relaxed);
    o.version.store(VERSION_1_0_0, Ordering::Relaxed);
    // Release: publishes the fields above; pairs with the writer's Acquire load of
    // `oieb_size` in `Oieb::check_header` at connect.
    o.oieb_size.store(OIEB_SIZE as u32, Ordering::Release);
    // Release, last: a writer that sees a reader also finds the semaphores (R3); pairs
    // with the writer's Acquire load of `reader_pid` in `Oieb::validate`.
    o.reader_pid.store(pid, Ordering::Release);
}

/// §5 step 4: exclusive creation, replacing a stale object once.
fn create_segment(names: &Names, mode: u32, pid: u64) -> Result<std::os::fd::OwnedFd> {
    match shm_create_exclusive(&names.shm, mode) {
        Ok(fd) => return Ok(fd),
        Err(e) if e == rustix::io::Errno::EXIST => {}
        Err(e) => return Err(map_open_err(e, &names.shm, "shm_open")),
    }
    if let Ok(existing) = shm_open_existing(&names.shm) {
        let peek = peek_oieb(&existing);
        if peek.is_zerobuffer && peek.reader_pid != pid && is_process_alive(peek.reader_pid) {
            return Err(Error::ReaderAlreadyConnected {
                name: names.name.clone(),
            });
        }
    }
    unlink_all(names);
    shm_create_exclusive(&names.shm, mode).map_err(|e| map_open_err(e, &names.shm, "shm_open"))
}
