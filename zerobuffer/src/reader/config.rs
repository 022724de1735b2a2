//! What a reader is created with ([`BufferConfig`], [`ReaderOptions`]) and what it counts
//! ([`ReaderStats`]).

use std::time::Duration;

/// Default time a read waits for a frame.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Default liveness interval: peer death is detected within about this long while waiting.
pub const DEFAULT_LIVENESS_INTERVAL: Duration = Duration::from_millis(100);

/// Requested block sizes of a buffer; both are rounded up to multiples of 64 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferConfig {
    /// Metadata block size in bytes (may be 0: then no metadata can be written).
    pub metadata_size: u64,
    /// Payload ring size in bytes (must be > 0). The largest frame is `ring - 16` bytes.
    pub payload_size: u64,
}

impl BufferConfig {
    /// A configuration with the given metadata block and payload ring sizes.
    pub const fn new(metadata_size: u64, payload_size: u64) -> Self {
        BufferConfig {
            metadata_size,
            payload_size,
        }
    }
}

impl Default for BufferConfig {
    /// Upstream's default: metadata 1024 bytes, payload 10240 bytes.
    fn default() -> Self {
        BufferConfig::new(1024, 10240)
    }
}

/// Reader tuning knobs.
#[derive(Clone, Copy, Debug)]
pub struct ReaderOptions {
    /// Length of one wait slice; writer liveness is checked after each empty slice.
    pub liveness_interval: Duration,
    /// Permission bits of the shared memory, semaphores and lock file (masked to `0o777`).
    /// The default, `0o600`, admits only processes of the same user. For a writer running
    /// as another user, use `0o660` (same group) or `0o666` (anyone) — see the README's
    /// "Cross-user buffers".
    pub mode: u32,
    /// Apply `mode` exactly, regardless of the process umask (`fchmod` on each object's
    /// open descriptor after creation). Default `true`; `false` lets the umask reduce it.
    pub exact_mode: bool,
    /// Pre-fault every page of the buffer when mapping it (`MAP_POPULATE`), so the first lap
    /// of frames does not pay page faults in the hot path (default `true`; see the
    /// `prefault` bench for the measured effect).
    pub prefault: bool,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            liveness_interval: DEFAULT_LIVENESS_INTERVAL,
            mode: 0o600,
            exact_mode: true,
            prefault: true,
        }
    }
}

/// Counters kept by this reader (local, not shared).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Frames read.
    pub frames: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Wrap markers crossed.
    pub explicit_wraps: u64,
    /// 1..15-byte tails crossed without a marker (left by upstream writers, R1).
    pub implicit_wraps: u64,
}
