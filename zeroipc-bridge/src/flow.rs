//! Credit-based flow control, exporter side: every importer announces (in `Credit`
//! messages) the next sequence number it expects and the limit below which it can take
//! items; the exporter sends only below the smallest limit of the live importers.
//!
//! An importer that is silent for longer than the peer timeout stops holding the link back
//! (it is dropped; the items it had not acknowledged are counted as lost for it). An
//! importer that has not seen this exporter's epoch joins at the current position.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::status::Stats;
use crate::wire::{FLAG_CLOSED, Kind, Msg};

/// What the exporter knows of one importer.
#[derive(Debug, Clone, Copy)]
struct Peer {
    /// Next sequence number the importer expects.
    next: u64,
    /// It can take items below this.
    limit: u64,
    last: Instant,
    /// It acknowledged the close.
    closed: bool,
    /// `next - position` at its last acknowledgement (see `on_message`).
    offset: Option<u64>,
    /// After a restart: (sequence number delivered up to before, its position then).
    restart: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
struct Board {
    peers: HashMap<u64, Peer>,
    /// Sequence number of the next item the exporter sends.
    sent: u64,
    /// Importers refused on an exclusive link (logged once).
    refused: Vec<u64>,
    /// Importers dropped for silence, kept to count their loss if they come back.
    departed: HashMap<u64, Peer>,
}

/// The exporter's view of its importers' credit.
#[derive(Debug)]
pub(crate) struct Credits {
    epoch: u64,
    board: Mutex<Board>,
    cv: Condvar,
    stats: Stats,
    timeout: Duration,
    /// Only one importer at a time (point-to-point links).
    exclusive: bool,
}

impl Credits {
    pub(crate) fn new(epoch: u64, stats: Stats, timeout: Duration, exclusive: bool) -> Arc<Self> {
        Arc::new(Self {
            epoch,
            board: Mutex::new(Board::default()),
            cv: Condvar::new(),
            stats,
            timeout,
            exclusive,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handles one message from the credit key (zenoh callback thread).
    pub(crate) fn on_message(&self, bytes: &[u8]) {
        let m = match Msg::decode(bytes) {
            Ok(m) if m.kind == Kind::Credit => m,
            Ok(_) => return,
            Err(e) => {
                self.stats.lock().malformed += 1;
                eprintln!("zeroipc-bridge: dropped a credit message: {e}");
                return;
            }
        };
        let mut b = self.lock();
        let sent = b.sent;
        // The importer's local object's own count of items put in (Streams send it).
        let position = <[u8; 8]>::try_from(m.payload).ok().map(u64::from_le_bytes);
        let known = b.peers.contains_key(&m.id);
        if !known && self.exclusive && !b.peers.is_empty() {
            // Point to point: a second importer would deliver every item twice.
            if !b.refused.contains(&m.id) {
                b.refused.push(m.id);
                eprintln!(
                    "zeroipc-bridge: importer {:016x} ignored: this link is point to point and \
                     importer {:016x} holds it",
                    m.id,
                    b.peers.keys().next().copied().unwrap_or(0)
                );
            }
            return;
        }
        let old = b
            .peers
            .get(&m.id)
            .copied()
            .or_else(|| b.departed.remove(&m.id));
        let mut restart = old.and_then(|p| p.restart);
        let mut offset = old.and_then(|p| p.offset);
        let (next, limit) = if m.epoch == self.epoch {
            if let (Some((delivered, before)), Some(pos)) = (restart, position) {
                // Its first acknowledgement since it restarted: it started at `first`; what
                // lies between is what it never put into its local object.
                let first = m.seq.wrapping_sub(pos.wrapping_sub(before));
                let lost = first.saturating_sub(delivered);
                eprintln!(
                    "zeroipc-bridge: importer {:016x} restarted: {lost} items lost in flight \
                     (seq {delivered}..{first})",
                    m.id
                );
                let mut s = self.stats.lock();
                s.gap_items += lost;
                s.gap_events += u64::from(lost > 0);
                restart = None;
            }
            offset = position.map(|p| m.seq.wrapping_sub(p));
            (m.seq, m.count)
        } else {
            // It has not seen an item of ours (new, or restarted): it joins at the current
            // position. A restarted one that reported its position before tells us, with
            // its position now, how far it really got.
            if let (Some(o), Some(pos)) = (offset, position) {
                restart = Some((pos.wrapping_add(o), pos));
                offset = None;
            }
            (
                sent,
                sent.saturating_add(m.count.saturating_sub(m.seq).max(1)),
            )
        };
        if !known {
            eprintln!(
                "zeroipc-bridge: importer {:016x} joined at seq {next} (window {})",
                m.id,
                limit.saturating_sub(next)
            );
        }
        b.peers.insert(
            m.id,
            Peer {
                next,
                limit,
                last: Instant::now(),
                closed: m.flags & FLAG_CLOSED != 0 && m.epoch == self.epoch,
                offset,
                restart,
            },
        );
        drop(b);
        self.cv.notify_all();
    }

    /// Drops importers silent for longer than the timeout; refreshes the stats.
    fn expire(&self, b: &mut Board) {
        let now = Instant::now();
        let sent = b.sent;
        let timeout = self.timeout;
        let mut gone = Vec::new();
        b.peers.retain(|id, p| {
            let keep = now.duration_since(p.last) <= timeout;
            if !keep {
                eprintln!(
                    "zeroipc-bridge: importer {id:016x} silent for {timeout:?}: dropped; \
                     {} items sent to it were not acknowledged (seq {}..{sent}); if it comes \
                     back, what it lost is counted",
                    sent.saturating_sub(p.next),
                    p.next
                );
                gone.push((*id, *p));
            }
            keep
        });
        b.departed.extend(gone);
        let mut s = self.stats.lock();
        s.importers = b.peers.len() as u64;
        s.lag = b
            .peers
            .values()
            .map(|p| sent.saturating_sub(p.next))
            .max()
            .unwrap_or(0);
    }

    /// Waits up to `wait` for credit beyond the current position; returns how many items
    /// may be sent now (0: none yet).
    pub(crate) fn available(&self, wait: Duration) -> u64 {
        let mut b = self.lock();
        let deadline = Instant::now() + wait;
        loop {
            self.expire(&mut b);
            let sent = b.sent;
            let room = b
                .peers
                .values()
                .map(|p| p.limit.saturating_sub(sent))
                .min()
                .unwrap_or(0);
            let now = Instant::now();
            if room > 0 || now >= deadline {
                return room;
            }
            let slice = (deadline - now).min(Duration::from_millis(100));
            b = self
                .cv
                .wait_timeout(b, slice)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Records that items up to `sent` (exclusive) went out.
    pub(crate) fn advance(&self, sent: u64) {
        self.lock().sent = sent;
    }

    /// Whether at least one importer is live and all live importers acknowledged the close
    /// at `final_seq`. Waits up to `wait` for that.
    pub(crate) fn close_acknowledged(&self, final_seq: u64, wait: Duration) -> bool {
        let mut b = self.lock();
        let deadline = Instant::now() + wait;
        loop {
            self.expire(&mut b);
            let done =
                !b.peers.is_empty() && b.peers.values().all(|p| p.closed && p.next >= final_seq);
            let now = Instant::now();
            if done || now >= deadline {
                return done;
            }
            b = self
                .cv
                .wait_timeout(b, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

/// A per-run random id (exporter epochs, importer ids): never 0.
pub(crate) fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish().max(1)
}
