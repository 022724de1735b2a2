//! [`Frame`]: a zero-copy view of one frame in the ring, released in read order;
//! [`OwnedFrame`]: the same view holding its reader by `Arc` (`'static`).

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::sync::Arc;

use super::Reader;
use crate::error::Result;

/// A frame read from the ring: a zero-copy view that returns its space to the writer when
/// dropped (or released) — in read order, so dropping a newer frame while an older one is
/// held defers the return until the older one goes.
pub struct Frame<'a> {
    pub(super) reader: &'a Reader,
    pub(super) id: u64,
    pub(super) sequence: u64,
    pub(super) writer_pid: u64,
    pub(super) data: &'a [u8],
    /// Where `data` starts in the mapping.
    pub(super) at: u64,
    pub(super) released: bool,
}

impl std::fmt::Debug for Frame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("sequence", &self.sequence)
            .field("len", &self.data.len())
            .finish()
    }
}

impl Frame<'_> {
    /// The payload bytes, straight from the ring.
    pub fn data(&self) -> &[u8] {
        self.data
    }

    /// The writer's sequence number of this frame (1, 2, ... per writer connection).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// `writer_pid` as seen in the OIEB when the frame was read (0 if the writer had already
    /// closed).
    pub fn writer_pid(&self) -> u64 {
        self.writer_pid
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// `true` for an empty payload (never the case for frames on the wire).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Releases the frame explicitly.
    ///
    /// # Errors
    /// [`Error::OutOfOrderRelease`](crate::Error::OutOfOrderRelease) if an older frame is still held; the frame then stays
    /// held (and is released later, when dropped after the older ones).
    pub fn release(mut self) -> Result<()> {
        self.reader.release_id(self.id, true)?;
        self.released = true;
        Ok(())
    }

    /// The same frame holding `reader`, the reader it was read from, by `Arc`; the release
    /// moves with it.
    pub(super) fn into_owned(mut self, reader: Arc<Reader>) -> OwnedFrame {
        debug_assert!(std::ptr::eq(self.reader, &*reader));
        self.released = true;
        OwnedFrame {
            reader,
            id: self.id,
            sequence: self.sequence,
            writer_pid: self.writer_pid,
            at: self.at,
            len: self.data.len(),
            released: false,
        }
    }
}

impl std::ops::Deref for Frame<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl Drop for Frame<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.reader.release_id(self.id, false);
        }
    }
}

/// A frame that holds its reader by `Arc` instead of borrowing it
/// ([`Reader::read_frame_owned`]): `'static`, `Send` and `Sync`, so it can go to another
/// thread or to a library that keeps the bytes until it is done with them (a network send,
/// an async task), still without a copy. Like a [`Frame`], it returns its space to the
/// writer when dropped or released, in read order, and it keeps its reader (and the buffer)
/// alive until then.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use zerobuffer::{BufferConfig, Reader, Writer};
/// # fn main() -> Result<(), zerobuffer::Error> {
/// let name = format!("doc-owned-{}", std::process::id());
/// let reader = Arc::new(Reader::create(&name, BufferConfig::new(0, 4096))?);
/// let mut writer = Writer::connect(&name)?;
/// writer.write_frame(b"to another thread")?;
/// let frame = Reader::read_frame_owned(&reader, std::time::Duration::from_secs(1))?
///     .expect("a frame was written");
/// let len = std::thread::spawn(move || frame.len()).join().expect("thread");
/// assert_eq!(len, 17);
/// assert_eq!(reader.held_frames(), 0); // dropped on that thread: its space is back
/// # Ok(()) }
/// ```
pub struct OwnedFrame {
    reader: Arc<Reader>,
    id: u64,
    sequence: u64,
    writer_pid: u64,
    at: u64,
    len: usize,
    released: bool,
}

impl std::fmt::Debug for OwnedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnedFrame")
            .field("sequence", &self.sequence)
            .field("len", &self.len)
            .finish()
    }
}

impl OwnedFrame {
    /// The payload bytes, straight from the ring.
    pub fn data(&self) -> &[u8] {
        // In bounds: checked when the frame was read (the same range as its `Frame`'s).
        self.reader.map.slice(self.at, self.len).unwrap_or_default()
    }

    /// The writer's sequence number of this frame (1, 2, ... per writer connection).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// `writer_pid` as seen in the OIEB when the frame was read (0 if the writer had already
    /// closed).
    pub fn writer_pid(&self) -> u64 {
        self.writer_pid
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for an empty payload (never the case for frames on the wire).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The reader the frame was read from.
    pub fn reader(&self) -> &Arc<Reader> {
        &self.reader
    }

    /// Releases the frame explicitly.
    ///
    /// # Errors
    /// [`Error::OutOfOrderRelease`](crate::Error::OutOfOrderRelease) if an older frame is
    /// still held; the frame then stays held (and is released later, when dropped after the
    /// older ones).
    pub fn release(mut self) -> Result<()> {
        self.reader.release_id(self.id, true)?;
        self.released = true;
        Ok(())
    }
}

impl std::ops::Deref for OwnedFrame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data()
    }
}

impl AsRef<[u8]> for OwnedFrame {
    fn as_ref(&self) -> &[u8] {
        self.data()
    }
}

impl Drop for OwnedFrame {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.reader.release_id(self.id, false);
        }
    }
}
