//! Waiting for the other side: [`Writer::connect_timeout`] (until a reader created the
//! buffer, upstream C#'s `WaitExists`) and [`Reader::wait_for_writer`].
//!
//! Neither side has a shared word to sleep on before the other exists (the buffer itself may
//! not exist yet), so both poll with a short, growing pause (1 ms up to 20 ms).

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::reader::Reader;
use crate::writer::{Writer, WriterOptions};

/// Pause between attempts: starts at 1 ms, doubles up to 20 ms, never past `deadline`.
fn pause(step: &mut Duration, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    std::thread::sleep((*step).min(left));
    *step = (*step * 2).min(Duration::from_millis(20));
}

impl Writer {
    /// Connects to buffer `name`, waiting up to `timeout` for a reader to create it (and to
    /// be alive in it): `BufferNotFound` and `NoReader` are retried, every other error is
    /// returned at once.
    ///
    /// # Errors
    /// The last [`Error::BufferNotFound`] / [`Error::NoReader`] once `timeout` has passed;
    /// otherwise as [`Writer::connect`].
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zerobuffer::{BufferConfig, Reader, Writer};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-conn-timeout-{}", std::process::id());
    /// let n = name.clone();
    /// let writer = std::thread::spawn(move || {
    ///     let mut w = Writer::connect_timeout(&n, Duration::from_secs(30))?;
    ///     w.write_frame(b"late reader")
    /// });
    /// // The writer started first; the reader creates the buffer afterwards.
    /// let reader = Reader::create(&name, BufferConfig::new(0, 4096))?;
    /// let frame = reader.read_frame_timeout(Duration::from_secs(30))?.expect("frame");
    /// assert_eq!(frame.data(), b"late reader");
    /// # drop(frame);
    /// writer.join().expect("writer thread")?;
    /// # Ok(()) }
    /// ```
    pub fn connect_timeout(name: &str, timeout: Duration) -> Result<Self> {
        Self::connect_timeout_with(name, timeout, WriterOptions::default())
    }

    /// As [`Writer::connect_timeout`], with explicit options.
    ///
    /// # Errors
    /// As [`Writer::connect_timeout`].
    pub fn connect_timeout_with(
        name: &str,
        timeout: Duration,
        opts: WriterOptions,
    ) -> Result<Self> {
        let deadline = Instant::now() + timeout;
        let mut step = Duration::from_millis(1);
        loop {
            match Self::connect_with(name, opts) {
                Err(e @ (Error::BufferNotFound { .. } | Error::NoReader { .. })) => {
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                    pause(&mut step, deadline);
                }
                other => return other,
            }
        }
    }
}

impl Reader {
    /// Waits up to `timeout` until a writer is attached and alive; returns whether one is.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zerobuffer::{BufferConfig, Reader, Writer};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-wait-writer-{}", std::process::id());
    /// let reader = Reader::create(&name, BufferConfig::new(0, 4096))?;
    /// assert!(!reader.wait_for_writer(Duration::from_millis(5)));
    /// let _writer = Writer::connect(&name)?;
    /// assert!(reader.wait_for_writer(Duration::from_secs(5)));
    /// # Ok(()) }
    /// ```
    pub fn wait_for_writer(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut step = Duration::from_millis(1);
        loop {
            if self.is_writer_connected() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            pause(&mut step, deadline);
        }
    }
}
