//! Once (spec §4.14).

use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::region;
use crate::error::{Error, Result};
use crate::futex::{self, Word};
use crate::layout::OnceLayout;

/// State word values.
pub(crate) const PENDING: u32 = 0;
pub(crate) const EXECUTING: u32 = 1;
pub(crate) const DONE: u32 = 2;
/// Entry size of a Once (one `u32`; the entry records 4, unpadded).
const SIZE: u64 = crate::layout::OnceLayout::SIZE;

/// The state of a [`Once`], decoded from its word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceState {
    /// Not run yet.
    Pending,
    /// A process is running the initialiser (or died doing so).
    Executing,
    /// Done.
    Done,
}

fn decode(entry: &str, v: u32) -> Result<OnceState> {
    match v {
        PENDING => Ok(OnceState::Pending),
        EXECUTING => Ok(OnceState::Executing),
        DONE => Ok(OnceState::Done),
        other => Err(Error::from(FormatError::corrupt_field(
            entry,
            "state",
            i64::from(other) as u64,
        ))),
    }
}

/// Outcome of [`claim`].
pub(crate) enum Claim {
    /// The caller won and must run the initialiser, then [`finish`].
    Run,
    /// The initialiser has run.
    Done,
    /// Timed out while another executor was running.
    TimedOut,
    /// An unknown state code.
    Corrupt(u32),
}

/// Decides who runs: `Run` for the single winner of PENDING → EXECUTING; everyone else waits
/// while EXECUTING.
pub(crate) fn claim<W: Word + ?Sized>(state: &W, deadline: Option<Instant>) -> Claim {
    let check = || -> Result<Claim, u32> {
        // Acquire: pairs with the executor's Release store of DONE in `finish`.
        match state.load(Ordering::Acquire) {
            DONE => Ok(Claim::Done),
            PENDING => match state.compare_exchange(
                PENDING,
                EXECUTING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => Ok(Claim::Run),
                Err(now) => Err(now),
            },
            EXECUTING => Err(EXECUTING),
            other => Ok(Claim::Corrupt(other)),
        }
    };
    match futex::spin(|| check().ok()) {
        Some(c) => c,
        None => futex::wait_for(state, deadline, check).unwrap_or(Claim::TimedOut),
    }
}

/// Publishes DONE and wakes every waiter.
pub(crate) fn finish<W: Word + ?Sized>(state: &W) {
    // Release: publishes the initialiser's effects to the Acquire load in `claim`.
    state.store(DONE, Ordering::Release);
    state.wake(true);
}

/// Stores DONE and wakes waiters even if the initialiser panics (spec §4.14).
struct FinishOnDrop<'a, W: Word + ?Sized>(&'a W);

impl<W: Word + ?Sized> Drop for FinishOnDrop<'_, W> {
    fn drop(&mut self) {
        finish(self.0);
    }
}

/// One-time initialisation across processes.
///
/// Layout: one `u32` state word at `NAME` (entry size 4): 0 pending, 1 executing, 2 done;
/// other values are `Corrupt`. The first caller of [`Once::call`] runs its closure; the others
/// sleep on the word until it is done. The state becomes done also when the closure panics
/// (the panic then propagates).
///
/// An executor that dies while running leaves the state at "executing" forever; the 4-byte
/// layout has no room to record who runs it, so this cannot be detected: waiters return only
/// through [`Once::call_timeout`] ([`Error::Timeout`]), and recovery needs
/// [`Once::reset_unsafe`] by someone who knows the executor is gone.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Once;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let once = Once::create(&seg, "init")?;
/// let mut runs = 0;
/// assert!(once.call(|| runs += 1)?);
/// assert!(!once.call(|| runs += 1)?);
/// assert_eq!(runs, 1);
/// assert!(once.is_done()?);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Once {
    region: Region,
    entry: Entry,
}

impl Once {
    /// Entry size of a Once.
    pub const SIZE: u64 = SIZE;

