//! Loom-checkable twins of the Future and of the rendezvous slot (only under
//! `cfg(zeroipc_loom)`), running the **same** protocol functions as the shared-memory types
//! (`protocol.rs`) over loom atomics. The futex becomes [`ModelWord`]: a sleeper wakes only
//! through the waker's wake, so a lost wake-up is a loom deadlock. `tests/loom.rs` drives
//! them. Not part of the public API.
//!
//! Element data (a plain copy in shared memory) is modelled by a **Relaxed** `AtomicU64`
//! (the crate has no `unsafe`, so no `UnsafeCell`): loom lets a Relaxed load return any
//! value the happens-before order allows, so a missing publication edge shows up as a
//! stale value, which the models assert against.

use std::time::Duration;

use loom::sync::atomic::{AtomicU32, AtomicU64};
use loom::sync::{Condvar, Mutex};
use zeroipc_format::atomic::{Ordering, Word32};

use crate::protocol::{self, Slot, Word};
use zeroipc_sync::backoff::Pace;

/// A futex word: the atomic plus a mutex and condition variable standing in for the
/// kernel's wait queue. `park` checks the value and sleeps under the mutex, and `wake_all`
/// notifies under it, so the check-and-sleep is atomic with respect to wakes, as in
/// `FUTEX_WAIT`; there are no timeouts, so a missing wake is a loom deadlock.
#[derive(Debug)]
pub struct ModelWord {
    value: AtomicU32,
    queue: Mutex<()>,
    cond: Condvar,
}

impl ModelWord {
    /// A word holding `v`.
    pub fn new(v: u32) -> Self {
        Self {
            value: AtomicU32::new(v),
            queue: Mutex::new(()),
            cond: Condvar::new(),
        }
    }
    /// The current value.
    pub fn get(&self) -> u32 {
        self.value.load(Ordering::SeqCst)
    }
}

zeroipc_format::impl_word!(Word32, u32, ModelWord, |w| w.value);

impl Word for ModelWord {
    fn park(&self, expected: u32, _slice: Duration) {
        let guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if self.value.load(Ordering::SeqCst) == expected {
            drop(self.cond.wait(guard));
        }
    }
    fn wake_all(&self) {
        let _guard = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.cond.notify_all();
    }
}

/// Future twin: `state`, `waiters` and the value cell.
#[derive(Debug)]
pub struct Future {
    state: ModelWord,
    waiters: ModelWord,
    value: AtomicU64,
}

impl Default for Future {
    fn default() -> Self {
        Self::new()
    }
}

impl Future {
    /// A pending future.
    pub fn new() -> Self {
        Self {
            state: ModelWord::new(protocol::PENDING),
            waiters: ModelWord::new(0),
            value: AtomicU64::new(0),
        }
    }

    /// `set_value`: `false` if already set.
    pub fn set(&self, v: u64) -> bool {
        if protocol::future_claim(&self.state).is_err() {
            return false;
        }
        self.value.store(v, Ordering::Relaxed);
        protocol::future_publish(&self.state, &self.waiters, protocol::READY);
        true
    }

    /// Blocking `get`.
    pub fn get(&self) -> u64 {
        let r: Result<Option<u64>, ()> =
            protocol::future_wait(&self.state, &self.waiters, None, |code| {
                Ok((code == protocol::READY).then(|| self.value.load(Ordering::Relaxed)))
            });
        r.ok().flatten().unwrap_or(u64::MAX)
    }

    /// `(state, waiters)`.
    pub fn snapshot(&self) -> (u32, u32) {
        (self.state.get(), self.waiters.get())
    }
}

/// Rendezvous twin: the slot word (`ready` in byte 0, `consumed` in byte 1), the data cell,
/// `senders`, `receivers` and `closed`.
#[derive(Debug)]
pub struct Rendezvous {
    word: ModelWord,
    senders: ModelWord,
    receivers: ModelWord,
    closed: ModelWord,
    data: AtomicU64,
}

impl Default for Rendezvous {
    fn default() -> Self {
        Self::new()
    }
}

impl Rendezvous {
    /// An empty, open slot.
    pub fn new() -> Self {
        Self {
            word: ModelWord::new(0),
            senders: ModelWord::new(0),
            receivers: ModelWord::new(0),
            closed: ModelWord::new(0),
            data: AtomicU64::new(0),
        }
    }

    fn set_byte(&self, shift: u32, v: u8, order: Ordering) {
        let mut cur = self.word.value.load(Ordering::Relaxed);
        loop {
            let new = (cur & !(0xFF << shift)) | (u32::from(v) << shift);
            match self
                .word
                .value
                .compare_exchange(cur, new, order, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(c) => cur = c,
            }
        }
    }

    /// Blocking send; `false` if it gave up (closed).
    pub fn send(&self, v: u64) -> bool {
        protocol::rendezvous_send(self, v, None, &|| Ok(()), &Pace::default()).is_ok()
    }

    /// Blocking receive; `None` once closed with nothing offered.
    pub fn recv(&self) -> Option<u64> {
        match protocol::rendezvous_recv(self, None, &|| Ok(()), &Pace::default()) {
            Ok(Some(v)) => v,
            _ => None,
        }
    }

    /// Closes and wakes everyone.
    pub fn close(&self) {
        self.closed.store(1, Ordering::SeqCst);
        self.word.wake_all();
    }

    /// `(ready, consumed, senders, receivers)`.
    pub fn snapshot(&self) -> (u32, u32, u32, u32) {
        let w = self.word.get();
        (
            w & 0xFF,
            (w >> 8) & 0xFF,
            self.senders.get(),
            self.receivers.get(),
        )
    }
}

impl Slot<u64> for Rendezvous {
    type W = ModelWord;
    fn word(&self) -> &ModelWord {
        &self.word
    }
    fn senders(&self) -> &ModelWord {
        &self.senders
    }
    fn receivers(&self) -> &ModelWord {
        &self.receivers
    }
    fn flags(&self) -> crate::Result<(u32, u8, u8)> {
        let w = self.word.value.load(Ordering::SeqCst);
        Ok((w, (w & 0xFF) as u8, ((w >> 8) & 0xFF) as u8))
    }
    fn set_ready(&self, v: u8, order: Ordering) -> crate::Result<()> {
        self.set_byte(0, v, order);
        Ok(())
    }
    fn set_consumed(&self, v: u8, order: Ordering) -> crate::Result<()> {
        self.set_byte(8, v, order);
        Ok(())
    }
    fn withdraw(&self) -> crate::Result<bool> {
        let cur = self.word.value.load(Ordering::SeqCst);
        if cur & 0xFF != 1 {
            return Ok(false);
        }
        Ok(self
            .word
            .value
            .compare_exchange(cur, cur & !0xFF, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok())
    }
    fn write(&self, v: u64) -> crate::Result<()> {
        self.data.store(v, Ordering::Relaxed);
        Ok(())
    }
    fn read(&self) -> crate::Result<u64> {
        Ok(self.data.load(Ordering::Relaxed))
    }
    fn closed(&self) -> crate::Result<bool> {
        Ok(self.closed.load(Ordering::SeqCst) == 1)
    }
}
