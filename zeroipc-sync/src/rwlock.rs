//! Reader–writer lock (spec §4.10): `NAME_state`, `NAME_rmtx`, `NAME_wmtx`, marker `NAME`.

use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{self, part, region};
use crate::error::{Error, Result};
use crate::futex::{self, Word};
use crate::layout::RwStateLayout;
use crate::mutex::open_raw_mutex;
use crate::semaphore::{self, RawSemaphore};

pub(crate) const READERS: usize = RwStateLayout::READERS;
pub(crate) const WRITER: usize = RwStateLayout::WRITER_ACTIVE;
const STATE_SIZE: u64 = RwStateLayout::SIZE;

const SUFFIXES: [&str; 3] = ["_state", "_rmtx", "_wmtx"];

/// The six words of an RWLock: its state and its two mutexes (count, waiting each).
pub(crate) struct RwWords<'a, W: ?Sized> {
    pub readers: &'a W,
    pub writer_active: &'a W,
    pub rmtx: [&'a W; 2],
    pub wmtx: [&'a W; 2],
}

fn lock<W: Word + ?Sized>(m: [&W; 2], deadline: Option<Instant>) -> bool {
    semaphore::acquire(m[0], m[1], deadline)
}

fn try_lock<W: Word + ?Sized>(m: [&W; 2]) -> bool {
    semaphore::try_take(m[0], Ordering::Acquire).is_ok()
}

fn unlock<W: Word + ?Sized>(m: [&W; 2]) {
    // Only fails when the mutex is already unlocked, which our own calls never cause.
    let _ = semaphore::release(m[0], m[1], 1);
}

/// Waits until `word == 0` (as i32 `<= 0` for `readers`); `false` on timeout.
fn wait_zero<W: Word + ?Sized>(word: &W, deadline: Option<Instant>) -> bool {
    let zero = || {
        let v = word.load(Ordering::Acquire);
        if (v as i32) > 0 { Err(v) } else { Ok(()) }
    };
    futex::spin(|| zero().ok()).is_some() || futex::wait_for(word, deadline, zero).is_some()
}

impl<W: Word + ?Sized> RwWords<'_, W> {
    pub(crate) fn reader_lock(&self, deadline: Option<Instant>) -> bool {
        if !lock(self.rmtx, deadline) {
            return false;
        }
        // Acquire: pairs with the writer's Release store of 0 in `writer_unlock`.
        while self.writer_active.load(Ordering::Acquire) != 0 {
            unlock(self.rmtx);
            if !wait_zero(self.writer_active, deadline) || !lock(self.rmtx, deadline) {
                return false;
            }
        }
        self.readers.fetch_add(1, Ordering::AcqRel);
        unlock(self.rmtx);
        true
    }

    pub(crate) fn try_reader_lock(&self) -> bool {
        if !try_lock(self.rmtx) {
            return false;
        }
        let ok = self.writer_active.load(Ordering::Acquire) == 0;
        if ok {
            self.readers.fetch_add(1, Ordering::AcqRel);
        }
        unlock(self.rmtx);
        ok
    }

    /// `Err(())` if no reader holds the lock (nothing changed).
    pub(crate) fn reader_unlock(&self) -> Result<(), ()> {
        let mut r = self.readers.load(Ordering::Relaxed);
        loop {
            if (r as i32) <= 0 {
                return Err(());
            }
            // Release: the reader's reads happen before the writer's Acquire load of
            // `readers` in `wait_zero`.
            match self
                .readers
                .compare_exchange(r, r - 1, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => r = now,
            }
        }
        if r == 1 {
            self.readers.wake(true);
        }
        Ok(())
    }

    pub(crate) fn writer_lock(&self, deadline: Option<Instant>) -> bool {
        if !lock(self.wmtx, deadline) {
            return false;
        }
        if !lock(self.rmtx, deadline) {
            unlock(self.wmtx);
            return false;
        }
        // Under rmtx: readers that take rmtx after us see the flag (rmtx orders it).
        self.writer_active.store(1, Ordering::Release);
        unlock(self.rmtx);
        if wait_zero(self.readers, deadline) {
            return true;
        }
        self.roll_back();
        false
    }

    pub(crate) fn roll_back(&self) {
        // Release: pairs with readers' Acquire load of `writer_active`.
        self.writer_active.store(0, Ordering::Release);
        self.writer_active.wake(true);
        unlock(self.wmtx);
    }

    pub(crate) fn try_writer_lock(&self) -> bool {
        if !try_lock(self.wmtx) {
            return false;
        }
        if !try_lock(self.rmtx) {
            unlock(self.wmtx);
            return false;
        }
        if (self.readers.load(Ordering::Acquire) as i32) > 0 {
            unlock(self.rmtx);
            unlock(self.wmtx);
            return false;
        }
        self.writer_active.store(1, Ordering::Release);
        unlock(self.rmtx);
        true
    }

    /// `Err(())` if no writer holds the lock.
    pub(crate) fn writer_unlock(&self) -> Result<(), ()> {
        if self.writer_active.load(Ordering::Relaxed) != 1 {
            return Err(());
        }
        self.roll_back();
        Ok(())
    }
}

