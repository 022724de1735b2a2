//! The async forms of the codata waits (feature `async`), built on
//! [`zeroipc_sync::reactor`]: `Channel`/`Sender`/`Receiver` `recv_async`/`send_async`,
//! `Receiver` and `Subscription` as [`futures_core::Stream`]s, `Subscription::recv_async`,
//! `Future::get_async`, `Lazy::force_async`.
//!
//! Each future first tries the non-blocking path; if it must wait, it registers in the
//! layout's waiter counter where there is one (so project peers `FUTEX_WAKE` it) and sleeps
//! on the same futex word as the blocking call, through a reactor helper thread.
//!
//! Cancellation:
//! - `recv_async` / `Stream::poll_next`: an item is taken only by the poll that returns it;
//!   dropping a pending future loses nothing.
//! - `send_async` on a buffered channel: the value is pushed only by the poll that completes
//!   the future; a dropped pending `send_async` did **not** send. On an unbuffered channel
//!   each poll offers the value for at most one 1 ms slice (as `try_send`) and withdraws it
//!   if no receiver took it, so there too a dropped pending future did not send.
// Names the hardware `AtomicU32` that `Region` hands out (waiter counters, futex words).
#![allow(clippy::disallowed_types)]

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytemuck::Pod;
use zeroipc_format::atomic::shared::AtomicU32;
use zeroipc_format::atomic::{Ordering, fence};
use zeroipc_format::{AtomicWords, Region};
use zeroipc_sync::reactor::{FutexWord, RegionWord, Waiter};

use crate::common;
use crate::error::{Error, Result};
use crate::layout::ChannelHeader;
use crate::{Channel, Future, Lazy, LazyValue, Receiver, Sender, Subscription};

/// How often a pending wait of a registered [`Sender`]/[`Receiver`] checks whether every
/// peer on the other side died (the blocking calls check once per slice; a death is rare and
/// a check costs a `kill(pid, 0)` per registered peer).
pub(crate) const LIVENESS_REPOLL: Duration = Duration::from_millis(100);

/// Which word of a channel an async wait uses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ChannelWord {
    /// What a blocked receiver sleeps on (the queue's `tail`, or the rendezvous slot).
    Recv,
    /// What a blocked sender sleeps on (the queue's `head`, or the rendezvous slot).
    Send,
    /// The header's `receivers` waiter counter.
    Receivers,
    /// The header's `senders` waiter counter.
    Senders,
}

/// A channel's word, resolved once (the views keep the mapping alive): the reactor's sweep
/// reads the word and the `closed` flag of every pending wait once per slice.
struct ChanWord {
    word: Option<AtomicWords>,
    header: Region,
}

impl FutexWord for ChanWord {
    fn word(&self) -> Option<&AtomicU32> {
        self.word.as_ref().and_then(|w| w.first())
    }

    /// `close()` changes no futex word: its wake-up must not depend on a helper sleeping.
    /// Any value but 0 (also a corrupt one, which the woken future reports) ends the wait.
    fn flagged(&self) -> bool {
        self.header
            .atomic_u8(ChannelHeader::CLOSED)
            .map_or(true, |c| c.load(Ordering::Acquire) != 0)
    }

    fn view(&self) -> Option<AtomicWords> {
        self.word.clone()
    }

    fn flag_byte(&self) -> Option<(Region, usize)> {
        Some((self.header.clone(), ChannelHeader::CLOSED))
    }
}

fn chan_word<T: Pod>(chan: &Channel<T>, which: ChannelWord) -> Arc<dyn FutexWord> {
    Arc::new(ChanWord {
        word: chan.async_word(which),
        header: chan.header_region(),
    })
}

/// A subscription's words: the stream's `write_pos` low half and `sub_waiting` counter.
struct StreamWord<T: Pod> {
    stream: crate::Stream<T>,
    counter: bool,
}

impl<T: Pod> FutexWord for StreamWord<T> {
    fn word(&self) -> Option<&AtomicU32> {
        self.stream.async_word(self.counter)
    }

