//! Duplex (request/response) channel over two ordinary buffers (protocol §15).
//!
//! Channel `C` uses `C_request` (server reads, client writes) and `C_response` (client reads,
//! server writes). Correlation is positional: one response per request, in order.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::liveness::is_process_alive;
use crate::names::MAX_NAME_LEN;
use crate::reader::{BufferConfig, Frame, Reader, ReaderOptions};
use crate::writer::Writer;

/// Longest duplex channel name (the `_response` suffix must fit [`MAX_NAME_LEN`]).
pub const MAX_CHANNEL_NAME_LEN: usize = MAX_NAME_LEN - "_response".len();
/// Default configuration of the request buffer (server side): 4096 / 1 MiB.
pub const DEFAULT_REQUEST_CONFIG: BufferConfig = BufferConfig::new(4096, 1024 * 1024);
/// Default configuration of the response buffer (client side): 4096 / 256 MiB.
pub const DEFAULT_RESPONSE_CONFIG: BufferConfig = BufferConfig::new(4096, 256 * 1024 * 1024);
/// Server read slice (upstream C++: 1 s).
const SERVER_READ_TIMEOUT: Duration = Duration::from_secs(1);

fn channel_names(name: &str) -> Result<(String, String)> {
    if name.len() > MAX_CHANNEL_NAME_LEN {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            reason: "duplex channel name longer than 236 bytes",
        });
    }
    Ok((format!("{name}_request"), format!("{name}_response")))
}

/// Request handler: gets the request frame and the response writer; normally writes one
/// response frame. An error is counted and processing continues; `ReaderDead` from the
/// response writer means the client is gone.
pub type Handler<'h> = dyn FnMut(&Frame<'_>, &mut Writer) -> Result<()> + 'h;

/// Counters of a running server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests handed to the handler.
    pub requests: u64,
    /// Handler calls that returned an error.
    pub handler_errors: u64,
    /// Responses lost because the client was gone (`ReaderDead`).
    pub clients_lost: u64,
}

/// The server side: reads requests, answers through a handler (single-threaded).
///
/// # Examples
///
/// ```
/// use zerobuffer::{BufferConfig, DuplexClient, DuplexServer};
/// # fn main() -> Result<(), zerobuffer::Error> {
/// let name = format!("doc-duplex-{}", std::process::id());
/// let mut server = DuplexServer::create(&name, BufferConfig::new(0, 64 * 1024))?;
/// let n = name.clone();
/// let client = std::thread::spawn(move || -> Result<Vec<u8>, zerobuffer::Error> {
///     let mut client = DuplexClient::connect_with(&n, BufferConfig::new(0, 64 * 1024))?;
///     client.send_request(b"ping")?;
///     let response = client.receive_response(std::time::Duration::from_secs(5))?;
///     Ok(response.map(|f| f.data().to_vec()).unwrap_or_default())
/// });
/// // Serve exactly one request: echo it reversed.
/// while server.stats().requests == 0 {
///     server.serve_one(&mut |req, out| {
///         let mut r = req.data().to_vec();
///         r.reverse();
///         out.write_frame(&r).map(|_| ())
///     })?;
/// }
/// assert_eq!(client.join().expect("client thread")?, b"gnip");
/// # Ok(()) }
/// ```
pub struct DuplexServer {
    requests: Reader,
    response_name: String,
    responses: Option<Writer>,
    stats: ServerStats,
    connect_timeout: Duration,
    /// How long one `serve_one` waits for a request (1 s; shorter for a started server, so
    /// `stop` is prompt).
    pub(crate) read_slice: Duration,
}

