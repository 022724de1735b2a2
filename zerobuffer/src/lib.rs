//! ZeroBuffer: one writer process sends frames (byte strings) to one reader process through
//! a ring in POSIX shared memory, signalled by two POSIX named semaphores.
//!
//! This crate speaks protocol 1.0.0 byte-for-byte like the PyPI package `zerobuffer-ipc`
//! 1.3.0 and the upstream C++ library, plus the robustness rules of the project's protocol
//! contract (early wrap, in-order release of several held frames, fast liveness detection,
//! distrust of every shared value). Linux and glibc only.
//!
//! ```
//! use zerobuffer::{BufferConfig, Reader, Writer};
//! # fn main() -> Result<(), zerobuffer::Error> {
//! let name = format!("doc-lib-{}", std::process::id());
//! let reader = Reader::create(&name, BufferConfig::new(1024, 64 * 1024))?;
//! let mut writer = Writer::connect(&name)?;
//! for i in 0..10u8 {
//!     writer.write_frame(&[i; 100])?;
//! }
//! for i in 0..10u8 {
//!     let frame = reader.read_frame()?.expect("frame");
//!     assert_eq!(frame.data(), &[i; 100]);
//! }
//! # Ok(()) }
//! ```
//!
//! See `docs/ZEROBUFFER.md` for the user guide (capacity planning, health monitoring).

#[cfg(all(feature = "async", not(zeroipc_loom)))]
mod async_io;
mod atomic;
mod attach;
pub mod duplex;
mod error;
mod health;
mod inspect;
mod layout;
mod liveness;
mod metadata;
mod names;
mod os;
mod reader;
mod resources;
pub mod ring;
#[cfg(not(zeroipc_loom))]
mod server;
mod wait;
mod writer;

pub use duplex::{DuplexClient, DuplexServer, Handler, ServerStats};
pub use error::{Error, Result};
pub use health::{Health, HealthLevel, level_for};
pub use inspect::{BufferSnapshot, OiebFields, StaleBuffer, inspect, inspect_file, scan_stale};
pub use layout::{FRAME_HEADER_SIZE, OIEB_SIZE, oieb_offsets};
pub use liveness::is_process_alive;
pub use names::{LOCK_DIR, MAX_NAME_LEN, validate_name};
pub use reader::{
    BufferConfig, DEFAULT_LIVENESS_INTERVAL, DEFAULT_READ_TIMEOUT, Frame, OwnedFrame, Reader,
    ReaderOptions, ReaderStats,
};
#[cfg(not(zeroipc_loom))]
pub use server::ServerHandle;
pub use writer::{DEFAULT_WRITE_TIMEOUT, Writer, WriterOptions};

/// The crate README's example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
