//! Waiting on several channels at once: `Channel::select` and the words `crate::Select`
//! sleeps on.

use super::*;

impl<T: Pod> Channel<T> {
    /// For [`crate::Select`]: the word a receive arm sleeps on and the receivers' waiter
    /// counter it registers on (senders wake only registered receivers).
    pub(crate) fn select_recv_words(&self) -> Result<(&HwU32, &HwU32)> {
        Ok((self.recv_word()?, self.word(ChannelHeader::W_RECEIVERS)?))
    }

    /// For [`crate::Select`]: the word a send arm sleeps on (bumped when room frees up or a
    /// rendezvous changes hands) and the senders' waiter counter it registers on.
    pub(crate) fn select_send_words(&self) -> Result<(&HwU32, &HwU32)> {
        let word = match &self.inner.kind {
            Kind::Buffered { qwords, .. } => Self::q_word(qwords, 0, &self.inner.name)?,
            Kind::Unbuffered { word, .. } => Self::q_word(word, 0, &self.inner.name)?,
        };
        Ok((word, self.word(ChannelHeader::W_SENDERS)?))
    }

    /// The futex word a blocked receiver sleeps on, and the value to sleep on.
    pub(super) fn recv_word(&self) -> Result<&HwU32> {
        match &self.inner.kind {
            Kind::Buffered { qwords, .. } => Self::q_word(qwords, 1, &self.inner.name),
            Kind::Unbuffered { word, .. } => Self::q_word(word, 0, &self.inner.name),
        }
    }

    /// One receive attempt: `Ok(Some(Some(v)))` got a value, `Ok(Some(None))` closed and
    /// drained, `Ok(None)` nothing yet.
    pub(crate) fn poll_recv(&self) -> Result<Option<Option<T>>> {
        match self.try_recv() {
            Ok(Some(v)) => Ok(Some(Some(v))),
            Ok(None) => Ok(None),
            Err(Error::Closed { .. }) => Ok(Some(None)),
            Err(e) => Err(e),
        }
    }

    /// Receives from whichever of `channels` has a value first; `Ok(None)` once every one of
    /// them is closed and drained. The caller registers as a waiting receiver on all of them
    /// and sleeps on one at a time in slices of at most 1 ms, so a value anywhere is seen
    /// within about 1 ms (immediately on the channel slept on).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`FormatError::InvalidArgument`] for an empty set; `Corrupt`.
    pub fn select(channels: &[&Channel<T>], timeout: Duration) -> Result<Option<(usize, T)>> {
        if channels.is_empty() {
            return Err(FormatError::InvalidArgument("select over no channels".into()).into());
        }
        let deadline = common::deadline_after(timeout);
        let mut guards = Vec::with_capacity(channels.len());
        for c in channels {
            guards.push(Registered::new(c.word(ChannelHeader::W_RECEIVERS)?));
        }
        let mut turn = 0usize;
        let mut in_flight = super::buffered::InFlight::default();
        loop {
            let mut open = None;
            let n = channels.len();
            for k in 0..n {
                let i = (turn + k) % n;
                let Some(c) = channels.get(i) else { continue };
                let seen = c.recv_word()?.load(Ordering::SeqCst);
                match c.poll_recv()? {
                    Some(Some(v)) => return Ok(Some((i, v))),
                    Some(None) => {}
                    None => {
                        if open.is_none() {
                            open = Some((i, seen));
                        }
                    }
                }
            }
            let Some((i, seen)) = open else {
                return Ok(None);
            };
            let Some(slice) = common::short_slice(deadline) else {
                return Err(Error::Timeout {
                    what: "a value on any channel",
                });
            };
            if let Some(c) = channels.get(i)
                && !in_flight.wait(|| c.in_flight(true))
            {
                common::park(c.recv_word()?, seen, slice);
            }
            turn = turn.wrapping_add(1);
        }
    }
}
