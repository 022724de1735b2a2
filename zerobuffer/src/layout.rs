//! Shared-memory layout of a ZeroBuffer segment (protocol §3): the 128-byte OIEB, the
//! metadata block and the payload ring, plus the validation of every OIEB value (§4).

use crate::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::error::{Error, Result};

/// Size of the OIEB in bytes.
pub const OIEB_SIZE: u64 = 128;
/// Size of a frame header (`u64 payload_size`, `u64 sequence_number`).
pub const FRAME_HEADER_SIZE: u64 = 16;
/// Protocol version bytes `01 00 00 00` as a little-endian `u32`.
pub(crate) const VERSION_1_0_0: u32 = 0x0000_0001;

/// Byte offsets of the OIEB's fields in its 128 bytes (protocol §3.1), for code that reads
/// or measures a buffer's bytes without this crate's handles (such as [`crate::inspect`]).
/// The crate's own layout type is asserted against them at compile time.
///
/// ```
/// use zerobuffer::oieb_offsets as at;
/// assert_eq!(at::PAYLOAD_FREE_BYTES, 0x28);
/// assert_eq!(at::RESERVED + 32, zerobuffer::OIEB_SIZE as usize);
/// ```
pub mod oieb_offsets {
    /// `oieb_size`.
    pub const OIEB_SIZE: usize = 0x00;
    /// `version`.
    pub const VERSION: usize = 0x04;
    /// `metadata_size`.
    pub const METADATA_SIZE: usize = 0x08;
    /// `metadata_free_bytes`.
    pub const METADATA_FREE_BYTES: usize = 0x10;
    /// `metadata_written_bytes`.
    pub const METADATA_WRITTEN_BYTES: usize = 0x18;
    /// `payload_size`.
    pub const PAYLOAD_SIZE: usize = 0x20;
    /// `payload_free_bytes`.
    pub const PAYLOAD_FREE_BYTES: usize = 0x28;
    /// `payload_write_pos`.
    pub const PAYLOAD_WRITE_POS: usize = 0x30;
    /// `payload_read_pos`.
    pub const PAYLOAD_READ_POS: usize = 0x38;
    /// `payload_written_count`.
    pub const PAYLOAD_WRITTEN_COUNT: usize = 0x40;
    /// `payload_read_count`.
    pub const PAYLOAD_READ_COUNT: usize = 0x48;
    /// `writer_pid`.
    pub const WRITER_PID: usize = 0x50;
    /// `reader_pid`.
    pub const READER_PID: usize = 0x58;
    /// `reserved` (four `u64`).
    pub const RESERVED: usize = 0x60;
}

/// Operation Info Exchange Block, at offset 0 of the segment.
///
/// Every field is an atomic because another process reads or writes it concurrently. Each
/// field has exactly one writer except `payload_free_bytes` (reader adds, writer subtracts).
#[repr(C)]
pub(crate) struct Oieb {
    /// Always 128. Written last but one at creation (before `reader_pid`).
    pub oieb_size: AtomicU32,
    /// Bytes major, minor, patch, reserved (`01 00 00 00`) read as a little-endian u32.
    pub version: AtomicU32,
    /// `M`, a multiple of 64. Constant after creation.
    pub metadata_size: AtomicU64,
    /// `M - metadata_written_bytes`. Writer.
    pub metadata_free_bytes: AtomicU64,
    /// 0 (none) or `8 + content length`, at most `M`. Writer.
    pub metadata_written_bytes: AtomicU64,
    /// `P`, a non-zero multiple of 64. Constant after creation.
    pub payload_size: AtomicU64,
    /// Ring bytes not held by unreleased frames or unreclaimed waste, `<= P`. Both sides.
    pub payload_free_bytes: AtomicU64,
    /// Writer's ring offset, `0..=P`. Writer.
    pub payload_write_pos: AtomicU64,
    /// Reader's ring offset, `0..P`. Reader.
    pub payload_read_pos: AtomicU64,
    /// Frames plus markers written. Writer. Not trusted for decisions.
    pub payload_written_count: AtomicU64,
    /// Frames plus markers consumed. Reader. Not trusted for decisions.
    pub payload_read_count: AtomicU64,
    /// 0 = no writer. Writer (connect/close, compare-and-swap).
    pub writer_pid: AtomicU64,
    /// 0 = reader gone. Reader (published last at creation).
    pub reader_pid: AtomicU64,
    /// Reserved, kept zero.
    pub reserved: [AtomicU64; 4],
}

