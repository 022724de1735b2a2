//! The wait/wake protocols of [`Future`](crate::Future) and of the rendezvous slot of an
//! unbuffered [`Channel`](crate::Channel), written once, generic over the 32-bit word type:
//! the shared-memory types run them over `Region` words (futex sleeps), and under
//! `cfg(zeroipc_loom)` the twins in `model` run the same code over loom atomics.

use std::time::{Duration, Instant};

use zeroipc_format::atomic::{Ordering, Word32, fence};

use crate::common;
use zeroipc_sync::backoff::{Pace, Paced, Parking};

/// A 32-bit word of a layout: the atomic operations the protocols need, plus sleeping on it
/// (while it holds an expected value, at most a slice) and waking every sleeper.
pub(crate) trait Word: Word32 {
    fn park(&self, expected: u32, slice: Duration);
    fn wake_all(&self);
}

impl Word for common::HwU32 {
    fn park(&self, expected: u32, slice: Duration) {
        common::park(self, expected, slice);
    }
    fn wake_all(&self) {
        common::wake_all(self);
    }
}

// ----- Future ---------------------------------------------------------------------------

/// Future state codes.
pub(crate) const PENDING: u32 = 0;
pub(crate) const COMPUTING: u32 = 1;
pub(crate) const READY: u32 = 2;
pub(crate) const ERROR: u32 = 3;

/// Claims a future for completion (PENDING → COMPUTING); `Err(state)` if it was not pending.
pub(crate) fn future_claim<W: Word>(state: &W) -> Result<(), u32> {
    state
        .compare_exchange(PENDING, COMPUTING, Ordering::Acquire, Ordering::Relaxed)
        .map(|_| ())
}

/// Publishes the final state (the value or message is written before) and wakes waiters.
pub(crate) fn future_publish<W: Word>(state: &W, waiters: &W, code: u32) {
    // SeqCst: publishes the value to the Acquire/SeqCst loads of `state` in `future_wait`
    // and orders against the `waiters` check (store-load handshake with the waiter's SeqCst
    // increment, spec D5).
    state.store(code, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    if waiters.load(Ordering::SeqCst) > 0 {
        state.wake_all();
    }
}

/// Waits until `outcome(state)` gives a result, registered in `waiters` throughout.
/// `Ok(None)` on timeout.
pub(crate) fn future_wait<W: Word, R, E>(
    state: &W,
    waiters: &W,
    deadline: Option<Instant>,
    mut outcome: impl FnMut(u32) -> Result<Option<R>, E>,
) -> Result<Option<R>, E> {
    waiters.fetch_add(1, Ordering::SeqCst);
    fence(Ordering::SeqCst);
    let since = Instant::now();
    let result = loop {
        let code = state.load(Ordering::SeqCst);
        match outcome(code) {
            Ok(Some(v)) => break Ok(Some(v)),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        let Some(slice) = common::next_slice(deadline, since) else {
            break Ok(None);
        };
        state.park(code, slice);
    };
    waiters.fetch_sub(1, Ordering::Relaxed);
    result
}

// ----- Rendezvous slot ------------------------------------------------------------------

/// The rendezvous slot and its channel: `{ready, consumed}` flags in the slot's first word
/// (the futex word), the data cell, the header's `senders`/`receivers` waiter counters and
/// `closed`.
pub(crate) trait Slot<T> {
    type W: Word;
    /// The slot's futex word.
    fn word(&self) -> &Self::W;
    fn senders(&self) -> &Self::W;
    fn receivers(&self) -> &Self::W;
    /// `(raw word, ready, consumed)`, validated (`Err` for flags above 1).
    fn flags(&self) -> crate::Result<(u32, u8, u8)>;
    fn set_ready(&self, v: u8, order: Ordering) -> crate::Result<()>;
    fn set_consumed(&self, v: u8, order: Ordering) -> crate::Result<()>;
    /// CAS `ready` 1 → 0 (withdrawing an offer); whether it succeeded.
    fn withdraw(&self) -> crate::Result<bool>;
    fn write(&self, v: T) -> crate::Result<()>;
    fn read(&self) -> crate::Result<T>;
    fn closed(&self) -> crate::Result<bool>;
}

/// Why a rendezvous send gave up (the caller builds the error).
pub(crate) enum SendStop {
    Closed,
    Timeout,
    Abort(crate::Error),
    Fault(crate::Error),
}

impl From<crate::Error> for SendStop {
    fn from(e: crate::Error) -> Self {
        Self::Fault(e)
    }
}

/// A registration in a waiter counter of the layout (the blocking and the rendezvous waits
/// alike): counted on creation, then a SeqCst fence; uncounted on drop.
pub(crate) struct Registered<'a, W: Word>(&'a W);

impl<'a, W: Word> Registered<'a, W> {
    /// Registers, then a SeqCst fence: the store-load handshake with the waker's
    /// store, fence, counter load (spec D5; loom needs the fences to see it).
    pub(crate) fn new(w: &'a W) -> Self {
        w.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        Self(w)
    }
}

impl<W: Word> Drop for Registered<'_, W> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Polls `done` for the process's adaptive spin budget (`common::spin`): the busy phase of
/// the rendezvous waits, before they register and sleep. Returns whether `done` held. Under
/// loom there is no busy phase (every poll would be a new interleaving).
fn spin_until(mut done: impl FnMut() -> crate::Result<bool>) -> crate::Result<bool> {
    Ok(common::spin(|| Ok(done()?.then_some(())))?.is_some())
}

/// The busy phase of the rendezvous waits for the other party (the take, the offer), paced
/// by the handle's `pace`: every hand-off is a round trip, so when the two processes share a
/// CPU each one must yield to the other rather than spin (see `zeroipc_sync::backoff::Pace`).
/// `Ok(None)`: `done` held; `Ok(Some(p))`: register and park, then `p.woke()` on success.
fn spin_paced(
    pace: &Pace,
    mut done: impl FnMut() -> crate::Result<bool>,
) -> crate::Result<Option<Parking<'_>>> {
    match pace.spin(|| done().map(|d| d.then_some(())).transpose()) {
        Paced::Done(r) => r.map(|()| None),
        Paced::Park(parking) => Ok(Some(parking)),
    }
}

