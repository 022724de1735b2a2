//! The atomic facade: the one place the workspace names atomic types.
//!
//! Algorithm code uses the top-level names ([`AtomicU32`], [`AtomicU64`], ...), which are the
//! `core` atomics in a normal build and loom's model-checked atomics under
//! `RUSTFLAGS="--cfg zeroipc_loom"`. Memory shared with other processes can only ever hold the
//! hardware atomics, so views over a mapped segment hand out the types in [`shared`], which
//! never change with the configuration.
//!
//! The workspace `clippy.toml` forbids naming `core::sync::atomic` types anywhere else.
#![allow(clippy::disallowed_types)]

pub use core::sync::atomic::Ordering;

#[cfg(not(zeroipc_loom))]
pub use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, fence,
};

#[cfg(zeroipc_loom)]
pub use loom::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, fence,
};

/// Hardware atomics, as overlaid on shared memory.
///
/// These are always the `core` types: a word in a segment is read and written by other
/// processes that know nothing of loom, so the bytes must be the plain hardware atomic.
pub mod shared {
    pub use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64};
}
