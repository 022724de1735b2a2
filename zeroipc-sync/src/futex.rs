//! Futex waiting on 32-bit words in shared memory (spec D5, §6).
//!
//! Every wait is a `FUTEX_WAIT` with the **shared** (non-private) operation, because the words
//! live in a `MAP_SHARED` mapping used by several processes, and it always carries a bounded
//! relative timeout (a *slice*): upstream peers never call `FUTEX_WAKE`, so a waiter re-checks
//! its condition at least once per slice and still makes progress against them.
//!
//! Slices are adaptive: [`SLICE`] (1 ms, spec D5) while a wait is young, then a quarter of the
//! time already waited, capped at [`max_slice`] (default [`DEFAULT_MAX_SLICE`], 10 ms). A waiter
//! thus notices a polling peer's change within 1 ms during its first 4 ms of waiting and within
//! 25% of its waiting time (at most 10 ms) later, while a long-idle waiter wakes only ~100 times
//! a second. Measured on the project's 2-core VM, one timed wake-up costs ~30 µs of CPU, so
//! fixed 1 ms slices would burn ~3% of a CPU per idle waiter. Project wakers call
//! `FUTEX_WAKE`, so none of this delays project-to-project hand-offs.
//!
//! [`wait`], [`wake_one`] and [`wake_all`] are the raw operations; the primitives use the
//! crate-internal `Word` trait, whose loom implementation replaces the system calls by
//! `yield_now` so the same algorithm code runs under the model checker.
// This module is the crate's boundary to the hardware atomics handed out by `Region` (the
// only type the futex system call accepts); it names that type, nothing else does.
#![allow(clippy::disallowed_types)]

use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::thread::futex;
#[cfg(zeroipc_loom)]
use zeroipc_format::atomic::Ordering;
use zeroipc_format::atomic::Word32;
use zeroipc_format::atomic::shared::AtomicU32;

/// The hardware 32-bit atomic that `Region::atomic_u32` hands out (a futex word).
pub(crate) type HwU32 = AtomicU32;
/// The hardware 64-bit atomic that `Region::atomic_u64` hands out.
pub(crate) type HwU64 = zeroipc_format::atomic::shared::AtomicU64;

/// The first (and shortest) slice of a wait.
pub const SLICE: Duration = Duration::from_millis(1);

/// Default cap of a slice for long waits; see [`set_max_slice`].
pub const DEFAULT_MAX_SLICE: Duration = Duration::from_millis(10);

/// Process-wide slice cap (a std mutex, not an atomic: read only when about to sleep).
static MAX_SLICE: std::sync::Mutex<Duration> = std::sync::Mutex::new(DEFAULT_MAX_SLICE);

/// The current cap on a slice for long waits.
pub fn max_slice() -> Duration {
    *MAX_SLICE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets the cap on a slice for long waits, clamped to at least [`SLICE`]. `SLICE` itself
/// gives the spec's strict 1 ms polling (lowest latency against upstream peers, highest
/// idle cost); larger caps lower the idle cost.
pub fn set_max_slice(cap: Duration) {
    *MAX_SLICE.lock().unwrap_or_else(|p| p.into_inner()) = cap.max(SLICE);
}

/// How a [`wait`] ended. All outcomes mean "re-check the condition".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A `FUTEX_WAKE` woke the waiter (or a spurious wake-up).
    Woken,
    /// The word did not hold `expected` when the kernel checked it.
    Changed,
    /// The timeout passed.
    TimedOut,
    /// A signal interrupted the wait.
    Interrupted,
}

fn timespec(d: Duration) -> futex::Timespec {
    futex::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// Blocks while `word == expected`, for at most `timeout` (no timeout: until woken).
///
/// Uses `FUTEX_WAIT` without `FUTEX_PRIVATE_FLAG`, so wakers in other processes that map the
/// same memory can wake it. Callers in this crate always pass a timeout of at most [`SLICE`].
///
/// # Errors
/// The OS error for failures other than the four [`WaitOutcome`]s (e.g. `EFAULT`, `ENOSYS`).
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_format::Segment;
/// use zeroipc_sync::futex::{self, WaitOutcome};
///
/// let seg = Segment::anonymous(4096, 8)?;
/// let (_, region) = seg.add("word", 4, |_| Ok::<_, zeroipc_format::Error>(()))?;
/// let word = region.atomic_u32(0)?;
/// // The word is 0, not 1: the kernel refuses to sleep.
/// assert_eq!(futex::wait(word, 1, Some(Duration::from_millis(1)))?, WaitOutcome::Changed);
/// assert_eq!(futex::wait(word, 0, Some(Duration::from_millis(1)))?, WaitOutcome::TimedOut);
/// assert_eq!(futex::wake_all(word), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wait(
    word: &AtomicU32,
    expected: u32,
    timeout: Option<Duration>,
) -> std::io::Result<WaitOutcome> {
    let ts = timeout.map(timespec);
    match futex::wait(word, futex::Flags::empty(), expected, ts.as_ref()) {
        Ok(()) => Ok(WaitOutcome::Woken),
        Err(Errno::AGAIN) => Ok(WaitOutcome::Changed),
        Err(Errno::TIMEDOUT) => Ok(WaitOutcome::TimedOut),
        Err(Errno::INTR) => Ok(WaitOutcome::Interrupted),
        Err(e) => Err(e.into()),
    }
}

