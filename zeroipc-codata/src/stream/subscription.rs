//! [`Subscription`]: a multicast subscriber's cursor in `N_subs` (spec §3.9.1).

use super::*;

/// A multicast subscriber of a [`Stream`]: a blocking iterator of the elements emitted after
/// it subscribed, ending when the stream is closed and drained. Frees its slot on drop.
pub struct Subscription<T: Pod> {
    pub(super) stream: Stream<T>,
    pub(super) slot: usize,
    pub(super) done: bool,
    /// How blocked receives spin (learnt from the previous wait).
    pub(super) pace: zeroipc_sync::backoff::Pace,
    /// Whether blocking receives run the timed spin phase ([`Subscription::set_spin`]).
    pub(super) spin: bool,
    /// The pending `Stream::poll_next`, if any (feature `async`).
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(super) next: crate::async_api::NextState,
}

#[cfg(all(feature = "async", not(zeroipc_loom)))]
impl<T: Pod> Subscription<T> {
    /// Takes the pending stream state out (`crate::async_api`).
    pub(crate) fn take_next_state(&mut self) -> crate::async_api::NextState {
        self.next.take()
    }

    /// Puts the pending stream state back.
    pub(crate) fn put_next_state(&mut self, next: crate::async_api::NextState) {
        self.next = next;
    }
}

impl<T: Pod> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("stream", &self.stream.inner.name)
            .field("slot", &self.slot)
            .finish()
    }
}

impl<T: Pod> Drop for Subscription<T> {
    fn drop(&mut self) {
        let s = &self.stream;
        if let Ok(Some((cursor, pid))) = s.slot(self.slot)
            && pid.load(Ordering::SeqCst) == common::my_pid()
        {
            cursor.store(SubSlot::JOINING, Ordering::SeqCst);
        }
        if let Ok(Some((_, pid))) = s.slot(self.slot)
            && pid
                .compare_exchange(common::my_pid(), 0, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            && let Ok(n) = s.inner.header.atomic_u32(StreamHeader::SUBSCRIBERS)
        {
            n.fetch_sub(1, Ordering::AcqRel);
            let _ = self.notify_producer();
        }
    }
}

impl<T: Pod> Subscription<T> {
    /// The stream.
    pub fn stream(&self) -> &Stream<T> {
        &self.stream
    }

    /// The stream position of the next element this subscription receives: how many
    /// elements the stream had emitted before that one. Positions number a stream's elements
    /// from 0 at its creation, so a subscription that has caught up is at
    /// [`Stream::sequence`], and a later subscriber starts at the sequence it subscribed at.
    /// A position only grows.
    ///
    /// A process that forwards a stream elsewhere (zeroipc-bridge does) sends the position
    /// along, so the far side can count exactly how many elements a restart of the forwarder
    /// skipped: the difference between the old subscription's last position and the new
    /// one's first.
    ///
    /// # Errors
    /// `Corrupt` if the slot's cursor is not within the buffered span (at most `capacity`
    /// elements behind `write_pos`, a multiple of the element size); `InvalidArgument` if the
    /// slot is gone.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::Stream;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u32>::create(&seg, "ticks", 16)?;
    /// let mut early = s.subscribe()?;
    /// s.emit(10)?;
    /// s.emit(11)?;
    /// let late = s.subscribe()?; // sees only what is emitted from now on
    /// assert_eq!((early.position()?, late.position()?), (0, 2));
    /// assert_eq!(early.recv()?, Some(10));
    /// assert_eq!(early.position()?, 1);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn position(&self) -> Result<u64> {
        let s = &self.stream;
        let Some((cursor, _)) = s.slot(self.slot)? else {
            return Err(FormatError::InvalidArgument("no subscriber slot".into()).into());
        };
        let c = cursor.load(Ordering::Acquire);
        // Acquire: pairs with the producer's store of `write_pos`.
        let w = s.wpos()?.load(Ordering::Acquire);
        s.check_span(w, c, "subscriber cursor")?;
        Ok(c / Stream::<T>::ES)
    }

    fn notify_producer(&self) -> Result<()> {
        fence(Ordering::SeqCst);
        if let (Some(w), Some(p)) = (
            self.stream.subs_u32(SubsHeader::PROD_WAITING)?,
            self.stream.subs_u32(SubsHeader::PROGRESS)?,
        ) && w.load(Ordering::SeqCst) > 0
        {
            p.fetch_add(1, Ordering::SeqCst);
            common::wake_all(p);
        }
        Ok(())
    }

    /// The next element if one is available: `Ok(Some(Some(v)))`; `Ok(Some(None))` closed
    /// and drained; `Ok(None)` nothing yet.
    fn poll(&mut self) -> Result<Option<Option<T>>> {
        let mut one = [T::zeroed()];
        Ok(match self.poll_into(&mut one)? {
            Some(0) => Some(None),
            Some(_) => Some(Some(one[0])),
            None => None,
        })
    }

