//! Mutex (spec §4.9): a semaphore with count 1 and `max_count` 1, plus the project's
//! auxiliary owner entry `NAME_owner` for dead-holder recovery.

use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, MAX_ENTRY_NAME, Region, Segment};

use crate::common::part;
use crate::error::{Error, Result};
use crate::futex;
use crate::layout::OwnerLayout;
use crate::owner;
use crate::semaphore::{self, RawSemaphore};

/// Suffix of the auxiliary owner entry.
pub const OWNER_SUFFIX: &str = "_owner";

const PID: usize = OwnerLayout::PID;
/// Entry size of the owner record.
pub const OWNER_SIZE: u64 = OwnerLayout::SIZE;

/// Adds entry `name` of `size` bytes (initialised by `init`) and, where its name fits the
/// table, the owner entry `NAME_owner`, published together; returns the entry, its region
/// and the owner region. [`Mutex`] stores itself this way, and so does any structure that
/// records a holder pid the same way (codata's `Lazy`).
///
/// # Errors
/// The segment's errors (name, duplicate, table full, out of space), or `init`'s.
pub fn add_with_owner<E: From<FormatError>>(
    lock: &mut zeroipc_format::TableLock<'_>,
    name: &str,
    size: u64,
    init: impl FnOnce(&Region) -> std::result::Result<(), E>,
) -> std::result::Result<(Entry, Region, Option<Region>), E> {
    if name.len() + OWNER_SUFFIX.len() <= MAX_ENTRY_NAME {
        let owner_name = part(name, OWNER_SUFFIX);
        let ([entry, _], [region, owner]) = lock.add(
            &[(name, size), (&owner_name, OWNER_SIZE)],
            |[r, _]: &[Region; 2]| init(r),
        )?;
        Ok((entry, region, Some(owner)))
    } else {
        let ([entry], [region]) = lock.add(&[(name, size)], |[r]: &[Region; 1]| init(r))?;
        Ok((entry, region, None))
    }
}

/// The region of `NAME_owner` for the structure `name`, if that entry exists (see
/// [`add_with_owner`]).
///
/// # Errors
/// [`FormatError::SizeMismatch`] if the owner entry is not [`OWNER_SIZE`] bytes; the
/// segment's errors.
pub fn find_owner(seg: &Segment, name: &str) -> std::result::Result<Option<Region>, FormatError> {
    let owner_name = part(name, OWNER_SUFFIX);
    if owner_name.len() > MAX_ENTRY_NAME {
        return Ok(None);
    }
    match seg.get(&owner_name)? {
        Some(e) => {
            e.expect_size(OWNER_SIZE)?;
            Ok(Some(seg.region(&e)?))
        }
        None => Ok(None),
    }
}

/// How soon a blocked locker first checks whether the recorded holder is still alive; later
/// checks come after a quarter of the time waited, at most [`OWNER_CHECK_MAX`] apart.
pub(crate) const OWNER_CHECK: Duration = Duration::from_millis(10);
const OWNER_CHECK_MAX: Duration = Duration::from_millis(250);

/// A cross-process mutex.
///
/// Byte-compatible with upstream (a 16-byte semaphore with `max_count == 1` at `NAME`). A
/// mutex created by this project also gets an 8-byte entry `NAME_owner` in which the holder
/// records its pid. A locker that waits on a held mutex checks that pid after 10 ms, then at
/// intervals growing to 250 ms; if the
/// holder process no longer exists, the locker takes the lock over and the guard reports
/// [`MutexGuard::owner_died`] (like `EOWNERDEAD` of robust pthread mutexes): the protected
/// data may be inconsistent and should be repaired.
///
/// Limits of dead-owner recovery: it needs the owner entry (not present for mutexes created
/// by upstream peers, or when `NAME` is longer than 25 bytes); upstream holders do not record
/// themselves; all processes must share one pid namespace; a holder that dies in the few
/// instructions between taking the count and recording its pid (or clearing its pid and
/// releasing) is not detected; a recycled pid hides the death; the pid is cached per process,
/// so a child made by `fork` without `exec` must not lock mutexes it inherited handles to.
/// In those cases only the `_timeout` forms return.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Mutex;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let m = Mutex::create(&seg, "lock")?;
/// {
///     let guard = m.lock()?;
///     assert!(!guard.owner_died());
///     assert!(m.is_locked()?);
///     assert!(m.try_lock()?.is_none());
/// } // unlocked here
/// assert!(!m.is_locked()?);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mutex {
    pub(crate) raw: RawSemaphore,
    owner: Option<Region>,
}

