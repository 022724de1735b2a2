//! # zeroipc-codata
//!
//! Codata in shared memory — values that arrive over time — byte-compatible with the upstream
//! ZeroIPC C++ implementation:
//!
//! | type | what it is |
//! |---|---|
//! | [`Future`] | a value or error set once by one process, awaited by many |
//! | [`Lazy`] | a value computed once, on first demand, by whichever process asks first |
//! | [`Channel`] | CSP channel: buffered (a Queue) or unbuffered (rendezvous) |
//! | [`Stream`] | single-producer sequence with multicast [`Subscription`]s and backpressure |
//!
//! Every blocking call has a `_timeout` form and a non-blocking `try_` form. Waiting is a
//! shared futex wait in bounded slices (spec D5), so peers that never wake us (every
//! upstream implementation polls) are still seen within a slice. Every value read from
//! shared memory is validated; a corrupt segment gives [`Error`], never a panic.
//!
//! Feature `async` (on by default): `recv_async`/`send_async` on [`Channel`], [`Sender`] and
//! [`Receiver`], [`Receiver`] and [`Subscription`] as `futures_core::Stream`s,
//! [`Subscription::recv_async`], [`Future::get_async`] and [`Lazy::force_async`], on any
//! runtime, with no thread per awaiting task (see `docs/CODATA.md`, "Async").
//!
//! The crate contains no `unsafe` code.
//!
//! # Examples
//! ```
//! use std::time::Duration;
//! use zeroipc_format::Segment;
//! use zeroipc_codata::{Channel, Future};
//!
//! let seg = Segment::anonymous(1 << 16, 64)?;
//! let answer = Future::<i64>::create(&seg, "answer")?;
//! answer.set_value(42)?;
//! assert_eq!(answer.get_timeout(Duration::from_secs(1))?, 42);
//!
//! let jobs = Channel::<u32>::create(&seg, "jobs", 8)?;
//! jobs.send(7)?;
//! jobs.close()?;
//! assert_eq!(jobs.recv()?, Some(7));
//! assert_eq!(jobs.recv()?, None); // closed and drained
//! # Ok::<(), zeroipc_codata::Error>(())
//! ```

#[cfg(all(feature = "async", not(zeroipc_loom)))]
mod async_api;
mod channel;
mod common;
mod error;
mod future;
mod future_derived;
pub mod layout;
mod lazy;
mod lazy_chain;
mod lazy_subscription;
#[cfg(zeroipc_loom)]
#[doc(hidden)]
pub mod model;
mod operators;
mod operators_extra;
mod protocol;
mod select_builder;
mod stream;

pub use channel::{Channel, Receiver, Sender};
pub use error::{Error, Result, TrySendError};
pub use future::{Future, FutureState};
pub use future_derived::{DerivedFuture, WhenAll};
pub use lazy::{Lazy, LazyLayout, LazyOp, LazyState, LazyValue};
pub use lazy_chain::LazyMap;
pub use lazy_subscription::OnSubscribe;
pub use operators::Derived;
pub use operators_extra::Batches;
pub use select_builder::Select;
pub use stream::{DEFAULT_CAPACITY, SUB_SLOTS, Stream, Subscription};
pub use zeroipc_format::{Error as FormatError, Segment, SegmentOptions};

/// The guide `docs/CODATA.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/CODATA.md")]
pub struct CodataGuide;

/// The crate README's example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
