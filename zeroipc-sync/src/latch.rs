//! Latch (spec §4.13).

use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{load_i32, region};
use crate::error::{Error, Result};
use crate::futex::{self, Word};
use crate::layout::LatchLayout;

pub(crate) const COUNT: usize = LatchLayout::COUNT;
const INITIAL: usize = LatchLayout::INITIAL_COUNT;
const SIZE: u64 = LatchLayout::SIZE;

/// `count_down(n)` of spec §4.13 (`n > 0`, checked by the caller). Returns whether this call
/// released the latch.
pub(crate) fn count_down<W: Word + ?Sized>(count: &W, n: i32) -> bool {
    let mut c = count.load(Ordering::Acquire);
    while (c as i32) > 0 {
        let new = (c as i32).saturating_sub(n).max(0);
        // Release: publishes the counter's writes to waiters' Acquire load in `wait`.
        match count.compare_exchange(c, new as u32, Ordering::Release, Ordering::Acquire) {
            Ok(_) => {
                if new == 0 {
                    count.wake(true);
                    return true;
                }
                return false;
            }
            Err(now) => c = now,
        }
    }
    false
}

/// `wait(timeout)` of spec §4.13; `false` on timeout.
pub(crate) fn wait<W: Word + ?Sized>(count: &W, deadline: Option<Instant>) -> bool {
    let open = || {
        let c = count.load(Ordering::Acquire);
        if (c as i32) > 0 { Err(c) } else { Ok(()) }
    };
    futex::spin(|| open().ok()).is_some() || futex::wait_for(count, deadline, open).is_some()
}

/// A single-use countdown gate across processes.
///
/// Layout (16 bytes, spec §4.13): `{ i32 count; i32 initial_count; i32 pad[2] }`. Waiters
/// sleep on `count` until it reaches 0; the count-down that reaches 0 wakes them all.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Latch;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let gate = Latch::create(&seg, "start", 2)?;
/// assert!(!gate.try_wait()?);
/// gate.count_down(1)?;
/// gate.count_down(1)?;
/// gate.wait()?; // released
/// assert_eq!(gate.count()?, 0);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Latch {
    pub(crate) region: Region,
    entry: Entry,
}

fn init(r: &Region, count: i32) -> Result<()> {
    r.write::<i32>(COUNT, count)?;
    r.write::<i32>(INITIAL, count)?;
    Ok(())
}

impl Latch {
    /// Entry size of a latch.
    pub const SIZE: u64 = SIZE;

    fn check(count: i32) -> Result<()> {
        crate::common::require(count >= 0, || {
            format!("latch count must not be negative (got {count})")
        })
    }

    /// Creates latch `name` with `count` (0 creates it released).
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`](crate::FormatError::InvalidArgument) for a negative
    /// count; the segment's errors.
    pub fn create(seg: &Segment, name: &str, count: i32) -> Result<Self> {
        Self::check(count)?;
        let (entry, region) = seg.add(name, SIZE, |r: &Region| init(r, count))?;
        Ok(Self { region, entry })
    }

    /// Opens the existing latch `name`.
    ///
    /// # Errors
    /// `NotFound`, [`FormatError::SizeMismatch`](crate::FormatError::SizeMismatch) unless 16 bytes.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        entry.expect_size(SIZE)?;
        let region = region(seg, &entry)?;
        Ok(Self { region, entry })
    }

    /// Opens `name` if it exists, else creates it (decided under the creation lock).
    ///
    /// # Errors
    /// As [`Latch::create`] and [`Latch::open`].
    pub fn open_or_create(seg: &Segment, name: &str, count: i32) -> Result<Self> {
        Self::check(count)?;
        let mut lock = seg.lock_table()?;
        if lock.get(name)?.is_some() {
            drop(lock);
            return Self::open(seg, name);
        }
        let ([entry], [region]) =
            lock.add(&[(name, SIZE)], |[one]: &[Region; 1]| init(one, count))?;
        Ok(Self { region, entry })
    }

    /// Decrements the count by `n` (not below 0); the call that reaches 0 wakes all waiters.
    /// Returns whether this call released the latch.
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`](crate::FormatError::InvalidArgument) for `n <= 0`.
    pub fn count_down(&self, n: i32) -> Result<bool> {
        crate::common::require(n > 0, || format!("count_down needs n > 0 (got {n})"))?;
        Ok(count_down(self.region.atomic_u32(COUNT)?, n))
    }

    /// Blocks until the count is 0.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn wait(&self) -> Result<()> {
        wait(self.region.atomic_u32(COUNT)?, None);
        Ok(())
    }

    /// Blocks until the count is 0, at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the latch was not released in time.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        if wait(
            self.region.atomic_u32(COUNT)?,
            futex::deadline_after(timeout),
        ) {
            Ok(())
        } else {
            Err(Error::Timeout { what: "a latch" })
        }
    }

    /// Whether the latch is released (`count <= 0`), without blocking.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn try_wait(&self) -> Result<bool> {
        Ok(self.count()? <= 0)
    }

    /// Remaining count (a snapshot).
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn count(&self) -> Result<i32> {
        Ok(self.region.atomic_i32(COUNT)?.load(Ordering::Acquire))
    }

    /// Count the latch was created with.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn initial_count(&self) -> Result<i32> {
        load_i32(&self.region, INITIAL)
    }

    /// Stores `initial_count` back into `count` (upstream C++/Go `reset`). Not safe while
    /// waiters or counters are active.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn reset(&self) -> Result<()> {
        let initial = self.initial_count()?;
        // Release: pairs with the Acquire loads of later `count_down`/`wait` calls.
        self.region
            .atomic_i32(COUNT)?
            .store(initial, Ordering::Release);
        Ok(())
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
}
