//! Stream operators: derived named streams in the same segment, and consumers.
//!
//! A derived stream (`map`, `filter`, `scan`, `take`, `skip`, `window`, `window_time`,
//! `merge`, `zip`, [`Stream::unfold`]) is a new [`Stream`] in the segment, with the
//! operator's name in its header's `transform_name`, **driven by the process that declares
//! it**: the declaring call subscribes to the source(s) at once (so nothing emitted after the
//! call is missed) and starts a thread in this process that moves elements from the source
//! subscription(s) to the derived stream, with the derived stream's backpressure. Any
//! process may subscribe to the derived stream by name. When the source closes (and is
//! drained) the driver closes the derived stream; if the declaring process exits, the derived
//! stream stops receiving (its subscribers then wait for a close that does not come — use
//! timeouts, or keep the declaring process alive until [`Derived::join`] returns).

use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::Segment;

use crate::error::{Error, Result};
use crate::stream::{Stream, Subscription};

/// A derived stream and the thread of this process that drives it.
#[derive(Debug)]
pub struct Derived<U> {
    stream: Stream<U>,
    driver: Option<JoinHandle<Result<()>>>,
}

impl<U: Pod> Derived<U> {
    /// The derived stream (subscribe to it, or derive further streams from it).
    pub fn stream(&self) -> &Stream<U> {
        &self.stream
    }

    /// Waits until the driver has finished (the sources closed and everything was moved).
    ///
    /// # Errors
    /// The driver's error (e.g. `Corrupt`), or [`FormatError::InvalidArgument`] if it panicked.
    pub fn join(mut self) -> Result<()> {
        join_thread(self.driver.take(), "stream driver")
    }
}

impl<U> std::ops::Deref for Derived<U> {
    type Target = Stream<U>;
    fn deref(&self) -> &Stream<U> {
        &self.stream
    }
}

