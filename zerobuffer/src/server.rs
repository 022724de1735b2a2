//! A duplex server that runs itself: [`DuplexServer::start`] serves on its own thread and
//! returns a [`ServerHandle`] with `stop`, `is_running`, live stats and an error callback
//! (the lifecycle of upstream C++/C#/Python's `ImmutableDuplexServer`).

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::atomic::{AtomicU32, Ordering};
use crate::duplex::{DuplexServer, ServerStats};
use crate::error::{Error, Result};
use crate::reader::Frame;
use crate::writer::Writer;

/// How long a started server waits for a request before checking its stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);

struct Shared {
    /// 1 once a stop was requested.
    stop: AtomicU32,
    /// 1 while the serving thread runs.
    running: AtomicU32,
    stats: Mutex<ServerStats>,
}

/// Whether an error of the request buffer means it can no longer be trusted (the server
/// then ends; every other error is reported and serving goes on).
fn is_fatal(e: &Error) -> bool {
    matches!(
        e,
        Error::Corrupt { .. }
            | Error::InvalidOieb { .. }
            | Error::SequenceError { .. }
            | Error::InvalidFrameSize { .. }
    )
}

/// A server started by [`DuplexServer::start`]: stop it, ask whether it runs, read its
/// counters. Dropping the handle stops the server and waits for it.
pub struct ServerHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<ServerStats>>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("running", &self.is_running())
            .field("stats", &self.stats())
            .finish()
    }
}

impl ServerHandle {
    /// `true` until the serving thread has ended (after [`ServerHandle::stop`], or a fatal
    /// error of the request buffer). A stop that was requested while a request is in hand
    /// keeps it `true` until that request is answered.
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire) == 1
    }

    /// The counters so far.
    pub fn stats(&self) -> ServerStats {
        *self
            .shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the server to stop without waiting: the request in hand (if any) is finished
    /// and answered, no new one is taken. See [`ServerHandle::join`].
    pub fn request_stop(&self) {
        self.shared.stop.store(1, Ordering::Release);
    }

    /// Waits until the serving thread has ended and returns the final counters.
    ///
    /// # Errors
    /// The fatal error that ended the server (corruption or a sequence error of the request
    /// buffer), or [`Error::InvalidArgument`] if the handler panicked.
    pub fn join(mut self) -> Result<ServerStats> {
        self.join_thread()
    }

    /// Graceful stop: finishes the request in hand, then ends the server and returns the
    /// final counters. The request buffer is removed when the server ends.
    ///
    /// # Errors
    /// As [`ServerHandle::join`].
    pub fn stop(self) -> Result<ServerStats> {
        self.request_stop();
        self.join()
    }

    fn join_thread(&mut self) -> Result<ServerStats> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::InvalidArgument("duplex server handler panicked")),
            None => Ok(self.stats()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.request_stop();
        let _ = self.join_thread();
    }
}

impl DuplexServer {
    /// Runs the server on a thread of its own, answering each request with `handler`, and
    /// returns its handle. Errors are counted in [`ServerStats`] (see
    /// [`DuplexServer::start_with_error_handler`] to see them).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zerobuffer::{BufferConfig, DuplexClient, DuplexServer};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-start-{}", std::process::id());
    /// let server = DuplexServer::create(&name, BufferConfig::new(0, 64 * 1024))?;
    /// let handle = server.start(|req, out| {
    ///     let upper = req.data().to_ascii_uppercase();
    ///     out.write_frame(&upper).map(|_| ())
    /// });
    /// let mut client = DuplexClient::connect_with(&name, BufferConfig::new(0, 64 * 1024))?;
    /// client.send_request(b"hello")?;
    /// let response = client.receive_response(Duration::from_secs(30))?.expect("response");
    /// assert_eq!(response.data(), b"HELLO");
    /// # drop(response);
    /// assert!(handle.is_running());
    /// let stats = handle.stop()?;
    /// assert_eq!(stats.requests, 1);
    /// # Ok(()) }
    /// ```
    pub fn start<H>(self, handler: H) -> ServerHandle
    where
        H: FnMut(&Frame<'_>, &mut Writer) -> Result<()> + Send + 'static,
    {
        self.start_with_error_handler(handler, |_| {})
    }

    /// As [`DuplexServer::start`], calling `on_error` on the serving thread for every error:
    /// the handler's own errors (the server goes on), failures to reach a client's response
    /// buffer (it goes on), and a fatal error of the request buffer (corruption, sequence
    /// error), after which the server ends and [`ServerHandle::stop`] returns it.
    ///
    /// # Examples
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, Error};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-start-err-{}", std::process::id());
    /// let server = DuplexServer::create(&name, BufferConfig::new(0, 64 * 1024))?;
    /// let errors = Arc::new(Mutex::new(Vec::new()));
    /// let seen = Arc::clone(&errors);
    /// let handle = server.start_with_error_handler(
    ///     |req, out| match req.data() {
    ///         b"bad" => Err(Error::InvalidArgument("refused request")),
    ///         data => out.write_frame(data).map(|_| ()),
    ///     },
    ///     move |e| seen.lock().expect("lock").push(e.to_string()),
    /// );
    /// let mut client = DuplexClient::connect_with(&name, BufferConfig::new(0, 64 * 1024))?;
    /// client.send_request(b"bad")?;
    /// client.send_request(b"good")?;
    /// let r = client.receive_response(Duration::from_secs(30))?.expect("response");
    /// assert_eq!(r.data(), b"good");
    /// # drop(r);
    /// let stats = handle.stop()?;
    /// assert_eq!((stats.requests, stats.handler_errors), (2, 1));
    /// assert_eq!(errors.lock().expect("lock").len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn start_with_error_handler<H, E>(mut self, mut handler: H, mut on_error: E) -> ServerHandle
    where
        H: FnMut(&Frame<'_>, &mut Writer) -> Result<()> + Send + 'static,
        E: FnMut(&Error) + Send + 'static,
    {
        self.read_slice = STOP_CHECK;
        let shared = Arc::new(Shared {
            stop: AtomicU32::new(0),
            running: AtomicU32::new(1),
            stats: Mutex::new(self.stats()),
        });
        let sh = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let result = loop {
                // Acquire: pairs with the Release store in `request_stop`.
                if sh.stop.load(Ordering::Acquire) == 1 {
                    break Ok(self.stats());
                }
                let r = self.serve_one(&mut |req, out| {
                    let r = handler(req, out);
                    if let Err(e) = &r {
                        on_error(e);
                    }
                    r
                });
                *sh.stats.lock().unwrap_or_else(PoisonError::into_inner) = self.stats();
                if let Err(e) = r {
                    on_error(&e);
                    if is_fatal(&e) {
                        break Err(e);
                    }
                }
            };
            drop(self); // removes the request buffer before `running` reads 0
            // Release: pairs with the Acquire load in `is_running`.
            sh.running.store(0, Ordering::Release);
            result
        });
        ServerHandle {
            shared,
            thread: Some(thread),
        }
    }
}
