//! Spin-then-sleep waiting on a named semaphore.
//!
//! While the peer is awake, a `sem_post` makes no syscall (glibc only calls futex-wake when a
//! waiter sleeps) and a `sem_trywait` is one atomic operation, so a short spin before
//! sleeping keeps the per-frame cost free of syscalls.
//!
//! The spin adapts to where the peer runs ([`Pace`]). With pause hints, a side whose peer
//! shares its CPU only burns the peer's time: measured with the writer and the reader on one
//! CPU, 0.35–0.42 M frames/s of 1 KiB. Once a sleep shows that (a token came within
//! [`QUICK`] of a full spin: the peer ran as soon as we stopped), the next waits poll with
//! `sched_yield` in between, so the peer fills or drains the ring while we wait (1.95–2.82 M
//! frames/s the same way), and every [`PROBE`]-th wait tries pause hints again. It is the
//! heuristic of `zeroipc_sync::backoff::Pace::yielding` (fixed budget here); ZeroBuffer
//! depends on none of the ZeroIPC crates, so it keeps these few lines of its own.

use std::time::{Duration, Instant};

use crate::atomic::{AtomicU32, Ordering};
use crate::os::NamedSemaphore;

/// How long to poll before sleeping.
const SPIN_FOR: Duration = Duration::from_micros(50);
/// A sleep that a token ends sooner than this after a full spin: the peer shares our CPU.
const QUICK: Duration = Duration::from_micros(25);
/// In the yield mode, one wait in this many polls with pause hints again (a probe).
const PROBE: u32 = 16;

/// One side's memory of its previous waits (process-local; racing waits of one handle may
/// overwrite each other's lesson, a heuristic): 0 polls with pause hints; `n > 0` yields,
/// `n` waits since it started.
pub(crate) struct Pace(AtomicU32);

impl Pace {
    pub(crate) fn new() -> Self {
        Pace(AtomicU32::new(0))
    }

    /// Whether the next wait yields between polls.
    fn yields(&self) -> bool {
        !self.0.load(Ordering::Relaxed).is_multiple_of(PROBE)
    }

    /// After a wait that got past its first poll: whether it yielded, and how long it slept
    /// (`None`: its poll succeeded).
    fn learn(&self, yielded: bool, slept: Option<Duration>) {
        let v = self.0.load(Ordering::Relaxed);
        let next = match (yielded, slept) {
            (false, None) => 0,
            (false, Some(d)) if d >= QUICK => 0,
            (false, Some(_)) => 1,
            (true, _) => v.wrapping_add(1).max(1),
        };
        self.0.store(next, Ordering::Relaxed);
    }
}

/// A wait that polled in vain and sleeps: what its [`Pace`] learns once it ends.
pub(crate) struct Parked<'a> {
    pace: &'a Pace,
    yielded: bool,
    since: Instant,
}

impl Parked<'_> {
    /// The wait ended with what it waited for: teach the pace how long it slept.
    pub(crate) fn learn(self) {
        self.pace.learn(self.yielded, Some(self.since.elapsed()));
    }
}

/// Polls `ready` for up to [`SPIN_FOR`] as `pace` says (pause hints, or `sched_yield` in
/// between). `None`: ready; `Some(parked)`: sleep, then `parked.learn()` on success.
pub(crate) fn spin<'a>(pace: &'a Pace, mut ready: impl FnMut() -> bool) -> Option<Parked<'a>> {
    if ready() {
        return None;
    }
    let yielded = pace.yields();
    if cfg!(zeroipc_loom) {
        // loom explores the interleavings; spinning only grows the state space.
        return Some(Parked {
            pace,
            yielded,
            since: Instant::now(),
        });
    }
    let start = Instant::now();
    while start.elapsed() < SPIN_FOR {
        if yielded {
            std::thread::yield_now();
            if ready() {
                pace.learn(yielded, None);
                return None;
            }
        } else {
            for _ in 0..64 {
                core::hint::spin_loop();
                if ready() {
                    pace.learn(yielded, None);
                    return None;
                }
            }
        }
    }
    Some(Parked {
        pace,
        yielded,
        since: Instant::now(),
    })
}

/// Takes a `sem` token if one arrives while polling (`None`); see [`spin`].
pub(crate) fn spin_try<'a>(sem: &NamedSemaphore, pace: &'a Pace) -> Option<Parked<'a>> {
    spin(pace, || sem.try_wait())
}

/// Remaining time until `deadline`, capped to `slice`.
pub(crate) fn slice_until(deadline: Instant, slice: Duration) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .min(slice)
}

/// `now + d`, saturating far in the future.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}