/// A cross-process reader–writer lock (writer-preferring: a waiting writer blocks new
/// readers).
///
/// Entries, in creation order (spec §4.10): `NAME_state` = `{ i32 readers; i32
/// writer_active }`, `NAME_rmtx` and `NAME_wmtx` (mutexes), and the 1-byte marker `NAME`.
/// Readers sleep on `writer_active`, a writer draining readers sleeps on `readers`.
///
/// No owner is recorded (the layout has no room, and the mutexes' names leave none for an
/// `_owner` suffix): a process that dies holding the write lock, holding a read lock, or
/// inside a lock call (holding `NAME_rmtx`) blocks the others until their `_timeout` forms
/// give up.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::RwLock;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let rw = RwLock::create(&seg, "table")?;
/// {
///     let _a = rw.read()?;
///     let _b = rw.read()?; // readers share
///     assert!(rw.try_write()?.is_none());
/// }
/// let w = rw.write()?;
/// assert!(rw.try_read()?.is_none());
/// drop(w);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RwLock {
    name: String,
    pub(crate) state: Region,
    pub(crate) rmtx: RawSemaphore,
    pub(crate) wmtx: RawSemaphore,
}

/// Shared access to an [`RwLock`]; released on drop.
#[must_use = "the read lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct RwLockReadGuard<'a> {
    pub(crate) lock: &'a RwLock,
}

impl Drop for RwLockReadGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.reader_unlock();
    }
}

/// Exclusive access to an [`RwLock`]; released on drop.
#[must_use = "the write lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct RwLockWriteGuard<'a> {
    pub(crate) lock: &'a RwLock,
}

impl Drop for RwLockWriteGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.writer_unlock();
    }
}

impl common::FourParts for RwLock {
    const SUFFIXES: [&'static str; 3] = SUFFIXES;

    const SIZES: [u64; 3] = [STATE_SIZE, semaphore::SIZE, semaphore::SIZE];

    fn init([_, rmtx, wmtx, _]: &[Region; 4]) -> Result<()> {
        RawSemaphore::init(rmtx, 1, 1)?;
        RawSemaphore::init(wmtx, 1, 1)
    }

    fn created(name: &str, [_, re, we, _]: [Entry; 4], [state, rr, wr, _]: [Region; 4]) -> Self {
        Self {
            name: name.to_owned(),
            state,
            rmtx: RawSemaphore {
                region: rr,
                entry: re,
                max: 1,
            },
            wmtx: RawSemaphore {
                region: wr,
                entry: we,
                max: 1,
            },
        }
    }

    fn from_entries(seg: &Segment, name: &str, [se, re, we, _]: [Entry; 4]) -> Result<Self> {
        se.expect_size(STATE_SIZE)?;
        Ok(Self {
            name: name.to_owned(),
            state: region(seg, &se)?,
            rmtx: open_raw_mutex(seg, re)?,
            wmtx: open_raw_mutex(seg, we)?,
        })
    }
}

impl RwLock {
    common::four_part_constructors! {
        /// Creates the lock `name` (four entries, published at once).
        ///
        /// # Errors
        /// `NameTooLong` if `name` is longer than 25 bytes; the segment's errors.
        create;

        /// Opens the existing lock `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::Incomplete`] if some parts are missing after the grace period;
        /// [`FormatError::SizeMismatch`] (`NAME_state` not 8 bytes, mutexes not 16); the Mutex checks
        /// ([`FormatError::TypeMismatch`], `Corrupt`) on both mutexes.
        open;

        /// Opens `name` if its marker exists, else creates it (decided under the creation lock).
        ///
        /// # Errors
        /// As [`RwLock::create`] and [`RwLock::open`].
        open_or_create;
    }

