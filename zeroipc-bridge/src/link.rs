//! The import-side sequence bookkeeping shared by stream and channel links: epochs, gap
//! detection, duplicate suppression and credit messages; and the exporter's close.

use std::cell::Cell;
use std::time::{Duration, Instant};

use zenoh::Wait;
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;

use crate::config::LinkConfig;
use crate::error::{Error, Result};
use crate::flow::Credits;
use crate::status::Stats;
use crate::stop::Stop;
use crate::wire::{FLAG_CLOSED, FLAG_POSITION, Kind, Msg};

/// An importer announces its credit at least this often while it lives (the exporter drops
/// an importer silent for its peer timeout), besides whenever a credit is due (see
/// [`Importer::credit_due`]).
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(100);

/// What an importer does with a message.
pub(crate) enum Step<'a> {
    /// Nothing (malformed, foreign, or every item already delivered).
    Skip,
    /// Deliver the items of `msg`, skipping the first `skip` (already delivered).
    Items {
        /// The data message.
        msg: Msg<'a>,
        /// Items to skip.
        skip: usize,
    },
    /// The source closed; close the local object.
    Close,
    /// ZeroBuffer metadata (payload of the message).
    Metadata(Msg<'a>),
}

/// Import-side state of one link.
pub(crate) struct Importer {
    publisher: Publisher<'static>,
    stats: Stats,
    id: u64,
    window: u64,
    /// The exporter's epoch (0: none seen yet).
    epoch: u64,
    /// Next expected sequence number.
    next: u64,
    /// The limit last announced.
    announced: Cell<u64>,
    /// When the last credit went out, and with which exporter epoch.
    last_sent: Cell<(Instant, u64)>,
    /// The local object's own count of items ever put in (a Stream's `sequence`), sent with
    /// each credit so the exporter can count exactly what a killed importer delivered.
    position: Cell<Option<u64>>,
    closed: bool,
    /// The source position after the last item the current exporter sent us (exporters of
    /// Streams send positions), to count what a restarted exporter skipped.
    src_next: Option<u64>,
    /// Epochs of exporters that were replaced: their late messages are dropped.
    retired: Vec<u64>,
}

impl Importer {
    pub(crate) fn new(
        session: &zenoh::Session,
        cfg: &LinkConfig,
        stats: &Stats,
        window: u64,
        random: u64,
    ) -> Result<Self> {
        let publisher = session
            .declare_publisher(format!("{}/c", cfg.key()))
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(Error::zenoh)?;
        Ok(Self {
            publisher,
            stats: stats.clone(),
            id: cfg.importer_id.unwrap_or(random),
            window,
            epoch: 0,
            next: 0,
            announced: Cell::new(0),
            last_sent: Cell::new((Instant::now(), 0)),
            position: Cell::new(None),
            closed: false,
            src_next: None,
            retired: Vec::new(),
        })
    }

    /// Sets how many items past the next expected one we can take (announced with the next
    /// credit).
    pub(crate) fn set_window(&mut self, window: u64) {
        self.window = window;
    }

    /// Sets the local object's position sent with the next credits.
    pub(crate) fn set_position(&self, position: Option<u64>) {
        self.position.set(position);
    }

    /// Whether a credit should go out now: less than half the window remains announced
    /// (so the exporter learns of more room before it runs out), this exporter has not been
    /// acknowledged yet (its first acknowledgement tells it where a restarted importer got
    /// to), or [`HEARTBEAT`] passed since the last one. One credit per delivery would cost
    /// the exporter a message per item in a round trip of single items.
    pub(crate) fn credit_due(&self) -> bool {
        let (at, epoch) = self.last_sent.get();
        let remaining = self.announced.get().saturating_sub(self.next);
        remaining.saturating_mul(2) < self.window
            || epoch != self.epoch
            || at.elapsed() >= HEARTBEAT
    }

