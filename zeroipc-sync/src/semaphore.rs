//! Counting semaphore (spec §4.8), also the building block of Mutex, Monitor and Event.

use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use zeroipc_format::atomic::{Ordering, fence};
use zeroipc_format::{Entry, Region, Segment};

use crate::backoff::{self, Pace, Paced};
use crate::common::{load_i32, region};
use crate::error::{Error, Result};
use crate::futex::{self, Word};
use crate::layout::SemaphoreLayout;

pub(crate) const COUNT: usize = SemaphoreLayout::COUNT;
pub(crate) const WAITING: usize = SemaphoreLayout::WAITING;
pub(crate) const MAX_COUNT: usize = SemaphoreLayout::MAX_COUNT;
/// Entry size of a semaphore (and of a mutex).
pub(crate) const SIZE: u64 = SemaphoreLayout::SIZE;

// ---- algorithm core, generic over the word type (hardware futex or loom) ----

/// One CAS loop taking a permit if `count > 0`. `Err(seen)` carries the non-positive count
/// observed (the value to sleep on).
#[inline]
/// One poll of an acquirer's spin phase: [`try_take`], but with the taking CAS itself as the
/// poll while the count is 0 or 1 (a hand-off's values), not a load followed by the CAS.
///
/// In a hand-off the count's line moves between the releaser and the acquirer. A load fetches
/// it shared and the CAS that follows must upgrade it: two transfers on the acquirer's side,
/// three per hop with the releaser's `fetch_add`. A CAS fetches it exclusive at once: two
/// per hop, as a raw futex word's store and load (same-run A/B, the report's Semaphore round
/// trip: p50 230 → 140 ns, 2.0× → 1.2× the raw spin-then-futex ping-pong). A failed CAS
/// writes nothing; it takes the line exclusive, which is why the polls keep the spin's pauses
/// between them. Above 1 a permit is certainly there and [`try_take`] takes it.
///
/// Only the paced spin (a [`Semaphore`]'s acquire) polls this way. The raw primitives' spin
/// (`Mutex`, `RwLock`, the auto-reset `Event`) keeps the load-then-CAS poll: their contended
/// case is several waiters at once, where every CAS poll would take the line from the holder
/// and the other pollers.
fn poll_take<W: Word + ?Sized>(count: &W) -> Result<(), u32> {
    match count.compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed) {
        Ok(_) => Ok(()),
        Err(c) if (c as i32) > 1 => try_take(count, Ordering::Relaxed),
        Err(c) => Err(c),
    }
}

pub(crate) fn try_take<W: Word + ?Sized>(count: &W, load: Ordering) -> Result<(), u32> {
    let mut c = count.load(load);
    while (c as i32) > 0 {
        // Acquire: pairs with the releaser's SeqCst CAS, so what the releaser wrote before
        // releasing (e.g. data under a mutex) is visible to us.
        match count.compare_exchange(c, c.wrapping_sub(1), Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(now) => c = now,
        }
    }
    Err(c)
}

/// `acquire(timeout)` of spec §4.8 with a busy-wait phase before registering as a waiter.
/// Returns `false` on timeout.
pub(crate) fn acquire<W: Word + ?Sized>(count: &W, waiting: &W, deadline: Option<Instant>) -> bool {
    acquire_paced(count, waiting, deadline, None)
}

