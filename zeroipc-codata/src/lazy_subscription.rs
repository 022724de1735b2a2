//! Lazy subscription ("processing only with subscribers"): [`Stream::on_subscribe`] declares
//! derived streams whose driver works only while the derived stream has subscribers.
//!
//! The driver thread starts at declaration but takes no subscription on the source: it
//! waits until the derived stream has a subscriber (any process), then subscribes to the
//! source and moves elements; when the derived stream's last subscriber leaves, it drops its
//! source subscription (pauses) and waits again. While paused the source is not held back
//! by this driver, and what the source emits meanwhile is not processed. The first
//! subscription the driver ever takes is the source's first subscription if nobody else
//! subscribed before, and then inherits what the source retained (see [`Stream::subscribe`]).
//!
//! The eager form ([`Stream::map`] and the other operators) subscribes at declaration and
//! drives for as long as the source is open, whether or not anyone listens.
//!
//! Waiting for a subscriber polls the derived stream's `subscribers` count (1 ms, growing to
//! 10 ms; the count has no futex word of its own), and an active driver checks it before
//! each element and at least every 10 ms.

use std::collections::VecDeque;
use std::time::Duration;

use bytemuck::Pod;
use zeroipc_format::Segment;

use crate::error::{Error, Result};
use crate::operators::{Derived, spawn_driver};
use crate::operators_extra::{
    Body, check_window, filter_body, map_body, max_of, mean_of, min_of, rolling_body,
    skip_while_body, take_while_body,
};
use crate::stream::{Stream, Subscription};

/// Longest pause of an idle lazy driver between two looks at the subscriber count.
const IDLE_MAX: Duration = Duration::from_millis(10);

/// The source elements of a lazy driver: subscribed only while `out` has subscribers.
struct Gated<T: Pod, U: Pod> {
    src: Stream<T>,
    out: Stream<U>,
    sub: Option<Subscription<T>>,
}

impl<T: Pod, U: Pod> Gated<T, U> {
    /// Waits until `out` has a subscriber; `Ok(false)` if `out` or the source closed first.
    fn wait_for_subscriber(&self) -> Result<bool> {
        let mut step = Duration::from_millis(1);
        loop {
            if self.out.is_closed()? || self.src.is_closed()? {
                return Ok(false);
            }
            if self.out.subscribers()? > 0 {
                return Ok(true);
            }
            std::thread::sleep(step);
            step = (step * 2).min(IDLE_MAX);
        }
    }

    fn next_element(&mut self) -> Result<Option<T>> {
        loop {
            if self.out.subscribers()? == 0 {
                self.sub = None; // pause: release the source
            }
            let sub = match self.sub.as_mut() {
                Some(s) => s,
                None => {
                    if !self.wait_for_subscriber()? {
                        // Closed while paused: drain nothing more, end the derived stream.
                        return Ok(None);
                    }
                    self.sub.insert(self.src.subscribe()?)
                }
            };
            match sub.recv_timeout(IDLE_MAX) {
                Ok(x) => return Ok(x),
                Err(Error::Timeout { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<T: Pod, U: Pod> Iterator for Gated<T, U> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        self.next_element().transpose()
    }
}

/// Declares derived streams with lazy subscription; see [`Stream::on_subscribe`].
#[derive(Debug)]
pub struct OnSubscribe<'a, T> {
    src: &'a Stream<T>,
}

impl<T: Pod + Send> Stream<T> {
    /// Declares derived streams that process only while they have subscribers (the seed's
    /// "lazy subscription"); the operators of the returned builder mirror the eager ones.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<f64>::create(&seg, "temp", 64)?;
    /// let fahrenheit = raw.on_subscribe().map(&seg, "temp_f", |c| c * 9.0 / 5.0 + 32.0)?;
    /// assert_eq!(raw.subscribers()?, 0); // nobody listens: the driver holds no subscription
    ///
    /// let sub = fahrenheit.subscribe()?; // the first subscriber starts the driver
    /// while raw.subscribers()? == 0 {
    ///     std::thread::yield_now();
    /// }
    /// raw.emit(100.0)?;
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [212.0]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn on_subscribe(&self) -> OnSubscribe<'_, T> {
        OnSubscribe { src: self }
    }
}

impl<T: Pod + Send> OnSubscribe<'_, T> {
    fn derive<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        transform: &str,
        body: Body<T, U>,
    ) -> Result<Derived<U>> {
        let out = Stream::<U>::create_derived(seg, name, self.src.capacity(), transform)?;
        let mut gated = Gated {
            src: self.src.clone(),
            out: out.clone(),
            sub: None,
        };
        Ok(spawn_driver(out, move |out| body(&mut gated, out)))
    }

