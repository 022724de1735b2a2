//! `Future<T>`: a value (or an error message) completed once by one process and awaited by
//! any number of others (spec §4.17, the upstream C++ layout).
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u32 | `state`: PENDING 0, COMPUTING 1, READY 2, ERROR 3 (futex word) |
//! | 4 | atomic u32 | `waiters` — processes currently blocked in `get` |
//! | 8 | atomic u64 | `completion_time` — `CLOCK_MONOTONIC` ns, 0 while pending |
//! | 16 | T | `value` |
//! | 16 + es | u8[256] | `error_msg`, NUL-terminated |
//!
//! Entry size `align8(16 + es + 256)`.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{AtomicWords, Entry, Region, Segment};

use crate::common::{self, HwU32};
use crate::error::{Error, Result};
use crate::layout::FutureHeader;

use crate::protocol::{self, COMPUTING, ERROR, PENDING, READY};

/// Where a future stands (decoded from the `state` word; unknown codes are `Corrupt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureState {
    /// Not completed yet.
    Pending,
    /// A setter is writing the result.
    Computing,
    /// Completed with a value.
    Ready,
    /// Completed with an error message.
    Error,
}

impl FutureState {
    /// The states by their code in the `state` word.
    const BY_CODE: [Self; 4] = [Self::Pending, Self::Computing, Self::Ready, Self::Error];
}
const _: () = assert!(PENDING == 0 && COMPUTING == 1 && READY == 2 && ERROR == 3);

/// A shared future: set once with a value or an error, read by any number of processes.
///
/// Waiting is a shared futex wait on the `state` word in bounded slices (spec D5); the setter
/// wakes sleepers when the `waiters` counter says there are any.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_codata::Future;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let result = Future::<f64>::create(&seg, "result")?;
/// assert_eq!(result.try_get()?, None);
///
/// let consumer = Future::<f64>::open(&seg, "result")?; // as another process would
/// result.set_value(3.25)?;
/// assert_eq!(consumer.get_timeout(Duration::from_secs(1))?, 3.25);
/// assert!(result.set_value(1.0).is_err()); // a future completes once
///
/// let failed = Future::<i32>::create(&seg, "failed")?;
/// failed.set_error("boom")?;
/// assert_eq!(failed.get().unwrap_err().failure_message(), Some("boom"));
/// # Ok::<(), zeroipc_codata::Error>(())
/// ```
pub struct Future<T> {
    name: String,
    entry: Entry,
    region: Region,
    /// `state` and `waiters`, validated once.
    words: AtomicWords,
    _elem: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Future").field("name", &self.name).finish()
    }
}

/// Guard that decrements `waiters` on every exit of a blocking get.
struct Registered<'a>(&'a AtomicWords);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.0.get(1) {
            w.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<T: Pod> Future<T> {
    const ELEMENT_OK: () = assert!(
        size_of::<T>() >= 1 && align_of::<T>() <= 8,
        "element types must be 1 or more bytes with alignment at most 8"
    );

    /// Entry size of a `Future<T>`: `align8(16 + es + 256)`.
    pub const fn memory_size() -> u64 {
        let () = Self::ELEMENT_OK;
        ((FutureHeader::VALUE + size_of::<T>() + FutureHeader::MESSAGE_LEN + 7) & !7) as u64
    }

    const fn msg_offset() -> usize {
        FutureHeader::VALUE + size_of::<T>()
    }

    /// Creates the pending future `name`.
    ///
    /// # Errors
    /// The segment's errors (name, duplicate, table full, out of space).
    pub fn create(seg: &Segment, name: &str) -> Result<Self> {
        let (entry, region) = seg.add(name, Self::memory_size(), |_| Ok::<_, Error>(()))?;
        Self::from_parts(entry, region)
    }

    /// Opens the existing future `name`.
    ///
    /// # Errors
    /// `NotFound`; [`FormatError::SizeMismatch`] if the entry is smaller than `16 + es + 256`
    /// (the minimum-size rule accepts upstream Python's unpadded layout); `Corrupt` if the
    /// state code is above 3.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        let min = (FutureHeader::VALUE + size_of::<T>() + FutureHeader::MESSAGE_LEN) as u64;
        if entry.size() < min {
            return Err(FormatError::size_mismatch(&entry, Self::memory_size()).into());
        }
        let region = seg.region(&entry)?;
        let f = Self::from_parts(entry, region)?;
        f.state()?;
        Ok(f)
    }