/// Proof that the [`Mutex`] is held; unlocks on drop.
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
#[derive(Debug)]
pub struct MutexGuard<'a> {
    mutex: &'a Mutex,
    owner_died: bool,
    released: bool,
}

impl MutexGuard<'_> {
    /// Whether the lock was taken over from a holder process that died while holding it; the
    /// data the mutex protects may be half-updated.
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }

    /// Unlocks now, reporting errors (dropping the guard unlocks and ignores them).
    ///
    /// # Errors
    /// [`Error::Overflow`] if the mutex was already unlocked (by a misbehaving peer).
    pub fn unlock(mut self) -> Result<()> {
        self.released = true;
        self.mutex.unlock_raw()
    }
}

impl Drop for MutexGuard<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.mutex.unlock_raw();
        }
    }
}

impl Mutex {
    /// Entry size of a mutex.
    pub const SIZE: u64 = semaphore::SIZE;

    fn create_locked(lock: &mut zeroipc_format::TableLock<'_>, name: &str) -> Result<Self> {
        let (entry, region, owner) = add_with_owner(lock, name, semaphore::SIZE, |sem| {
            RawSemaphore::init(sem, 1, 1)
        })?;
        Ok(Self {
            raw: RawSemaphore {
                region,
                entry,
                max: 1,
            },
            owner,
        })
    }

    /// Creates mutex `name` (unlocked) and, if `name` is at most 25 bytes, its owner entry
    /// `NAME_owner`, both published at once.
    ///
    /// # Errors
    /// The segment's errors (name, duplicate, table full, out of space).
    pub fn create(seg: &Segment, name: &str) -> Result<Self> {
        Self::create_locked(&mut seg.lock_table()?, name)
    }