impl std::fmt::Debug for DuplexServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplexServer")
            .field("requests", &self.requests)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl DuplexServer {
    /// Starts a server on channel `name`: creates the `name_request` buffer. The response
    /// writer is connected when the first request arrives (retrying for up to 5 s).
    ///
    /// # Errors
    /// As [`Reader::create`], plus [`Error::InvalidName`] for names over 236 bytes.
    pub fn create(name: &str, request_config: BufferConfig) -> Result<Self> {
        let (req, resp) = channel_names(name)?;
        Ok(DuplexServer {
            requests: Reader::create(&req, request_config)?,
            response_name: resp,
            responses: None,
            stats: ServerStats::default(),
            connect_timeout: Duration::from_secs(5),
            read_slice: SERVER_READ_TIMEOUT,
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// Metadata the client wrote on the request buffer, if any.
    ///
    /// # Errors
    /// As [`Reader::metadata`].
    pub fn client_metadata(&self) -> Result<Option<Vec<u8>>> {
        self.requests.metadata()
    }

    /// Waits up to 1 s for one request and hands it to `handler`. Returns `Ok(true)` if a
    /// request was handled. A client that went away is not an error: its `WriterDead` (on
    /// the request buffer) or `ReaderDead` (on the response buffer) is absorbed and the
    /// server keeps serving the next client.
    ///
    /// # Errors
    /// Errors of the request buffer other than `WriterDead` (corruption, sequence errors),
    /// and failure to connect the response writer.
    pub fn serve_one(&mut self, handler: &mut Handler<'_>) -> Result<bool> {
        let frame = match self.requests.read_frame_timeout(self.read_slice) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(false),
            Err(Error::WriterDead { .. }) => {
                self.responses = None;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        // The response must go to the client that sent this request: the reader of the
        // response buffer is the request's writer process (one process per client).
        let client = frame.writer_pid();
        if client != 0
            && self
                .responses
                .as_ref()
                .is_some_and(|w| w.reader_pid() != client)
        {
            self.responses = None; // connected to a previous client's buffer
        }
        if self.responses.is_none() {
            let deadline = Instant::now() + self.connect_timeout;
            loop {
                if client != 0 && !is_process_alive(client) {
                    // The client died before its response buffer could be reached.
                    self.stats.requests += 1;
                    self.stats.clients_lost += 1;
                    return Ok(true);
                }
                match Writer::connect(&self.response_name) {
                    Ok(w) if client == 0 || w.reader_pid() == client => {
                        self.responses = Some(w);
                        break;
                    }
                    // Another client's (or a stale) response buffer: wait for ours.
                    Ok(_) | Err(Error::BufferNotFound { .. } | Error::NoReader { .. })
                        if Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Ok(_) => {
                        return Err(Error::NoReader {
                            name: self.response_name.clone(),
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let Some(out) = self.responses.as_mut() else {
            return Err(Error::InvalidArgument("response writer"));
        };
        self.stats.requests += 1;
        match handler(&frame, out) {
            Ok(()) => {}
            Err(Error::ReaderDead { .. }) => {
                self.stats.clients_lost += 1;
                self.responses = None;
            }
            Err(_) => self.stats.handler_errors += 1,
        }
        Ok(true)
    }

    /// Serves requests until `keep_going` returns `false` (checked about once a second).
    ///
    /// # Errors
    /// As [`DuplexServer::serve_one`].
    pub fn run(
        &mut self,
        handler: &mut Handler<'_>,
        mut keep_going: impl FnMut() -> bool,
    ) -> Result<ServerStats> {
        while keep_going() {
            self.serve_one(handler)?;
        }
        Ok(self.stats)
    }
}

/// The client side: sends requests, receives responses in order.
pub struct DuplexClient {
    requests: Writer,
    responses: Reader,
}

impl std::fmt::Debug for DuplexClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplexClient")
            .field("requests", &self.requests)
            .field("responses", &self.responses)
            .finish()
    }
}

impl DuplexClient {
    /// Connects to server channel `name` with the default response buffer (4096 / 256 MiB).
    ///
    /// # Errors
    /// [`Error::BufferNotFound`] if no server runs, and the errors of [`Writer::connect`] and
    /// [`Reader::create`].
    pub fn connect(name: &str) -> Result<Self> {
        Self::connect_with(name, DEFAULT_RESPONSE_CONFIG)
    }

    /// Connects with an explicit response buffer configuration. The request writer is
    /// connected first (fails fast without a server), then the response buffer is created.
    ///
    /// # Errors
    /// As [`DuplexClient::connect`].
    pub fn connect_with(name: &str, response_config: BufferConfig) -> Result<Self> {
        Self::connect_with_options(name, response_config, ReaderOptions::default())
    }

    /// Connects with an explicit response buffer configuration and reader options. The
    /// response buffer is same-user (`0o600`) by default; for a server running as another
    /// user, pass e.g. `ReaderOptions { mode: 0o660, ..ReaderOptions::default() }`.
    ///
    /// # Errors
    /// As [`DuplexClient::connect`].
    pub fn connect_with_options(
        name: &str,
        response_config: BufferConfig,
        options: ReaderOptions,
    ) -> Result<Self> {
        let (req, resp) = channel_names(name)?;
        let requests = Writer::connect(&req)?;
        let responses = Reader::create_with(&resp, response_config, options)?;
        Ok(DuplexClient {
            requests,
            responses,
        })
    }

    /// Writes client metadata on the request buffer (once).
    ///
    /// # Errors
    /// As [`Writer::set_metadata`].
    pub fn set_metadata(&mut self, data: &[u8]) -> Result<()> {
        self.requests.set_metadata(data)
    }

    /// Sends one request; returns its sequence number.
    ///
    /// # Errors
    /// As [`Writer::write_frame`]; `ReaderDead` when the server is gone.
    pub fn send_request(&mut self, data: &[u8]) -> Result<u64> {
        self.requests.write_frame(data)
    }

    /// Zero-copy request: returns the request's bytes in the ring; then call
    /// [`DuplexClient::commit_request`].
    ///
    /// # Errors
    /// As [`Writer::get_frame_buffer`].
    pub fn acquire_request_buffer(&mut self, len: usize) -> Result<&mut [u8]> {
        self.requests.get_frame_buffer(len)
    }

    /// Publishes the request acquired with [`DuplexClient::acquire_request_buffer`].
    ///
    /// # Errors
    /// As [`Writer::commit_frame`].
    pub fn commit_request(&mut self) -> Result<u64> {
        self.requests.commit_frame()
    }

    /// Receives the next response (in request order); `Ok(None)` on timeout.
    ///
    /// # Errors
    /// As [`Reader::read_frame_timeout`]; `WriterDead` when the server is gone and nothing is
    /// pending.
    pub fn receive_response(&self, timeout: Duration) -> Result<Option<Frame<'_>>> {
        self.responses.read_frame_timeout(timeout)
    }

    /// `true` if the server's request reader is alive.
    pub fn is_server_connected(&self) -> bool {
        self.requests.is_reader_connected()
    }
}