/// Emits into `out`; `Ok(false)` when `out` was closed (the driver stops quietly).
pub(crate) fn put<U: Pod>(out: &Stream<U>, v: U) -> Result<bool> {
    match out.emit(v) {
        Ok(()) => Ok(true),
        Err(Error::Closed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Moves `input` into `out` through `step`, which gives for each element what to emit (if
/// anything) and whether to go on after it; stops early once `out` is closed.
pub(crate) fn pipe<T, U: Pod>(
    input: impl IntoIterator<Item = Result<T>>,
    out: &Stream<U>,
    mut step: impl FnMut(T) -> (Option<U>, bool),
) -> Result<()> {
    for x in input {
        let (emit, go_on) = step(x?);
        if let Some(v) = emit
            && !put(out, v)?
        {
            break;
        }
        if !go_on {
            break;
        }
    }
    Ok(())
}

/// Waits for the thread of a derived stream or future; `what` names it when it panicked.
pub(crate) fn join_thread(thread: Option<JoinHandle<Result<()>>>, what: &str) -> Result<()> {
    match thread.map(JoinHandle::join) {
        Some(Ok(r)) => r,
        Some(Err(_)) => Err(FormatError::InvalidArgument(format!("{what} panicked")).into()),
        None => Ok(()),
    }
}

pub(crate) fn spawn_driver<U: Pod>(
    out: Stream<U>,
    body: impl FnOnce(&Stream<U>) -> Result<()> + Send + 'static,
) -> Derived<U> {
    let driven = out.clone();
    let driver = std::thread::spawn(move || {
        let r = body(&driven);
        // Always close the derived stream, also after an error, so its subscribers end.
        let c = driven.close();
        r.and(c)
    });
    Derived {
        stream: out,
        driver: Some(driver),
    }
}

impl<T: Pod> Stream<T> {
    fn derive<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        transform: &str,
        body: impl FnOnce(Subscription<T>, &Stream<U>) -> Result<()> + Send + 'static,
    ) -> Result<Derived<U>> {
        let out = Stream::<U>::create_derived(seg, name, self.capacity(), transform)?;
        let sub = self.subscribe()?;
        Ok(spawn_driver(out, move |out| body(sub, out)))
    }

    /// Derived stream `name` of `f(x)` for every element `x`.
    ///
    /// # Errors
    /// The stream creation errors; [`FormatError::InvalidArgument`] if no subscriber slot is free.
    pub fn map<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        mut f: impl FnMut(T) -> U + Send + 'static,
    ) -> Result<Derived<U>> {
        self.derive(seg, name, "map", move |sub, out| {
            pipe(sub, out, |x| (Some(f(x)), true))
        })
    }

    /// Derived stream `name` of the elements for which `pred` holds.
    ///
    /// # Errors
    /// As [`Stream::map`].
    pub fn filter(
        &self,
        seg: &Segment,
        name: &str,
        mut pred: impl FnMut(&T) -> bool + Send + 'static,
    ) -> Result<Derived<T>> {
        self.derive(seg, name, "filter", move |sub, out| {
            pipe(sub, out, |x| (pred(&x).then_some(x), true))
        })
    }

    /// Derived stream `name` of running accumulations: `acc = f(acc, x)` emitted after every
    /// element.
    ///
    /// # Errors
    /// As [`Stream::map`].
    pub fn scan<A: Pod + Send>(
        &self,
        seg: &Segment,
        name: &str,
        init: A,
        mut f: impl FnMut(A, T) -> A + Send + 'static,
    ) -> Result<Derived<A>> {
        self.derive(seg, name, "scan", move |sub, out| {
            let mut acc = init;
            pipe(sub, out, |x| {
                acc = f(acc, x);
                (Some(acc), true)
            })
        })
    }

    /// Derived stream `name` of the first `n` elements; it closes after them.
    ///
    /// # Errors
    /// As [`Stream::map`].
    pub fn take(&self, seg: &Segment, name: &str, n: u64) -> Result<Derived<T>> {
        self.derive(seg, name, "take", move |sub, out| {
            pipe(sub.take(n as usize), out, |x| (Some(x), true))
        })
    }

    /// Derived stream `name` without the first `n` elements.
    ///
    /// # Errors
    /// As [`Stream::map`].
    pub fn skip(&self, seg: &Segment, name: &str, n: u64) -> Result<Derived<T>> {
        self.derive(seg, name, "skip", move |sub, out| {
            pipe(sub.skip(n as usize), out, |x| (Some(x), true))
        })
    }

    /// Derived stream `name` of tumbling windows of `N` consecutive elements (a trailing
    /// partial window at close is dropped).
    ///
    /// # Errors
    /// As [`Stream::map`]; [`FormatError::InvalidArgument`] for `N == 0`.
    pub fn window<const N: usize>(&self, seg: &Segment, name: &str) -> Result<Derived<[T; N]>>
    where
        [T; N]: Pod,
    {
        if N == 0 {
            return Err(FormatError::InvalidArgument("window of 0 elements".into()).into());
        }
        self.derive(seg, name, "window", move |sub, out| {
            let mut buf = [T::zeroed(); N];
            let mut n = 0;
            for x in sub {
                if let Some(slot) = buf.get_mut(n) {
                    *slot = x?;
                }
                n += 1;
                if n == N {
                    n = 0;
                    if !put(out, buf)? {
                        break;
                    }
                }
            }
            Ok(())
        })
    }

    /// Derived stream `name` of `f(batch)` for tumbling time windows of length `period`
    /// (measured by the driving process from its start; empty windows emit nothing; the last
    /// partial window is emitted at close).
    ///
    /// # Errors
    /// As [`Stream::map`]; [`FormatError::InvalidArgument`] for a zero period.
    pub fn window_time<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        period: Duration,
        mut f: impl FnMut(&[T]) -> U + Send + 'static,
    ) -> Result<Derived<U>> {
        if period.is_zero() {
            return Err(FormatError::InvalidArgument("window period of 0".into()).into());
        }
        self.derive(seg, name, "window_time", move |mut sub, out| {
            let mut batch = Vec::new();
            let mut end = Instant::now() + period;
            loop {
                let now = Instant::now();
                if now >= end {
                    if !batch.is_empty() && !put(out, f(&batch))? {
                        return Ok(());
                    }
                    batch.clear();
                    while end <= now {
                        end += period;
                    }
                    continue;
                }
                match sub.recv_timeout(end - now) {
                    Ok(Some(x)) => batch.push(x),
                    Ok(None) => break,
                    Err(Error::Timeout { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            if !batch.is_empty() {
                put(out, f(&batch))?;
            }
            Ok(())
        })
    }

    /// Derived stream `name` of the elements of `self` and `other` as they arrive
    /// (interleaved; each source's order kept); closes when both have closed.
    ///
    /// # Errors
    /// As [`Stream::map`].
    pub fn merge(&self, seg: &Segment, name: &str, other: &Stream<T>) -> Result<Derived<T>> {
        let mut b = other.subscribe()?;
        self.derive(seg, name, "merge", move |mut a, out| {
            let (mut a_done, mut b_done) = (false, false);
            while !(a_done && b_done) {
                let mut moved = false;
                for (sub, done) in [(&mut a, &mut a_done), (&mut b, &mut b_done)] {
                    if *done {
                        continue;
                    }
                    match sub.try_recv() {
                        Ok(Some(x)) => {
                            moved = true;
                            if !put(out, x)? {
                                return Ok(());
                            }
                        }
                        Ok(None) => {}
                        Err(Error::Closed { .. }) => *done = true,
                        Err(e) => return Err(e),
                    }
                }
                if !(moved || a_done && b_done) {
                    // Sleep on whichever is still open, at most 1 ms (the other is polled).
                    let sub = if a_done { &mut b } else { &mut a };
                    match sub.recv_timeout(zeroipc_sync::futex::SLICE) {
                        Ok(Some(x)) => {
                            if !put(out, x)? {
                                return Ok(());
                            }
                        }
                        Ok(None) | Err(Error::Timeout { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(())
        })
    }

    /// Derived stream `name` of pairs `[a, b]` of the i-th elements of `self` and `other`;
    /// closes when either closes.
    ///
    /// # Errors
    /// As [`Stream::map`].
    pub fn zip(&self, seg: &Segment, name: &str, other: &Stream<T>) -> Result<Derived<[T; 2]>>
    where
        [T; 2]: Pod,
    {
        let mut b = other.subscribe()?;
        self.derive(seg, name, "zip", move |mut a, out| {
            while let Some(x) = a.recv()? {
                let Some(y) = b.recv()? else { break };
                if !put(out, [x, y])? {
                    break;
                }
            }
            Ok(())
        })
    }

    /// A stream `name` (buffer `capacity`) produced by this process from a seed: `f(state)`
    /// gives the next element and state, or `None` to close the stream.
    ///
    /// # Errors
    /// The stream creation errors.
    pub fn unfold<S: Send + 'static>(
        seg: &Segment,
        name: &str,
        capacity: usize,
        seed: S,
        mut f: impl FnMut(S) -> Option<(T, S)> + Send + 'static,
    ) -> Result<Derived<T>> {
        let out = Stream::<T>::create_derived(seg, name, capacity, "unfold")?;
        Ok(spawn_driver(out, move |out| {
            let mut state = seed;
            while let Some((x, next)) = f(state) {
                if !put(out, x)? {
                    break;
                }
                state = next;
            }
            Ok(())
        }))
    }

    /// Subscribes and calls `f` for every element until the stream is closed and drained
    /// (blocking the caller).
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] if no subscriber slot is free; `Corrupt`.
    pub fn for_each(&self, mut f: impl FnMut(T)) -> Result<()> {
        for x in self.subscribe()? {
            f(x?);
        }
        Ok(())
    }

    /// Subscribes and folds every element until the stream is closed and drained.
    ///
    /// # Errors
    /// As [`Stream::for_each`].
    pub fn fold<A>(&self, init: A, mut f: impl FnMut(A, T) -> A) -> Result<A> {
        let mut acc = init;
        for x in self.subscribe()? {
            acc = f(acc, x?);
        }
        Ok(acc)
    }
}