    /// `close()` changes no futex word: its wake-up must not depend on a helper sleeping.
    fn flagged(&self) -> bool {
        !self.counter && self.stream.is_closed().unwrap_or(true)
    }
}

/// A reactor waiter plus its registration in a layout's waiter counter, for as long as the
/// wait is pending.
pub(crate) struct Pending {
    waiter: Waiter,
    counter: Option<Arc<dyn FutexWord>>,
    /// Whether another process is half-way through making the wait's condition true (see
    /// [`Waiter::poll_until_busy`]).
    busy: Option<Box<dyn Fn() -> bool + Send + Sync>>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("waiter", &self.waiter)
            .finish()
    }
}

impl Pending {
    fn new(
        word: Arc<dyn FutexWord>,
        counter: Option<Arc<dyn FutexWord>>,
        repoll: Option<Duration>,
    ) -> Self {
        if let Some(w) = counter.as_ref().and_then(|c| c.word()) {
            w.fetch_add(1, Ordering::SeqCst);
            // Store–load handshake with the waker's change, fence, counter load (spec D5).
            fence(Ordering::SeqCst);
        }
        let mut waiter = Waiter::new(word);
        if let Some(d) = repoll {
            waiter = waiter.repoll_every(d);
        }
        Self {
            waiter,
            counter,
            busy: None,
        }
    }

    /// Sets the check of [`Pending::busy`].
    fn busy_when(mut self, busy: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.busy = Some(Box::new(busy));
        self
    }

    fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        attempt: impl FnMut() -> Result<Option<R>>,
    ) -> Poll<Result<R>> {
        let busy = &self.busy;
        self.waiter
            .poll_until_busy(cx, attempt, || busy.as_ref().is_some_and(|f| f()))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(w) = self.counter.as_ref().and_then(|c| c.word()) {
            w.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Waits until `attempt` has a result: tries, then polls through the blocking calls' short
/// exponential spin (about 1 µs of the runtime's thread, no timed phase), then registers
/// with a helper thread and sleeps. A peer that is running hands over within that spin,
/// which saves the registration (a lock and a poke of the helper) and the helper's wake-up
/// hop; a peer that is not costs the runtime one microsecond per wait.
async fn wait_for<R>(
    make: impl FnOnce() -> Pending,
    mut attempt: impl FnMut() -> Result<Option<R>>,
) -> Result<R> {
    if let Some(r) = common::spin_short(&mut attempt)? {
        return Ok(r);
    }
    let mut pending = make();
    poll_fn(|cx| pending.poll(cx, &mut attempt)).await
}

// ----- Channel ------------------------------------------------------------------------

/// One receive attempt: `Some(Some(v))` a value, `Some(None)` closed and drained (or, with
/// `ends_when_senders_gone`, every registered sender gone and drained), `None` nothing yet.
fn recv_step<T: Pod>(chan: &Channel<T>, ends_when_senders_gone: bool) -> Result<Option<Option<T>>> {
    match chan.try_recv() {
        Ok(Some(v)) => return Ok(Some(Some(v))),
        Ok(None) => {}
        Err(Error::Closed { .. }) => return Ok(Some(None)),
        Err(e) => return Err(e),
    }
    if ends_when_senders_gone {
        match chan.peers_gone(false) {
            Ok(()) => {}
            // Every registered sender gone: the end, after a last look (a value pushed just
            // before the last sender left is still delivered).
            Err(Error::Disconnected { .. }) => {
                return match chan.try_recv() {
                    Ok(Some(v)) => Ok(Some(Some(v))),
                    Ok(None) | Err(Error::Closed { .. }) => Ok(Some(None)),
                    Err(e) => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

fn recv_pending<T: Pod>(chan: &Channel<T>, liveness: bool) -> Pending {
    let c = chan.clone();
    Pending::new(
        chan_word(chan, ChannelWord::Recv),
        Some(chan_word(chan, ChannelWord::Receivers)),
        liveness.then_some(LIVENESS_REPOLL),
    )
    .busy_when(move || c.in_flight(true))
}

/// One send attempt of `v`: `Some(())` sent, `None` no room yet.
fn send_step<T: Pod>(chan: &Channel<T>, v: T, receivers_must_live: bool) -> Result<Option<()>> {
    match chan.try_send(v) {
        Ok(()) => return Ok(Some(())),
        Err(zeroipc_structures::PushError::Full(_)) => {}
        Err(zeroipc_structures::PushError::Failed(e)) => return Err(e),
    }
    if receivers_must_live {
        chan.peers_gone(true)?;
    }
    Ok(None)
}

fn send_pending<T: Pod>(chan: &Channel<T>, liveness: bool) -> Pending {
    // An unbuffered channel has no word that changes when a receiver arrives: poll by the
    // slice cap (a receiver that is already waiting is served by the first attempt).
    let repoll = if chan.is_buffered() {
        liveness.then_some(LIVENESS_REPOLL)
    } else {
        Some(zeroipc_sync::futex::max_slice())
    };
    let c = chan.clone();
    Pending::new(
        chan_word(chan, ChannelWord::Send),
        Some(chan_word(chan, ChannelWord::Senders)),
        repoll,
    )
    .busy_when(move || c.in_flight(false))
}

impl<T: Pod> Channel<T> {
    /// Receives a value, awaiting one; `Ok(None)` once the channel is closed and drained
    /// (the async form of [`Channel::recv`]).
    ///
    /// Cancel-safe: a value is taken only by the poll that returns it, so dropping a pending
    /// future loses nothing.
    ///
    /// # Errors
    /// `Corrupt`; [`Error::Reactor`] if no helper thread could be started.
    pub async fn recv_async(&self) -> Result<Option<T>> {
        wait_for(|| recv_pending(self, false), || recv_step(self, false)).await
    }

    /// Sends `v`, awaiting room (the async form of [`Channel::send`]).
    ///
    /// Dropping a pending future means the value was **not** sent (it is pushed only by the
    /// poll that completes the future). On an unbuffered channel a poll may spend up to one
    /// 1 ms slice offering the value to a receiver that is already waiting, as
    /// [`Channel::try_send`] does; a receiver that arrives later is noticed within the slice
    /// cap ([`zeroipc_sync::futex::max_slice`]).
    ///
    /// # Errors
    /// [`Error::Closed`]; `Corrupt`; [`Error::Reactor`].
    pub async fn send_async(&self, v: T) -> Result<()> {
        wait_for(|| send_pending(self, false), || send_step(self, v, false)).await
    }
}

impl<T: Pod> Sender<T> {
    /// As [`Channel::send_async`], failing with [`Error::Disconnected`] when every registered
    /// receiver is gone while we wait (checked every 100 ms while pending).
    ///
    /// # Errors
    /// [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`; [`Error::Reactor`].
    pub async fn send_async(&self, v: T) -> Result<()> {
        let chan = self.channel();
        wait_for(|| send_pending(chan, true), || send_step(chan, v, true)).await
    }
}

impl<T: Pod> Receiver<T> {
    /// As [`Channel::recv_async`], also ending (`Ok(None)`) once drained when every
    /// registered sender is gone (checked every 100 ms while pending), as [`Receiver::recv`].
    ///
    /// # Errors
    /// `Corrupt`; [`Error::Reactor`].
    pub async fn recv_async(&self) -> Result<Option<T>> {
        let chan = self.channel();
        wait_for(|| recv_pending(chan, true), || recv_step(chan, true)).await
    }
}

/// The in-progress `poll_next` of a [`Receiver`] or [`Subscription`] stream.
pub(crate) type NextState = Option<Pending>;

impl<T: Pod> futures_core::Stream for Receiver<T> {
    type Item = Result<T>;

    /// The next value; the stream ends when [`Receiver::recv`] would return `Ok(None)`.
    /// Cancel-safe as [`Receiver::recv_async`].
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        let (chan, next) = this.parts_for_stream();
        if next.is_none() {
            match common::spin_short(|| recv_step(chan, true)) {
                Ok(Some(r)) => return Poll::Ready(r.map(Ok)),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        let pending = next.get_or_insert_with(|| recv_pending(chan, true));
        match pending.poll(cx, || recv_step(chan, true)) {
            Poll::Ready(r) => {
                *next = None;
                Poll::Ready(r.transpose())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

// ----- Subscription -------------------------------------------------------------------

fn sub_step<T: Pod>(sub: &mut Subscription<T>) -> Result<Option<Option<T>>> {
    match sub.try_recv() {
        Ok(Some(v)) => Ok(Some(Some(v))),
        Ok(None) => Ok(None),
        Err(Error::Closed { .. }) => Ok(Some(None)),
        Err(e) => Err(e),
    }
}

fn sub_pending<T: Pod>(stream: &crate::Stream<T>) -> Pending {
    let word: Arc<dyn FutexWord> = Arc::new(StreamWord {
        stream: stream.clone(),
        counter: false,
    });
    let counter: Option<Arc<dyn FutexWord>> = stream.async_word(true).is_some().then(|| {
        Arc::new(StreamWord {
            stream: stream.clone(),
            counter: true,
        }) as Arc<dyn FutexWord>
    });
    Pending::new(word, counter, None)
}

impl<T: Pod> Subscription<T> {
    /// The next element, awaiting one; `Ok(None)` once the stream is closed and drained
    /// (the async form of [`Subscription::recv`]). Cancel-safe: an element is consumed only
    /// by the poll that returns it.
    ///
    /// # Errors
    /// `Corrupt`; [`Error::Reactor`].
    pub async fn recv_async(&mut self) -> Result<Option<T>> {
        if let Some(r) = sub_step(self)? {
            return Ok(r);
        }
        let mut pending = sub_pending(self.stream());
        poll_fn(|cx| pending.poll(cx, || sub_step(self))).await
    }
}

impl<T: Pod> futures_core::Stream for Subscription<T> {
    type Item = Result<T>;

    /// The next element; ends when the stream is closed and drained.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        let this = self.get_mut();
        let mut next = this.take_next_state();
        if next.is_none() {
            match common::spin_short(|| sub_step(this)) {
                Ok(Some(r)) => return Poll::Ready(r.map(Ok)),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
        let pending = next.get_or_insert_with(|| sub_pending(this.stream()));
        match pending.poll(cx, || sub_step(this)) {
            Poll::Ready(r) => Poll::Ready(r.transpose()),
            Poll::Pending => {
                this.put_next_state(next);
                Poll::Pending
            }
        }
    }
}

// ----- Future and Lazy ----------------------------------------------------------------

impl<T: Pod> Future<T> {
    /// Awaits completion (the async form of [`Future::get`]).
    ///
    /// # Errors
    /// [`Error::Failed`] with the message; `Corrupt`; [`Error::Reactor`].
    pub async fn get_async(&self) -> Result<T> {
        if let Some(v) = self.try_get()? {
            return Ok(v);
        }
        let (region, state, waiters) = self.async_words();
        let word = Arc::new(RegionWord::new(region, state)?);
        let counter: Arc<dyn FutexWord> = Arc::new(RegionWord::new(region, waiters)?);
        let mut pending = Pending::new(word, Some(counter), None);
        poll_fn(|cx| pending.poll(cx, || self.try_get())).await
    }
}

impl<T: LazyValue> Lazy<T> {
    /// Forces the value (the async form of [`Lazy::force`]): computed in this poll if nobody
    /// has computed it yet, otherwise awaited while another process computes it. A computer
    /// is checked for death (and taken over, as the blocking call does) every 100 ms while
    /// the future waits.
    ///
    /// # Errors
    /// As [`Lazy::force`]; [`Error::Reactor`].
    pub async fn force_async(&self) -> Result<T> {
        let mut ownerless: Option<Instant> = None;
        let mut step = move || match self.force_step(&mut ownerless) {
            Ok(v) => Ok(Some(v)),
            Err(Error::Timeout { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        if let Some(v) = step()? {
            return Ok(v);
        }
        let (region, state) = self.async_word();
        let word = Arc::new(RegionWord::new(region, state)?);
        let mut pending = Pending::new(word, None, Some(LIVENESS_REPOLL));
        poll_fn(|cx| pending.poll(cx, &mut step)).await
    }
}