#[cfg(not(zeroipc_loom))]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<Oieb>() == 128);
    assert!(offset_of!(Oieb, oieb_size) == oieb_offsets::OIEB_SIZE);
    assert!(offset_of!(Oieb, version) == oieb_offsets::VERSION);
    assert!(offset_of!(Oieb, metadata_size) == oieb_offsets::METADATA_SIZE);
    assert!(offset_of!(Oieb, metadata_free_bytes) == oieb_offsets::METADATA_FREE_BYTES);
    assert!(offset_of!(Oieb, metadata_written_bytes) == oieb_offsets::METADATA_WRITTEN_BYTES);
    assert!(offset_of!(Oieb, payload_size) == oieb_offsets::PAYLOAD_SIZE);
    assert!(offset_of!(Oieb, payload_free_bytes) == oieb_offsets::PAYLOAD_FREE_BYTES);
    assert!(offset_of!(Oieb, payload_write_pos) == oieb_offsets::PAYLOAD_WRITE_POS);
    assert!(offset_of!(Oieb, payload_read_pos) == oieb_offsets::PAYLOAD_READ_POS);
    assert!(offset_of!(Oieb, payload_written_count) == oieb_offsets::PAYLOAD_WRITTEN_COUNT);
    assert!(offset_of!(Oieb, payload_read_count) == oieb_offsets::PAYLOAD_READ_COUNT);
    assert!(offset_of!(Oieb, writer_pid) == oieb_offsets::WRITER_PID);
    assert!(offset_of!(Oieb, reader_pid) == oieb_offsets::READER_PID);
    assert!(offset_of!(Oieb, reserved) == oieb_offsets::RESERVED);
    assert!(size_of::<Oieb>() as u64 == OIEB_SIZE);
};

/// `round_up_64(x) = (x + 63) & !63`, `None` on overflow.
pub(crate) fn round_up_64(x: u64) -> Option<u64> {
    Some(x.checked_add(63)? & !63)
}

/// Sizes of a segment, validated: `M % 64 == 0`, `P % 64 == 0`, `P > 0`, and the offsets of
/// the blocks fit in `usize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Metadata block size `M`.
    pub m: u64,
    /// Payload ring size `P`.
    pub p: u64,
    /// `128 + M`.
    pub payload_offset: u64,
    /// `128 + M + P`.
    pub total: u64,
}

impl Geometry {
    /// Validates `M` and `P` as read from (or about to be written to) an OIEB.
    pub(crate) fn new(m: u64, p: u64) -> Result<Self> {
        if !m.is_multiple_of(64) || !p.is_multiple_of(64) || p == 0 {
            return Err(Error::corrupt(format!(
                "block sizes not multiples of 64 or empty ring (M={m}, P={p})"
            )));
        }
        let payload_offset = OIEB_SIZE
            .checked_add(m)
            .ok_or_else(|| Error::corrupt("metadata size overflows"))?;
        let total = payload_offset
            .checked_add(p)
            .ok_or_else(|| Error::corrupt("payload size overflows"))?;
        if usize::try_from(total).is_err() || isize::try_from(total).is_err() {
            return Err(Error::corrupt("segment larger than the address space"));
        }
        Ok(Geometry {
            m,
            p,
            payload_offset,
            total,
        })
    }
}

