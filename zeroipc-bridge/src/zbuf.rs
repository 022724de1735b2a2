//! ZeroBuffer links. The exporter is the *reader* of a local buffer (it creates it; the
//! local writer connects to it) and publishes each frame with its link sequence number and
//! the source frame sequence, and the metadata block once it is written. The importer is
//! the *writer* of a buffer on its side (created by a local reader, e.g. an unmodified
//! `zerobuffer-ipc` reader), so the far side keeps ZeroBuffer's own rules: frames numbered
//! from 1 per writer connection, metadata write-once, the writer blocks while the ring is
//! full. When the local writer disconnects, the close travels: the importer disconnects its
//! writer too.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use zenoh::Wait;
use zenoh::bytes::ZBytes;
use zerobuffer::{BufferConfig, Error as ZbError, OwnedFrame, Reader, Writer};

use crate::error::{Error, Result};
use crate::import::Deliver;
use crate::link;
use crate::wire::{HEADER, Kind, Msg};

/// Default payload ring of the buffer an exporter creates.
pub const DEFAULT_PAYLOAD_SIZE: u64 = 4 << 20;
/// Default metadata block of that buffer.
pub const DEFAULT_METADATA_SIZE: u64 = 1024;
/// Default import window in frames.
pub const DEFAULT_WINDOW: u64 = 16;

/// Runs the export side: creates the local buffer as its reader and publishes its frames
/// until the local writer disconnects and every live importer acknowledged the close, or
/// `link.stop` is stopped (the buffer is removed then; the local writer sees its reader gone).
///
/// # Errors
/// ZeroBuffer and zenoh errors.
pub fn export(link: crate::Link<'_>) -> Result<()> {
    let (session, cfg, stats, stop) = (link.session, link.cfg, link.stats, link.stop);
    let reader = std::sync::Arc::new(Reader::create(
        &cfg.name,
        BufferConfig::new(
            cfg.metadata_size.unwrap_or(DEFAULT_METADATA_SIZE),
            cfg.payload_size.unwrap_or(DEFAULT_PAYLOAD_SIZE),
        ),
    )?);
    let end = link::ExportEnd::open(session, cfg, stats, false)?;
    let (epoch, credits, publisher) = (end.epoch, &end.credits, &end.publisher);
    let mut seq = 0u64;
    let mut metadata_sent = false;
    stats.set_state("waiting for an importer");
    loop {
        if stop.is_stopped() {
            return Ok(());
        }
        if credits.available(Duration::from_millis(200)) == 0 {
            continue;
        }
        let frame = match Reader::read_frame_owned(&reader, Duration::from_millis(50)) {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            Err(ZbError::WriterDead { .. }) => {
                return link::finish_export(publisher, credits, stats, (epoch, seq, None), stop);
            }
            Err(e) => return Err(e.into()),
        };
        if !metadata_sent && let Some(m) = reader.metadata()? {
            let msg = Msg {
                payload: &m,
                ..Msg::new(Kind::Metadata, epoch, seq, 0, 0)
            };
            publisher.put(msg.encode()).wait().map_err(Error::zenoh)?;
            metadata_sent = true;
        }
        let len = frame.len() as u64;
        publisher
            .put(frame_message(epoch, seq, frame))
            .wait()
            .map_err(Error::zenoh)?;
        seq += 1;
        credits.advance(seq);
        let mut s = stats.lock();
        s.items += 1;
        s.bytes += len;
        s.seq = seq;
        if s.state != "running" {
            s.state = "running".into();
        }
    }
}

/// A frame message: the header, then the frame's bytes straight from the ring (no copy; zenoh
/// drops the frame, which returns its space to the local writer, once it has sent them).
fn frame_message(epoch: u64, seq: u64, frame: OwnedFrame) -> ZBytes {
    let mut header = Vec::with_capacity(HEADER);
    Msg::new(Kind::Frame, epoch, seq, 1, frame.sequence()).encode_header(&mut header);
    let mut w = ZBytes::writer();
    w.append(header.into());
    w.append(bytes::Bytes::from_owner(frame).into());
    w.finish()
}

/// Runs the import side: connects as the writer of the local buffer (waiting for its
/// reader to create it) and writes every frame received, until the exporter closes or `link.stop`
/// is stopped. Frames that fit are written on zenoh's receive thread as they arrive; the
/// others wait, in order, for the link's thread (`import.rs`).
///
/// # Errors
/// ZeroBuffer (e.g. a frame larger than the local ring) and zenoh errors.
pub fn import(link: crate::Link<'_>) -> Result<()> {
    let crate::Link {
        cfg, stats, stop, ..
    } = link;
    stats.set_state("waiting for the local reader");
    let writer = loop {
        match Writer::connect(&cfg.name) {
            Ok(w) => break w,
            Err(ZbError::BufferNotFound { .. } | ZbError::NoReader { .. }) => {
                if stop.is_stopped() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    };
    crate::import::run_link(link, Frames(Mutex::new(Some(writer))))
}

/// The importer's writer of the local buffer (`None` once closed). Its lock is never
/// contended: the link's callback and thread take turns delivering (`import.rs`).
struct Frames(Mutex<Option<Writer>>);

impl Frames {
    /// Writes the frame of `msg` (in the pieces it arrived in), waiting up to `wait` for
    /// room; units and bytes written.
    fn write(&self, msg: &Msg<'_>, wait: Duration) -> Result<(usize, u64)> {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let w = w
            .as_mut()
            .ok_or_else(|| Error::Config("a frame after the close".into()))?;
        let pieces: Vec<&[u8]> = msg.pieces().collect();
        match w.write_frame_parts_timeout(&pieces, wait) {
            Ok(_) => Ok((1, msg.payload_len() as u64)),
            Err(ZbError::BufferFull { .. }) => Ok((0, 0)),
            Err(e) => Err(e.into()),
        }
    }
}

impl Deliver for Frames {
    fn elem_size(&self) -> usize {
        0
    }

    fn try_deliver(&self, msg: &Msg<'_>, _skip: usize) -> Result<(usize, u64)> {
        self.write(msg, Duration::ZERO)
    }

    fn deliver(&self, msg: &Msg<'_>, _skip: usize, wait: Duration) -> Result<(usize, u64)> {
        self.write(msg, wait)
    }

    fn metadata(&self, payload: &[u8]) -> Result<()> {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match w.as_mut().map(|w| w.set_metadata(payload)) {
            None | Some(Ok(()) | Err(ZbError::MetadataAlreadyWritten)) => Ok(()),
            Some(Err(e)) => Err(e.into()),
        }
    }

    /// Disconnects the writer: the local reader sees the writer leave.
    fn close(&self) -> Result<()> {
        drop(self.0.lock().unwrap_or_else(PoisonError::into_inner).take());
        Ok(())
    }

    fn room(&self) -> Option<u64> {
        None
    }

    fn default_window(&self) -> u64 {
        DEFAULT_WINDOW
    }
}
