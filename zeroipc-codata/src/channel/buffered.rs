//! The buffered flavour: a Queue (spec §3.2) as the channel's buffer, with waiter
//! counters in the header and futex waits on the queue's `head`/`tail` words.

use super::*;

impl<T: Pod> Channel<T> {
    pub(super) fn q_word<'a>(qwords: &'a AtomicWords, i: usize, name: &str) -> Result<&'a HwU32> {
        qwords
            .get(i)
            .ok_or_else(|| Error::from(FormatError::corrupt_field(name, "queue word", i as u64)))
    }

    pub(super) fn buffered_try_send(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
        v: T,
    ) -> Result<bool> {
        if self.is_closed()? {
            return Err(self.closed_err());
        }
        match queue.push_with_position(v) {
            Ok(position) => {
                self.wake_receivers(queue, qwords, position)?;
                Ok(true)
            }
            Err(PushError::Full(_)) => Ok(false),
            Err(PushError::Failed(e)) => Err(e.into()),
        }
    }

    pub(super) fn buffered_try_recv(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
    ) -> Result<Option<T>> {
        match queue.pop()? {
            Some(v) => {
                self.wake_senders(qwords)?;
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    pub(super) fn buffered_try_send_slice(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
        src: &[T],
    ) -> Result<usize> {
        if self.is_closed()? {
            return Err(self.closed_err());
        }
        let (n, first) = queue.push_slice_with_position(src)?;
        if n > 0 {
            self.wake_receivers(queue, qwords, first)?;
        }
        Ok(n)
    }

    /// Whether a buffered channel has a slot claimed by another process but not yet
    /// published (`recv`: the queue's counters show an element that a receive could not
    /// take; `!recv`: they show room that a send could not claim). The queue's counter moved
    /// at the claim, before the value could be taken, so a waiter must re-check by time.
    pub(crate) fn in_flight(&self, recv: bool) -> bool {
        match &self.inner.kind {
            Kind::Buffered { queue, .. } => queue
                .len()
                .is_ok_and(|n| if recv { n > 0 } else { n < queue.capacity() }),
            Kind::Unbuffered { .. } => false,
        }
    }

    /// After a pop freed slots: wakes senders sleeping on a full buffer, if any registered.
    pub(super) fn wake_senders(&self, qwords: &AtomicWords) -> Result<()> {
        // Store-load handshake with a sender's SeqCst registration (spec D5): the pop's
        // SeqCst claim of `head`, then this SeqCst load. Either we see the registration, or
        // the sender's SeqCst load of `head` saw the claim and it does not sleep while the
        // slot is still being emptied (`buffered_block_send`).
        if self.word(ChannelHeader::W_SENDERS)?.load(Ordering::SeqCst) > 0 {
            common::wake_all(Self::q_word(qwords, 0, &self.inner.name)?);
        }
        Ok(())
    }

    /// After publishing the element(s) from queue position `position` on: wakes sleeping
    /// receivers if there are any and nothing was still queued ahead of `position`.
    ///
    /// A receiver sleeps only after a poll found the slot at `head` (say position `H`)
    /// unpublished. Whoever publishes `H` checks after publishing, when `head` is still `H`
    /// (or past it, if another receiver already took it), so it always wakes; a producer
    /// whose element sits behind an unconsumed one (`head < position`) leaves the wake to
    /// that element's producer. So a burst into a channel with a sleeping receiver costs one
    /// `FUTEX_WAKE`, not one per message. Upstream producers never wake; receivers notice
    /// them through their sleep slices, as before.
    pub(super) fn wake_receivers(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
        position: u32,
    ) -> Result<()> {
        // Store-load handshake with a receiver's SeqCst registration (spec D5): the push's
        // SeqCst claim of `tail` (the queue's CAS), then this SeqCst load, with no fence in
        // between (an `mfence` was a third of a `send`). Either we see the registration, or
        // the receiver's SeqCst load of `tail` saw our claim and it does not sleep while the
        // claimed slot is unpublished (`buffered_block_recv`).
        if self
            .word(ChannelHeader::W_RECEIVERS)?
            .load(Ordering::SeqCst)
            > 0
        {
            let (head, _) = queue.counters()?;
            if (head.wrapping_sub(position) as i32) >= 0 {
                common::wake_all(Self::q_word(qwords, 1, &self.inner.name)?);
            }
        }
        Ok(())
    }

    pub(super) fn buffered_try_recv_into(
        &self,
        queue: &Queue<T>,
        qwords: &AtomicWords,
        dst: &mut [T],
    ) -> Result<usize> {
        let n = queue.pop_into(dst)?;
        if n > 0 {
            self.wake_senders(qwords)?;
        }
        Ok(n)
    }

    /// Blocks until `attempt` reports success: the adaptive spin, yielding the CPU between
    /// polls (the receivers have a full buffer to drain; `zeroipc_sync::backoff::Peer::Busy`),
    /// then sleeps on the queue's `head` word (which every pop changes) as a registered
    /// waiting sender.
    pub(super) fn buffered_block_send(
        &self,
        qwords: &AtomicWords,
        deadline: Option<Instant>,
        abort: Abort<'_>,
        mut attempt: impl FnMut() -> Result<bool>,
    ) -> Result<()> {
        if common::spin_for_room(|| Ok(attempt()?.then_some(())))?.is_some() {
            return Ok(());
        }
        let head = Self::q_word(qwords, 0, &self.inner.name)?;
        let _waiting = Registered::new(self.word(ChannelHeader::W_SENDERS)?);
        let since = Instant::now();
        let mut in_flight = InFlight::default();
        loop {
            let seen = head.load(Ordering::SeqCst);
            if attempt()? {
                return Ok(());
            }
            abort()?;
            let Some(s) = common::next_slice(deadline, since) else {
                return Err(Error::Timeout {
                    what: "room in a channel",
                });
            };
            if in_flight.wait(|| self.in_flight(false)) {
                continue;
            }
            common::park(head, seen, s);
        }
    }

    /// Blocks until `poll` reports a result (`Some(r)`): the adaptive spin (paced by the
    /// handle's `zeroipc_sync::backoff::Pace`), then sleeps on the receive word as a registered waiting
    /// receiver. `poll` returns `Some(Some(_))` for values, `Some(None)` for the end (closed
    /// and drained), `None` for nothing yet. Disconnected senders (the abort check) end the
    /// wait like a close, after a last poll.
    pub(super) fn buffered_block_recv<R>(
        &self,
        deadline: Option<Instant>,
        abort: Abort<'_>,
        poll: impl FnMut() -> Result<Option<Option<R>>>,
    ) -> Result<Option<R>> {
        common::paced_wait(&self.inner.recv_pace, poll, |poll| {
            let word = self.recv_word()?;
            let _waiting = Registered::new(self.word(ChannelHeader::W_RECEIVERS)?);
            let since = Instant::now();
            let mut in_flight = InFlight::default();
            loop {
                let seen = word.load(Ordering::SeqCst);
                if let Some(r) = poll()? {
                    return Ok(r);
                }
                if let Err(e) = abort() {
                    // Disconnected senders: behave as closed once drained (a value pushed
                    // just before the last sender left is still delivered).
                    return match e {
                        Error::Disconnected { .. } => Ok(poll()?.flatten()),
                        other => Err(other),
                    };
                }
                let Some(s) = common::next_slice(deadline, since) else {
                    return Err(Error::Timeout {
                        what: "a value on a channel",
                    });
                };
                if in_flight.wait(|| self.in_flight(true)) {
                    continue;
                }
                common::park(word, seen, s);
            }
        })
    }
}

/// A blocked caller's handling of a queue position that another process has claimed but not
/// yet published (a push) or emptied (a pop). The claimer decides whether to wake anyone
/// from the waiter counter it loads right after its claim, so it may have missed a waiter
/// that registered meanwhile; such a waiter sees the claim and, instead of sleeping, yields
/// its CPU (to the claimer, if they share it) and polls again. A claim that stays
/// unfinished for [`InFlight::LIMIT`] polls (its process died or is stopped) gets the
/// ordinary sleep in slices, as any slot changed without a wake-up.
#[derive(Default)]
pub(super) struct InFlight(u32);

impl InFlight {
    /// Polls of one wait that may yield for a claim in flight.
    const LIMIT: u32 = 1000;

    /// Whether to poll again now instead of sleeping: `claimed` says the queue shows a claim
    /// that the failed attempt could not use yet.
    pub(super) fn wait(&mut self, claimed: impl FnOnce() -> bool) -> bool {
        if self.0 >= Self::LIMIT || !claimed() {
            return false;
        }
        self.0 += 1;
        std::thread::yield_now();
        true
    }
}
