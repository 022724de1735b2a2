//! OS layer: the only module of this crate with `unsafe` code.
//!
//! It wraps glibc named semaphores (`sem_open` & co. through `libc`; rustix has no named
//! semaphores) and the raw shared-memory mapping. Everything above this module uses safe,
//! bounds-checked accessors.
#![allow(unsafe_code)]

/// `read_u64`/`write_u64` of a mapping, over its `read_into`/`write_from` (the same for the
/// real and the loom mapping).
macro_rules! u64_access {
    () => {
        /// Reads a little-endian `u64` at any (unaligned) offset.
        pub(crate) fn read_u64(&self, off: u64) -> Option<u64> {
            let mut b = [0u8; 8];
            self.read_into(off, &mut b).then(|| u64::from_le_bytes(b))
        }

        /// Writes a little-endian `u64` at any (unaligned) offset.
        pub(crate) fn write_u64(&self, off: u64, v: u64) -> bool {
            self.write_from(off, &v.to_le_bytes())
        }
    };
}

#[cfg(zeroipc_loom)]
mod loom_backend;
#[cfg(zeroipc_loom)]
pub(crate) use loom_backend::{Mapping, NamedSemaphore};

#[cfg(not(zeroipc_loom))]
pub(crate) use real::{Mapping, NamedSemaphore};

#[cfg(not(zeroipc_loom))]
mod real {
    use std::ffi::CString;
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::time::Duration;

    use memmap2::{MmapOptions, MmapRaw};

    use crate::layout::{OIEB_SIZE, Oieb};

    // ---------------------------------------------------------------------------------------------
    // Mapping
    // ---------------------------------------------------------------------------------------------

    /// A shared read-write mapping of a whole ZeroBuffer segment (at least 128 bytes).
    ///
    /// Accessors take byte offsets and lengths and check them against the mapping length, so no
    /// value read from shared memory can produce an out-of-bounds access.
    pub(crate) struct Mapping {
        raw: MmapRaw,
    }