    /// Lazy [`Stream::map`].
    ///
    /// # Errors
    /// The stream creation errors.
    ///
    /// # Examples
    /// See [`Stream::on_subscribe`].
    pub fn map<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnMut(T) -> U + Send + 'static,
    ) -> Result<Derived<U>> {
        self.derive(seg, name, "map", map_body(f))
    }

    /// Lazy [`Stream::filter`].
    ///
    /// # Errors
    /// The stream creation errors.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::{Segment, Stream};
    ///
    /// let seg = Segment::anonymous(1 << 20, 64)?;
    /// let raw = Stream::<i32>::create(&seg, "raw", 64)?;
    /// let even = raw.on_subscribe().filter(&seg, "even", |x| x % 2 == 0)?;
    /// let sub = even.subscribe()?;
    /// while raw.subscribers()? == 0 {
    ///     std::thread::yield_now();
    /// }
    /// raw.try_emit_slice(&[1, 2, 3, 4])?;
    /// raw.close()?;
    /// assert_eq!(sub.collect::<Result<Vec<_>, _>>()?, [2, 4]);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn filter(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnMut(&T) -> bool + Send + 'static,
    ) -> Result<Derived<T>> {
        self.derive(seg, name, "filter", filter_body(f))
    }

    /// Lazy [`Stream::take_while`].
    ///
    /// # Errors
    /// The stream creation errors.
    ///
    /// # Examples
    /// As [`Stream::take_while`], declared through [`Stream::on_subscribe`].
    pub fn take_while(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnMut(&T) -> bool + Send + 'static,
    ) -> Result<Derived<T>> {
        self.derive(seg, name, "take_while", take_while_body(f))
    }

    /// Lazy [`Stream::skip_while`].
    ///
    /// # Errors
    /// The stream creation errors.
    ///
    /// # Examples
    /// As [`Stream::skip_while`], declared through [`Stream::on_subscribe`].
    pub fn skip_while(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnMut(&T) -> bool + Send + 'static,
    ) -> Result<Derived<T>> {
        self.derive(seg, name, "skip_while", skip_while_body(f))
    }

    /// Lazy [`Stream::rolling_sum`].
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// As [`Stream::rolling_sum`], declared through [`Stream::on_subscribe`].
    pub fn rolling_sum(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<T>>
    where
        T: std::iter::Sum<T>,
    {
        check_window(window)?;
        let body = rolling_body(window, |w: &VecDeque<T>| w.iter().copied().sum::<T>());
        self.derive(seg, name, "rolling_sum", body)
    }

    /// Lazy [`Stream::rolling_min`].
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// As [`Stream::rolling_min`], declared through [`Stream::on_subscribe`].
    pub fn rolling_min(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<T>>
    where
        T: PartialOrd,
    {
        check_window(window)?;
        self.derive(seg, name, "rolling_min", rolling_body(window, min_of))
    }

    /// Lazy [`Stream::rolling_max`].
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// As [`Stream::rolling_max`], declared through [`Stream::on_subscribe`].
    pub fn rolling_max(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<T>>
    where
        T: PartialOrd,
    {
        check_window(window)?;
        self.derive(seg, name, "rolling_max", rolling_body(window, max_of))
    }

    /// Lazy [`Stream::rolling_mean`].
    ///
    /// # Errors
    /// As [`Stream::rolling_sum`].
    ///
    /// # Examples
    /// As [`Stream::rolling_mean`], declared through [`Stream::on_subscribe`].
    pub fn rolling_mean(&self, seg: &Segment, name: &str, window: usize) -> Result<Derived<f64>>
    where
        T: Into<f64>,
    {
        check_window(window)?;
        self.derive(seg, name, "rolling_mean", rolling_body(window, mean_of))
    }
}
