//! Spin-then-sleep waiting on a named semaphore.
//!
//! While the peer is awake, a `sem_post` makes no syscall (glibc only calls futex-wake when a
//! waiter sleeps) and a `sem_trywait` is one atomic operation, so a short spin before
//! sleeping keeps the per-frame cost free of syscalls.

use std::time::{Duration, Instant};

use crate::os::NamedSemaphore;

/// How long to spin on `sem_trywait` before yielding and then sleeping.
const SPIN_FOR: Duration = Duration::from_micros(50);
/// `sched_yield` rounds after spinning (lets a peer sharing our core run).
const YIELDS: u32 = 4;

/// Takes a token if one arrives within the spin window. `true` if taken.
pub(crate) fn spin_try(sem: &NamedSemaphore) -> bool {
    if sem.try_wait() {
        return true;
    }
    if cfg!(zeroipc_loom) {
        return false; // loom explores the interleavings; spinning only grows the state space
    }
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            core::hint::spin_loop();
            if sem.try_wait() {
                return true;
            }
        }
        if start.elapsed() >= SPIN_FOR {
            break;
        }
    }
    for _ in 0..YIELDS {
        std::thread::yield_now();
        if sem.try_wait() {
            return true;
        }
    }
    false
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