/// A consistent snapshot of the fields a peer validates at every operation (§4).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked {
    pub free: u64,
    pub write_pos: u64,
    pub read_pos: u64,
    pub writer_pid: u64,
    pub reader_pid: u64,
}

impl Oieb {
    /// An all-zero OIEB as a Rust value (the loom backend keeps the OIEB outside any mapping).
    #[cfg(zeroipc_loom)]
    pub(crate) fn zeroed() -> Self {
        Oieb {
            oieb_size: AtomicU32::new(0),
            version: AtomicU32::new(0),
            metadata_size: AtomicU64::new(0),
            metadata_free_bytes: AtomicU64::new(0),
            metadata_written_bytes: AtomicU64::new(0),
            payload_size: AtomicU64::new(0),
            payload_free_bytes: AtomicU64::new(0),
            payload_write_pos: AtomicU64::new(0),
            payload_read_pos: AtomicU64::new(0),
            payload_written_count: AtomicU64::new(0),
            payload_read_count: AtomicU64::new(0),
            writer_pid: AtomicU64::new(0),
            reader_pid: AtomicU64::new(0),
            reserved: [
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
            ],
        }
    }

    /// Checks `oieb_size` and the major version (`InvalidOieb`).
    pub(crate) fn check_header(&self) -> Result<()> {
        let size = self.oieb_size.load(Ordering::Acquire);
        if u64::from(size) != OIEB_SIZE {
            return Err(Error::InvalidOieb {
                what: format!("oieb_size is {size}, expected 128"),
            });
        }
        let major = self.version.load(Ordering::Relaxed) & 0xff;
        if major != 1 {
            return Err(Error::InvalidOieb {
                what: format!("protocol major version {major}, expected 1"),
            });
        }
        Ok(())
    }

    /// Validates the whole OIEB against the cached geometry (§4). Any violation is `Corrupt`
    /// (or `InvalidOieb` for the header fields).
    pub(crate) fn validate(&self, g: &Geometry) -> Result<Checked> {
        self.check_header()?;
        let m = self.metadata_size.load(Ordering::Relaxed);
        let p = self.payload_size.load(Ordering::Relaxed);
        if m != g.m || p != g.p {
            return Err(Error::corrupt(format!(
                "OIEB sizes changed (M={m}, P={p}; expected M={}, P={})",
                g.m, g.p
            )));
        }
        let free = self.payload_free_bytes.load(Ordering::Acquire);
        if free > p {
            return Err(Error::corrupt(format!(
                "payload_free_bytes {free} exceeds P={p}"
            )));
        }
        let write_pos = self.payload_write_pos.load(Ordering::Acquire);
        if write_pos > p {
            return Err(Error::corrupt(format!(
                "payload_write_pos {write_pos} exceeds P={p}"
            )));
        }
        let read_pos = self.payload_read_pos.load(Ordering::Acquire);
        if read_pos >= p {
            return Err(Error::corrupt(format!(
                "payload_read_pos {read_pos} not below P={p}"
            )));
        }
        Ok(Checked {
            free,
            write_pos,
            read_pos,
            writer_pid: self.writer_pid.load(Ordering::Acquire),
            reader_pid: self.reader_pid.load(Ordering::Acquire),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_up_examples_from_spec() {
        assert_eq!(round_up_64(100), Some(128));
        assert_eq!(round_up_64(1000), Some(1024));
        assert_eq!(round_up_64(0), Some(0));
        assert_eq!(round_up_64(64), Some(64));
        assert_eq!(round_up_64(u64::MAX), None);
    }

    #[test]
    fn geometry_rejects_bad_sizes() {
        assert!(Geometry::new(0, 0).is_err());
        assert!(Geometry::new(1, 64).is_err());
        assert!(Geometry::new(64, 65).is_err());
        assert!(Geometry::new(u64::MAX - 63, 64).is_err());
        let g = Geometry::new(128, 1024).expect("valid");
        assert_eq!(g.payload_offset, 256);
        assert_eq!(g.total, 1280);
    }
}
