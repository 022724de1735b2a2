//! The import side of item links. zenoh hands each data message to a callback on its
//! receive thread; when nothing is queued before it, the callback puts the message's items
//! into the local object at once, without blocking (the path a message takes through zenoh's
//! own pub/sub to a waiting subscriber, with no extra thread hand-off). What does not fit is
//! queued, in order, for the link's thread, which puts it in with blocking waits (backpressure
//! from the local object) and sends the credit. The local object has one producer at a time:
//! the callback puts only while the queue is empty, the thread only the queue's front, and
//! the queue's front leaves it only when the thread is done with it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytemuck::Pod;
use zenoh::Wait;
use zenoh::bytes::ZBytes;

use crate::config::LinkConfig;
use crate::error::{Error, Result};
use crate::flow::random_id;
use crate::items::{Sink, WINDOW_BYTES};
use crate::link::{HEARTBEAT, Importer, Step};
use crate::status::Stats;

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

/// zenoh's callback for a data or close message: delivers it at once if nothing is queued
/// and it fits, else queues (the rest of) it for the thread.
fn on_sample<T: Pod>(shared: &Shared, sink: &impl Sink<T>, payload: &ZBytes) {
    let es = std::mem::size_of::<T>();
    let mut g = shared.lock();
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
    let bytes = payload.to_bytes();
    let (msg, skip) = match g.imp.accept(&bytes, es) {
        Ok(Step::Items { msg, skip }) => (msg, skip),
        Ok(Step::Skip | Step::Metadata(_)) => {
            if g.imp.credit_due() {
                shared.cv.notify_one();
            }
            return;
        }
        Ok(Step::Close) => {
            // Closing and acknowledging is the thread's.
            g.queue.push_back(payload.clone());
            shared.cv.notify_one();
            return;
        }
        Err(e) => {
            g.failed = Some(e);
            shared.cv.notify_one();
            return;
        }
    };
    let mut copied = Vec::new();
    let items = items_of::<T>(
        msg.payload.get(skip * es..).unwrap_or_default(),
        &mut copied,
    );
    match sink.try_put_slice(items) {
        Ok(n) => {
            g.imp.record(n as u64, (n * es) as u64);
            if n < items.len() {
                // The thread delivers the rest (accepting the message again skips what went
                // in now).
                g.queue.push_back(payload.clone());
                shared.cv.notify_one();
            } else if g.imp.credit_due() {
                shared.cv.notify_one();
            }
        }
        Err(e) => {
            g.failed = Some(e);
            shared.cv.notify_one();
        }
    }
}

/// Runs an import link until the exporter closes the object.
pub(crate) fn import<T: Pod, S: Sink<T> + Send + Sync + 'static>(
    session: &zenoh::Session,
    cfg: &LinkConfig,
    stats: &Stats,
    sink: S,
) -> Result<()> {
    let es = std::mem::size_of::<T>();
    let fixed = cfg
        .window
        .unwrap_or_else(|| sink.capacity().max((WINDOW_BYTES / es) as u64))
        .clamp(1, 1 << 20);
    let sink = Arc::new(sink);
    let window = || sink.room().unwrap_or(fixed);
    let imp = Importer::new(session, cfg, stats, window(), random_id())?;
    let shared = Arc::new(Shared {
        inbox: Mutex::new(Inbox {
            imp,
            queue: VecDeque::new(),
            failed: None,
            started: false,
            done: false,
        }),
        cv: Condvar::new(),
        room: Condvar::new(),
        cap: fixed as usize + 64,
    });
    // Room grows as local consumers take items: announce it promptly.
    let poll = if sink.room().is_some() {
        Duration::from_millis(5)
    } else {
        HEARTBEAT
    };
    let (sh, sk) = (Arc::clone(&shared), Arc::clone(&sink));
    let data = session
        .declare_subscriber(format!("{}/d", cfg.key()))
        .callback(move |sample| on_sample::<T>(&sh, &*sk, sample.payload()))
        .wait()
        .map_err(Error::zenoh)?;
    stats.set_state("waiting for the exporter");
    // The first credit goes out after the subscription is declared (nothing the exporter
    // sends for it can miss us) and before any item is put in (the callback only queues
    // until `started`): it tells an exporter that knew this importer id where the local
    // object stands now (see the restart accounting in docs/BRIDGE.md).
    let mut g = shared.lock();
    g.imp.set_position(sink.position());
    let result = match g.imp.send_credit() {
        Ok(()) => {
            g.started = true;
            run(&shared, g, &*sink, es, poll, window)
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
fn run<'a, T: Pod>(
    shared: &'a Shared,
    mut g: MutexGuard<'a, Inbox>,
    sink: &impl Sink<T>,
    es: usize,
    poll: Duration,
    window: impl Fn() -> u64,
) -> Result<()> {
    loop {
        if let Some(e) = g.failed.take() {
            return Err(e);
        }
        g.imp.set_window(window());
        if g.imp.credit_due() {
            // The position goes with the credit; nobody puts items in meanwhile (the
            // callback waits for the lock, the thread is here).
            g.imp.set_position(sink.position());
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
        let bytes = front.to_bytes();
        let (msg, skip) = match g.imp.accept(&bytes, es)? {
            Step::Items { msg, skip } => (msg, skip),
            Step::Skip | Step::Metadata(_) => {
                g.queue.pop_front();
                shared.room.notify_one();
                continue;
            }
            Step::Close => {
                sink.close()?;
                g.imp.set_position(sink.position());
                g.imp.closed()?;
                return Ok(());
            }
        };
        let mut copied = Vec::new();
        let items = items_of::<T>(
            msg.payload.get(skip * es..).unwrap_or_default(),
            &mut copied,
        );
        // Blocking put without the lock: the callback only queues while the queue is not
        // empty, so this thread is the local object's one producer now.
        drop(g);
        let n = sink.put_slice(items, HEARTBEAT)?;
        g = shared.lock();
        g.imp.record(n as u64, (n * es) as u64);
        if n == items.len() {
            g.queue.pop_front();
            shared.room.notify_one();
        } else if n == 0 {
            // Keep the credit heartbeat going while the local object is full.
            g.imp.set_position(sink.position());
            g.imp.send_credit()?;
        }
    }
}
