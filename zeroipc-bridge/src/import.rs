//! The import side of links (items into a Stream or Channel, frames into a ZeroBuffer: a
//! [`Deliver`]). zenoh hands each data message to a callback on its
//! receive thread; when nothing is queued before it, the callback puts the message's items
//! into the local object at once, without blocking (the path a message takes through zenoh's
//! own pub/sub to a waiting subscriber, with no extra thread hand-off). What does not fit is
//! queued, in order, for the link's thread, which puts it in with blocking waits (backpressure
//! from the local object) and sends the credit. The local object has one producer at a time:
//! the callback puts only while the queue is empty, the thread only the queue's front, and
//! the queue's front leaves it only when the thread is done with it.
//!
//! **Joining a link that is already sending.** A bridge's zenoh session connects while it
//! opens, before its links declare their subscriptions. The exporter's session then first
//! sends everything to the new peer (it has not yet heard which subscriptions the peer has),
//! then, once the peer's session has answered "none" (its subscription was not declared
//! yet), nothing, and only after the subscription's declaration arrives, everything again. A
//! new importer that started at a message of the first phase would see the second phase as
//! a gap (zenoh dropped nothing it had promised). So an importer takes nothing until every
//! peer connected now has processed its subscription: it queries the peers' admin spaces
//! (the query travels behind the declaration on the same connection, and the answers come
//! back behind the data sent before them), drops what arrives before the answers and starts
//! at the first message after them ([`sync_routes`]).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytemuck::Pod;
use zenoh::Wait;
use zenoh::bytes::ZBytes;

use crate::error::{Error, Result};
use crate::flow::random_id;
use crate::items::{Sink, WINDOW_BYTES};
use crate::link::{HEARTBEAT, Importer, Step};
use crate::status::Stats;
use crate::stop::Stop;
use crate::wire::{HEADER, Kind, Msg};

/// What an import link puts the messages it accepts into: items into a Stream or Channel
/// ([`Items`]), frames into a ZeroBuffer (`zbuf.rs`). Messages carry *units* (items, or one
/// frame) numbered by the link's sequence.
pub(crate) trait Deliver: Send + Sync + 'static {
    /// The item size data messages must have (0: a frame link; see [`Importer::accept`]).
    fn elem_size(&self) -> usize;
    /// Puts what fits now of `msg`'s units after the first `skip`, without blocking;
    /// returns the units and bytes that went in.
    fn try_deliver(&self, msg: &Msg<'_>, skip: usize) -> Result<(usize, u64)>;
    /// Puts a prefix of `msg`'s units after the first `skip`, waiting up to `wait` for room
    /// for the first; returns the units and bytes that went in (none: no room).
    fn deliver(&self, msg: &Msg<'_>, skip: usize, wait: Duration) -> Result<(usize, u64)>;
    /// A metadata message's payload (only ZeroBuffer links have metadata).
    fn metadata(&self, _payload: &[u8]) -> Result<()> {
        Ok(())
    }
    /// Closes the local object.
    fn close(&self) -> Result<()>;
    /// Units the importer can take now beyond what it holds (`None`: a fixed window).
    fn room(&self) -> Option<u64>;
    /// The window when [`Deliver::room`] is `None` and the link configures none.
    fn default_window(&self) -> u64;
    /// The local object's count of units ever put in, if it keeps one (a Stream does).
    fn position(&self) -> Option<u64> {
        None
    }
}

/// Items of type `T` into a [`Sink`].
pub(crate) struct Items<T, S> {
    sink: S,
    _items: std::marker::PhantomData<fn(T)>,
}

impl<T: Pod, S: Sink<T>> Items<T, S> {
    /// Delivers into `sink`.
    pub(crate) fn new(sink: S) -> Self {
        Self {
            sink,
            _items: std::marker::PhantomData,
        }
    }

    /// `put` applied to the items of `msg` after the first `skip`; units and bytes put.
    fn put(
        &self,
        msg: &Msg<'_>,
        skip: usize,
        put: impl FnOnce(&S, &[T]) -> Result<usize>,
    ) -> Result<(usize, u64)> {
        let es = std::mem::size_of::<T>();
        let mut copied = Vec::new();
        let items = items_of::<T>(
            msg.payload.get(skip * es..).unwrap_or_default(),
            &mut copied,
        );
        let n = put(&self.sink, items)?;
        Ok((n, (n * es) as u64))
    }
}

impl<T: Pod, S: Sink<T> + Send + Sync + 'static> Deliver for Items<T, S> {
    fn elem_size(&self) -> usize {
        std::mem::size_of::<T>()
    }

    fn try_deliver(&self, msg: &Msg<'_>, skip: usize) -> Result<(usize, u64)> {
        self.put(msg, skip, |s, items| s.try_put_slice(items))
    }

    fn deliver(&self, msg: &Msg<'_>, skip: usize, wait: Duration) -> Result<(usize, u64)> {
        self.put(msg, skip, |s, items| s.put_slice(items, wait))
    }

    fn close(&self) -> Result<()> {
        self.sink.close()
    }

    fn room(&self) -> Option<u64> {
        self.sink.room()
    }

    fn default_window(&self) -> u64 {
        let es = std::mem::size_of::<T>().max(1);
        self.sink.capacity().max((WINDOW_BYTES / es) as u64)
    }

    fn position(&self) -> Option<u64> {
        self.sink.position()
    }
}