    pub(crate) fn with_words<R>(
        &self,
        f: impl FnOnce(&RwWords<'_, crate::futex::HwU32>) -> R,
    ) -> Result<R> {
        let words = RwWords {
            readers: self.state.atomic_u32(READERS)?,
            writer_active: self.state.atomic_u32(WRITER)?,
            rmtx: [self.rmtx.count_word()?, self.rmtx.waiting_word()?],
            wmtx: [self.wmtx.count_word()?, self.wmtx.waiting_word()?],
        };
        Ok(f(&words))
    }

    fn read_until(&self, deadline: Option<Instant>) -> Result<RwLockReadGuard<'_>> {
        if self.with_words(|w| w.reader_lock(deadline))? {
            Ok(RwLockReadGuard { lock: self })
        } else {
            Err(Error::Timeout {
                what: "an rwlock read lock",
            })
        }
    }

    fn write_until(&self, deadline: Option<Instant>) -> Result<RwLockWriteGuard<'_>> {
        if self.with_words(|w| w.writer_lock(deadline))? {
            Ok(RwLockWriteGuard { lock: self })
        } else {
            Err(Error::Timeout {
                what: "an rwlock write lock",
            })
        }
    }

    /// Takes a read lock, blocking while a writer holds or waits for the lock.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn read(&self) -> Result<RwLockReadGuard<'_>> {
        self.read_until(None)
    }

    /// As [`RwLock::read`], at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`].
    pub fn read_timeout(&self, timeout: Duration) -> Result<RwLockReadGuard<'_>> {
        self.read_until(futex::deadline_after(timeout))
    }

    /// Takes a read lock if no writer is active, without blocking.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn try_read(&self) -> Result<Option<RwLockReadGuard<'_>>> {
        Ok(self
            .with_words(|w| w.try_reader_lock())?
            .then_some(RwLockReadGuard { lock: self }))
    }

    /// Takes the write lock, blocking until other writers and all readers are gone.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn write(&self) -> Result<RwLockWriteGuard<'_>> {
        self.write_until(None)
    }

    /// As [`RwLock::write`], at most `timeout` (a timed-out writer rolls its flag back).
    ///
    /// # Errors
    /// [`Error::Timeout`].
    pub fn write_timeout(&self, timeout: Duration) -> Result<RwLockWriteGuard<'_>> {
        self.write_until(futex::deadline_after(timeout))
    }

    /// Takes the write lock if it is free and no reader holds the lock, without blocking.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn try_write(&self) -> Result<Option<RwLockWriteGuard<'_>>> {
        Ok(self
            .with_words(|w| w.try_writer_lock())?
            .then_some(RwLockWriteGuard { lock: self }))
    }

    fn reader_unlock(&self) -> Result<()> {
        self.with_words(|w| w.reader_unlock())?
            .map_err(|()| Error::NotHeld {
                name: self.name.clone(),
                what: "read lock",
            })
    }

    fn writer_unlock(&self) -> Result<()> {
        self.with_words(|w| w.writer_unlock())?
            .map_err(|()| Error::NotHeld {
                name: self.name.clone(),
                what: "write lock",
            })
    }

    /// Readers holding the lock (a snapshot).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn readers(&self) -> Result<i32> {
        Ok(self.state.atomic_i32(READERS)?.load(Ordering::Acquire))
    }

    /// Whether a writer holds or is acquiring the lock (a snapshot).
    ///
    /// # Errors
    /// `Corrupt` if `writer_active` is neither 0 nor 1.
    pub fn writer_active(&self) -> Result<bool> {
        match self.state.atomic_i32(WRITER)?.load(Ordering::Acquire) {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(Error::from(FormatError::corrupt_field(
                &part(&self.name, SUFFIXES[0]),
                "writer_active",
                i64::from(v) as u64,
            ))),
        }
    }
}
