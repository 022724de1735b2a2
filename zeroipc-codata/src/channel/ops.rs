//! The public send and receive operations, dispatching to the buffered or rendezvous
//! flavour.

use super::*;

impl<T: Pod> Channel<T> {
    /// Sends `v` if possible without blocking.
    ///
    /// # Errors
    /// [`TrySendError::Full`] with the value back when the buffer is full (or, for a
    /// rendezvous, when no receiver takes the value within one 1 ms slice);
    /// [`TrySendError::Failed`] with [`Error::Closed`] or `Corrupt`.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        match self.try_send_inner(v) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TrySendError::Full(v)),
            Err(e) => Err(TrySendError::Failed(e)),
        }
    }

    /// [`Channel::try_send`] as the blocking paths use it: `Ok(false)` when full.
    pub(super) fn try_send_inner(&self, v: T) -> Result<bool> {
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => self.buffered_try_send(queue, qwords, v),
            Kind::Unbuffered { word, slot, data } => {
                if self
                    .word(ChannelHeader::W_RECEIVERS)?
                    .load(Ordering::SeqCst)
                    == 0
                {
                    if self.is_closed()? {
                        return Err(self.closed_err());
                    }
                    return Ok(false);
                }
                let deadline = common::deadline_after(zeroipc_sync::futex::SLICE);
                let rs = self.rendezvous(word, slot, *data);
                match self.rendezvous_send(&rs, v, deadline, &no_abort) {
                    Ok(()) => Ok(true),
                    Err(Error::Timeout { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Sends `v`, blocking while the buffer is full (or, unbuffered, until a receiver took
    /// it).
    ///
    /// # Errors
    /// [`Error::Closed`] (also when closed while blocked); `Corrupt`.
    pub fn send(&self, v: T) -> Result<()> {
        self.send_until(v, None, &no_abort)
    }

    /// As [`Channel::send`], giving up after `timeout`. An unbuffered send that times out
    /// withdraws its value (a receiver copying it at that very moment may still get it: the
    /// layout has no claim field, spec §4.20).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; `Corrupt`.
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<()> {
        self.send_until(v, common::deadline_after(timeout), &no_abort)
    }

    pub(super) fn send_until(
        &self,
        v: T,
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<()> {
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => {
                self.buffered_block_send(qwords, deadline, abort, || {
                    self.buffered_try_send(queue, qwords, v)
                })
            }
            Kind::Unbuffered { word, slot, data } => {
                self.rendezvous_send(&self.rendezvous(word, slot, *data), v, deadline, abort)
            }
        }
    }

    /// Sends a prefix of `src` without blocking; returns how many values were sent (0 when
    /// the buffer is full or `src` is empty). A buffered channel claims runs of free slots
    /// with one atomic update each ([`Queue::push_slice`]); an unbuffered one offers at most
    /// `src[0]`, as [`Channel::try_send`] does.
    ///
    /// # Errors
    /// [`Error::Closed`]; `Corrupt`.
    pub fn try_send_slice(&self, src: &[T]) -> Result<usize> {
        let Some(&first) = src.first() else {
            return Ok(0);
        };
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => self.buffered_try_send_slice(queue, qwords, src),
            Kind::Unbuffered { .. } => Ok(usize::from(self.try_send_inner(first)?)),
        }
    }

    /// Sends a prefix of `src`, blocking until at least one value went in (as `write(2)`
    /// does); returns how many were sent, which is less than `src.len()` when the buffer
    /// filled up. Loop to send everything. An unbuffered channel sends `src[0]` by
    /// rendezvous and returns 1. Returns 0 at once for an empty `src`.
    ///
    /// Batching is how a buffered channel reaches memory bandwidth: one slot-claiming
    /// atomic update and at most one wake-up per run instead of per value.
    ///
    /// # Errors
    /// [`Error::Closed`] (nothing was sent); `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// # use zeroipc_format::Segment;
    /// # use zeroipc_codata::Channel;
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let ch = Channel::<u64>::create(&seg, "nums", 4)?;
    /// let data: Vec<u64> = (1..=3).collect();
    /// let mut sent = 0;
    /// while sent < data.len() {
    ///     sent += ch.send_slice(&data[sent..])?;
    /// }
    /// let mut buf = [0u64; 8];
    /// assert_eq!(ch.recv_into(&mut buf)?, 3);
    /// assert_eq!(buf[..3], [1, 2, 3]);
    /// ch.close()?;
    /// assert_eq!(ch.recv_into(&mut buf)?, 0); // closed and drained
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn send_slice(&self, src: &[T]) -> Result<usize> {
        self.send_slice_until(src, None, &no_abort)
    }

    /// As [`Channel::send_slice`], giving up after `timeout` (nothing was sent then).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; `Corrupt`.
    pub fn send_slice_timeout(&self, src: &[T], timeout: Duration) -> Result<usize> {
        self.send_slice_until(src, common::deadline_after(timeout), &no_abort)
    }

    pub(super) fn send_slice_until(
        &self,
        src: &[T],
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<usize> {
        let Some(&first) = src.first() else {
            return Ok(0);
        };
        match &self.inner.kind {
            Kind::Buffered { queue, qwords } => {
                let mut sent = 0;
                self.buffered_block_send(qwords, deadline, abort, || {
                    sent = self.buffered_try_send_slice(queue, qwords, src)?;
                    Ok(sent > 0)
                })?;
                Ok(sent)
            }
            Kind::Unbuffered { .. } => self.send_until(first, deadline, abort).map(|()| 1),
        }
    }

    /// Receives up to `dst.len()` values without blocking; returns how many (0 when nothing
    /// is available or `dst` is empty). A buffered channel claims runs of published slots
    /// with one atomic update each ([`Queue::pop_into`]).
    ///
    /// # Errors
    /// [`Error::Closed`] when the channel is closed and drained; `Corrupt`.
    pub fn try_recv_into(&self, dst: &mut [T]) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        match self.poll_recv_into(dst)? {
            Some(0) => Err(self.closed_err()),
            Some(n) => Ok(n),
            None => Ok(0),
        }
    }

    /// Receives up to `dst.len()` values, blocking until at least one arrives (as `read(2)`
    /// does); returns how many, or 0 once the channel is closed and drained (and at once for
    /// an empty `dst`). An unbuffered channel receives one value per call.
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv_into(&self, dst: &mut [T]) -> Result<usize> {
        self.recv_into_until(dst, None, &no_abort)
    }

    /// As [`Channel::recv_into`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_into_timeout(&self, dst: &mut [T], timeout: Duration) -> Result<usize> {
        self.recv_into_until(dst, common::deadline_after(timeout), &no_abort)
    }

    /// One bulk receive attempt: `Some(n > 0)` got values, `Some(0)` closed and drained,
    /// `None` nothing yet.
    pub(super) fn poll_recv_into(&self, dst: &mut [T]) -> Result<Option<usize>> {
        let Some(first) = dst.first_mut() else {
            return Ok(Some(0));
        };
        let Kind::Buffered { queue, qwords } = &self.inner.kind else {
            return Ok(self.poll_recv()?.map(|got| match got {
                Some(v) => {
                    *first = v;
                    1
                }
                None => 0,
            }));
        };
        let n = self.buffered_try_recv_into(queue, qwords, dst)?;
        if n > 0 {
            return Ok(Some(n));
        }
        if self.is_closed()? {
            // Values pushed just before the close are still delivered.
            return Ok(Some(self.buffered_try_recv_into(queue, qwords, dst)?));
        }
        Ok(None)
    }

    pub(super) fn recv_into_until(
        &self,
        dst: &mut [T],
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        if let Kind::Unbuffered { .. } = &self.inner.kind {
            return Ok(match (self.recv_until(deadline, abort)?, dst.first_mut()) {
                (Some(v), Some(first)) => {
                    *first = v;
                    1
                }
                _ => 0,
            });
        }
        Ok(self
            .buffered_block_recv(deadline, abort, || {
                Ok(self.poll_recv_into(dst)?.map(|n| (n > 0).then_some(n)))
            })?
            .unwrap_or(0))
    }

    /// Receives a value without blocking: `Ok(None)` when nothing is available.
    ///
    /// # Errors
    /// [`Error::Closed`] when the channel is closed and drained; `Corrupt`.
    pub fn try_recv(&self) -> Result<Option<T>> {
        let got = match &self.inner.kind {
            Kind::Buffered { queue, qwords } => self.buffered_try_recv(queue, qwords)?,
            Kind::Unbuffered { word, slot, data } => {
                let _local = self
                    .inner
                    .recv_lock
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                protocol::rendezvous_take(&self.rendezvous(word, slot, *data))?
            }
        };
        match got {
            Some(v) => Ok(Some(v)),
            None if self.is_closed()? => {
                // A value pushed just before the close is still delivered.
                match &self.inner.kind {
                    Kind::Buffered { queue, qwords } => {
                        match self.buffered_try_recv(queue, qwords)? {
                            Some(v) => Ok(Some(v)),
                            None => Err(self.closed_err()),
                        }
                    }
                    Kind::Unbuffered { .. } => Err(self.closed_err()),
                }
            }
            None => Ok(None),
        }
    }

    /// Receives a value, blocking until one arrives; `Ok(None)` once the channel is closed
    /// and drained.
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv(&self) -> Result<Option<T>> {
        self.recv_until(None, &no_abort)
    }

    /// As [`Channel::recv`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        self.recv_until(common::deadline_after(timeout), &no_abort)
    }

    pub(super) fn recv_until(
        &self,
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<Option<T>> {
        if let Kind::Unbuffered { word, slot, data } = &self.inner.kind {
            let _local = self
                .inner
                .recv_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let rs = self.rendezvous(word, slot, *data);
            return match protocol::rendezvous_recv(&rs, deadline, abort, &self.inner.recv_pace) {
                Ok(Some(r)) => Ok(r),
                Ok(None) => Err(Error::Timeout {
                    what: "a value on a channel",
                }),
                // Every registered sender gone: the end, after a last look at the slot.
                Err(Error::Disconnected { .. }) => protocol::rendezvous_take(&rs),
                Err(e) => Err(e),
            };
        }
        self.buffered_block_recv(deadline, abort, || self.poll_recv())
    }
}