    /// Tells the exporter where we are and how much more we can take.
    pub(crate) fn send_credit(&self) -> Result<()> {
        self.announced.set(self.next.saturating_add(self.window));
        self.last_sent.set((Instant::now(), self.epoch));
        let pos = self.position.get().map(u64::to_le_bytes);
        let m = Msg {
            flags: if self.closed { FLAG_CLOSED } else { 0 },
            payload: pos.as_ref().map_or(&[][..], |b| &b[..]),
            ..Msg::new(
                Kind::Credit,
                self.epoch,
                self.next,
                self.next.saturating_add(self.window),
                self.id,
            )
        };
        self.publisher.put(m.encode()).wait().map_err(Error::zenoh)
    }

    /// Checks a data or close message, received in `pieces` ([`Msg::decode_pieces`]),
    /// against the expected sequence.
    pub(crate) fn accept<'a>(&mut self, pieces: &'a [&'a [u8]], es: usize) -> Result<Step<'a>> {
        let m = match Msg::decode_pieces(pieces) {
            Ok(m) => m,
            Err(e) => {
                self.stats.lock().malformed += 1;
                eprintln!("zeroipc-bridge: dropped a data message: {e}");
                return Ok(Step::Skip);
            }
        };
        if m.kind == Kind::Data && es != 0 && m.elem_size as usize != es {
            self.stats.lock().malformed += 1;
            eprintln!(
                "zeroipc-bridge: the exporter sends {}-byte items, this side's type is {es} \
                 bytes: give both ends the same --type",
                m.elem_size
            );
            return Ok(Step::Skip);
        }
        let foreign = match m.kind {
            Kind::Credit => return Ok(Step::Skip),
            Kind::Data => es == 0,
            Kind::Frame | Kind::Metadata => es != 0,
            Kind::Close => false,
        };
        if foreign {
            self.stats.lock().malformed += 1;
            eprintln!(
                "zeroipc-bridge: a {:?} message on a link of the other kind: give both ends \
                 the same --kind",
                m.kind
            );
            return Ok(Step::Skip);
        }
        if self.retired.contains(&m.epoch) {
            // A late message of an exporter that was replaced: what it carries was counted
            // as lost when the new one started (below), so it stays lost.
            return Ok(Step::Skip);
        }
        let position = (m.flags & FLAG_POSITION != 0 && matches!(m.kind, Kind::Data | Kind::Close))
            .then_some(m.id);
        if m.epoch != self.epoch {
            if self.epoch != 0 {
                self.exporter_restarted(&m, position);
            }
            self.epoch = m.epoch;
            self.next = m.seq;
            self.src_next = None;
            let mut s = self.stats.lock();
            s.epoch = m.epoch;
            s.state = "running".into();
        }
        if m.kind == Kind::Metadata {
            return Ok(Step::Metadata(m));
        }
        if m.seq > self.next {
            let gap = m.seq - self.next;
            eprintln!(
                "zeroipc-bridge: {}: gap of {gap} items (seq {}..{})",
                self.stats.lock().name,
                self.next,
                m.seq
            );
            let mut s = self.stats.lock();
            s.gap_items += gap;
            s.gap_events += 1;
            drop(s);
            self.next = m.seq;
        }
        if m.kind == Kind::Close {
            self.src_next = position.or(self.src_next);
            return Ok(Step::Close);
        }
        if let Some(p) = position {
            self.src_next = Some(p.saturating_add(m.count));
        }
        let skip = self.next - m.seq;
        if skip >= m.count {
            return Ok(Step::Skip);
        }
        Ok(Step::Items {
            msg: m,
            skip: skip as usize,
        })
    }

    /// A new exporter epoch replaces `self.epoch`: logs the restart and, when both
    /// exporters sent source positions, counts the items between the old one's last and the
    /// new one's first as a gap (they were never published: taken but not sent by the killed
    /// exporter, or emitted while no exporter was subscribed).
    fn exporter_restarted(&mut self, m: &Msg<'_>, position: Option<u64>) {
        let name = self.stats.lock().name.clone();
        let what = match (self.src_next, position) {
            (Some(had), Some(now)) if now >= had => {
                let lost = now - had;
                let mut s = self.stats.lock();
                s.gap_items += lost;
                s.gap_events += u64::from(lost > 0);
                format!("{lost} items lost (source positions {had}..{now})")
            }
            (Some(had), Some(now)) => format!(
                "its source position went back ({had} -> {now}: the local stream was created \
                 anew?); loss not counted"
            ),
            _ => "loss not counted (no source positions: only Stream exporters send them)".into(),
        };
        eprintln!(
            "zeroipc-bridge: {name}: exporter restarted (epoch {:016x} -> {:016x}), \
             continuing at its seq {}: {what}",
            self.epoch, m.epoch, m.seq
        );
        self.stats.lock().restarts += 1;
        self.retired.push(self.epoch);
    }

    /// Records `n` items (`bytes` bytes) delivered locally.
    pub(crate) fn record(&mut self, n: u64, bytes: u64) {
        self.next += n;
        let mut s = self.stats.lock();
        s.items += n;
        s.bytes += bytes;
        s.seq = self.next;
    }

    /// Records the close and acknowledges it.
    pub(crate) fn closed(&mut self) -> Result<()> {
        self.closed = true;
        self.stats.set_state("closed");
        self.send_credit()
    }
}

/// The exporter's end of a link on zenoh: its epoch (a random id for this run), the credit
/// board fed by the importers' credit messages on `<key>/c`, and the publisher of
/// `<key>/d` (reliable, blocking when congested).
pub(crate) struct ExportEnd {
    pub(crate) epoch: u64,
    pub(crate) credits: std::sync::Arc<Credits>,
    pub(crate) publisher: Publisher<'static>,
    /// Keeps the credit subscription declared.
    _credit_sub: zenoh::pubsub::Subscriber<()>,
}

impl ExportEnd {
    /// Declares the credit subscription and the data publisher of `cfg`'s key, and records
    /// the epoch in `stats`. `exclusive`: one importer at a time (point to point).
    pub(crate) fn open(
        session: &zenoh::Session,
        cfg: &LinkConfig,
        stats: &Stats,
        exclusive: bool,
    ) -> Result<Self> {
        let key = cfg.key();
        let epoch = crate::flow::random_id();
        stats.lock().epoch = epoch;
        let credits = Credits::new(epoch, stats.clone(), cfg.peer_timeout(), exclusive);
        let c2 = std::sync::Arc::clone(&credits);
        let credit_sub = session
            .declare_subscriber(format!("{key}/c"))
            .callback(move |s| c2.on_message(&s.payload().to_bytes()))
            .wait()
            .map_err(Error::zenoh)?;
        let publisher = session
            .declare_publisher(format!("{key}/d"))
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(Error::zenoh)?;
        Ok(Self {
            epoch,
            credits,
            publisher,
            _credit_sub: credit_sub,
        })
    }
}

/// The exporter's end: publishes the close (exporter `epoch`, final sequence `seq`; `end`:
/// the source position after the last item, if the source keeps positions) until every live
/// importer acknowledged it, or `stop` is stopped.
pub(crate) fn finish_export(
    publisher: &Publisher<'_>,
    credits: &Credits,
    stats: &Stats,
    (epoch, seq, end): (u64, u64, Option<u64>),
    stop: &Stop,
) -> Result<()> {
    stats.set_state("closing");
    let close = Msg {
        flags: if end.is_some() { FLAG_POSITION } else { 0 },
        ..Msg::new(Kind::Close, epoch, seq, 0, end.unwrap_or(0))
    }
    .encode();
    loop {
        if stop.is_stopped() {
            return Ok(());
        }
        publisher.put(close.clone()).wait().map_err(Error::zenoh)?;
        if credits.close_acknowledged(seq, Duration::from_millis(500)) {
            stats.set_state("closed");
            return Ok(());
        }
    }
}
