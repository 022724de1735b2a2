//! Item links, generic over the local object: the exporter takes items from a [`Source`]
//! (a stream subscription, a channel receiver) and publishes them, numbered, on `<key>/d`;
//! importers put them into a [`Sink`] (a stream, a channel) and return credit on
//! `<key>/c`. See docs/BRIDGE.md for the delivery rules.

use std::time::Duration;

use bytemuck::Pod;
use zenoh::Wait;
use zenoh::handlers::FifoChannel;
use zeroipc_codata::Error as CodataError;

use crate::config::LinkConfig;
use crate::error::{Error, Result};
use crate::flow::random_id;
use crate::link::{self, HEARTBEAT, Importer, Step};
use crate::status::Stats;
use crate::wire::{FLAG_POSITION, HEADER, Kind, Msg};

/// Largest data message payload the exporter builds (bytes).
const BATCH_BYTES: usize = 64 << 10;
/// Most items in one data message.
const BATCH_ITEMS: usize = 4096;
/// The default import window of a fixed-window (Stream) link covers at least this many
/// bytes: a window of only the local stream's capacity (e.g. 1024 items of 1 KiB) leaves
/// the link waiting for credit (bench: 1 KiB items at 0.4-0.5x zenoh's own rate with 1024,
/// 0.8-1.1x with 16384).
const WINDOW_BYTES: usize = 16 << 20;

/// What taking from a source gave.
pub(crate) enum Take<T> {
    /// An item.
    Item(T),
    /// Nothing yet.
    Empty,
    /// Closed and drained.
    Closed,
}

impl<T> Take<T> {
    /// A blocking receive's result: `Ok(None)` is the end (closed and drained), a timeout
    /// is nothing yet.
    pub(crate) fn from_wait(r: std::result::Result<Option<T>, CodataError>) -> Result<Self> {
        match r {
            Ok(Some(v)) => Ok(Self::Item(v)),
            Ok(None) => Ok(Self::Closed),
            Err(e) if e.is_timeout() => Ok(Self::Empty),
            Err(e) => Err(e.into()),
        }
    }

    /// A non-blocking receive's result: `Ok(None)` is nothing yet, `Closed` the end.
    pub(crate) fn from_try(r: std::result::Result<Option<T>, CodataError>) -> Result<Self> {
        match r {
            Ok(Some(v)) => Ok(Self::Item(v)),
            Ok(None) => Ok(Self::Empty),
            Err(CodataError::Closed { .. }) => Ok(Self::Closed),
            Err(e) => Err(e.into()),
        }
    }
}

/// Where an exporter takes items from.
pub(crate) trait Source<T> {
    /// Takes an item, waiting up to `wait`.
    fn take(&mut self, wait: Duration) -> Result<Take<T>>;
    /// Takes an item if one is there.
    fn try_take(&mut self) -> Result<Take<T>>;
    /// The source's own number of the next item [`Source::take`] returns, if it keeps one
    /// (a Stream subscription does: [`zeroipc_codata::Subscription::position`]).
    fn position(&self) -> Option<u64> {
        None
    }
}

/// Where an importer puts items.
pub(crate) trait Sink<T> {
    /// Puts `v`, waiting up to `wait` for room; `false` if there was none.
    fn put(&self, v: T, wait: Duration) -> Result<bool>;
    /// Closes the local object.
    fn close(&self) -> Result<()>;
    /// Items the importer can take now beyond what it holds (`None`: a fixed window).
    fn room(&self) -> Option<u64>;
    /// The smallest window when [`Sink::room`] is `None` (the link's default is at least
    /// [`WINDOW_BYTES`] of items).
    fn capacity(&self) -> u64;
    /// The local object's count of items ever put in, if it keeps one (a Stream does).
    fn position(&self) -> Option<u64> {
        None
    }
}

