//! Batched emit and receive: a run of elements costs the producer one slowest-subscriber
//! scan, one publication of `write_pos`, one `sequence` update and at most one wake-up, and
//! a subscriber one cursor update and at most one producer notification, instead of one of
//! each per element. The elements and their order are exactly those of element-wise
//! [`Stream::emit`] and [`Subscription::recv`]; the shared-memory layout is the same.

use super::*;

impl<T: Pod> Stream<T> {
    /// Emits the longest prefix of `values` that fits without blocking; returns how many
    /// (0 when the buffer is full or `values` is empty).
    ///
    /// # Errors
    /// [`Error::Closed`]; `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::Stream;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u32>::create(&seg, "ticks", 4)?;
    /// let _sub = s.subscribe()?;
    /// assert_eq!(s.try_emit_slice(&[1, 2, 3, 4, 5, 6])?, 4); // the buffer holds 4
    /// assert_eq!(s.try_emit_slice(&[5])?, 0); // full until the subscriber reads
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn try_emit_slice(&self, values: &[T]) -> Result<usize> {
        self.try_emit_run(values, false)
    }

    /// Emits a prefix of `values`, blocking until at least one element fits (as `write(2)`
    /// does); returns how many were emitted, which is less than `values.len()` when the
    /// slowest live subscriber left less room. Loop to emit everything. Returns 0 at once
    /// for an empty `values`.
    ///
    /// The subscribers see the elements in order, exactly as if each had been emitted with
    /// [`Stream::emit`]; the run is published at once (one store of `write_pos`), with one
    /// scan for the slowest subscriber and at most one wake-up. [`Stream::sequence`] is
    /// bumped by the run's length after publishing, so a producer killed in between leaves
    /// it behind by up to one run ([`Stream::position`] stays exact).
    ///
    /// # Errors
    /// [`Error::Closed`] (nothing was emitted); `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::Stream;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u64>::create(&seg, "nums", 8)?;
    /// let mut sub = s.subscribe()?;
    /// let data: Vec<u64> = (1..=5).collect();
    /// let mut sent = 0;
    /// while sent < data.len() {
    ///     sent += s.emit_slice(&data[sent..])?;
    /// }
    /// let mut buf = [0u64; 8];
    /// assert_eq!(sub.recv_into(&mut buf)?, 5);
    /// assert_eq!(buf[..5], [1, 2, 3, 4, 5]);
    /// s.close()?;
    /// assert_eq!(sub.recv_into(&mut buf)?, 0); // closed and drained
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn emit_slice(&self, values: &[T]) -> Result<usize> {
        self.emit_slice_until(values, None)
    }

    /// As [`Stream::emit_slice`], giving up after `timeout` (nothing was emitted then).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::{Error, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u8>::create(&seg, "bytes", 2)?;
    /// let _slow = s.subscribe()?; // never reads
    /// assert_eq!(s.emit_slice_timeout(b"abc", Duration::from_millis(5))?, 2);
    /// let full = s.emit_slice_timeout(b"c", Duration::from_millis(5));
    /// assert!(matches!(full, Err(Error::Timeout { .. })));
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn emit_slice_timeout(&self, values: &[T], timeout: Duration) -> Result<usize> {
        self.emit_slice_until(values, common::deadline_after(timeout))
    }

    fn emit_slice_until(&self, values: &[T], deadline: Option<Instant>) -> Result<usize> {
        if values.is_empty() {
            return Ok(0);
        }
        self.emit_run_until(values, deadline)
    }
}

impl<T: Pod> Subscription<T> {
    /// Receives up to `dst.len()` elements without blocking; returns how many (0 when
    /// nothing is available yet or `dst` is empty).
    ///
    /// # Errors
    /// [`Error::Closed`] once the stream is closed and drained; `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::Stream;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<i16>::create(&seg, "temps", 16)?;
    /// let mut sub = s.subscribe()?;
    /// let mut buf = [0i16; 4];
    /// assert_eq!(sub.try_recv_into(&mut buf)?, 0); // nothing yet
    /// s.emit_slice(&[-3, 4, 7])?;
    /// assert_eq!(sub.try_recv_into(&mut buf)?, 3);
    /// assert_eq!(buf[..3], [-3, 4, 7]);
    /// s.close()?;
    /// assert!(sub.try_recv_into(&mut buf).is_err()); // closed and drained
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn try_recv_into(&mut self, dst: &mut [T]) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        match self.poll_into(dst)? {
            Some(0) => Err(Error::Closed {
                name: self.stream.inner.name.clone(),
            }),
            Some(n) => Ok(n),
            None => Ok(0),
        }
    }

    /// Receives up to `dst.len()` elements, blocking until at least one is available (as
    /// `read(2)` does); returns how many, or 0 once the stream is closed and drained (and at
    /// once for an empty `dst`). The elements are those [`Subscription::recv`] would return,
    /// in order; the run costs one cursor update and at most one producer notification.
    ///
    /// # Errors
    /// `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::Stream;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u32>::create(&seg, "ids", 16)?;
    /// let mut sub = s.subscribe()?;
    /// std::thread::scope(|sc| -> Result<(), zeroipc_codata::Error> {
    ///     sc.spawn(|| -> Result<(), zeroipc_codata::Error> {
    ///         for id in 0..100 {
    ///             s.emit(id)?;
    ///         }
    ///         s.close()
    ///     });
    ///     let (mut got, mut buf) = (Vec::new(), [0u32; 32]);
    ///     loop {
    ///         let n = sub.recv_into(&mut buf)?;
    ///         if n == 0 {
    ///             break; // closed and drained
    ///         }
    ///         got.extend_from_slice(&buf[..n]);
    ///     }
    ///     assert_eq!(got, (0..100).collect::<Vec<u32>>());
    ///     Ok(())
    /// })?;
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn recv_into(&mut self, dst: &mut [T]) -> Result<usize> {
        self.recv_into_until(dst, None)
    }

    /// As [`Subscription::recv_into`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_format::Segment;
    /// use zeroipc_codata::{Error, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let s = Stream::<u32>::create(&seg, "ids", 16)?;
    /// let mut sub = s.subscribe()?;
    /// let mut buf = [0u32; 4];
    /// let r = sub.recv_into_timeout(&mut buf, Duration::from_millis(5));
    /// assert!(matches!(r, Err(Error::Timeout { .. })));
    /// s.emit(9)?;
    /// assert_eq!(sub.recv_into_timeout(&mut buf, Duration::from_secs(5))?, 1);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn recv_into_timeout(&mut self, dst: &mut [T], timeout: Duration) -> Result<usize> {
        self.recv_into_until(dst, common::deadline_after(timeout))
    }

    fn recv_into_until(&mut self, dst: &mut [T], deadline: Option<Instant>) -> Result<usize> {
        if dst.is_empty() {
            return Ok(0);
        }
        let pace = std::mem::take(&mut self.pace);
        let s = self.stream.clone();
        let spin = self.spin;
        let result = Self::wait(&s, &pace, spin, deadline, || self.poll_into(dst));
        self.pace = pace;
        result
    }
}