/// The link's state shared by zenoh's callback and the link's thread.
struct Inbox {
    imp: Importer,
    /// Data and close messages not (completely) put in yet, oldest first.
    queue: VecDeque<ZBytes>,
    /// An error met by the callback (the thread ends the link with it).
    failed: Option<Error>,
    /// The link's thread has sent its first credit: until then the callback only queues.
    started: bool,
    /// The link's thread has ended: the callback drops what still arrives.
    done: bool,
    /// The peers connected when the link started have answered [`sync_routes`]'s query:
    /// until then the callback drops what arrives (see the module doc).
    synced: bool,
    /// Messages dropped before `synced`.
    early: u64,
}

struct Shared {
    inbox: Mutex<Inbox>,
    /// Signalled when the thread has work: a queued message, a credit due, an error.
    cv: Condvar,
    /// Signalled when the queue shrinks or the thread ends.
    room: Condvar,
    /// Most messages queued: the callback waits (holding zenoh's receive thread back, as a
    /// full handler channel would) rather than queue more. The exporter's credit keeps the
    /// queue far below this; only an exporter that ignores the credit reaches it.
    cap: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The items of a data message's payload (no copy for the bridge's `[u8; N]` items).
fn items_of<'a, T: Pod>(payload: &'a [u8], copied: &'a mut Vec<T>) -> &'a [T] {
    match bytemuck::try_cast_slice(payload) {
        Ok(items) => items,
        Err(_) => {
            *copied = payload
                .chunks_exact(std::mem::size_of::<T>())
                .map(bytemuck::pod_read_unaligned)
                .collect();
            copied
        }
    }
}

/// A received message joined into one slice, if it must be. zenoh delivers a fragmented
/// message in pieces; a frame is decoded in its pieces (so its payload is copied once, into
/// the local ring, and not first into one slice), anything else is joined. `None`: use
/// zenoh's pieces ([`pieces`]).
fn joined(payload: &ZBytes) -> Option<Cow<'_, [u8]>> {
    let mut slices = payload.slices();
    let first = slices.next()?;
    slices.next()?;
    let frame = first.len() >= HEADER && first.get(1) == Some(&(Kind::Frame as u8));
    (!frame).then(|| payload.to_bytes())
}

/// The pieces of a received message to decode: `joined` ([`joined`]) if it was, else
/// zenoh's own.
fn pieces<'a>(payload: &'a ZBytes, joined: Option<&'a [u8]>) -> Vec<&'a [u8]> {
    joined.map_or_else(|| payload.slices().collect(), |j| vec![j])
}

