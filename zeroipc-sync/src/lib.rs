//! # zeroipc-sync
//!
//! Cross-process synchronisation primitives that live in a ZeroIPC segment, byte-compatible
//! with the upstream C++ implementation: [`Semaphore`], [`Mutex`], [`RwLock`], [`Monitor`],
//! [`Barrier`], [`Latch`], [`Once`], [`Event`] and [`Signal`].
//!
//! Waiting (spec D5): a waiter spins for a budget calibrated to the measured cost of a
//! park (see [`backoff`]), then sleeps with a **shared** futex on the
//! layout's 32-bit word in bounded slices (1 ms at first, growing to at most
//! [`futex::max_slice`], 10 ms by default, for long waits; see [`futex`]), re-checking its
//! condition after every slice. Project wakers call `FUTEX_WAKE` (only when the layout's
//! waiter counter says someone may sleep, where there is one); upstream peers never do, and
//! the bounded slice still lets us see their changes within about a millisecond. Every
//! blocking call has a `_timeout` form, so a crashed peer cannot hang the others forever;
//! [`Mutex`] additionally detects a dead holder (see [`MutexGuard::owner_died`]).
//!
//! Feature `async` (on by default): every blocking wait has an `*_async` form
//! ([`Semaphore::acquire_async`], [`Mutex::lock_async`], [`RwLock::read_async`],
//! [`RwLock::write_async`], [`Event::wait_async`], [`Latch::wait_async`],
//! [`Barrier::wait_async`], [`Signal::wait_for_change_async`]) that works on any runtime:
//! a few helper threads per process sleep on the futex words of all pending waits at once
//! (see [`reactor`]).
//!
//! The crate contains no `unsafe` code: futexes go through `rustix::thread::futex`, memory
//! through `zeroipc_format::Region`.
//!
//! # Examples
//! ```
//! use zeroipc_format::Segment;
//! use zeroipc_sync::{Latch, Mutex};
//!
//! let seg = Segment::anonymous(1 << 16, 64)?;
//! let m = Mutex::create(&seg, "m")?;
//! let ready = Latch::create(&seg, "ready", 1)?;
//! drop(m.lock()?);
//! ready.count_down(1)?;
//! ready.wait()?; // already released: returns at once
//! # Ok::<(), zeroipc_sync::Error>(())
//! ```

#[cfg(all(feature = "async", not(zeroipc_loom)))]
mod async_api;
pub mod backoff;
mod barrier;
mod common;
mod error;
mod event;
pub mod futex;
mod latch;
pub mod layout;
#[cfg(zeroipc_loom)]
#[doc(hidden)]
pub mod model;
mod monitor;
mod mutex;
mod once;
pub mod owner;
#[cfg(all(feature = "async", not(zeroipc_loom)))]
pub mod reactor;
mod rwlock;
mod semaphore;
mod semaphore_guard;
mod signal;

pub use barrier::Barrier;
pub use error::{Error, Result};
pub use event::{Event, EventMode};
pub use latch::Latch;
pub use monitor::{Monitor, MonitorGuard};
pub use mutex::{Mutex, MutexGuard, OWNER_SIZE, OWNER_SUFFIX, add_with_owner, find_owner};
pub use once::{Once, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::Semaphore;
pub use semaphore_guard::SemaphoreGuard;
pub use signal::Signal;
pub use zeroipc_format::{Error as FormatError, Segment, SegmentOptions};

/// The crate README's example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