/// Wakes at most one waiter blocked on `word` (in any process); returns how many woke.
pub fn wake_one(word: &AtomicU32) -> usize {
    futex::wake(word, futex::Flags::empty(), 1).unwrap_or(0)
}

/// Wakes every waiter blocked on `word` (in any process); returns how many woke.
pub fn wake_all(word: &AtomicU32) -> usize {
    futex::wake(word, futex::Flags::empty(), i32::MAX as u32).unwrap_or(0)
}

/// A 32-bit word of a layout: the operations the algorithms need, plus sleeping on it and
/// waking its sleepers. Implemented by the hardware atomic (futex) and, under
/// `cfg(zeroipc_loom)`, by loom's atomic (yield).
pub(crate) trait Word: Word32 {
    /// Sleeps while the word holds `expected`, at most `slice`; may return early.
    fn park(&self, expected: u32, slice: Duration);
    /// Wakes one (`all == false`) or every sleeper.
    fn wake(&self, all: bool);
}

impl Word for AtomicU32 {
    fn park(&self, expected: u32, slice: Duration) {
        // Any outcome means "re-check"; a hard futex failure (never seen on Linux for a valid
        // mapped word) degrades to a sleep of one slice, which is still correct polling.
        if wait(self, expected, Some(slice)).is_err() {
            std::thread::sleep(slice);
        }
    }
    #[inline]
    fn wake(&self, all: bool) {
        if all {
            wake_all(self);
        } else {
            wake_one(self);
        }
    }
}

/// A loom model of a futex word: the atomic plus a notification that stands in for the
/// kernel's wait queue. `park` sleeps (without timeout) only if the word still holds the
/// expected value, and a `wake` between that check and the sleep leaves a permit, as
/// `FUTEX_WAIT`'s atomic check-and-sleep does. Because a parked thread wakes only through
/// `wake`, a lost wake-up shows up in loom as a deadlock instead of being hidden by the
/// production slices. (loom's notification allows one sleeper per word at a time; the models
/// stay within that.)
#[cfg(zeroipc_loom)]
#[derive(Debug)]
pub struct ModelWord {
    value: loom::sync::atomic::AtomicU32,
    notify: loom::sync::Notify,
}

#[cfg(zeroipc_loom)]
impl ModelWord {
    /// A word holding `value`.
    pub fn new(value: u32) -> Self {
        Self {
            value: loom::sync::atomic::AtomicU32::new(value),
            notify: loom::sync::Notify::new(),
        }
    }

    /// Loads the value (for assertions in models).
    pub fn get(&self) -> u32 {
        self.value.load(Ordering::SeqCst)
    }
}

#[cfg(zeroipc_loom)]
zeroipc_format::impl_word!(Word32, u32, ModelWord, |w| w.value);

#[cfg(zeroipc_loom)]
impl Word for ModelWord {
    fn park(&self, expected: u32, _slice: Duration) {
        if self.value.load(Ordering::SeqCst) == expected {
            self.notify.wait();
        }
    }
    fn wake(&self, _all: bool) {
        self.notify.notify();
    }
}

/// The next slice of a wait that started sleeping at `since`: a quarter of the time waited,
/// between [`SLICE`] and [`max_slice`], and never past `deadline`; `None` once that passed.
#[inline]
pub fn next_slice(deadline: Option<Instant>, since: Instant) -> Option<Duration> {
    let now = Instant::now();
    let waited = now.saturating_duration_since(since);
    let mut slice = (waited / 4).clamp(SLICE, max_slice().max(SLICE));
    if let Some(d) = deadline {
        if now >= d {
            return None;
        }
        slice = slice.min(d - now);
    }
    Some(slice)
}

/// `Instant::now() + timeout`, or no deadline if that overflows.
pub fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Repeats `attempt` until it succeeds or `deadline` passes, sleeping on `word` in bounded,
/// adaptive slices (see the module docs) between attempts. `attempt` returns `Err(seen)` with the value of `word`
/// its decision was based on; the sleep only starts if the word still holds it.
///
/// Returns `None` on timeout. No busy-wait phase: callers spin before they register as
/// waiters (see [`spin`]).
pub(crate) fn wait_for<W: Word + ?Sized, R>(
    word: &W,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Result<R, u32>,
) -> Option<R> {
    let since = Instant::now();
    loop {
        let seen = match attempt() {
            Ok(r) => return Some(r),
            Err(seen) => seen,
        };
        let slice = next_slice(deadline, since)?;
        word.park(seen, slice);
    }
}

/// The busy-wait phase before a waiter registers and sleeps: adaptive, bounded by the
/// process's measured spin budget (see [`crate::backoff`]); none under loom.
#[inline]
pub(crate) fn spin<R>(attempt: impl FnMut() -> Option<R>) -> Option<R> {
    crate::backoff::spin(attempt)
}
