//! Atomic words as the lock-free algorithms see them.
//!
//! The algorithms are written once, generic over [`Word32`]/[`Word64`], so the same code runs
//! over the hardware atomics of a mapped segment and, under `cfg(zeroipc_loom)`, over loom's
//! model-checked atomics.

use zeroipc_format::atomic::shared;

pub(crate) use zeroipc_format::atomic::{Word32, Word64};

/// The hardware 32-bit word of a mapped segment.
#[allow(clippy::disallowed_types)]
pub(crate) type HwWord32 = shared::AtomicU32;

/// The hardware 64-bit word of a mapped segment.
#[allow(clippy::disallowed_types)]
pub(crate) type HwWord64 = shared::AtomicU64;

/// A spin-loop hint between quick retries (loom's yield in models, so they terminate).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(zeroipc_loom)]
    loom::thread::yield_now();
    #[cfg(not(zeroipc_loom))]
    std::hint::spin_loop();
}

/// A bounded wait for a slot another process holds: yields at first, then sleeps briefly,
/// and gives up after [`SLOT_WAIT`]. Long enough that a live peer that was merely
/// descheduled finishes (on an overloaded machine a claimant can be off the CPU for many
/// milliseconds), short enough that a dead one turns into an error rather than a hang.
pub(crate) struct BoundedWait {
    tries: u32,
    #[cfg(not(zeroipc_loom))]
    deadline: Option<std::time::Instant>,
}

/// How long a slot claim held by another process is waited for.
#[cfg(all(not(zeroipc_loom), not(fuzzing)))]
pub(crate) const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Fuzz builds (`--cfg fuzzing`, set by cargo-fuzz) have no other process that could finish a
/// claim: a short bound keeps hostile inputs with busy-looking slots from stalling the fuzzer.
#[cfg(all(not(zeroipc_loom), fuzzing))]
pub(crate) const SLOT_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

impl BoundedWait {
    pub(crate) fn new() -> Self {
        Self {
            tries: 0,
            #[cfg(not(zeroipc_loom))]
            deadline: None,
        }
    }

    /// Waits a little; `false` once the bound is exhausted.
    pub(crate) fn wait(&mut self) -> bool {
        self.tries = self.tries.saturating_add(1);
        #[cfg(zeroipc_loom)]
        {
            loom::thread::yield_now();
            self.tries < 3
        }
        #[cfg(not(zeroipc_loom))]
        {
            // Fuzz builds: see `SLOT_WAIT`.
            const YIELDS: u32 = if cfg!(fuzzing) { 10 } else { 1_000 };
            if self.tries <= YIELDS {
                std::thread::yield_now();
                return true;
            }
            let now = std::time::Instant::now();
            let deadline = *self.deadline.get_or_insert(now + SLOT_WAIT);
            if now >= deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
            true
        }
    }
}
