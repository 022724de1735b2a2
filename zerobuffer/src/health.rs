//! Buffer health snapshot (protocol §11).

use crate::atomic::Ordering;
use crate::error::Result;
use crate::layout::{Geometry, Oieb};
use crate::ring::continuous_free;

/// Health level by ring utilisation (upstream's definition).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthLevel {
    /// Utilisation below 80 %.
    Healthy,
    /// Utilisation 80–95 %: the reader is falling behind.
    Degraded,
    /// Utilisation above 95 %: the writer is about to block.
    Critical,
}

/// A snapshot of a buffer's OIEB, for monitoring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Health {
    /// Ring size `P`.
    pub payload_size: u64,
    /// `payload_free_bytes`.
    pub free_bytes: u64,
    /// `P - free_bytes`: bytes held by unread/unreleased frames and wrap waste.
    pub used_bytes: u64,
    /// `used_bytes / P`, in `0.0..=1.0`.
    pub utilisation: f64,
    /// Level derived from `utilisation`.
    pub level: HealthLevel,
    /// `payload_written_count` (frames plus wrap markers written).
    pub frames_written: u64,
    /// `payload_read_count` (frames plus wrap markers consumed).
    pub frames_read: u64,
    /// `payload_write_pos`.
    pub write_pos: u64,
    /// `payload_read_pos`.
    pub read_pos: u64,
    /// Upstream's "continuous free space" diagnostic (§10.4).
    pub continuous_free: u64,
    /// `writer_pid` (0 = none).
    pub writer_pid: u64,
    /// `reader_pid` (0 = gone).
    pub reader_pid: u64,
}

impl Health {
    pub(crate) fn snapshot(o: &Oieb, g: &Geometry) -> Result<Self> {
        let c = o.validate(g)?;
        let used = g.p.saturating_sub(c.free);
        #[allow(clippy::cast_precision_loss)]
        let utilisation = used as f64 / g.p as f64;
        Ok(Health {
            payload_size: g.p,
            free_bytes: c.free,
            used_bytes: used,
            utilisation,
            level: level_for(utilisation),
            frames_written: o.payload_written_count.load(Ordering::Relaxed),
            frames_read: o.payload_read_count.load(Ordering::Relaxed),
            write_pos: c.write_pos,
            read_pos: c.read_pos,
            continuous_free: continuous_free(g.p, c.write_pos, c.read_pos),
            writer_pid: c.writer_pid,
            reader_pid: c.reader_pid,
        })
    }
}

/// Maps a utilisation in `0.0..=1.0` to a [`HealthLevel`].
pub fn level_for(utilisation: f64) -> HealthLevel {
    if utilisation > 0.95 {
        HealthLevel::Critical
    } else if utilisation >= 0.80 {
        HealthLevel::Degraded
    } else {
        HealthLevel::Healthy
    }
}
