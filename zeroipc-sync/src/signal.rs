//! `Signal<T>` (spec §4.16): a versioned value, `NAME_state`, `NAME_mtx`, marker `NAME`.

use std::marker::PhantomData;
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment, align8};

use crate::common::{self, part_names, region};
use crate::error::{Error, Result};
use crate::futex;
use crate::layout::SignalHeader;
use crate::mutex::open_raw_mutex;
use crate::semaphore::{self, RawSemaphore};

pub(crate) const VERSION: usize = SignalHeader::VERSION;
const VALUE: usize = SignalHeader::SIZE as usize;

const SUFFIXES: [&str; 2] = ["_state", "_mtx"];
/// How long `get`/`set`/`update` wait for the value mutex before giving up (a peer that died
/// inside `set` would otherwise hang them).
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A value of type `T` with a change counter, shared across processes.
///
/// Entries, in creation order (spec §4.16): `NAME_state` = `{ u64 version; T value }`
/// (`align8(8 + size_of::<T>())` bytes), `NAME_mtx` (mutex), marker `NAME` (1 byte).
/// Writers change the value under the mutex and bump `version`; [`Signal::wait_for_change`]
/// sleeps on the low half of `version` in bounded futex slices.
///
/// # Reacting to changes: a loop, not a callback
///
/// Upstream offers a change callback; this crate deliberately does not. A callback needs a
/// thread to run it, and which thread, how it is stopped, and what happens to its errors are
/// the caller's decisions: a hidden thread per signal would hold the mapping alive, swallow
/// errors and run user code concurrently with the caller. The Rust way is the explicit
/// loop below on [`Signal::wait_for_change_timeout`], on a thread (or task) the caller owns:
/// the version returned is the one to wait past next, so no change is missed between two
/// waits (several quick changes may be seen as one, as with any level-triggered watch), the
/// timeout is where a stop flag is checked, and errors surface where they can be handled.
///
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Signal;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let level = Signal::<u32>::create(&seg, "level", 0)?;
/// let watched = level.clone();
/// let watcher = std::thread::spawn(move || -> zeroipc_sync::Result<Vec<u32>> {
///     let mut seen = 0; // version 0 = the initial value
///     let mut values = Vec::new();
///     while values.last() != Some(&3) {
///         match watched.wait_for_change_timeout(seen, Duration::from_millis(100)) {
///             Ok(v) => {
///                 seen = v;
///                 values.push(watched.get()?); // the "callback"
///             }
///             Err(zeroipc_sync::Error::Timeout { .. }) => {} // check a stop flag here
///             Err(e) => return Err(e),
///         }
///     }
///     Ok(values)
/// });
/// for v in 1..=3 {
///     level.set(v)?;
/// }
/// let seen = watcher.join().expect("watcher")?;
/// assert_eq!(seen.last(), Some(&3));
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Signal;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let temp = Signal::<f64>::create(&seg, "temp", 20.0)?;
/// let v0 = temp.version()?;
/// temp.set(21.5)?;
/// assert_eq!(temp.wait_for_change_timeout(v0, Duration::from_millis(10))?, 1);
/// temp.update(|t| t + 1.0)?;
/// assert_eq!(temp.get()?, 22.5);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Debug)]
pub struct Signal<T> {
    pub(crate) state: Region,
    mtx: RawSemaphore,
    _value: PhantomData<fn() -> T>,
}

impl<T> Clone for Signal<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            mtx: self.mtx.clone(),
            _value: PhantomData,
        }
    }
}

impl<T: Pod> Signal<T> {
    /// Entry size of `NAME_state` for `T`: `align8(8 + size_of::<T>())`.
    pub fn state_size() -> u64 {
        let raw = (VALUE + size_of::<T>()) as u64;
        align8(raw).unwrap_or(raw)
    }

    fn names(name: &str) -> [String; 3] {
        part_names(name, [SUFFIXES[0], SUFFIXES[1], ""])
    }

    /// Creates signal `name` with version 0 and value `initial`.
    ///
    /// # Errors
    /// `NameTooLong` if `name` is longer than 25 bytes; the segment's errors.
    pub fn create(seg: &Segment, name: &str, initial: T) -> Result<Self> {
        zeroipc_format::validate_base_name(name, SUFFIXES[0].len())?;
        Self::create_locked(&mut seg.lock_table()?, name, initial)
    }

    fn create_locked(
        lock: &mut zeroipc_format::TableLock<'_>,
        name: &str,
        initial: T,
    ) -> Result<Self> {
        let n = Self::names(name);
        let ([_, me, _], [state, mtx, _]) = lock.add(
            &[
                (&n[0], Self::state_size()),
                (&n[1], semaphore::SIZE),
                (&n[2], 1),
            ],
            |[state, mtx, _]: &[Region; 3]| {
                state.write(VALUE, initial)?;
                RawSemaphore::init(mtx, 1, 1)
            },
        )?;
        Ok(Self {
            state,
            mtx: RawSemaphore {
                region: mtx,
                entry: me,
                max: 1,
            },
            _value: PhantomData,
        })
    }