    impl Mapping {
        /// Maps `len` bytes of `fd` shared read-write; `populate` pre-faults the pages
        /// (`MAP_POPULATE`).
        pub(crate) fn map(fd: &OwnedFd, len: u64, populate: bool) -> io::Result<Self> {
            let len_usize = usize::try_from(len)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large"))?;
            if len < OIEB_SIZE {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "segment smaller than an OIEB",
                ));
            }
            let mut opts = MmapOptions::new();
            opts.len(len_usize);
            if populate {
                opts.populate();
            }
            let raw = opts.map_raw(fd.as_raw_fd())?;
            Ok(Mapping { raw })
        }

        /// The OIEB at offset 0.
        pub(crate) fn oieb(&self) -> &Oieb {
            let ptr = self.raw.as_mut_ptr().cast::<Oieb>();
            // SAFETY: the mapping is at least 128 bytes (checked in `map`) and page-aligned, so
            // `ptr` is valid and aligned for `Oieb` (size 128, align 8). `Oieb` consists only of
            // atomics, for which any bit pattern is valid and concurrent modification by another
            // process is exactly what they are for; the reference lives no longer than `self`,
            // which keeps the mapping alive.
            unsafe { &*ptr }
        }

        /// Pointer `off` bytes into the mapping (`off` already bounds-checked by `range`).
        fn ptr_at(&self, off: usize) -> *mut u8 {
            self.raw.as_mut_ptr().wrapping_add(off)
        }

        fn range(&self, off: u64, len: usize) -> Option<usize> {
            let off = usize::try_from(off).ok()?;
            let end = off.checked_add(len)?;
            (end <= self.raw.len()).then_some(off)
        }

        /// Copies `out.len()` bytes from offset `off`; `false` if out of bounds.
        pub(crate) fn read_into(&self, off: u64, out: &mut [u8]) -> bool {
            let Some(off) = self.range(off, out.len()) else {
                return false;
            };
            // SAFETY: `off..off+out.len()` lies inside the mapping (checked by `range`), `out` is a
            // distinct local buffer, and a byte copy has no alignment requirement.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.ptr_at(off).cast_const(),
                    out.as_mut_ptr(),
                    out.len(),
                );
            }
            true
        }

        /// Copies `data` to offset `off`; `false` if out of bounds.
        pub(crate) fn write_from(&self, off: u64, data: &[u8]) -> bool {
            let Some(off) = self.range(off, data.len()) else {
                return false;
            };
            // SAFETY: the destination range lies inside the mapping (checked by `range`) and the
            // mapping is writable; `data` cannot overlap it because no Rust reference to writable
            // mapped bytes outlives a `&mut self` borrow (see `slice_mut`), and the protocol gives
            // this side exclusive use of the bytes it writes.
            unsafe {
                std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr_at(off), data.len());
            }
            true
        }

        u64_access!();

        /// A read-only view of `len` bytes at `off`, `None` if out of bounds.
        ///
        /// Only for bytes the protocol reserves to this process while the view lives (a frame
        /// read and not yet released): a correct peer does not write them meanwhile.
        pub(crate) fn slice(&self, off: u64, len: usize) -> Option<&[u8]> {
            let off = self.range(off, len)?;
            // SAFETY: the range is inside the mapping (checked) and valid for reads for the
            // lifetime of `&self`; u8 has no alignment or validity requirement. Per protocol the
            // peer does not write these bytes until this process releases them, which happens only
            // after the view (tied to the frame handle) is gone.
            Some(unsafe { std::slice::from_raw_parts(self.ptr_at(off).cast_const(), len) })
        }

        /// A writable view of `len` bytes at `off`, `None` if out of bounds.
        ///
        /// Only for ring bytes the reader cannot reach yet (a reserved, uncommitted frame).
        pub(crate) fn slice_mut(&mut self, off: u64, len: usize) -> Option<&mut [u8]> {
            let off = self.range(off, len)?;
            // SAFETY: the range is inside the writable mapping (checked); `&mut self` ensures no
            // other view from this mapping handle exists meanwhile; per protocol the reader does
            // not access reserved space before the frame is committed.
            Some(unsafe { std::slice::from_raw_parts_mut(self.ptr_at(off), len) })
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Named semaphores
    // ---------------------------------------------------------------------------------------------

    /// A glibc POSIX named semaphore handle (`sem_open`), closed on drop.
    pub(crate) struct NamedSemaphore {
        sem: std::ptr::NonNull<libc::sem_t>,
    }

    // SAFETY: glibc's sem_* functions are thread-safe; the handle is just a pointer to a mapping
    // that stays valid until `sem_close` in `drop`.
    unsafe impl Send for NamedSemaphore {}
    // SAFETY: as above, every operation on the handle is thread-safe.
    unsafe impl Sync for NamedSemaphore {}

    fn c_name(name: &str) -> io::Result<CString> {
        CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
    }

    impl NamedSemaphore {
        /// `sem_open(name, O_CREAT | O_EXCL, mode, 0)`.
        pub(crate) fn create_exclusive(name: &str, mode: u32) -> io::Result<Self> {
            let c = c_name(name)?;
            // SAFETY: `c` is a valid NUL-terminated string; with O_CREAT sem_open reads exactly
            // two variadic arguments, a mode_t and an unsigned int, which we pass.
            let sem = unsafe {
                libc::sem_open(
                    c.as_ptr(),
                    libc::O_CREAT | libc::O_EXCL,
                    mode as libc::c_uint,
                    0 as libc::c_uint,
                )
            };
            Self::from_raw(sem)
        }

        /// `sem_open(name, 0)`.
        pub(crate) fn open(name: &str) -> io::Result<Self> {
            let c = c_name(name)?;
            // SAFETY: `c` is a valid NUL-terminated string; without O_CREAT no variadic argument
            // is read.
            let sem = unsafe { libc::sem_open(c.as_ptr(), 0) };
            Self::from_raw(sem)
        }

        fn from_raw(sem: *mut libc::sem_t) -> io::Result<Self> {
            if sem == libc::SEM_FAILED {
                return Err(io::Error::last_os_error());
            }
            std::ptr::NonNull::new(sem)
                .map(|sem| NamedSemaphore { sem })
                .ok_or_else(io::Error::last_os_error)
        }

        /// `sem_unlink(name)`; `ENOENT` counts as success.
        pub(crate) fn unlink(name: &str) -> io::Result<()> {
            let c = c_name(name)?;
            // SAFETY: `c` is a valid NUL-terminated string.
            let rc = unsafe { libc::sem_unlink(c.as_ptr()) };
            if rc == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOENT) {
                Ok(())
            } else {
                Err(e)
            }
        }

        /// `sem_post`. No syscall unless someone waits (glibc).
        pub(crate) fn post(&self) -> io::Result<()> {
            // SAFETY: `self.sem` came from a successful sem_open and is not closed before drop.
            let rc = unsafe { libc::sem_post(self.sem.as_ptr()) };
            if rc == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }

        /// `sem_trywait`: `true` if a token was taken.
        pub(crate) fn try_wait(&self) -> bool {
            // SAFETY: `self.sem` is a valid open semaphore (see `post`).
            unsafe { libc::sem_trywait(self.sem.as_ptr()) == 0 }
        }

        /// Waits up to `slice` for a token (`sem_timedwait`, CLOCK_REALTIME as glibc requires for
        /// it). `EINTR` restarts the wait with the same deadline. `Ok(false)` on timeout.
        pub(crate) fn wait_timeout(&self, slice: Duration) -> io::Result<bool> {
            let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
            let nanos = u64::try_from(now.tv_nsec)
                .unwrap_or(0)
                .saturating_add(u64::from(slice.subsec_nanos()));
            let secs = i64::try_from(slice.as_secs())
                .unwrap_or(i64::MAX)
                .saturating_add(now.tv_sec)
                .saturating_add(i64::try_from(nanos / 1_000_000_000).unwrap_or(0));
            let abs = libc::timespec {
                tv_sec: secs as libc::time_t,
                tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
            };
            loop {
                // SAFETY: `self.sem` is a valid open semaphore and `abs` a valid timespec that
                // outlives the call.
                let rc = unsafe { libc::sem_timedwait(self.sem.as_ptr(), &abs) };
                if rc == 0 {
                    return Ok(true);
                }
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ETIMEDOUT) => return Ok(false),
                    _ => return Err(e),
                }
            }
        }

        /// `sem_getvalue`.
        pub(crate) fn value(&self) -> io::Result<i32> {
            let mut v: libc::c_int = 0;
            // SAFETY: `self.sem` is a valid open semaphore and `v` a valid out pointer.
            let rc = unsafe { libc::sem_getvalue(self.sem.as_ptr(), &mut v) };
            if rc == 0 {
                Ok(v)
            } else {
                Err(io::Error::last_os_error())
            }
        }
    }

    impl Drop for NamedSemaphore {
        fn drop(&mut self) {
            // SAFETY: the handle came from sem_open and is closed exactly once, here.
            unsafe {
                libc::sem_close(self.sem.as_ptr());
            }
        }
    }
}
