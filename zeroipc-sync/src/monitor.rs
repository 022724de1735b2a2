//! Monitor (spec §4.11): `NAME_mtx`, `NAME_cond` (semaphore), `NAME_count`, marker `NAME`.

use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{self, region};
use crate::error::{Error, Result};
use crate::futex;
use crate::layout::MonitorCount;
use crate::mutex::open_raw_mutex;
use crate::semaphore::{self, RawSemaphore};

const SUFFIXES: [&str; 3] = ["_mtx", "_cond", "_count"];
/// Size of `NAME_count` (one `u32`).
const COUNT_SIZE: u64 = crate::layout::MonitorCount::SIZE;
/// Longest sleep of one wait before it returns (spuriously) to let the caller re-check.
const RECHECK: Duration = Duration::from_millis(10);

/// A monitor: a mutex plus a condition (semaphore-based), shared across processes.
///
/// Entries, in creation order (spec §4.11): `NAME_mtx` (mutex), `NAME_cond` (semaphore,
/// initial 0, unbounded), `NAME_count` (`u32` number of waiters), marker `NAME` (1 byte).
/// A waiter registers in `count`, unlocks, takes a permit from `cond`, and relocks.
/// Notifications release permits; a permit released to a waiter that already timed out stays
/// in `cond` and wakes a later waiter spuriously, so always re-check the predicate
/// ([`MonitorGuard::wait_while`] does).
///
/// Waits may also return spuriously: a waiter re-checks at least every 10 ms even without a
/// permit. The semaphore-based condition of the shared layout lets a notifier that turns
/// waiter take the permit meant for another waiter (both then sleep with the wake-up lost);
/// the periodic re-check turns that into a short delay instead of a hang.
///
/// The internal mutex has no owner record: a process that dies holding the monitor leaves it
/// locked; use [`Monitor::lock_timeout`] where that can happen.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Monitor;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let mon = Monitor::create(&seg, "jobs")?;
/// let guard = mon.lock()?;
/// // Nobody notifies: the wait times out, and the lock is held again afterwards.
/// let (guard, notified) = guard.wait_timeout(Duration::from_millis(2))?;
/// assert!(!notified);
/// drop(guard);
/// mon.notify_all()?; // no waiters: nothing to do
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Monitor {
    mtx: RawSemaphore,
    cond: RawSemaphore,
    count: Region,
}

/// The monitor's lock; unlocks on drop. Waiting consumes and returns the guard.
#[must_use = "the monitor unlocks as soon as the guard is dropped"]
#[derive(Debug)]
pub struct MonitorGuard<'a> {
    mon: &'a Monitor,
}

impl Drop for MonitorGuard<'_> {
    fn drop(&mut self) {
        let _ = self.mon.mtx.release();
    }
}

impl<'a> MonitorGuard<'a> {
    /// Releases the lock, waits for a notification (or `timeout`, or a spurious return after
    /// at most 10 ms), relocks. Returns the guard and whether a notification (permit) was
    /// received.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed; the lock is then released.
    pub fn wait_timeout(self, timeout: Duration) -> Result<(Self, bool)> {
        self.wait_until(futex::deadline_after(timeout))
    }

    /// Releases the lock, waits for a notification (or a spurious return after at most
    /// 10 ms), relocks. Re-check your condition afterwards.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed; the lock is then released.
    pub fn wait(self) -> Result<Self> {
        Ok(self.wait_until(None)?.0)
    }

    /// Waits (releasing the lock while asleep) until `pred()` holds, checking it under the
    /// lock before every wait.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn wait_while(mut self, mut pred: impl FnMut() -> bool) -> Result<Self> {
        while !pred() {
            self = self.wait()?;
        }
        Ok(self)
    }

    /// As [`MonitorGuard::wait_while`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if `pred()` still fails at the deadline (the lock is released).
    pub fn wait_while_timeout(
        mut self,
        mut pred: impl FnMut() -> bool,
        timeout: Duration,
    ) -> Result<Self> {
        let deadline = futex::deadline_after(timeout);
        while !pred() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout {
                    what: "a monitor condition",
                });
            }
            self = self.wait_until(deadline)?.0;
        }
        Ok(self)
    }

    fn wait_until(self, deadline: Option<Instant>) -> Result<(Self, bool)> {
        let mon = self.mon;
        let count = mon.count.atomic_u32(MonitorCount::WAITERS)?;
        count.fetch_add(1, Ordering::AcqRel);
        // Unlock without running Drop (we relock below and hand out a new guard).
        std::mem::forget(self);
        let unlocked = mon.mtx.release();
        let recheck = Instant::now() + RECHECK;
        let bounded = Some(deadline.map_or(recheck, |d| d.min(recheck)));
        let got = match unlocked {
            Ok(()) => mon.cond.acquire(bounded),
            Err(e) => Err(e),
        };
        // Relock always, even after a timeout (spec §4.11); no deadline, as the spec says.
        let relocked = mon.mtx.acquire(None);
        count.fetch_sub(1, Ordering::AcqRel);
        let guard = MonitorGuard { mon };
        relocked?;
        Ok((guard, got?))
    }
}

