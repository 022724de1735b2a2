//! In-memory stand-ins for the mapping and the named semaphores, used only under
//! `cfg(zeroipc_loom)`: the OIEB is a Rust value with loom atomics, the semaphores are loom
//! atomic counters, so loom can explore every interleaving of the real reader and writer code.

use std::cell::UnsafeCell;
use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use loom::sync::Arc;

use crate::atomic::{AtomicU32, Ordering};
use crate::layout::{OIEB_SIZE, Oieb};

struct Segment {
    oieb: Oieb,
    /// Bytes from offset 128 (metadata block and ring).
    bytes: UnsafeCell<Box<[u8]>>,
    len: usize,
}

// SAFETY: `bytes` is accessed only through raw pointers under the protocol's exclusive-use
// rules (the same rules that make the real shared mapping sound); the OIEB is atomics only.
unsafe impl Sync for Segment {}
// SAFETY: as above; the segment owns its memory.
unsafe impl Send for Segment {}

/// In-memory segment handle (shared by the reader and the writer of one loom model).
#[derive(Clone)]
pub(crate) struct Mapping {
    seg: Arc<Segment>,
}

fn unsupported() -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, "not available under loom")
}

impl Mapping {
    pub(crate) fn map(_fd: &OwnedFd, _len: u64, _populate: bool) -> io::Result<Self> {
        Err(unsupported())
    }

    /// A zeroed in-memory segment of `len` bytes (`len >= 128`).
    pub(crate) fn in_memory(len: usize) -> Self {
        let rest = len.saturating_sub(OIEB_SIZE as usize);
        Mapping {
            seg: Arc::new(Segment {
                oieb: Oieb::zeroed(),
                bytes: UnsafeCell::new(vec![0u8; rest].into_boxed_slice()),
                len,
            }),
        }
    }

    pub(crate) fn oieb(&self) -> &Oieb {
        &self.seg.oieb
    }

    fn base(&self) -> *mut u8 {
        // SAFETY: only the pointer is taken; no reference to the bytes is created here.
        unsafe { (*self.seg.bytes.get()).as_mut_ptr() }
    }

    /// Index into `bytes` for segment offset `off` and `len` bytes (OIEB bytes excluded).
    fn range(&self, off: u64, len: usize) -> Option<usize> {
        let off = usize::try_from(off).ok()?;
        let end = off.checked_add(len)?;
        (off >= OIEB_SIZE as usize && end <= self.seg.len).then(|| off - OIEB_SIZE as usize)
    }

    pub(crate) fn read_into(&self, off: u64, out: &mut [u8]) -> bool {
        let Some(i) = self.range(off, out.len()) else {
            return false;
        };
        // SAFETY: `i..i+len` is inside the boxed slice (checked by `range`).
        unsafe {
            std::ptr::copy_nonoverlapping(self.base().wrapping_add(i), out.as_mut_ptr(), out.len());
        }
        true
    }

    pub(crate) fn write_from(&self, off: u64, data: &[u8]) -> bool {
        let Some(i) = self.range(off, data.len()) else {
            return false;
        };
        // SAFETY: in bounds (checked); the protocol gives this side exclusive use of the range.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.base().wrapping_add(i), data.len());
        }
        true
    }

    u64_access!();

    pub(crate) fn slice(&self, off: u64, len: usize) -> Option<&[u8]> {
        let i = self.range(off, len)?;
        // SAFETY: in bounds (checked); reserved to this side while the view lives.
        Some(unsafe { std::slice::from_raw_parts(self.base().wrapping_add(i).cast_const(), len) })
    }

    pub(crate) fn slice_mut(&mut self, off: u64, len: usize) -> Option<&mut [u8]> {
        let i = self.range(off, len)?;
        // SAFETY: in bounds (checked); reserved to the writer until committed.
        Some(unsafe { std::slice::from_raw_parts_mut(self.base().wrapping_add(i), len) })
    }
}

/// A counting semaphore on a loom atomic.
#[derive(Clone)]
pub(crate) struct NamedSemaphore {
    count: Arc<AtomicU32>,
}

impl NamedSemaphore {
    pub(crate) fn in_memory() -> Self {
        NamedSemaphore {
            count: Arc::new(AtomicU32::new(0)),
        }
    }

    pub(crate) fn create_exclusive(_name: &str, _mode: u32) -> io::Result<Self> {
        Err(unsupported())
    }

    pub(crate) fn open(_name: &str) -> io::Result<Self> {
        Err(unsupported())
    }

    pub(crate) fn unlink(_name: &str) -> io::Result<()> {
        Ok(())
    }

    pub(crate) fn post(&self) -> io::Result<()> {
        self.count.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub(crate) fn try_wait(&self) -> bool {
        let v = self.count.load(Ordering::Acquire);
        v > 0
            && self
                .count
                .compare_exchange(v, v - 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// One attempt, then a loom yield: callers loop with their own deadline logic.
    pub(crate) fn wait_timeout(&self, _slice: Duration) -> io::Result<bool> {
        if self.try_wait() {
            return Ok(true);
        }
        loom::thread::yield_now();
        Ok(self.try_wait())
    }

    pub(crate) fn value(&self) -> io::Result<i32> {
        Ok(i32::try_from(self.count.load(Ordering::Acquire)).unwrap_or(i32::MAX))
    }
}
