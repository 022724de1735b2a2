//! The crate's single error type.

use std::io;

/// Everything that can go wrong in ZeroBuffer (protocol §14).
///
/// A reader timeout is not an error: [`crate::Reader::read_frame_timeout`] returns `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The buffer name is empty, too long (> 245 bytes), or contains `/` or NUL.
    #[error("invalid buffer name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A configuration value is unusable (for example a payload size of 0).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Another live reader owns the buffer (lock held or live `reader_pid`).
    #[error("a reader is already connected to buffer {name:?}")]
    ReaderAlreadyConnected {
        /// Buffer name.
        name: String,
    },
    /// No shared-memory object with this name exists.
    #[error("buffer {name:?} not found")]
    BufferNotFound {
        /// Buffer name.
        name: String,
    },
    /// The OS refused access (`EACCES`/`EPERM`).
    #[error("permission denied: {what}")]
    PermissionDenied {
        /// The object that could not be opened.
        what: String,
    },
    /// The OIEB has the wrong size field or an incompatible major version.
    #[error("invalid OIEB: {what}")]
    InvalidOieb {
        /// Description of the mismatch.
        what: String,
    },
    /// The buffer has no live reader (at writer connect).
    #[error("no live reader on buffer {name:?}")]
    NoReader {
        /// Buffer name.
        name: String,
    },
    /// A different live writer is attached.
    #[error("another writer (pid {pid}) is already connected")]
    WriterAlreadyConnected {
        /// PID stored in `writer_pid`.
        pid: u64,
    },
    /// The reader closed or its process died.
    #[error("reader (pid {pid}) is dead or gone")]
    ReaderDead {
        /// Last known reader PID (0 if it closed gracefully).
        pid: u64,
    },
    /// The writer closed or its process died, and nothing is pending.
    #[error("writer (pid {pid}) is dead or gone")]
    WriterDead {
        /// Last known writer PID (0 if it closed gracefully).
        pid: u64,
    },
    /// The write timed out waiting for space, or the frame can never be placed at the current
    /// write position (§10.1).
    #[error("buffer full: {frame_bytes} ring bytes needed")]
    BufferFull {
        /// Ring bytes the frame needed (including any wrap waste).
        frame_bytes: u64,
    },
    /// The frame can never fit the ring (`16 + len > P`, or it would leave a 1..15-byte tail).
    #[error("frame of {len} bytes is too large for a ring of {payload_size} bytes")]
    FrameTooLarge {
        /// Requested payload length.
        len: u64,
        /// Ring size `P`.
        payload_size: u64,
    },
    /// Zero-length frame written, or a zero-size frame header where a frame must be.
    #[error("invalid frame size {size}")]
    InvalidFrameSize {
        /// The offending size.
        size: u64,
    },
    /// A frame arrived out of sequence.
    #[error("sequence error: expected {expected}, got {got}")]
    SequenceError {
        /// Sequence number the reader expected.
        expected: u64,
        /// Sequence number found in the frame header.
        got: u64,
    },
    /// Metadata is write-once and has already been written.
    #[error("metadata already written")]
    MetadataAlreadyWritten,
    /// `8 + len` exceeds the metadata block.
    #[error("metadata of {len} bytes does not fit a {capacity}-byte metadata block")]
    MetadataTooLarge {
        /// Requested metadata length.
        len: u64,
        /// Metadata block size `M`.
        capacity: u64,
    },
    /// The stored metadata length disagrees with `metadata_written_bytes`.
    #[error("invalid metadata: {what}")]
    InvalidMetadata {
        /// Description of the inconsistency.
        what: String,
    },
    /// An explicit release of a frame that is not the oldest held frame.
    #[error("frame {sequence} released out of order")]
    OutOfOrderRelease {
        /// Sequence number of the frame whose release was refused.
        sequence: u64,
    },
    /// A value in shared memory violates the protocol invariants (§4).
    #[error("corrupt buffer: {what}")]
    Corrupt {
        /// What was found.
        what: String,
    },
    /// `/dev/shm` has too little space free to reserve the buffer.
    #[error(
        "not enough space for {what}: {requested} bytes asked, {available} free in /dev/shm; \
         free space there (remove unused buffers) or enlarge it (Docker: --shm-size)"
    )]
    NoSpace {
        /// What was being created (the shared-memory name).
        what: String,
        /// Bytes asked for.
        requested: u64,
        /// Bytes free on the filesystem when it was asked.
        available: u64,
    },
    /// The lock directory or lock file is not safe to use (a symbolic link, not a regular
    /// file, owned by another user, or a world-writable directory without the sticky bit).
    #[error("refusing {path}: {reason}")]
    UnsafeLockPath {
        /// The directory or file.
        path: String,
        /// Why it was refused, and what to do.
        reason: String,
    },
    /// Any other OS failure.
    #[error("{op} failed: {source}")]
    Io {
        /// The operation that failed.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Shorthand for `Result<T, zerobuffer::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, source: impl Into<io::Error>) -> Self {
        Error::Io {
            op,
            source: source.into(),
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Error::Corrupt { what: what.into() }
    }
}
