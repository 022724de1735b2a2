//! More stream operators: `take_while`, `skip_while`, rolling `sum`/`min`/`max`/`mean` over
//! a window (derived streams, driven as the others in [`crate::operators`]), and
//! [`Subscription::batch`] (a consumer-side adapter yielding `Vec`s of up to `n` elements).
//!
//! The operator bodies are written once over any element source (`&mut dyn Iterator`), so
//! the same body drives an eager derived stream (subscribed at declaration) and a lazy one
//! ([`crate::OnSubscribe`], subscribed while it has subscribers).

use std::collections::VecDeque;

use bytemuck::Pod;
use zeroipc_format::{Error as FormatError, Segment};

use crate::error::Result;
use crate::operators::{Derived, pipe, spawn_driver};
use crate::stream::{Stream, Subscription};

/// Where a derived stream's driver takes its elements from.
pub(crate) type Input<'a, T> = &'a mut (dyn Iterator<Item = Result<T>> + Send);

/// A body of a derived stream: moves elements from the input to the output stream.
pub(crate) type Body<T, U> = Box<dyn FnOnce(Input<'_, T>, &Stream<U>) -> Result<()> + Send>;

/// Creates derived stream `name` and drives it from a subscription taken now (eager).
pub(crate) fn derive_eager<T: Pod, U: Pod>(
    src: &Stream<T>,
    seg: &Segment,
    name: &str,
    transform: &str,
    body: Body<T, U>,
) -> Result<Derived<U>> {
    let out = Stream::<U>::create_derived(seg, name, src.capacity(), transform)?;
    let mut sub = src.subscribe()?;
    Ok(spawn_driver(out, move |out| body(&mut sub, out)))
}

pub(crate) fn map_body<T: Pod, U: Pod>(mut f: impl FnMut(T) -> U + Send + 'static) -> Body<T, U> {
    Box::new(move |input, out| pipe(input, out, |x| (Some(f(x)), true)))
}

pub(crate) fn filter_body<T: Pod>(mut f: impl FnMut(&T) -> bool + Send + 'static) -> Body<T, T> {
    Box::new(move |input, out| pipe(input, out, |x| (f(&x).then_some(x), true)))
}

pub(crate) fn take_while_body<T: Pod>(
    mut f: impl FnMut(&T) -> bool + Send + 'static,
) -> Body<T, T> {
    // The first element for which `f` fails ends the stream and is not passed on.
    Box::new(move |input, out| {
        pipe(input, out, |x| {
            let keep = f(&x);
            (keep.then_some(x), keep)
        })
    })
}

pub(crate) fn skip_while_body<T: Pod>(
    mut f: impl FnMut(&T) -> bool + Send + 'static,
) -> Body<T, T> {
    Box::new(move |input, out| {
        let mut skipping = true;
        pipe(input, out, |x| {
            skipping = skipping && f(&x);
            ((!skipping).then_some(x), true)
        })
    })
}

pub(crate) fn rolling_body<T: Pod, U: Pod>(
    window: usize,
    mut f: impl FnMut(&VecDeque<T>) -> U + Send + 'static,
) -> Body<T, U> {
    Box::new(move |input, out| {
        let mut win = VecDeque::with_capacity(window);
        pipe(input, out, |x| {
            if win.len() == window {
                win.pop_front();
            }
            win.push_back(x);
            ((win.len() == window).then(|| f(&win)), true)
        })
    })
}

pub(crate) fn check_window(window: usize) -> Result<()> {
    if window == 0 {
        return Err(FormatError::InvalidArgument("rolling window of 0 elements".into()).into());
    }
    Ok(())
}

/// The least element (`T::zeroed()` for an empty window, which the rolling bodies never pass:
/// they call their statistic only on a full window of `window >= 1` elements).
pub(crate) fn min_of<T: Pod + PartialOrd>(w: &VecDeque<T>) -> T {
    let mut it = w.iter().copied();
    let first = it.next().unwrap_or_else(T::zeroed);
    it.fold(first, |m, x| if x < m { x } else { m })
}

/// The greatest element (as [`min_of`] for an empty window).
pub(crate) fn max_of<T: Pod + PartialOrd>(w: &VecDeque<T>) -> T {
    let mut it = w.iter().copied();
    let first = it.next().unwrap_or_else(T::zeroed);
    it.fold(first, |m, x| if x > m { x } else { m })
}

pub(crate) fn mean_of<T: Copy + Into<f64>>(w: &VecDeque<T>) -> f64 {
    w.iter().map(|x| (*x).into()).sum::<f64>() / w.len().max(1) as f64
}

impl<T: Pod + Send> Stream<T> {
    /// Derived stream `name` of the leading elements for which `f` holds; it closes at the
    /// first element for which `f` fails (that element is not passed on).
    ///
    /// # Errors
    /// As [`Stream::map`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<i32>::create(&seg, "raw", 16)?;
    /// let warmup = raw.take_while(&seg, "warmup", |x| *x < 3)?;
    /// let sub = warmup.subscribe()?;
    /// for x in [1, 2, 3, 1] {
    ///     raw.emit(x)?;
    /// }
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [1, 2]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn take_while(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnMut(&T) -> bool + Send + 'static,
    ) -> Result<Derived<T>> {
        derive_eager(self, seg, name, "take_while", take_while_body(f))
    }

    /// Derived stream `name` without the leading elements for which `f` holds; from the
    /// first element for which it fails, every element is passed on.
    ///
    /// # Errors
    /// As [`Stream::map`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<i32>::create(&seg, "raw", 16)?;
    /// let settled = raw.skip_while(&seg, "settled", |x| *x < 3)?;
    /// let sub = settled.subscribe()?;
    /// for x in [1, 2, 3, 1, 5] {
    ///     raw.emit(x)?;
    /// }
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [3, 1, 5]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn skip_while(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnMut(&T) -> bool + Send + 'static,
    ) -> Result<Derived<T>> {
        derive_eager(self, seg, name, "skip_while", skip_while_body(f))
    }

    /// Derived stream `name` of the sum of the last `window` elements, one per element from
    /// the `window`-th on (a sliding window; integer sums follow `Sum`, so they panic on
    /// overflow in debug builds).
    ///
    /// # Errors
    /// As [`Stream::map`]; [`FormatError::InvalidArgument`] for a window of 0.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<i64>::create(&seg, "raw", 16)?;
    /// let sums = raw.rolling_sum(&seg, "sum3", 3)?;
    /// let sub = sums.subscribe()?;
    /// for x in 1..=5 {
    ///     raw.emit(x)?;
    /// }
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [6, 9, 12]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn rolling_sum(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<T>>
    where
        T: std::iter::Sum<T>,
    {
        check_window(window)?;
        let body = rolling_body(window, |w: &VecDeque<T>| w.iter().copied().sum::<T>());
        derive_eager(self, seg, name, "rolling_sum", body)
    }

    /// Derived stream `name` of the minimum of the last `window` elements (from the
    /// `window`-th element on).
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<f32>::create(&seg, "raw", 16)?;
    /// let lows = raw.rolling_min(&seg, "low2", 2)?;
    /// let sub = lows.subscribe()?;
    /// for x in [3.0, 1.0, 2.0, 5.0] {
    ///     raw.emit(x)?;
    /// }
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [1.0, 1.0, 2.0]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn rolling_min(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<T>>
    where
        T: PartialOrd,
    {
        check_window(window)?;
        derive_eager(self, seg, name, "rolling_min", rolling_body(window, min_of))
    }

    /// Derived stream `name` of the maximum of the last `window` elements (from the
    /// `window`-th element on).
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<u16>::create(&seg, "raw", 16)?;
    /// let highs = raw.rolling_max(&seg, "high2", 2)?;
    /// let sub = highs.subscribe()?;
    /// for x in [3, 1, 2, 5] {
    ///     raw.emit(x)?;
    /// }
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [3, 2, 5]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn rolling_max(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<T>>
    where
        T: PartialOrd,
    {
        check_window(window)?;
        derive_eager(self, seg, name, "rolling_max", rolling_body(window, max_of))
    }

    /// Derived stream `name` of the mean (as `f64`) of the last `window` elements (from the
    /// `window`-th element on).
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<f32>::create(&seg, "raw", 16)?;
    /// let avg = raw.rolling_mean(&seg, "avg2", 2)?;
    /// let sub = avg.subscribe()?;
    /// for x in [1.0, 2.0, 4.0] {
    ///     raw.emit(x)?;
    /// }
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [1.5, 3.0]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn rolling_mean(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<f64>>
    where
        T: Into<f64>,
    {
        check_window(window)?;
        derive_eager(
            self,
            seg,
            name,
            "rolling_mean",
            rolling_body(window, mean_of),
        )
    }
}

/// Batches of up to `n` elements of a [`Subscription`]; see [`Subscription::batch`].
#[derive(Debug)]
pub struct Batches<T: Pod> {
    sub: Subscription<T>,
    n: usize,
    done: bool,
}

impl<T: Pod> Subscription<T> {
    /// Groups the elements into `Vec`s of `n` (the last one, at close, may be shorter; a
    /// batch of 0 is treated as 1). Each batch blocks until it is full or the stream closed.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let raw = Stream::<u8>::create(&seg, "raw", 16)?;
    /// let batches = raw.subscribe()?.batch(2);
    /// raw.try_emit_slice(&[1, 2, 3, 4, 5])?;
    /// raw.close()?;
    /// let got: Vec<Vec<u8>> = batches.collect::<Result<_, _>>()?;
    /// assert_eq!(got, [vec![1, 2], vec![3, 4], vec![5]]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn batch(self, n: usize) -> Batches<T> {
        Batches {
            sub: self,
            n: n.max(1),
            done: false,
        }
    }
}

impl<T: Pod> Iterator for Batches<T> {
    type Item = Result<Vec<T>>;

    fn next(&mut self) -> Option<Result<Vec<T>>> {
        if self.done {
            return None;
        }
        let mut batch = Vec::with_capacity(self.n);
        while batch.len() < self.n {
            match self.sub.recv() {
                Ok(Some(x)) => batch.push(x),
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        (!batch.is_empty()).then_some(Ok(batch))
    }
}