    /// Opens the existing signal `name`.
    ///
    /// # Errors
    /// `NotFound`; [`FormatError::Incomplete`]; [`FormatError::TypeMismatch`] if `NAME_state` is
    /// smaller than `8 + size_of::<T>()` (the minimum-size rule accepts upstream Python's
    /// unpadded states); the Mutex checks on `NAME_mtx`.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        zeroipc_format::validate_base_name(name, SUFFIXES[0].len())?;
        let [se, me, _] = seg.find_composite(name, &Self::names(name))?;
        let need = (VALUE + size_of::<T>()) as u64;
        if se.size() < need {
            return Err(FormatError::TypeMismatch {
                name: se.name().to_owned(),
                what: "state size (8 + size of T)",
                expected: need,
                found: se.size(),
            }
            .into());
        }
        Ok(Self {
            state: region(seg, &se)?,
            mtx: open_raw_mutex(seg, me)?,
            _value: PhantomData,
        })
    }

    /// Opens `name` if any part exists, else creates it with `initial` (decided under the
    /// creation lock).
    ///
    /// # Errors
    /// As [`Signal::create`] and [`Signal::open`].
    pub fn open_or_create(seg: &Segment, name: &str, initial: T) -> Result<Self> {
        zeroipc_format::validate_base_name(name, SUFFIXES[0].len())?;
        common::open_or_create_parts(
            seg,
            &Self::names(name),
            || Self::open(seg, name),
            |lock| Self::create_locked(lock, name, initial),
        )
    }

    fn locked<R>(&self, timeout: Duration, f: impl FnOnce() -> Result<R>) -> Result<R> {
        if !self.mtx.try_acquire()? && !self.mtx.acquire(futex::deadline_after(timeout))? {
            return Err(Error::Timeout {
                what: "a signal's value mutex",
            });
        }
        let out = f();
        let released = self.mtx.release();
        let out = out?;
        released?;
        Ok(out)
    }

    fn version_word(&self) -> Result<&crate::futex::HwU64> {
        Ok(self.state.atomic_u64(VERSION)?)
    }

    fn bump(&self) -> Result<()> {
        // Release: publishes the new value to readers' Acquire load of `version`.
        self.version_word()?.fetch_add(1, Ordering::Release);
        // Wake sleepers on the low half (there is no waiter counter in this layout).
        futex::wake_all(self.state.atomic_u32(VERSION)?);
        Ok(())
    }

    /// A copy of the value, read under the mutex.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the mutex stays held for 5 s (e.g. a writer died).
    pub fn get(&self) -> Result<T> {
        self.get_timeout(LOCK_TIMEOUT)
    }

    /// As [`Signal::get`], waiting at most `timeout` for the mutex.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the mutex stays held.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.locked(timeout, || Ok(self.state.read::<T>(VALUE)?))
    }

    /// A copy of the value if the mutex is free right now, else `None` (never waits).
    ///
    /// # Errors
    /// Only if the validated regions cannot be accessed.
    pub fn try_get(&self) -> Result<Option<T>> {
        if !self.mtx.try_acquire()? {
            return Ok(None);
        }
        let v = self.state.read::<T>(VALUE);
        self.mtx.release()?;
        Ok(Some(v?))
    }

    /// Stores `value` and increments the version (waking `wait_for_change` sleepers).
    ///
    /// # Errors
    /// [`Error::Timeout`] if the mutex stays held for 5 s.
    pub fn set(&self, value: T) -> Result<()> {
        self.set_timeout(value, LOCK_TIMEOUT)
    }

    /// As [`Signal::set`], waiting at most `timeout` for the mutex.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the mutex stays held.
    pub fn set_timeout(&self, value: T, timeout: Duration) -> Result<()> {
        self.locked(timeout, || {
            self.state.write(VALUE, value)?;
            self.bump()
        })
    }

    /// Replaces the value with `f(old)` under the mutex and increments the version; returns
    /// the new value.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the mutex stays held for 5 s.
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Result<T> {
        self.locked(LOCK_TIMEOUT, || {
            let new = f(self.state.read::<T>(VALUE)?);
            self.state.write(VALUE, new)?;
            self.bump()?;
            Ok(new)
        })
    }

    /// Number of changes so far.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn version(&self) -> Result<u64> {
        Ok(self.version_word()?.load(Ordering::Acquire))
    }

    /// Whether the version differs from `seen`.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn has_changed(&self, seen: u64) -> Result<bool> {
        Ok(self.version()? != seen)
    }

    fn wait_change(&self, seen: u64, deadline: Option<Instant>) -> Result<Option<u64>> {
        let version = self.version_word()?;
        let low = self.state.atomic_u32(VERSION)?;
        let changed = || {
            let v = version.load(Ordering::Acquire);
            // Sleep on the low half as observed; a change of an exact multiple of 2^32 is
            // caught by the bounded slice.
            if v == seen { Err(v as u32) } else { Ok(v) }
        };
        if let Some(v) = futex::spin(|| changed().ok()) {
            return Ok(Some(v));
        }
        Ok(futex::wait_for(low, deadline, changed))
    }

    /// Blocks until the version differs from `seen`; returns the new version.
    ///
    /// # Errors
    /// Only if the validated region cannot be accessed.
    pub fn wait_for_change(&self, seen: u64) -> Result<u64> {
        self.wait_change(seen, None)?
            .ok_or(Error::Timeout { what: "a signal" })
    }

    /// As [`Signal::wait_for_change`], at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the version did not change in time.
    pub fn wait_for_change_timeout(&self, seen: u64, timeout: Duration) -> Result<u64> {
        self.wait_change(seen, futex::deadline_after(timeout))?
            .ok_or(Error::Timeout { what: "a signal" })
    }
}