/// zenoh's callback for a data, metadata or close message: delivers it at once if nothing
/// is queued and it fits, else queues (the rest of) it for the thread.
fn on_sample(shared: &Shared, to: &impl Deliver, payload: &ZBytes) {
    let mut g = shared.lock();
    if !g.synced {
        g.early += 1;
        return;
    }
    while g.queue.len() >= shared.cap && g.failed.is_none() && !g.done {
        g = shared.room.wait(g).unwrap_or_else(PoisonError::into_inner);
    }
    if g.failed.is_some() || g.done {
        return;
    }
    if !g.started || !g.queue.is_empty() {
        g.queue.push_back(payload.clone());
        shared.cv.notify_one();
        return;
    }
    let joined = joined(payload);
    let pieces = pieces(payload, joined.as_deref());
    let delivered = match g.imp.accept(&pieces, to.elem_size()) {
        Ok(Step::Items { msg, skip }) => to.try_deliver(&msg, skip).map(|(n, b)| {
            g.imp.record(n as u64, b);
            n < (msg.count as usize).saturating_sub(skip)
        }),
        Ok(Step::Metadata(m)) => to.metadata(m.payload).map(|()| false),
        Ok(Step::Skip) => Ok(false),
        // Closing and acknowledging is the thread's.
        Ok(Step::Close) => Ok(true),
        Err(e) => Err(e),
    };
    match delivered {
        Ok(true) => {
            // The thread delivers the rest (accepting the message again skips what went in
            // now).
            g.queue.push_back(payload.clone());
            shared.cv.notify_one();
        }
        Ok(false) => {
            if g.imp.credit_due() {
                shared.cv.notify_one();
            }
        }
        Err(e) => {
            g.failed = Some(e);
            shared.cv.notify_one();
        }
    }
}

/// How long an importer waits for the peers' answers before it starts anyway (a peer with
/// its admin space off never answers; zenoh then ends the query at its timeout).
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);

/// Sets `synced` when it is dropped: when zenoh has delivered the last answer to the query
/// that owns it, on the receive thread that delivered it, so every data message that
/// arrives after that answer finds `synced` set.
struct Synced(Arc<Shared>);

impl Drop for Synced {
    fn drop(&mut self) {
        self.0.lock().synced = true;
        self.0.cv.notify_all();
    }
}

/// Waits until the zenoh peers connected now have processed this link's data subscription,
/// or [`SYNC_TIMEOUT`]; `synced` is set from then on (see the module doc). Every bridge
/// session serves zenoh's admin space ([`crate::net::NetConfig::open`]); the query goes to
/// every peer's, behind the subscription's declaration on each connection, and it ends when
/// the last peer has answered.
fn sync_routes(session: &zenoh::Session, shared: &Arc<Shared>, stats: &Stats, stop: &Stop) {
    // One query per peer, to that peer's admin space only, on a key none of its handlers
    // serves: it answers with the end of the query alone. (zenoh 1.10's `subscriber/**`
    // handler replies while it holds the routing tables, which deadlocks against a
    // declaration on another thread; and a query that matches this session's own admin
    // space is answered on this thread.)
    let guard = Arc::new(Synced(Arc::clone(shared)));
    for zid in session.info().peers_zid().wait() {
        let g = Arc::clone(&guard);
        let asked = session
            .get(format!("@/{zid}/*/zeroipc-bridge/routes"))
            .target(zenoh::query::QueryTarget::All)
            .consolidation(zenoh::query::ConsolidationMode::None)
            .timeout(SYNC_TIMEOUT)
            .callback(move |_reply| {
                let _ = &g;
            })
            .wait();
        if let Err(e) = asked {
            eprintln!(
                "zeroipc-bridge: querying peer {zid}'s routes failed ({e}); not waiting for it"
            );
        }
    }
    // The queries hold the guard's other references.
    drop(guard);
    let mut g = shared.lock();
    let deadline = std::time::Instant::now() + SYNC_TIMEOUT + Duration::from_secs(1);
    while !g.synced {
        let now = std::time::Instant::now();
        if now >= deadline || stop.is_stopped() {
            g.synced = true;
            break;
        }
        g = shared
            .cv
            .wait_timeout(g, (deadline - now).min(HEARTBEAT))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    if g.early > 0 {
        eprintln!(
            "zeroipc-bridge: {}: {} messages that arrived before the routes were settled were \
             dropped (the link starts after them)",
            stats.lock().name,
            g.early
        );
    }
}

/// Runs an import link of items into `sink` until the exporter closes the object, or `link.stop`
/// is stopped.
pub(crate) fn import<T: Pod, S: Sink<T> + Send + Sync + 'static>(
    link: crate::Link<'_>,
    sink: S,
) -> Result<()> {
    run_link(link, Items::new(sink))
}

