//! [`Frame`]: a zero-copy view of one frame in the ring, released in read order.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

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
