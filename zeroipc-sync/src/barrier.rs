//! Barrier (spec §4.12).

use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{load_i32, region};
use crate::error::{Error, Result};
use crate::futex::{self, Word};
use crate::layout::BarrierLayout;

pub(crate) const ARRIVED: usize = BarrierLayout::ARRIVED;
pub(crate) const GENERATION: usize = BarrierLayout::GENERATION;
const PARTICIPANTS: usize = BarrierLayout::NUM_PARTICIPANTS;
const SIZE: u64 = BarrierLayout::SIZE;

/// The arrival of `wait`: `Ok(())` if it completed the phase (and woke everyone), else
/// `Err(g)` with the generation to wait past.
pub(crate) fn arrive<W: Word + ?Sized>(
    arrived: &W,
    generation: &W,
    participants: i32,
) -> Result<(), u32> {
    let g = generation.load(Ordering::Acquire);
    // AcqRel: the last arriver's Acquire half sees every earlier arriver's writes.
    let a = (arrived.fetch_add(1, Ordering::AcqRel) as i32).wrapping_add(1);
    if a >= participants {
        arrived.store(0, Ordering::Relaxed);
        // Release: publishes the phase (and `arrived = 0`) to the waiters' Acquire load of
        // `generation` in `wait` (and the async wait).
        generation.fetch_add(1, Ordering::Release);
        generation.wake(true);
        return Ok(());
    }
    Err(g)
}

/// `wait(timeout)` of spec §4.12: `Some(true)` for the last arriver (the one that completed
/// the phase), `Some(false)` for the others, `None` on timeout (its arrival rolled back).
pub(crate) fn wait<W: Word + ?Sized>(
    arrived: &W,
    generation: &W,
    participants: i32,
    deadline: Option<Instant>,
) -> Option<bool> {
    let Err(g) = arrive(arrived, generation, participants) else {
        return Some(true);
    };
    let passed = || {
        let now = generation.load(Ordering::Acquire);
        if now == g { Err(now) } else { Ok(()) }
    };
    if futex::spin(|| passed().ok()).is_some()
        || futex::wait_for(generation, deadline, passed).is_some()
    {
        return Some(false);
    }
    // Timed out: withdraw the arrival (races a concurrent completion exactly as upstream's
    // rollback does; documented on `Barrier`).
    arrived.fetch_sub(1, Ordering::AcqRel);
    None
}

/// A reusable barrier for a fixed number of participants, across processes.
///
/// Layout (16 bytes, spec §4.12): `{ i32 arrived; i32 generation; i32 num_participants;
/// i32 pad }`. Waiters sleep on `generation`; the last arriver resets `arrived`, bumps
/// `generation` and wakes everyone.
///
/// A participant that dies inside `wait` (or never arrives) stalls the phase: use
/// [`Barrier::wait_timeout`] where that can happen. A timeout withdraws the caller's arrival;
/// if the phase completes at the same moment, the withdrawal can corrupt the next phase's
/// count (the same limitation as upstream; an arrival that finds `arrived` at or past the
/// limit completes the phase, so such a count does not stall later phases). There is no
/// `try_` form: an arrival cannot be taken back without that same race.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Barrier;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let b = Barrier::create(&seg, "phase", 1)?;
/// assert!(b.wait()?); // the only participant completes every phase
/// assert_eq!(b.generation()?, 1);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Barrier {
    pub(crate) region: Region,
    entry: Entry,
    /// `num_participants`, read once at open, `> 0`.
    pub(crate) participants: i32,
}

fn init(r: &Region, participants: i32) -> Result<()> {
    r.write::<i32>(PARTICIPANTS, participants)?;
    Ok(())
}

impl Barrier {
    /// Entry size of a barrier.
    pub const SIZE: u64 = SIZE;

    fn check(participants: i32) -> Result<()> {
        crate::common::require(participants > 0, || {
            format!("a barrier needs at least one participant (got {participants})")
        })
    }

    /// Creates barrier `name` for `participants` processes (or threads).
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] for `participants <= 0`; the segment's errors.
    pub fn create(seg: &Segment, name: &str, participants: i32) -> Result<Self> {
        Self::check(participants)?;
        let (entry, region) = seg.add(name, SIZE, |r: &Region| init(r, participants))?;
        Ok(Self {
            region,
            entry,
            participants,
        })
    }

    /// Opens the existing barrier `name`.
    ///
    /// # Errors
    /// `NotFound`, [`FormatError::SizeMismatch`] unless 16 bytes, `Corrupt` if
    /// `num_participants <= 0`.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        Self::open_entry(seg, entry)
    }

    fn open_entry(seg: &Segment, entry: Entry) -> Result<Self> {
        entry.expect_size(SIZE)?;
        let region = region(seg, &entry)?;
        let participants = load_i32(&region, PARTICIPANTS)?;
        if participants <= 0 {
            return Err(Error::from(FormatError::corrupt_field(
                entry.name(),
                "num_participants",
                i64::from(participants) as u64,
            )));
        }
        Ok(Self {
            region,
            entry,
            participants,
        })
    }

    /// Opens `name` if it exists, else creates it (decided under the creation lock).
    ///
    /// # Errors
    /// As [`Barrier::create`] and [`Barrier::open`].
    pub fn open_or_create(seg: &Segment, name: &str, participants: i32) -> Result<Self> {
        Self::check(participants)?;
        let mut lock = seg.lock_table()?;
        if let Some(entry) = lock.get(name)? {
            drop(lock);
            return Self::open_entry(seg, entry);
        }
        let ([entry], [region]) = lock.add(&[(name, SIZE)], |[one]: &[Region; 1]| {
            init(one, participants)
        })?;
        Ok(Self {
            region,
            entry,
            participants,
        })
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<Option<bool>> {
        Ok(wait(
            self.region.atomic_u32(ARRIVED)?,
            self.region.atomic_u32(GENERATION)?,
            self.participants,
            deadline,
        ))
    }

    /// Arrives and blocks until all participants of this phase have arrived. Returns `true`
    /// for the caller whose arrival completed the phase.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn wait(&self) -> Result<bool> {
        self.wait_until(None)?
            .ok_or(Error::Timeout { what: "a barrier" })
    }

    /// As [`Barrier::wait`], giving up after `timeout` (the arrival is withdrawn).
    ///
    /// # Errors
    /// [`Error::Timeout`] if the phase did not complete in time.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait_until(futex::deadline_after(timeout))?
            .ok_or(Error::Timeout { what: "a barrier" })
    }

    /// Participants per phase.
    pub fn participants(&self) -> i32 {
        self.participants
    }

    /// Participants arrived in the current phase (a snapshot).
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn arrived(&self) -> Result<i32> {
        Ok(self.region.atomic_i32(ARRIVED)?.load(Ordering::Acquire))
    }

    /// Completed phases (wrapping `i32`, a snapshot).
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn generation(&self) -> Result<i32> {
        Ok(self.region.atomic_i32(GENERATION)?.load(Ordering::Acquire))
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
}