/// As [`acquire`], its spin phase paced by `pace` (see [`Pace`]) when given.
pub(crate) fn acquire_paced<W: Word + ?Sized>(
    count: &W,
    waiting: &W,
    deadline: Option<Instant>,
    pace: Option<&Pace>,
) -> bool {
    if try_take(count, Ordering::Acquire).is_ok() {
        return true;
    }
    let parking = match pace {
        Some(p) => match p.spin(|| poll_take(count).ok()) {
            Paced::Done(()) => return true,
            Paced::Park(parking) => Some(parking),
        },
        None => {
            if backoff::spin(|| try_take(count, Ordering::Relaxed).ok()).is_some() {
                return true;
            }
            None
        }
    };
    // Store–load handshake with `release` (SeqCst RMW, SeqCst fence, then load on both
    // sides): either the releaser sees us in `waiting` and wakes us, or we see its increment
    // of `count` before sleeping. The fences make the argument hold in the C++ model as loom
    // checks it (loom does not give SeqCst accesses a total order); on x86 they follow a
    // locked instruction and cost a few cycles.
    waiting.fetch_add(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let got = futex::wait_for(count, deadline, || try_take(count, Ordering::SeqCst)).is_some();
    waiting.fetch_sub(1, Ordering::Relaxed);
    if let (true, Some(p)) = (got, parking) {
        p.woke();
    }
    got
}

/// `release()` of spec §4.8. `Err(())` if `max > 0` and `count >= max` (or the count would
/// pass `i32::MAX`); the count is as it was then.
pub(crate) fn release<W: Word + ?Sized>(count: &W, waiting: &W, max: i32) -> Result<(), ()> {
    if max > 0 {
        release_bounded(count, max)?;
    } else {
        // Unbounded: one RMW, which fetches the count's line once and exclusive, where a load
        // and a CAS fetch it shared and then upgrade it (two transfers; in a ping-pong with
        // the acquirer that is a third of the hand-off). SeqCst as the CAS below.
        let prev = count.fetch_add(1, Ordering::SeqCst) as i32;
        if prev < 0 || prev == i32::MAX {
            // At the one bound, or negative (never written by correct peers, or another
            // releaser's increment past the bound, about to be undone): undo, and decide
            // with the exact path. Meanwhile the count read negative, which every peer
            // takes as no permits.
            count.fetch_sub(1, Ordering::SeqCst);
            release_bounded(count, max)?;
        }
    }
    // Pairs with the fence in `acquire` (store–load handshake).
    fence(Ordering::SeqCst);
    if (waiting.load(Ordering::SeqCst) as i32) > 0 {
        count.wake(false);
    }
    Ok(())
}

/// The increment of [`release`] by CAS: a count at `max` (if positive) or at `i32::MAX` is
/// never passed, not even for a moment.
fn release_bounded<W: Word + ?Sized>(count: &W, max: i32) -> Result<(), ()> {
    let mut c = count.load(Ordering::Relaxed);
    loop {
        let ci = c as i32;
        if (max > 0 && ci >= max) || ci == i32::MAX {
            return Err(());
        }
        // SeqCst (includes Release): publishes the releaser's writes to the acquirer's
        // Acquire CAS in `try_take`, and orders before the `waiting` load below.
        match count.compare_exchange(c, c.wrapping_add(1), Ordering::SeqCst, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(now) => c = now,
        }
    }
}

// ---- the region-backed handle shared by Semaphore, Mutex and the composites ----

/// A semaphore-layout entry in a segment, validated at open.
#[derive(Clone, Debug)]
pub(crate) struct RawSemaphore {
    pub region: Region,
    pub entry: Entry,
    /// `max_count`, read once at open (spec: taken from the cached open-time value).
    pub max: i32,
}

impl RawSemaphore {
    /// Creates the bytes of a semaphore in a fresh (zeroed) region.
    pub fn init(region: &Region, initial: i32, max: i32) -> Result<()> {
        region.write::<i32>(COUNT, initial)?;
        region.write::<i32>(MAX_COUNT, max)?;
        Ok(())
    }

    pub fn check_args(initial: i32, max: i32) -> Result<()> {
        let valid = initial >= 0 && max >= 0 && (max == 0 || initial <= max);
        crate::common::require(valid, || {
            format!(
                "semaphore needs 0 <= initial and 0 <= max, initial <= max when max > 0 \
                 (got initial {initial}, max {max})"
            )
        })
    }

    /// Open checks of spec §4.8: size 16, `max_count >= 0`.
    pub fn open(seg: &Segment, entry: Entry) -> Result<Self> {
        entry.expect_size(SIZE)?;
        let region = region(seg, &entry)?;
        Self::from_region(region, entry)
    }

    pub fn from_region(region: Region, entry: Entry) -> Result<Self> {
        let max = load_i32(&region, MAX_COUNT)?;
        if max < 0 {
            return Err(Error::from(FormatError::corrupt_field(
                entry.name(),
                "max_count",
                i64::from(max) as u64,
            )));
        }
        Ok(Self { region, entry, max })
    }

    #[inline]
    pub fn count_word(&self) -> Result<&crate::futex::HwU32> {
        Ok(self.region.atomic_u32(COUNT)?)
    }

    #[inline]
    pub fn waiting_word(&self) -> Result<&crate::futex::HwU32> {
        Ok(self.region.atomic_u32(WAITING)?)
    }

    pub fn try_acquire(&self) -> Result<bool> {
        Ok(try_take(self.count_word()?, Ordering::Acquire).is_ok())
    }

    /// Takes every available unit at once (count to 0 if positive) and returns how many were
    /// taken. One CAS loop that ends as soon as the count is seen non-positive, so a hostile
    /// count near `i32::MAX` costs no more than a count of 1.
    pub fn drain(&self) -> Result<u32> {
        let count = self.count_word()?;
        let mut c = count.load(Ordering::Relaxed);
        while (c as i32) > 0 {
            // Acquire: as in `try_take`, pairs with the releasers' SeqCst CAS.
            match count.compare_exchange(c, 0, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Ok(c),
                Err(now) => c = now,
            }
        }
        Ok(0)
    }

    /// `false` on timeout.
    pub fn acquire(&self, deadline: Option<Instant>) -> Result<bool> {
        Ok(acquire(self.count_word()?, self.waiting_word()?, deadline))
    }

    /// As [`RawSemaphore::acquire`], the spin phase paced by `pace`.
    pub fn acquire_paced(&self, deadline: Option<Instant>, pace: &Pace) -> Result<bool> {
        Ok(acquire_paced(
            self.count_word()?,
            self.waiting_word()?,
            deadline,
            Some(pace),
        ))
    }

    pub fn release(&self) -> Result<()> {
        release(self.count_word()?, self.waiting_word()?, self.max).map_err(|()| Error::Overflow {
            name: self.entry.name().to_owned(),
            max: self.max,
        })
    }

    pub fn count(&self) -> Result<i32> {
        Ok(self.count_word()?.load(Ordering::Acquire) as i32)
    }

    pub fn waiting(&self) -> Result<i32> {
        Ok(self.waiting_word()?.load(Ordering::SeqCst) as i32)
    }
}

/// A counting semaphore shared by every process that maps the segment.
///
/// Layout (16 bytes, spec §4.8): `{ i32 count; i32 waiting; i32 max_count; i32 pad }`.
/// Acquirers spin briefly, then sleep on `count` with a shared futex in bounded slices (see
/// [`futex`]); releasers wake one sleeper only when `waiting > 0`.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Semaphore;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let sem = Semaphore::create(&seg, "slots", 2, 2)?;
/// sem.acquire()?;
/// assert!(sem.try_acquire()?);
/// assert!(!sem.try_acquire()?);
/// assert!(sem.acquire_timeout(Duration::from_millis(5)).is_err()); // Timeout
/// sem.release()?;
/// assert_eq!(Semaphore::open(&seg, "slots")?.count()?, 1);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Semaphore {
    pub(crate) raw: RawSemaphore,
    /// How this handle's blocked acquirers spin (learnt from their previous waits; shared by
    /// clones).
    pace: Arc<Pace>,
}