    /// Opens the existing mutex `name` (with its owner entry if there is one).
    ///
    /// # Errors
    /// `NotFound`, [`FormatError::SizeMismatch`] (entry not 16 bytes, or an owner entry not
    /// 8 bytes), `Corrupt` (`max_count < 0`), [`FormatError::TypeMismatch`] if `max_count != 1`.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        Self::open_entry(seg, entry)
    }

    /// Opens `name` if it exists, else creates it (decided under the creation lock).
    ///
    /// # Errors
    /// As [`Mutex::create`] and [`Mutex::open`].
    pub fn open_or_create(seg: &Segment, name: &str) -> Result<Self> {
        let mut lock = seg.lock_table()?;
        if let Some(entry) = lock.get(name)? {
            drop(lock);
            return Self::open_entry(seg, entry);
        }
        Self::create_locked(&mut lock, name)
    }

    fn open_entry(seg: &Segment, entry: Entry) -> Result<Self> {
        let raw = open_raw_mutex(seg, entry)?;
        let owner = find_owner(seg, raw.entry.name())?;
        Ok(Self { raw, owner })
    }

    /// Whether this handle records owners (the `NAME_owner` entry exists).
    pub fn tracks_owner(&self) -> bool {
        self.owner.is_some()
    }

    /// Pid recorded as the holder, if the mutex tracks owners and a project process holds it.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn owner_pid(&self) -> Result<Option<u32>> {
        match &self.owner {
            Some(r) => {
                let pid = r.atomic_u32(PID)?.load(Ordering::Acquire);
                Ok((pid != 0).then_some(pid))
            }
            None => Ok(None),
        }
    }

    pub(crate) fn record_owner(&self) -> Result<()> {
        if let Some(r) = &self.owner {
            r.atomic_u32(PID)?.store(owner::my_pid(), Ordering::Relaxed);
        }
        Ok(())
    }

    fn unlock_raw(&self) -> Result<()> {
        if let Some(r) = &self.owner {
            r.atomic_u32(PID)?.store(0, Ordering::Relaxed);
        }
        self.raw.release()
    }

    /// If the recorded holder is dead, claims the lock for this process (CAS on the owner
    /// word, so exactly one locker wins).
    pub(crate) fn take_over_dead(&self) -> Result<bool> {
        let Some(r) = &self.owner else {
            return Ok(false);
        };
        let word = r.atomic_u32(PID)?;
        let pid = word.load(Ordering::Acquire);
        if pid == 0 || pid == owner::my_pid() || self.raw.count()? > 0 || !owner::is_dead(pid) {
            return Ok(false);
        }
        // AcqRel: the Acquire half sees what the dead holder wrote before it last stored its
        // pid; the count stays 0, the lock simply changes hands.
        Ok(word
            .compare_exchange(pid, owner::my_pid(), Ordering::AcqRel, Ordering::Relaxed)
            .is_ok())
    }

    pub(crate) fn guard(&self, owner_died: bool) -> MutexGuard<'_> {
        MutexGuard {
            mutex: self,
            owner_died,
            released: false,
        }
    }

    /// The uncontended path: no clock reads, no system calls.
    #[inline]
    fn fast(&self) -> Result<Option<MutexGuard<'_>>> {
        if self.raw.try_acquire()? {
            self.record_owner()?;
            return Ok(Some(self.guard(false)));
        }
        Ok(None)
    }

    fn lock_until(&self, deadline: Option<Instant>) -> Result<Option<MutexGuard<'_>>> {
        let start = Instant::now();
        loop {
            let chunk = if self.owner.is_some() {
                let now = Instant::now();
                let every = ((now - start) / 4).clamp(OWNER_CHECK, OWNER_CHECK_MAX);
                let next = now + every;
                Some(deadline.map_or(next, |d| d.min(next)))
            } else {
                deadline
            };
            if self.raw.acquire(chunk)? {
                self.record_owner()?;
                return Ok(Some(self.guard(false)));
            }
            if self.take_over_dead()? {
                return Ok(Some(self.guard(true)));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Locks, blocking until the mutex is free or its recorded holder is found dead.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn lock(&self) -> Result<MutexGuard<'_>> {
        if let Some(g) = self.fast()? {
            return Ok(g);
        }
        self.lock_until(None)?
            .ok_or(Error::Timeout { what: "a mutex" })
    }

    /// Locks, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the mutex stayed held by a live (or unrecorded) holder.
    pub fn lock_timeout(&self, timeout: Duration) -> Result<MutexGuard<'_>> {
        if let Some(g) = self.fast()? {
            return Ok(g);
        }
        self.lock_until(futex::deadline_after(timeout))?
            .ok_or(Error::Timeout { what: "a mutex" })
    }

    /// Locks if the mutex is free (or its recorded holder is dead), without blocking.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn try_lock(&self) -> Result<Option<MutexGuard<'_>>> {
        if let Some(g) = self.fast()? {
            return Ok(Some(g));
        }
        if self.take_over_dead()? {
            return Ok(Some(self.guard(true)));
        }
        Ok(None)
    }

    /// Whether the mutex is held (`count == 0`), a snapshot.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn is_locked(&self) -> Result<bool> {
        Ok(self.raw.count()? <= 0)
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.raw.entry
    }
}

/// Opens a mutex-layout entry with the Mutex open checks (size 16, `max_count == 1`).
pub(crate) fn open_raw_mutex(seg: &Segment, entry: Entry) -> Result<RawSemaphore> {
    let raw = RawSemaphore::open(seg, entry)?;
    if raw.max != 1 {
        return Err(FormatError::TypeMismatch {
            name: raw.entry.name().to_owned(),
            what: "max_count of a mutex",
            expected: 1,
            found: u64::from(raw.max.unsigned_abs()),
        }
        .into());
    }
    Ok(raw)
}