    /// Copies the next available elements into the non-empty `dst`, advancing the cursor
    /// and notifying a waiting producer once for the run: `Ok(Some(n))` with `n >= 1`;
    /// `Ok(Some(0))` closed and drained; `Ok(None)` nothing yet.
    pub(super) fn poll_into(&mut self, dst: &mut [T]) -> Result<Option<usize>> {
        if self.done {
            return Ok(Some(0));
        }
        let s = &self.stream;
        let Some((cursor, pid)) = s.slot(self.slot)? else {
            return Err(FormatError::InvalidArgument("no subscriber slot".into()).into());
        };
        if pid.load(Ordering::SeqCst) != common::my_pid() {
            return Err(Error::from(FormatError::corrupt_field(
                &s.inner.name,
                "subscriber slot owner",
                self.slot as u64,
            )));
        }
        let c = cursor.load(Ordering::Relaxed);
        // Acquire: pairs with the producer's store of `write_pos` after writing the elements.
        let mut w = s.wpos()?.load(Ordering::Acquire);
        s.check_span(w, c, "subscriber cursor")?;
        let mut closed = false;
        if w - c < Stream::<T>::ES {
            // Nothing buffered: closed? `closed` (Acquire) is read before `write_pos` again,
            // so an element emitted before the close is never missed. Reading the header
            // only here keeps a subscriber that has elements off the line the producer
            // updates (`sequence`) on every emit.
            closed = s.is_closed()?;
            w = s.wpos()?.load(Ordering::Acquire);
            s.check_span(w, c, "subscriber cursor")?;
        }
        // `check_span` bounds `w - c` by the capacity.
        let n = dst.len().min(((w - c) / Stream::<T>::ES) as usize);
        let Some(run) = dst.get_mut(..n).filter(|run| !run.is_empty()) else {
            if closed {
                self.done = true;
                return Ok(Some(0));
            }
            return Ok(None);
        };
        // Elements never straddle the end of the buffer: at most two contiguous pieces.
        let cap = s.inner.cap;
        let to_end = ((cap - c % cap) / Stream::<T>::ES) as usize;
        let (a, b) = run.split_at_mut(n.min(to_end));
        s.inner.ring.read_slice(s.buffer_offset(c), a)?;
        s.inner.ring.read_slice(RingHeader::BUFFER, b)?;
        let next = c.checked_add(n as u64 * Stream::<T>::ES).ok_or_else(|| {
            Error::from(FormatError::corrupt_field(
                &s.inner.name,
                "subscriber cursor",
                c,
            ))
        })?;
        // Release: the producer's SeqCst load of the cursor sees the copy finished before it
        // reuses the bytes.
        cursor.store(next, Ordering::SeqCst);
        self.notify_producer()?;
        Ok(Some(n))
    }

    /// The next element without blocking; `Ok(None)` if none is available yet.
    ///
    /// # Errors
    /// [`Error::Closed`] once the stream is closed and drained; `Corrupt`.
    pub fn try_recv(&mut self) -> Result<Option<T>> {
        match self.poll()? {
            Some(Some(v)) => Ok(Some(v)),
            Some(None) => Err(Error::Closed {
                name: self.stream.inner.name.clone(),
            }),
            None => Ok(None),
        }
    }

    /// The next element, blocking; `Ok(None)` once the stream is closed and drained.
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv(&mut self) -> Result<Option<T>> {
        self.recv_until(None)
    }

    /// As [`Subscription::recv`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<T>> {
        self.recv_until(common::deadline_after(timeout))
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<Option<T>> {
        let pace = std::mem::take(&mut self.pace);
        let s = self.stream.clone();
        let spin = self.spin;
        let result = Self::wait(&s, &pace, spin, deadline, || self.poll());
        self.pace = pace;
        result
    }

    /// A blocking receive on `s`'s subscribers' futex word: polls `attempt` (spinning as
    /// `pace` says, then parked in futex slices) until it gives a result or `deadline`
    /// passes.
    /// Without `spin`, only the short exponential phase runs before parking (see
    /// [`Subscription::set_spin`]).
    pub(super) fn wait<R>(
        s: &Stream<T>,
        pace: &zeroipc_sync::backoff::Pace,
        spin: bool,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Result<Option<R>>,
    ) -> Result<R> {
        let park_loop = |poll: &mut dyn FnMut() -> Result<Option<R>>| {
            common::park_until(
                s.subs_u32(SubsHeader::SUB_WAITING)?,
                Some(s.wlow()?),
                deadline,
                "an element of a stream",
                poll,
            )
        };
        if spin {
            return common::paced_wait(pace, attempt, park_loop);
        }
        match common::spin_short(&mut attempt)? {
            Some(r) => Ok(r),
            None => park_loop(&mut attempt),
        }
    }

    /// Whether blocking receives ([`Subscription::recv`], [`Subscription::recv_into`] and
    /// their timeout forms, the iterator) spin before they park: `true` (the default) polls
    /// up to the process's spin budget (`zeroipc_sync::backoff`, a few to 50 µs) when the
    /// last waits showed that spinning pays, catching an element without a futex wake-up;
    /// `false` parks after the short exponential phase (about 1 µs), so the producer's
    /// emit wakes this subscriber.
    ///
    /// Turn it off for a subscriber that waits long between elements and shares few CPUs
    /// with other busy threads — a forwarder such as zeroipc-bridge's exporter, whose spin
    /// would take the CPU from the threads that carry its last element on. Process-wide
    /// spinning is set with `ZEROIPC_SPIN_US` / `zeroipc_sync::backoff::set_spin_budget`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::Stream;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u32>::create(&seg, "ticks", 16)?;
    /// let mut sub = s.subscribe()?;
    /// assert!(sub.spins());
    /// sub.set_spin(false);
    /// assert!(!sub.spins());
    /// std::thread::scope(|sc| {
    ///     sc.spawn(|| s.emit(7));
    ///     assert_eq!(sub.recv_timeout(Duration::from_secs(5))?, Some(7));
    ///     Ok::<(), zeroipc_codata::Error>(())
    /// })?;
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn set_spin(&mut self, spin: bool) {
        self.spin = spin;
    }

    /// Whether blocking receives spin before they park (see [`Subscription::set_spin`]).
    pub fn spins(&self) -> bool {
        self.spin
    }
}

impl<T: Pod> Iterator for Subscription<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        self.recv().transpose()
    }
}