impl Semaphore {
    /// Entry size of a semaphore.
    pub const SIZE: u64 = SIZE;

    /// Creates semaphore `name` holding `initial` permits, at most `max` (0 = unbounded).
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] unless `initial >= 0`, `max >= 0` and, for `max > 0`,
    /// `initial <= max`; the segment's errors (name, duplicate, table full, out of space).
    pub fn create(seg: &Segment, name: &str, initial: i32, max: i32) -> Result<Self> {
        RawSemaphore::check_args(initial, max)?;
        let (entry, region) =
            seg.add(name, SIZE, |r: &Region| RawSemaphore::init(r, initial, max))?;
        Ok(Self {
            raw: RawSemaphore { region, entry, max },
            pace: Arc::default(),
        })
    }

    /// Opens the existing semaphore `name`.
    ///
    /// # Errors
    /// `NotFound` (inside [`Error::Format`]), [`FormatError::SizeMismatch`] unless the entry is
    /// 16 bytes, `Corrupt` if `max_count < 0`.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        Ok(Self {
            raw: RawSemaphore::open(seg, entry)?,
            pace: Arc::default(),
        })
    }

    /// Opens `name` if it exists, else creates it (decided under the creation lock).
    ///
    /// # Errors
    /// As [`Semaphore::create`] and [`Semaphore::open`].
    pub fn open_or_create(seg: &Segment, name: &str, initial: i32, max: i32) -> Result<Self> {
        RawSemaphore::check_args(initial, max)?;
        let mut lock = seg.lock_table()?;
        if let Some(entry) = lock.get(name)? {
            drop(lock);
            return Ok(Self {
                raw: RawSemaphore::open(seg, entry)?,
                pace: Arc::default(),
            });
        }
        let ([entry], [region]) = lock.add(&[(name, SIZE)], |[one]: &[Region; 1]| {
            RawSemaphore::init(one, initial, max)
        })?;
        Ok(Self {
            raw: RawSemaphore { region, entry, max },
            pace: Arc::default(),
        })
    }

    /// Takes a permit if one is available, without blocking.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed (never for a mapped segment).
    pub fn try_acquire(&self) -> Result<bool> {
        self.raw.try_acquire()
    }

    /// Takes a permit, blocking until one is available.
    ///
    /// A holder that crashed never releases; prefer [`Semaphore::acquire_timeout`] where
    /// peers may die.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed (never for a mapped segment).
    pub fn acquire(&self) -> Result<()> {
        self.raw.acquire_paced(None, &self.pace)?;
        Ok(())
    }

    /// Takes a permit, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if no permit became available in time.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<()> {
        if self.raw.try_acquire()?
            || self
                .raw
                .acquire_paced(futex::deadline_after(timeout), &self.pace)?
        {
            Ok(())
        } else {
            Err(Error::Timeout {
                what: "a semaphore permit",
            })
        }
    }

    /// Returns a permit and wakes one sleeping acquirer if any is registered.
    ///
    /// # Errors
    /// [`Error::Overflow`] if `max_count > 0` and the count is already `max_count`.
    pub fn release(&self) -> Result<()> {
        self.raw.release()
    }

    /// Current number of permits (a snapshot).
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn count(&self) -> Result<i32> {
        self.raw.count()
    }

    /// Number of acquirers currently registered as waiting (a snapshot).
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn waiting(&self) -> Result<i32> {
        self.raw.waiting()
    }

    /// `max_count` as read at open (0 = unbounded).
    pub fn max_count(&self) -> i32 {
        self.raw.max
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.raw.entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::futex::HwU32;

    #[test]
    fn a_poll_takes_one_permit_when_there_is_one_and_nothing_otherwise() {
        for (before, taken, after) in [
            (1u32, true, 1u32 - 1),
            (3, true, 2),
            (0, false, 0),
            ((-2i32) as u32, false, (-2i32) as u32),
        ] {
            let count = HwU32::new(before);
            let r = poll_take(&count);
            assert_eq!(r.is_ok(), taken, "count {}", before as i32);
            if let Err(seen) = r {
                assert_eq!(seen, before);
            }
            assert_eq!(count.load(Ordering::Relaxed), after);
        }
    }
}