    /// Opens `name` if it exists, else creates it (decided under the creation lock).
    ///
    /// # Errors
    /// As [`Future::open`] and [`Future::create`].
    pub fn open_or_create(seg: &Segment, name: &str) -> Result<Self> {
        let mut lock = seg.lock_table()?;
        if lock.get(name)?.is_some() {
            drop(lock);
            return Self::open(seg, name);
        }
        let ([entry], [region]) =
            lock.add(&[(name, Self::memory_size())], |_| Ok::<_, Error>(()))?;
        drop(lock);
        Self::from_parts(entry, region)
    }

    fn from_parts(entry: Entry, region: Region) -> Result<Self> {
        let words = region.atomic_words(FutureHeader::STATE, 2)?;
        Ok(Self {
            name: entry.name().to_owned(),
            entry,
            region,
            words,
            _elem: PhantomData,
        })
    }

    /// A second handle to the same future, for a thread of this process.
    pub(crate) fn reopen(&self) -> Result<Self> {
        Self::from_parts(self.entry.clone(), self.region.clone())
    }

    /// The future's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    fn state_word(&self) -> Result<&HwU32> {
        self.words
            .first()
            .ok_or_else(|| Error::from(FormatError::corrupt_field(&self.name, "state", 0)))
    }

    fn waiters_word(&self) -> Result<&HwU32> {
        self.words
            .get(1)
            .ok_or_else(|| Error::from(FormatError::corrupt_field(&self.name, "waiters", 0)))
    }

    fn decode(&self, code: u32) -> Result<FutureState> {
        common::state_of(&self.name, code, &FutureState::BY_CODE)
    }

    /// The current state.
    ///
    /// # Errors
    /// `Corrupt` for a state code above 3.
    pub fn state(&self) -> Result<FutureState> {
        self.decode(self.state_word()?.load(Ordering::Acquire))
    }

    /// Whether the future is completed (READY or ERROR).
    ///
    /// # Errors
    /// `Corrupt` for a state code above 3.
    pub fn is_ready(&self) -> Result<bool> {
        Ok(matches!(
            self.state()?,
            FutureState::Ready | FutureState::Error
        ))
    }

    /// The region, the `state` word's and the `waiters` counter's offsets (async waits).
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn async_words(&self) -> (&Region, usize, usize) {
        (&self.region, FutureHeader::STATE, FutureHeader::WAITERS)
    }

    /// Number of processes currently blocked in `get` (a snapshot).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn waiters(&self) -> Result<u32> {
        Ok(self.waiters_word()?.load(Ordering::Relaxed))
    }

    /// `CLOCK_MONOTONIC` nanoseconds at completion, or 0 while pending. Only comparable
    /// between processes on the same machine (upstream Python stores Unix microseconds).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn completion_time(&self) -> Result<u64> {
        Ok(self
            .region
            .atomic_u64(FutureHeader::COMPLETION_TIME)?
            .load(Ordering::Relaxed))
    }

    /// Claims the future for completion (PENDING → COMPUTING).
    fn claim(&self) -> Result<()> {
        protocol::future_claim(self.state_word()?).or_else(|code| {
            self.decode(code)?;
            Err(Error::AlreadySet {
                name: self.name.clone(),
            })
        })
    }

    fn publish(&self, code: u32) -> Result<()> {
        self.region
            .atomic_u64(FutureHeader::COMPLETION_TIME)?
            .store(common::monotonic_ns(), Ordering::Relaxed);
        protocol::future_publish(self.state_word()?, self.waiters_word()?, code);
        Ok(())
    }

    /// Completes the future with `value` and wakes every waiter.
    ///
    /// # Errors
    /// [`Error::AlreadySet`] if it was already completed (or is being completed);
    /// `Corrupt` for an invalid state code.
    pub fn set_value(&self, value: T) -> Result<()> {
        self.claim()?;
        self.region.write(FutureHeader::VALUE, value)?;
        self.publish(READY)
    }

    /// Completes the future with the error `message` (truncated to 255 bytes at a character
    /// boundary) and wakes every waiter.
    ///
    /// # Errors
    /// As [`Future::set_value`].
    pub fn set_error(&self, message: &str) -> Result<()> {
        self.claim()?;
        self.region
            .write(Self::msg_offset(), common::encode_message(message))?;
        self.publish(ERROR)
    }

    /// The stored error message (empty unless the state is ERROR).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn error_message(&self) -> Result<String> {
        let raw: [u8; FutureHeader::MESSAGE_LEN] = self.region.read(Self::msg_offset())?;
        Ok(common::decode_message(&raw))
    }

    /// The outcome if completed: `Some(value)`, `Err(Failed)` for an error, `None` while
    /// pending.
    fn outcome(&self, code: u32) -> Result<Option<T>> {
        match self.decode(code)? {
            FutureState::Ready => Ok(Some(self.region.read(FutureHeader::VALUE)?)),
            FutureState::Error => Err(Error::Failed {
                name: self.name.clone(),
                message: self.error_message()?,
            }),
            FutureState::Pending | FutureState::Computing => Ok(None),
        }
    }

    /// The value if the future is completed, without blocking.
    ///
    /// # Errors
    /// [`Error::Failed`] with the message if it completed with an error; `Corrupt`.
    pub fn try_get(&self) -> Result<Option<T>> {
        // Acquire: pairs with the SeqCst store in `publish`, making the value visible.
        self.outcome(self.state_word()?.load(Ordering::Acquire))
    }

    /// Blocks until the future completes.
    ///
    /// # Errors
    /// [`Error::Failed`] with the message; `Corrupt`.
    pub fn get(&self) -> Result<T> {
        self.wait(None)
    }

    /// Blocks until the future completes or `timeout` passes.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Failed`] with the message; `Corrupt`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.wait(common::deadline_after(timeout))
    }

    fn wait(&self, deadline: Option<Instant>) -> Result<T> {
        if let Some(v) = common::spin(|| self.try_get())? {
            return Ok(v);
        }
        protocol::future_wait(self.state_word()?, self.waiters_word()?, deadline, |code| {
            self.outcome(code)
        })?
        .ok_or(Error::Timeout { what: "a future" })
    }

    /// Waits for every future in `futures`; returns their values in order.
    ///
    /// # Errors
    /// The first [`Error::Failed`] met (in order); [`Error::Timeout`] if not all completed
    /// within `timeout` (one deadline for the whole set).
    pub fn all(futures: &[&Future<T>], timeout: Duration) -> Result<Vec<T>> {
        let deadline = common::deadline_after(timeout);
        futures
            .iter()
            .map(|f| match deadline {
                Some(d) => f.get_timeout(d.saturating_duration_since(Instant::now())),
                None => f.get(),
            })
            .collect()
    }

    /// Waits until any future in `futures` completes; returns its index and value. A future
    /// that completed with an error is skipped while others may still succeed; if all fail,
    /// the last failure is returned.
    ///
    /// The caller registers as a waiter on every pending future and sleeps on one of them at a
    /// time in slices of at most 1 ms, so a completion anywhere is seen within about 1 ms.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Failed`] if every future failed;
    /// [`FormatError::InvalidArgument`] for an empty set.
    pub fn any(futures: &[&Future<T>], timeout: Duration) -> Result<(usize, T)> {
        if futures.is_empty() {
            return Err(FormatError::InvalidArgument("Future::any of no futures".into()).into());
        }
        let deadline = common::deadline_after(timeout);
        let mut guards = Vec::with_capacity(futures.len());
        for f in futures {
            f.waiters_word()?.fetch_add(1, Ordering::SeqCst);
            guards.push(Registered(&f.words));
        }
        let mut turn = 0usize;
        loop {
            let mut failures = 0;
            let mut last_err = None;
            let mut pending = None;
            for (i, f) in futures.iter().enumerate() {
                let code = f.state_word()?.load(Ordering::SeqCst);
                match f.outcome(code) {
                    Ok(Some(v)) => return Ok((i, v)),
                    Ok(None) => {
                        if pending.is_none() || i == turn % futures.len() {
                            pending = Some((i, code));
                        }
                    }
                    Err(e @ Error::Failed { .. }) => {
                        failures += 1;
                        last_err = Some(e);
                    }
                    Err(e) => return Err(e),
                }
            }
            if failures == futures.len() {
                return Err(last_err.unwrap_or(Error::Timeout { what: "any future" }));
            }
            let Some(slice) = common::short_slice(deadline) else {
                return Err(Error::Timeout { what: "any future" });
            };
            if let Some((i, code)) = pending
                && let Some(f) = futures.get(i)
            {
                common::park(f.state_word()?, code, slice);
            }
            turn = turn.wrapping_add(1);
        }
    }
}
