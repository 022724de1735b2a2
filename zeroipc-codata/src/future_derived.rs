//! Derived futures: [`Future::map`], [`Future::then`] and [`Future::when_all`]`(..).map(..)`.
//!
//! A derived future is an ordinary named [`Future`] in the segment (same bytes, so any
//! process, also an upstream peer, can open it and wait on it), **completed by the process
//! that declares it**: the declaring call starts a thread in this process that waits for the
//! source(s), applies the function and completes the derived future with its value, or fails
//! it with the source's error message (a panicking function fails it too, with a message
//! that says so). If the declaring process exits before the sources complete, the derived
//! future stays pending: its waiters should use timeouts, or the declaring process should
//! keep running until [`DerivedFuture::join`] returns.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use bytemuck::Pod;
use zeroipc_format::Segment;

use crate::error::{Error, Result};
use crate::future::Future;

/// A derived future and the thread of this process that completes it; dereferences to the
/// [`Future`]. Dropping it leaves the thread running (it completes the future when the
/// sources complete).
#[derive(Debug)]
pub struct DerivedFuture<U> {
    future: Future<U>,
    worker: Option<JoinHandle<Result<()>>>,
}

impl<U: Pod> DerivedFuture<U> {
    /// The derived future (wait on it, or derive further futures from it).
    pub fn future(&self) -> &Future<U> {
        &self.future
    }

    /// Waits until the worker thread has completed (or failed) the derived future.
    ///
    /// # Errors
    /// The error of completing the derived future (e.g. [`Error::AlreadySet`] if someone
    /// else completed it first); [`zeroipc_format::Error::InvalidArgument`] if the worker panicked.
    pub fn join(mut self) -> Result<()> {
        crate::operators::join_thread(self.worker.take(), "derived future worker")
    }
}

impl<U> std::ops::Deref for DerivedFuture<U> {
    type Target = Future<U>;
    fn deref(&self) -> &Future<U> {
        &self.future
    }
}

/// Completes `out` with the outcome of `compute`: its value, the source's failure message,
/// or a message naming any other error or a panic.
fn complete<U: Pod>(out: &Future<U>, compute: impl FnOnce() -> Result<U>) -> Result<()> {
    match catch_unwind(AssertUnwindSafe(compute)) {
        Ok(Ok(v)) => out.set_value(v),
        Ok(Err(Error::Failed { message, .. })) => out.set_error(&message),
        Ok(Err(e)) => out.set_error(&e.to_string()),
        Err(_) => out.set_error(&format!(
            "the function deriving future '{}' panicked",
            out.name()
        )),
    }
}

fn spawn_worker<U: Pod>(
    out: Future<U>,
    compute: impl FnOnce() -> Result<U> + Send + 'static,
) -> Result<DerivedFuture<U>> {
    let driven = out.reopen()?;
    let worker = std::thread::spawn(move || complete(&driven, compute));
    Ok(DerivedFuture {
        future: out,
        worker: Some(worker),
    })
}

impl<T: Pod> Future<T> {
    /// Declares the future `name` in `seg`, completed with `f(value)` once this future
    /// completes, or failed with this future's error message. A thread of this process waits
    /// and applies `f`; any process can open `name` and wait on it.
    ///
    /// # Errors
    /// The creation errors of `name` (e.g. `Duplicate`).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_codata::Future;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let celsius = Future::<f64>::create(&seg, "celsius")?;
    /// let fahrenheit = celsius.map(&seg, "fahrenheit", |c| c * 9.0 / 5.0 + 32.0)?;
    ///
    /// let reader = Future::<f64>::open(&seg, "fahrenheit")?; // as another process would
    /// celsius.set_value(100.0)?;
    /// assert_eq!(reader.get_timeout(Duration::from_secs(30))?, 212.0);
    /// fahrenheit.join()?;
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn map<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnOnce(T) -> U + Send + 'static,
    ) -> Result<DerivedFuture<U>> {
        let out = Future::<U>::create(seg, name)?;
        let src = self.reopen()?;
        spawn_worker(out, move || src.get().map(f))
    }

    /// Declares the future `name`, completed with the value of the future that `f` returns
    /// for this future's value (`f` may create, open or derive it); fails with this future's
    /// error, `f`'s error, or the returned future's error.
    ///
    /// # Errors
    /// The creation errors of `name`.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_codata::Future;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let job_id = Future::<u32>::create(&seg, "job_id")?;
    /// let s = seg.clone();
    /// // Once the job id is known, wait for that job's own result future.
    /// let result = job_id.then(&seg, "job_result", move |id| {
    ///     Future::<f64>::open(&s, &format!("job_{id}"))
    /// })?;
    /// let job7 = Future::<f64>::create(&seg, "job_7")?;
    /// job_id.set_value(7)?;
    /// job7.set_value(0.5)?;
    /// assert_eq!(result.get_timeout(Duration::from_secs(30))?, 0.5);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn then<U: Pod>(
        &self,
        seg: &Segment,
        name: &str,
        f: impl FnOnce(T) -> Result<Future<U>> + Send + 'static,
    ) -> Result<DerivedFuture<U>> {
        let out = Future::<U>::create(seg, name)?;
        let src = self.reopen()?;
        spawn_worker(out, move || f(src.get()?)?.get())
    }

    /// All of `futures`, to be combined by [`WhenAll::map`] into one derived future: the
    /// Rust form of upstream's `Future<T>::all(states).map(combine)`. (To wait for all of
    /// them in place, use [`Future::all`].)
    ///
    /// # Errors
    /// Only if a handle cannot be duplicated (never for a validated handle).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_codata::Future;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let parts: Vec<Future<u64>> = (0..3)
    ///     .map(|i| Future::create(&seg, &format!("part_{i}")))
    ///     .collect::<Result<_, _>>()?;
    /// let total = Future::when_all(&parts)?.map(&seg, "total", |v: Vec<u64>| v.iter().sum::<u64>())?;
    /// for (i, p) in parts.iter().enumerate() {
    ///     p.set_value(10 * i as u64 + 1)?;
    /// }
    /// assert_eq!(total.get_timeout(Duration::from_secs(30))?, 33);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn when_all<'a>(futures: impl IntoIterator<Item = &'a Future<T>>) -> Result<WhenAll<T>>
    where
        T: 'a,
    {
        Ok(WhenAll {
            futures: futures
                .into_iter()
                .map(Future::reopen)
                .collect::<Result<_>>()?,
        })
    }
}

/// A set of futures to combine; see [`Future::when_all`].
#[derive(Debug)]
pub struct WhenAll<T> {
    futures: Vec<Future<T>>,
}

impl<T: Pod> WhenAll<T> {
    /// Declares the future `name`, completed with `f(values)` (in the order given) once
    /// every future completed, or failed with the first failure met in that order.
    ///
    /// # Errors
    /// The creation errors of `name`.
    ///
    /// # Examples
    /// See [`Future::when_all`].
    pub fn map<U: Pod>(
        self,
        seg: &Segment,
        name: &str,
        f: impl FnOnce(Vec<T>) -> U + Send + 'static,
    ) -> Result<DerivedFuture<U>> {
        let out = Future::<U>::create(seg, name)?;
        let futures = self.futures;
        spawn_worker(out, move || {
            let values = futures
                .iter()
                .map(Future::get)
                .collect::<Result<Vec<T>>>()?;
            Ok(f(values))
        })
    }
}
