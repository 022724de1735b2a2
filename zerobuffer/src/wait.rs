//! Spin-then-sleep waiting on a named semaphore.
//!
//! While the peer is awake, a `sem_post` makes no syscall (glibc only calls futex-wake when a
//! waiter sleeps) and a `sem_trywait` is one atomic operation, so a short spin before
//! sleeping keeps the per-frame cost free of syscalls.
//!
//! The spin adapts to where the peer runs and to how long waits last ([`Pace`]):
//!
//! * **The peer shares our CPU.** With pause hints, a side whose peer shares its CPU only
//!   burns the peer's time: measured with the writer and the reader on one CPU, 0.35–0.42 M
//!   frames/s of 1 KiB. Once a sleep shows that (a token came within [`QUICK`] of a full
//!   spin: the peer ran as soon as we stopped), the next waits poll with `sched_yield` in
//!   between, so the peer fills or drains the ring while we wait (1.95–2.82 M frames/s the
//!   same way), and every [`PROBE`]-th wait tries pause hints again. It is the heuristic of
//!   `zeroipc_sync::backoff::Pace::yielding` (fixed budget here); ZeroBuffer depends on none
//!   of the ZeroIPC crates, so it keeps these few lines of its own.
//! * **Waits outlast the spin.** When a token came [`FUTILE`] or more after a full spin, the
//!   spin bought nothing: frames (or space) come more slowly than a spin lasts, e.g. 1 MiB
//!   frames at a few thousand per second, where each side spun 50 µs per frame for nothing
//!   (on two busy CPUs about a tenth of the machine, taken from the threads that produce
//!   the frames). The next waits sleep at once, until one of them ends within [`SPIN_FOR`]
//!   (a spin would have caught it): then they spin again.

use std::time::{Duration, Instant};

use crate::atomic::{AtomicU32, Ordering};
use crate::os::NamedSemaphore;

/// How long to poll before sleeping.
const SPIN_FOR: Duration = Duration::from_micros(50);
/// A sleep that a token ends sooner than this after a full spin: the peer shares our CPU.
const QUICK: Duration = Duration::from_micros(25);
/// A sleep at least this long after a full spin: the spin was futile, the next waits sleep
/// at once.
const FUTILE: Duration = Duration::from_micros(100);
/// In the yield mode, one wait in this many polls with pause hints again (a probe).
const PROBE: u32 = 16;
/// [`Pace`]'s value in the sleep mode.
const SLEEPS: u32 = u32::MAX;

/// How a wait polls before it sleeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poll {
    /// Pause hints for [`SPIN_FOR`].
    Pause,
    /// `sched_yield` between polls for [`SPIN_FOR`].
    Yield,
    /// Not at all: one check, then sleep.
    Sleep,
}

/// One side's memory of its previous waits (process-local; racing waits of one handle may
/// overwrite each other's lesson, a heuristic): 0 polls with pause hints; [`SLEEPS`] sleeps
/// at once; any other `n` yields, `n` waits since it started.
pub(crate) struct Pace(AtomicU32);

impl Pace {
    pub(crate) fn new() -> Self {
        Pace(AtomicU32::new(0))
    }

    /// How the next wait polls.
    fn poll(&self) -> Poll {
        match self.0.load(Ordering::Relaxed) {
            SLEEPS => Poll::Sleep,
            n if n.is_multiple_of(PROBE) => Poll::Pause,
            _ => Poll::Yield,
        }
    }

    /// After a wait that got past its first check: how it polled, and how long it slept
    /// after polling (`None`: its poll succeeded).
    fn learn(&self, polled: Poll, slept: Option<Duration>) {
        let v = self.0.load(Ordering::Relaxed);
        let next = match (polled, slept) {
            (_, Some(d)) if d >= FUTILE => SLEEPS,
            (Poll::Sleep, Some(d)) if d >= SPIN_FOR => SLEEPS,
            (Poll::Sleep, _) => 0,
            (Poll::Pause, None) => 0,
            (Poll::Pause, Some(d)) if d >= QUICK => 0,
            (Poll::Pause, Some(_)) => 1,
            // Counts on, below SLEEPS, keeping the PROBE cadence.
            (Poll::Yield, _) => (v % (1 << 30)) + 1,
        };
        self.0.store(next, Ordering::Relaxed);
    }
}