    /// Creates `name` in the pending state.
    ///
    /// # Errors
    /// The segment's errors (name, duplicate, table full, out of space).
    pub fn create(seg: &Segment, name: &str) -> Result<Self> {
        let (entry, region) = seg.add(name, SIZE, |_: &Region| Ok::<_, Error>(()))?;
        Ok(Self { region, entry })
    }

    /// Opens the existing Once `name`.
    ///
    /// # Errors
    /// `NotFound`, [`FormatError::SizeMismatch`] unless 4 bytes, `Corrupt` for an unknown state.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        entry.expect_size(SIZE)?;
        let region = region(seg, &entry)?;
        let once = Self { region, entry };
        once.state()?;
        Ok(once)
    }

    /// Opens `name` if it exists, else creates it (decided under the creation lock).
    ///
    /// # Errors
    /// As [`Once::create`] and [`Once::open`].
    pub fn open_or_create(seg: &Segment, name: &str) -> Result<Self> {
        let mut lock = seg.lock_table()?;
        if lock.get(name)?.is_some() {
            drop(lock);
            return Self::open(seg, name);
        }
        let ([entry], [region]) = lock.add(&[(name, SIZE)], |_| Ok::<_, Error>(()))?;
        Ok(Self { region, entry })
    }

    fn call_until(&self, f: impl FnOnce(), deadline: Option<Instant>) -> Result<bool> {
        let state = self.region.atomic_u32(OnceLayout::STATE)?;
        match claim(state, deadline) {
            Claim::Run => {
                let _finish = FinishOnDrop(state);
                f();
                Ok(true)
            }
            Claim::Done => Ok(false),
            Claim::TimedOut => Err(Error::Timeout {
                what: "a Once executor",
            }),
            Claim::Corrupt(v) => Err(Error::from(FormatError::corrupt_field(
                self.entry.name(),
                "state",
                i64::from(v) as u64,
            ))),
        }
    }

    /// Runs `f` if no process has run this Once yet; otherwise waits until the running
    /// executor (if any) has finished. Returns whether this caller ran `f`.
    ///
    /// # Errors
    /// `Corrupt` for an unknown state code.
    pub fn call(&self, f: impl FnOnce()) -> Result<bool> {
        self.call_until(f, None)
    }

    /// As [`Once::call`], but waits for another executor at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if another executor did not finish in time (e.g. it died);
    /// `Corrupt` for an unknown state code.
    pub fn call_timeout(&self, f: impl FnOnce(), timeout: Duration) -> Result<bool> {
        self.call_until(f, futex::deadline_after(timeout))
    }

    /// Runs `f` if the Once is pending and nobody else is running it; never waits. Returns
    /// whether this caller ran `f` (`false` if done or being run elsewhere).
    ///
    /// # Errors
    /// `Corrupt` for an unknown state code.
    pub fn try_call(&self, f: impl FnOnce()) -> Result<bool> {
        let state = self.region.atomic_u32(OnceLayout::STATE)?;
        match state.compare_exchange(PENDING, EXECUTING, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                let _finish = FinishOnDrop(state);
                f();
                Ok(true)
            }
            Err(now) => decode(self.entry.name(), now).map(|_| false),
        }
    }

    /// The current state.
    ///
    /// # Errors
    /// `Corrupt` for an unknown state code.
    pub fn state(&self) -> Result<OnceState> {
        decode(
            self.entry.name(),
            self.region
                .atomic_u32(OnceLayout::STATE)?
                .load(Ordering::Acquire),
        )
    }

    /// Whether the initialiser has run.
    ///
    /// # Errors
    /// `Corrupt` for an unknown state code.
    pub fn is_done(&self) -> Result<bool> {
        Ok(self.state()? == OnceState::Done)
    }

    /// Stores "pending" unconditionally, e.g. after an executor is known to have died.
    /// Racing a live executor makes the initialiser run twice.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn reset_unsafe(&self) -> Result<()> {
        self.region
            .atomic_u32(OnceLayout::STATE)?
            .store(PENDING, Ordering::Release);
        Ok(())
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
}
