//! Event (spec §4.15): auto- or manual-reset, with an auxiliary semaphore `NAME_sem`.

use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use zeroipc_format::atomic::{Ordering, fence};
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{load_i32, part, region};
use crate::error::{Error, Result};
use crate::futex::{self, Word};
use crate::layout::EventLayout;
use crate::semaphore::{self, RawSemaphore};

pub(crate) const SIGNALED: usize = EventLayout::SIGNALED;
const MODE: usize = EventLayout::MODE;
pub(crate) const WAITING: usize = EventLayout::WAITING;
const SIZE: u64 = EventLayout::SIZE;

/// Suffix of the auxiliary semaphore (the existence marker).
const SEM: &str = "_sem";
/// How long [`Event::pulse`] waits for manual-reset waiters to leave.
const PULSE_BOUND: Duration = Duration::from_millis(10);

/// Reset behaviour of an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMode {
    /// Each `signal` releases one waiter (signals accumulate as semaphore permits).
    AutoReset,
    /// `signal` releases every waiter until `reset`.
    ManualReset,
}

/// Manual-reset `signal`: set, then wake if someone may sleep.
pub(crate) fn manual_signal<W: Word + ?Sized>(signaled: &W, waiting: &W) {
    // SeqCst store–load handshake with `manual_wait`'s `waiting` increment; also Release for
    // the signaller's writes, read by the waiter's Acquire load of `signaled`.
    signaled.store(1, Ordering::SeqCst);
    // Pairs with the fence in `manual_wait` (store–load handshake; see `semaphore::acquire`).
    fence(Ordering::SeqCst);
    if waiting.load(Ordering::SeqCst) > 0 {
        signaled.wake(true);
    }
}

/// Manual-reset `wait`; `false` on timeout.
pub(crate) fn manual_wait<W: Word + ?Sized>(
    signaled: &W,
    waiting: &W,
    deadline: Option<Instant>,
) -> bool {
    let set = || {
        let s = signaled.load(Ordering::SeqCst);
        if s == 0 { Err(s) } else { Ok(()) }
    };
    if futex::spin(|| set().ok()).is_some() {
        return true;
    }
    waiting.fetch_add(1, Ordering::SeqCst);
    // Pairs with the fence in `manual_signal`.
    fence(Ordering::SeqCst);
    let got = futex::wait_for(signaled, deadline, set).is_some();
    waiting.fetch_sub(1, Ordering::Release);
    got
}

/// A cross-process event.
///
/// Entries (spec §4.15): `NAME` = `{ u32 signaled; u32 mode; u32 waiting }` (12 bytes) and
/// `NAME_sem` (a semaphore, initial 0, unbounded), created in that order; `NAME_sem` marks
/// the event complete. Auto-reset: `signal` adds a permit to `NAME_sem` and each `wait`
/// consumes one. Manual-reset: waiters sleep on `signaled` until it is set; `reset` clears it.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::{Event, EventMode};
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let ev = Event::create(&seg, "ready", EventMode::ManualReset)?;
/// assert!(!ev.try_wait()?);
/// ev.signal()?;
/// ev.wait()?;
/// assert!(ev.try_wait()?); // manual reset: stays signalled
/// ev.reset()?;
/// assert!(!ev.is_signaled()?);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Event {
    pub(crate) region: Region,
    entry: Entry,
    pub(crate) sem: RawSemaphore,
    pub(crate) mode: EventMode,
}

impl Event {
    /// Creates event `name` (not signalled) and its semaphore `NAME_sem`.
    ///
    /// # Errors
    /// `NameTooLong` if `name` is longer than 27 bytes; the segment's errors.
    pub fn create(seg: &Segment, name: &str, mode: EventMode) -> Result<Self> {
        zeroipc_format::validate_base_name(name, SEM.len())?;
        Self::create_locked(&mut seg.lock_table()?, name, mode)
    }

    fn create_locked(
        lock: &mut zeroipc_format::TableLock<'_>,
        name: &str,
        mode: EventMode,
    ) -> Result<Self> {
        let sem_name = part(name, SEM);
        let ([entry, sem_entry], [region, sem_region]) = lock.add(
            &[(name, SIZE), (&sem_name, semaphore::SIZE)],
            |[ev, sem]: &[Region; 2]| {
                ev.write::<u32>(MODE, u32::from(mode == EventMode::ManualReset))?;
                RawSemaphore::init(sem, 0, 0)
            },
        )?;
        Ok(Self {
            region,
            entry,
            sem: RawSemaphore {
                region: sem_region,
                entry: sem_entry,
                max: 0,
            },
            mode,
        })
    }

