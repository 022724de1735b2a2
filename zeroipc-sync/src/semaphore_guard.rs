//! [`SemaphoreGuard`]: a permit of a [`Semaphore`] returned when the guard is dropped.

use std::time::Duration;

use crate::error::Result;
use crate::semaphore::Semaphore;

/// One permit of a [`Semaphore`], held for the guard's lifetime and released on drop (or by
/// [`SemaphoreGuard::release`], which reports a release error instead of ignoring it).
///
/// A process that crashes while holding a guard never releases its permit, as with
/// [`Semaphore::acquire`]; prefer [`Semaphore::acquire_guard_timeout`] where peers may die.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_sync::Semaphore;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let slots = Semaphore::create(&seg, "slots", 1, 1)?;
/// {
///     let _permit = slots.acquire_guard()?;
///     assert_eq!(slots.count()?, 0);
///     assert!(slots.try_acquire_guard()?.is_none());
/// } // released here
/// assert_eq!(slots.count()?, 1);
/// # Ok::<(), zeroipc_sync::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "the permit is released as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
    released: bool,
}

impl SemaphoreGuard<'_> {
    /// Releases the permit now, reporting the error a drop would ignore.
    ///
    /// # Errors
    /// As [`Semaphore::release`] ([`crate::Error::Overflow`] if someone released permits
    /// this guard did not take).
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.sem.release()
    }

    /// The semaphore the permit belongs to.
    pub fn semaphore(&self) -> &Semaphore {
        self.sem
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if !self.released {
            // A drop cannot report; `release` is the reporting form.
            let _ = self.sem.release();
        }
    }
}

impl Semaphore {
    /// Takes a permit, blocking until one is available, and returns a guard that releases it
    /// on drop.
    ///
    /// # Errors
    /// As [`Semaphore::acquire`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_sync::Semaphore;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let sem = Semaphore::create(&seg, "s", 2, 0)?;
    /// let guard = sem.acquire_guard()?;
    /// assert_eq!(sem.count()?, 1);
    /// drop(guard);
    /// assert_eq!(sem.count()?, 2);
    /// # Ok::<(), zeroipc_sync::Error>(())
    /// ```
    pub fn acquire_guard(&self) -> Result<SemaphoreGuard<'_>> {
        self.acquire()?;
        Ok(self.guard())
    }

    /// As [`Semaphore::acquire_guard`], waiting at most `timeout`.
    ///
    /// # Errors
    /// [`crate::Error::Timeout`] if no permit became available in time.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_format::Segment;
    /// use zeroipc_sync::Semaphore;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let sem = Semaphore::create(&seg, "s", 1, 1)?;
    /// let held = sem.acquire_guard_timeout(Duration::from_secs(1))?;
    /// assert!(sem.acquire_guard_timeout(Duration::from_millis(1)).is_err());
    /// held.release()?;
    /// # Ok::<(), zeroipc_sync::Error>(())
    /// ```
    pub fn acquire_guard_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard<'_>> {
        self.acquire_timeout(timeout)?;
        Ok(self.guard())
    }

    /// Takes a permit if one is available now; `Ok(None)` otherwise.
    ///
    /// # Errors
    /// As [`Semaphore::try_acquire`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_sync::Semaphore;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let sem = Semaphore::create(&seg, "s", 0, 1)?;
    /// assert!(sem.try_acquire_guard()?.is_none());
    /// sem.release()?;
    /// assert!(sem.try_acquire_guard()?.is_some());
    /// # Ok::<(), zeroipc_sync::Error>(())
    /// ```
    pub fn try_acquire_guard(&self) -> Result<Option<SemaphoreGuard<'_>>> {
        Ok(self.try_acquire()?.then(|| self.guard()))
    }

    fn guard(&self) -> SemaphoreGuard<'_> {
        SemaphoreGuard {
            sem: self,
            released: false,
        }
    }
}