/// Runs an import link into `to` until the exporter closes the object, or `link.stop` is
/// stopped.
pub(crate) fn run_link(link: crate::Link<'_>, to: impl Deliver) -> Result<()> {
    let (session, cfg, stats, stop) = (link.session, link.cfg, link.stats, link.stop);
    let fixed = cfg
        .window
        .unwrap_or_else(|| to.default_window())
        .clamp(1, 1 << 20);
    let to = Arc::new(to);
    let window = || to.room().unwrap_or(fixed);
    let imp = Importer::new(session, cfg, stats, window(), random_id())?;
    let shared = Arc::new(Shared {
        inbox: Mutex::new(Inbox {
            imp,
            queue: VecDeque::new(),
            failed: None,
            started: false,
            done: false,
            synced: false,
            early: 0,
        }),
        cv: Condvar::new(),
        room: Condvar::new(),
        cap: fixed as usize + 64,
    });
    // Room grows as local consumers take items: announce it promptly.
    let poll = if to.room().is_some() {
        Duration::from_millis(5)
    } else {
        HEARTBEAT
    };
    let (sh, t2) = (Arc::clone(&shared), Arc::clone(&to));
    let data = session
        .declare_subscriber(format!("{}/d", cfg.key()))
        .callback(move |sample| on_sample(&sh, &*t2, sample.payload()))
        .wait()
        .map_err(Error::zenoh)?;
    sync_routes(session, &shared, stats, stop);
    stats.set_state("waiting for the exporter");
    // The first credit goes out after the subscription is declared (nothing the exporter
    // sends for it can miss us) and before any item is put in (the callback only queues
    // until `started`): it tells an exporter that knew this importer id where the local
    // object stands now (see the restart accounting in docs/BRIDGE.md).
    let mut g = shared.lock();
    g.imp.set_position(to.position());
    let result = match g.imp.send_credit() {
        Ok(()) => {
            g.started = true;
            run(&shared, g, &*to, (poll, stop), window)
        }
        Err(e) => Err(e),
    };
    shared.lock().done = true;
    shared.room.notify_all();
    // Undeclared without the lock held: a callback in progress finishes first.
    drop(data);
    result
}

/// The link thread's loop (entered with the lock held): credit, then the queued messages.
fn run<'a>(
    shared: &'a Shared,
    mut g: MutexGuard<'a, Inbox>,
    to: &impl Deliver,
    (poll, stop): (Duration, &Stop),
    window: impl Fn() -> u64,
) -> Result<()> {
    loop {
        if let Some(e) = g.failed.take() {
            return Err(e);
        }
        if stop.is_stopped() {
            return Ok(());
        }
        g.imp.set_window(window());
        if g.imp.credit_due() {
            // The position goes with the credit; nobody puts items in meanwhile (the
            // callback waits for the lock, the thread is here).
            g.imp.set_position(to.position());
            g.imp.send_credit()?;
        }
        let Some(front) = g.queue.front().cloned() else {
            g = shared
                .cv
                .wait_timeout(g, poll)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        };
        let joined = joined(&front);
        let pieces = pieces(&front, joined.as_deref());
        let (msg, skip) = match g.imp.accept(&pieces, to.elem_size())? {
            Step::Items { msg, skip } => (msg, skip),
            Step::Metadata(m) => {
                to.metadata(m.payload)?;
                g.queue.pop_front();
                shared.room.notify_one();
                continue;
            }
            Step::Skip => {
                g.queue.pop_front();
                shared.room.notify_one();
                continue;
            }
            Step::Close => {
                to.close()?;
                g.imp.set_position(to.position());
                g.imp.closed()?;
                return Ok(());
            }
        };
        // Blocking put without the lock: the callback only queues while the queue is not
        // empty, so this thread is the local object's one producer now.
        drop(g);
        let (n, b) = to.deliver(&msg, skip, HEARTBEAT)?;
        g = shared.lock();
        g.imp.record(n as u64, b);
        if n == (msg.count as usize).saturating_sub(skip) {
            g.queue.pop_front();
            shared.room.notify_one();
        } else if n == 0 {
            // Keep the credit heartbeat going while the local object is full.
            g.imp.set_position(to.position());
            g.imp.send_credit()?;
        }
    }
}