    /// Opens the existing event `name`.
    ///
    /// # Errors
    /// `NotFound`; [`FormatError::Incomplete`] if `NAME_sem` is still missing after the grace
    /// period; [`FormatError::SizeMismatch`] (`NAME` not 12 bytes, `NAME_sem` not 16); `Corrupt`
    /// for `mode > 1` or a negative `max_count`.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        zeroipc_format::validate_base_name(name, SEM.len())?;
        seg.find(name)?;
        let [entry, sem_entry] = seg.find_composite(name, &[name.to_owned(), part(name, SEM)])?;
        entry.expect_size(SIZE)?;
        let region = region(seg, &entry)?;
        let mode = match load_i32(&region, MODE)? {
            0 => EventMode::AutoReset,
            1 => EventMode::ManualReset,
            other => {
                return Err(Error::from(FormatError::corrupt_field(
                    entry.name(),
                    "mode",
                    i64::from(other) as u64,
                )));
            }
        };
        let sem = RawSemaphore::open(seg, sem_entry)?;
        Ok(Self {
            region,
            entry,
            sem,
            mode,
        })
    }

    /// Opens `name` if its marker `NAME_sem` exists, else creates it (decided under the
    /// creation lock). The stored mode wins over `mode` when opening.
    ///
    /// # Errors
    /// As [`Event::create`] and [`Event::open`].
    pub fn open_or_create(seg: &Segment, name: &str, mode: EventMode) -> Result<Self> {
        zeroipc_format::validate_base_name(name, SEM.len())?;
        let mut lock = seg.lock_table()?;
        if lock.get(name)?.is_some() {
            drop(lock);
            return Self::open(seg, name);
        }
        Self::create_locked(&mut lock, name, mode)
    }

    fn word(&self, offset: usize) -> Result<&crate::futex::HwU32> {
        Ok(self.region.atomic_u32(offset)?)
    }

    /// Signals the event: auto-reset releases one (current or future) waiter; manual-reset
    /// releases every waiter until [`Event::reset`].
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn signal(&self) -> Result<()> {
        match self.mode {
            EventMode::AutoReset => {
                // Release: pairs with Acquire readers of `signaled` (`is_signaled`).
                self.word(SIGNALED)?.store(1, Ordering::Release);
                self.sem.release()
            }
            EventMode::ManualReset => {
                manual_signal(self.word(SIGNALED)?, self.word(WAITING)?);
                Ok(())
            }
        }
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<bool> {
        match self.mode {
            EventMode::AutoReset => {
                let got = self.sem.acquire(deadline)?;
                if got {
                    // Release: pairs with Acquire readers of `signaled`.
                    self.word(SIGNALED)?.store(0, Ordering::Release);
                }
                Ok(got)
            }
            EventMode::ManualReset => Ok(manual_wait(
                self.word(SIGNALED)?,
                self.word(WAITING)?,
                deadline,
            )),
        }
    }

    /// Blocks until the event is signalled (auto-reset: consumes one signal).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn wait(&self) -> Result<()> {
        self.wait_until(None)?;
        Ok(())
    }

    /// As [`Event::wait`], at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the event was not signalled in time.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        if self.wait_until(futex::deadline_after(timeout))? {
            Ok(())
        } else {
            Err(Error::Timeout { what: "an event" })
        }
    }

    /// Whether the event is signalled, without blocking (auto-reset: consumes the signal).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn try_wait(&self) -> Result<bool> {
        match self.mode {
            EventMode::AutoReset => {
                let got = self.sem.try_acquire()?;
                if got {
                    self.word(SIGNALED)?.store(0, Ordering::Release);
                }
                Ok(got)
            }
            EventMode::ManualReset => self.is_signaled(),
        }
    }

    /// Clears the signalled flag (manual reset; for auto-reset it also discards pending
    /// signals).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn reset(&self) -> Result<()> {
        // Release: pairs with Acquire readers of `signaled`.
        self.word(SIGNALED)?.store(0, Ordering::Release);
        if self.mode == EventMode::AutoReset {
            // One CAS, not a try_acquire loop: a hostile peer can store a count of 2^31 - 1,
            // and draining that one unit at a time would take minutes (found by fuzzing).
            self.sem.drain()?;
        }
        Ok(())
    }

    /// Signals, lets current waiters go, then resets. Manual-reset: waits until no waiter is
    /// registered, at most 10 ms (upstream Python peers do not register, so they may miss a
    /// pulse). Auto-reset: releases at most one waiter; the signal is withdrawn if nobody
    /// took it within 10 ms.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn pulse(&self) -> Result<()> {
        self.signal()?;
        let deadline = Instant::now() + PULSE_BOUND;
        match self.mode {
            EventMode::ManualReset => {
                let waiting = self.word(WAITING)?;
                while waiting.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                self.reset()
            }
            EventMode::AutoReset => {
                while self.sem.count()? > 0 && self.sem.waiting()? > 0 && Instant::now() < deadline
                {
                    std::thread::yield_now();
                }
                self.reset()
            }
        }
    }

    /// Whether `signaled == 1` (a snapshot).
    ///
    /// # Errors
    /// `Corrupt` if `signaled` holds a value other than 0 or 1.
    pub fn is_signaled(&self) -> Result<bool> {
        match self.word(SIGNALED)?.load(Ordering::Acquire) {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(Error::from(FormatError::corrupt_field(
                self.entry.name(),
                "signaled",
                i64::from(other) as u64,
            ))),
        }
    }

    /// Manual-reset waiters registered (a snapshot).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn waiting(&self) -> Result<u32> {
        Ok(self.word(WAITING)?.load(Ordering::SeqCst))
    }

    /// The reset mode (read at open).
    pub fn mode(&self) -> EventMode {
        self.mode
    }

    /// The main table entry (`NAME`).
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
}
