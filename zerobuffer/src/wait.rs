//! Spin-then-sleep waiting on a named semaphore.
//!
//! While the peer is awake, a `sem_post` makes no syscall (glibc only calls futex-wake when a
//! waiter sleeps) and a `sem_trywait` is one atomic operation, so a short spin before
//! sleeping keeps the per-frame cost free of syscalls. The spin is the workspace's adaptive
//! one (`zeroipc_sync::backoff`).

use std::time::{Duration, Instant};

use zeroipc_sync::backoff::{self, Pace, Plan, Spun};

use crate::os::NamedSemaphore;

/// A wait that got past its spin phase and sleeps: what its [`Pace`] learns once it ends.
pub(crate) struct Parked<'a> {
    pace: &'a Pace,
    plan: Plan,
    since: Instant,
}

impl Parked<'_> {
    /// The wait ended with a token: teach the pace how long it slept.
    pub(crate) fn learn(self) {
        self.pace.learn(self.plan, Some(self.since.elapsed()));
    }
}

/// Takes a token if one arrives within the spin phase (`None`), paced by `pace`: pause
/// hints while the writer runs on another CPU, `sched_yield` once a wait showed that it
/// shares ours (see `zeroipc_sync::backoff::Pace`; two spinning peers on one CPU each burned
/// the other's time slice, 0.5 M frames/s of 1 KiB under load). `Some(parked)`: sleep on
/// the semaphore, then `parked.learn()` if a token came.
pub(crate) fn spin_try<'a>(sem: &NamedSemaphore, pace: &'a Pace) -> Option<Parked<'a>> {
    if sem.try_wait() {
        return None;
    }
    let plan = pace.plan();
    match backoff::spin_until(plan.peer, plan.timed, || sem.try_wait().then_some(())) {
        Spun::Early(()) => None,
        Spun::Late(()) => {
            pace.learn(plan, None);
            None
        }
        Spun::Park => Some(Parked {
            pace,
            plan,
            since: Instant::now(),
        }),
    }
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