/// Offers `v` and waits until a receiver took it (spec §4.20 unbuffered send). `abort` is
/// checked once per slice.
pub(crate) fn rendezvous_send<T, S: Slot<T>>(
    slot: &S,
    v: T,
    deadline: Option<Instant>,
    abort: &dyn Fn() -> crate::Result<()>,
    pace: &Pace,
) -> Result<(), SendStop> {
    if slot.closed()? {
        return Err(SendStop::Closed);
    }
    let since = Instant::now();
    // The sender registers in `senders` (so that a taker wakes it) only once it is about to
    // sleep: while it spins, a receiver's take costs no FUTEX_WAKE. The loops below re-read
    // the flags after registering, so a take between the spin and the registration is seen
    // (store-load handshake: `Registered::new` / the taker's store, fence, counter load).
    let mut registered = None;
    // 1. Wait for the slot to be free.
    spin_until(|| Ok(slot.closed()? || slot.flags()?.1 == 0))?;
    loop {
        if slot.closed()? {
            return Err(SendStop::Closed);
        }
        let (w, ready, _) = slot.flags()?;
        if ready == 0 {
            break;
        }
        if registered.is_none() {
            registered = Some(Registered::new(slot.senders()));
            continue;
        }
        abort().map_err(SendStop::Abort)?;
        let Some(s) = common::next_slice(deadline, since) else {
            return Err(SendStop::Timeout);
        };
        slot.word().park(w, s);
    }
    // 2. Offer the value.
    slot.write(v)?;
    slot.set_consumed(0, Ordering::Relaxed)?;
    // SeqCst: publishes the data to the receiver's SeqCst load of the flags.
    slot.set_ready(1, Ordering::SeqCst)?;
    fence(Ordering::SeqCst);
    if slot.receivers().load(Ordering::SeqCst) > 0 {
        slot.word().wake_all();
    }
    // 3. Wait until a receiver took it: a receiver that is running takes it within a few
    // hundred ns, far below a futex sleep and wake-up (tens of µs on a VM).
    let mut parked = spin_paced(pace, || Ok(slot.closed()? || slot.flags()?.2 == 1))?;
    loop {
        let (w, _, consumed) = slot.flags()?;
        if consumed == 1 {
            if let Some(p) = parked.take() {
                p.woke();
            }
            return Ok(());
        }
        if registered.is_none() {
            registered = Some(Registered::new(slot.senders()));
            continue;
        }
        let stop = if slot.closed()? {
            Some(SendStop::Closed)
        } else if let Err(e) = abort() {
            Some(SendStop::Abort(e))
        } else {
            match common::next_slice(deadline, since) {
                Some(s) => {
                    slot.word().park(w, s);
                    None
                }
                None => Some(SendStop::Timeout),
            }
        };
        // Withdraw the offer; if a receiver already cleared `ready`, it took the value (it
        // set `consumed` first): loop to see it.
        if let Some(stop) = stop
            && slot.withdraw()?
        {
            return Err(stop);
        }
    }
}

/// Takes the offered value, if any (spec §4.20 unbuffered receive, one attempt).
pub(crate) fn rendezvous_take<T, S: Slot<T>>(slot: &S) -> crate::Result<Option<T>> {
    let (_, ready, _) = slot.flags()?;
    if ready != 1 {
        return Ok(None);
    }
    let v = slot.read()?;
    // Release: the sender's SeqCst load of the flags sees the copy done.
    slot.set_consumed(1, Ordering::Release)?;
    slot.set_ready(0, Ordering::SeqCst)?;
    fence(Ordering::SeqCst);
    if slot.senders().load(Ordering::SeqCst) > 0 {
        slot.word().wake_all();
    }
    Ok(Some(v))
}

/// Blocks until a value is taken (`Ok(Some(Some(v)))`), the channel is closed with nothing
/// offered (`Ok(Some(None))`), or the deadline passes (`Ok(None)`), registered in
/// `receivers` meanwhile. `abort` is checked once per slice.
pub(crate) fn rendezvous_recv<T, S: Slot<T>>(
    slot: &S,
    deadline: Option<Instant>,
    abort: &dyn Fn() -> crate::Result<()>,
    pace: &Pace,
) -> crate::Result<Option<Option<T>>> {
    // Registered for the whole wait: `try_send` offers only while `receivers > 0`.
    let _registered = Registered::new(slot.receivers());
    let since = Instant::now();
    // A sender that is running offers within a few hundred ns: poll before sleeping.
    let mut parked = spin_paced(pace, || Ok(slot.closed()? || slot.flags()?.1 == 1))?;
    loop {
        let (w, _, _) = slot.flags()?;
        if let Some(v) = rendezvous_take(slot)? {
            if let Some(p) = parked.take() {
                p.woke();
            }
            return Ok(Some(Some(v)));
        }
        if slot.closed()? {
            return Ok(Some(None));
        }
        abort()?;
        let Some(s) = common::next_slice(deadline, since) else {
            return Ok(None);
        };
        slot.word().park(w, s);
    }
}