/// Runs an export link: until the source is closed and every live importer acknowledged
/// the close. `exclusive`: only one importer at a time (channels).
pub(crate) fn export<T: Pod>(
    session: &zenoh::Session,
    cfg: &LinkConfig,
    stats: &Stats,
    mut source: impl Source<T>,
    exclusive: bool,
) -> Result<()> {
    let end = link::ExportEnd::open(session, cfg, stats, exclusive)?;
    let (epoch, credits, publisher) = (end.epoch, &end.credits, &end.publisher);
    let es = std::mem::size_of::<T>();
    let max_batch = (BATCH_BYTES / es).clamp(1, BATCH_ITEMS);
    let mut seq = 0u64;
    stats.set_state("waiting for an importer");
    loop {
        // Take nothing from the local object until an importer has room for it.
        let room = credits.available(Duration::from_millis(200));
        if room == 0 {
            continue;
        }
        let room = (room as usize).min(max_batch);
        let mut buf: Vec<u8> = Vec::with_capacity(HEADER + room * es);
        buf.resize(HEADER, 0);
        let mut n = 0usize;
        let mut closed = false;
        // The source's number of the first item taken now (single consumer of `source`).
        let position = source.position();
        match source.take(Duration::from_millis(50))? {
            Take::Item(v) => {
                buf.extend_from_slice(bytemuck::bytes_of(&v));
                n += 1;
            }
            Take::Empty => continue,
            Take::Closed => closed = true,
        }
        while n < room && !closed {
            match source.try_take()? {
                Take::Item(v) => {
                    buf.extend_from_slice(bytemuck::bytes_of(&v));
                    n += 1;
                }
                Take::Empty => break,
                Take::Closed => closed = true,
            }
        }
        if n > 0 {
            let head = Msg {
                elem_size: es as u32,
                flags: if position.is_some() { FLAG_POSITION } else { 0 },
                ..Msg::new(Kind::Data, epoch, seq, n as u64, position.unwrap_or(0))
            };
            let mut h = Vec::with_capacity(HEADER);
            head.encode_header(&mut h);
            buf[..HEADER].copy_from_slice(&h);
            publisher.put(buf).wait().map_err(Error::zenoh)?;
            seq += n as u64;
            credits.advance(seq);
            let mut s = stats.lock();
            s.items += n as u64;
            s.bytes += (n * es) as u64;
            s.seq = seq;
            if s.state != "running" {
                s.state = "running".into();
            }
        }
        if closed {
            let end = source.position();
            return link::finish_export(publisher, credits, stats, epoch, seq, end);
        }
    }
}

/// Runs an import link until the exporter closes the object.
pub(crate) fn import<T: Pod>(
    session: &zenoh::Session,
    cfg: &LinkConfig,
    stats: &Stats,
    sink: impl Sink<T>,
) -> Result<()> {
    let es = std::mem::size_of::<T>();
    let fixed = cfg
        .window
        .unwrap_or_else(|| sink.capacity().max((WINDOW_BYTES / es) as u64))
        .clamp(1, 1 << 20);
    let window = || sink.room().unwrap_or(fixed);
    let mut imp = Importer::new(session, cfg, stats, window(), random_id())?;
    let data = session
        .declare_subscriber(format!("{}/d", cfg.key()))
        .with(FifoChannel::new(fixed as usize + 64))
        .wait()
        .map_err(Error::zenoh)?;
    imp.set_position(sink.position());
    imp.send_credit()?;
    stats.set_state("waiting for the exporter");
    let poll = if sink.room().is_some() {
        // Room grows as local consumers take items: announce it promptly.
        Duration::from_millis(5)
    } else {
        HEARTBEAT
    };
    loop {
        let sample = match data.recv_timeout(poll) {
            Ok(Some(s)) => s,
            Ok(None) => {
                imp.set_window(window());
                if imp.credit_due() {
                    imp.send_credit()?;
                }
                continue;
            }
            Err(e) => return Err(Error::zenoh(e)),
        };
        let bytes = sample.payload().to_bytes();
        let (msg, skip) = match imp.accept(&bytes, es)? {
            Step::Skip | Step::Metadata(_) => continue,
            Step::Close => {
                sink.close()?;
                imp.set_position(sink.position());
                imp.closed()?;
                return Ok(());
            }
            Step::Items { msg, skip } => (msg, skip),
        };
        let mut delivered = 0u64;
        for chunk in msg.payload.chunks_exact(es).skip(skip) {
            let v: T = bytemuck::pod_read_unaligned(chunk);
            // Keep the credit heartbeat going while the local object is full.
            while !sink.put(v, HEARTBEAT)? {
                imp.send_credit()?;
            }
            delivered += 1;
        }
        imp.set_window(window());
        imp.set_position(sink.position());
        imp.delivered(delivered, (delivered as usize * es) as u64)?;
    }
}