/// A wait that polled in vain and sleeps: what its [`Pace`] learns once it ends.
pub(crate) struct Parked<'a> {
    pace: &'a Pace,
    polled: Poll,
    since: Instant,
}

impl Parked<'_> {
    /// The wait ended with what it waited for: teach the pace how long it slept.
    pub(crate) fn learn(self) {
        self.pace.learn(self.polled, Some(self.since.elapsed()));
    }
}

/// Polls `ready` for up to [`SPIN_FOR`] as `pace` says (pause hints, `sched_yield` in
/// between, or only once). `None`: ready; `Some(parked)`: sleep, then `parked.learn()` on
/// success.
pub(crate) fn spin<'a>(pace: &'a Pace, mut ready: impl FnMut() -> bool) -> Option<Parked<'a>> {
    if ready() {
        return None;
    }
    let polled = pace.poll();
    let parked = |pace| {
        Some(Parked {
            pace,
            polled,
            since: Instant::now(),
        })
    };
    // loom explores the interleavings; spinning only grows the state space.
    if cfg!(zeroipc_loom) || polled == Poll::Sleep {
        return parked(pace);
    }
    let start = Instant::now();
    while start.elapsed() < SPIN_FOR {
        if polled == Poll::Yield {
            std::thread::yield_now();
            if ready() {
                pace.learn(polled, None);
                return None;
            }
        } else {
            for _ in 0..64 {
                core::hint::spin_loop();
                if ready() {
                    pace.learn(polled, None);
                    return None;
                }
            }
        }
    }
    parked(pace)
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

#[cfg(test)]
mod tests {
    use super::*;

    const US: fn(u64) -> Duration = Duration::from_micros;

    #[test]
    fn a_quick_token_after_a_pause_spin_switches_to_yielding_with_probes() {
        let p = Pace::new();
        assert_eq!(p.poll(), Poll::Pause);
        p.learn(Poll::Pause, Some(US(5)));
        assert_eq!(p.poll(), Poll::Yield);
        for _ in 1..PROBE {
            assert_eq!(p.poll(), Poll::Yield);
            p.learn(Poll::Yield, None);
        }
        // Every PROBE-th wait tries pause hints; a slower token returns to them.
        assert_eq!(p.poll(), Poll::Pause);
        p.learn(Poll::Pause, Some(QUICK));
        assert_eq!(p.poll(), Poll::Pause);
        p.learn(Poll::Pause, None);
        assert_eq!(p.poll(), Poll::Pause);
    }

    #[test]
    fn a_futile_spin_makes_the_next_waits_sleep_until_one_ends_within_a_spin() {
        for polled in [Poll::Pause, Poll::Yield] {
            let p = Pace::new();
            p.learn(polled, Some(FUTILE - US(1)));
            assert_ne!(p.poll(), Poll::Sleep, "{polled:?}: a sleep below FUTILE");
            p.learn(polled, Some(FUTILE));
            assert_eq!(p.poll(), Poll::Sleep, "{polled:?}");
            // Waits that outlast a spin keep it sleeping, however many there are.
            for _ in 0..3 * PROBE {
                p.learn(Poll::Sleep, Some(SPIN_FOR));
                assert_eq!(p.poll(), Poll::Sleep);
            }
            // One that a spin would have caught brings the pause-hint spin back.
            p.learn(Poll::Sleep, Some(SPIN_FOR - US(1)));
            assert_eq!(p.poll(), Poll::Pause, "{polled:?}");
        }
    }

    #[test]
    fn the_yield_count_stays_below_the_sleep_value() {
        let p = Pace(AtomicU32::new((1 << 30) + 1));
        p.learn(Poll::Yield, None);
        assert_eq!(p.0.load(Ordering::Relaxed), 2);
        let p = Pace(AtomicU32::new(SLEEPS - 1));
        p.learn(Poll::Yield, None);
        assert_ne!(p.0.load(Ordering::Relaxed), SLEEPS);
    }
}