impl common::FourParts for Monitor {
    const SUFFIXES: [&'static str; 3] = SUFFIXES;

    const SIZES: [u64; 3] = [semaphore::SIZE, semaphore::SIZE, COUNT_SIZE];

    fn init([mtx, cond, _, _]: &[Region; 4]) -> Result<()> {
        RawSemaphore::init(mtx, 1, 1)?;
        RawSemaphore::init(cond, 0, 0)
    }

    fn created(_: &str, [me, ce, _, _]: [Entry; 4], [mr, cr, count, _]: [Region; 4]) -> Self {
        Self {
            mtx: RawSemaphore {
                region: mr,
                entry: me,
                max: 1,
            },
            cond: RawSemaphore {
                region: cr,
                entry: ce,
                max: 0,
            },
            count,
        }
    }

    fn from_entries(seg: &Segment, _: &str, [me, ce, ne, _]: [Entry; 4]) -> Result<Self> {
        ne.expect_size(COUNT_SIZE)?;
        Ok(Self {
            mtx: open_raw_mutex(seg, me)?,
            cond: RawSemaphore::open(seg, ce)?,
            count: region(seg, &ne)?,
        })
    }
}

impl Monitor {
    common::four_part_constructors! {
        /// Creates monitor `name` (four entries, published at once).
        ///
        /// # Errors
        /// `NameTooLong` if `name` is longer than 25 bytes; the segment's errors.
        create;

        /// Opens the existing monitor `name`.
        ///
        /// # Errors
        /// `NotFound`; [`zeroipc_format::Error::Incomplete`]; [`zeroipc_format::Error::SizeMismatch`] (`NAME_count` not 4
        /// bytes, mutex/semaphore not 16); Mutex and Semaphore open checks.
        open;

        /// Opens `name` if any part exists, else creates it (decided under the creation lock).
        ///
        /// # Errors
        /// As [`Monitor::create`] and [`Monitor::open`].
        open_or_create;
    }

    /// Locks the monitor.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn lock(&self) -> Result<MonitorGuard<'_>> {
        self.mtx.acquire(None)?;
        Ok(MonitorGuard { mon: self })
    }

    /// Locks the monitor, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`].
    pub fn lock_timeout(&self, timeout: Duration) -> Result<MonitorGuard<'_>> {
        if self.mtx.acquire(futex::deadline_after(timeout))? {
            Ok(MonitorGuard { mon: self })
        } else {
            Err(Error::Timeout { what: "a monitor" })
        }
    }

    /// Locks the monitor if it is free, without blocking.
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn try_lock(&self) -> Result<Option<MonitorGuard<'_>>> {
        Ok(self
            .mtx
            .try_acquire()?
            .then_some(MonitorGuard { mon: self }))
    }

    /// Wakes one waiter, if any waits (`cond.waiting > 0 || count > 0`).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn notify_one(&self) -> Result<()> {
        if self.cond.waiting()? > 0 || self.waiters()? > 0 {
            self.cond.release()?;
        }
        Ok(())
    }

    /// Wakes every current waiter (releases `count` permits).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn notify_all(&self) -> Result<()> {
        for _ in 0..self.waiters()? {
            self.cond.release()?;
        }
        Ok(())
    }

    /// Registered waiters (`NAME_count`, a snapshot).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn waiters(&self) -> Result<u32> {
        Ok(self
            .count
            .atomic_u32(MonitorCount::WAITERS)?
            .load(Ordering::Acquire))
    }
}
