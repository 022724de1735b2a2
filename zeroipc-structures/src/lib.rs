//! # zeroipc-structures
//!
//! Data structures that live in a ZeroIPC segment and are shared by every process that maps
//! it, byte-compatible with the upstream C++ implementation. Element types are
//! [`bytemuck::Pod`]: plain bytes, no pointers, every bit pattern valid.
//!
//! | structure | what it is |
//! |---|---|
//! | [`Array`] | fixed-size array, no synchronisation |
//! | [`Queue`] | bounded lock-free MPMC queue |
//! | [`Ring`] | single-producer single-consumer ring, capacity stored in bytes |
//! | [`Stack`] | bounded lock-free LIFO with bounded slot claims |
//! | [`Map`] | lock-free hash map (C++ entry layout and hash) |
//! | [`Set`] | lock-free hash set |
//! | [`Pool`] | fixed nodes handed out by index from a lock-free free list |
//!
//! Each has `memory_size(capacity)` (a `const fn`), `create`, `open` (which validates every
//! header field against the entry) and `open_or_create`. Full and empty are values, not
//! errors: `push` gives the value back in [`PushError::Full`], `pop` returns `Ok(None)`.
//! Errors are for corrupt shared state, type mismatches and segment problems.
//!
//! # One vocabulary
//!
//! The structures here and their siblings in `zeroipc-codata` use the same name and return
//! type for the same notion. A method that reads shared memory returns `Result`: a read of a
//! corrupt segment is an error, never a made-up 0.
//!
//! | notion | call | returns | on |
//! |---|---|---|---|
//! | elements held | `len()` | `Result<usize>` | Queue, Stack, Ring, Map, Set, Pool (allocated nodes), Channel |
//! | nothing held | `is_empty()` | `Result<bool>` | Queue, Stack, Ring, Map, Set, Pool, Channel |
//! | no room | `is_full()` | `Result<bool>` | Queue, Stack, Ring, Map, Set, Pool |
//! | room left | `free_slots()` | `Result<usize>` | Queue, Stack, Ring, Map, Set, Pool |
//! | room in all | `capacity()` | `usize` (fixed at open) | every structure, Channel, Stream |
//! | read everything, remove nothing | `snapshot()` | `Result<Vec<_>>` | Queue, Stack, Ring, Map (`(K, V)` pairs), Set |
//! | add without blocking | `push`/`write`/`insert`, `try_send`, `try_emit` | `Result<_, PushError<T>>`; codata: [`TrySendError<T>`](PushError) | full gives the value back in `Full(v)` |
//! | take a node / give it back | `allocate()` / `deallocate(i)` | `Result<Option<u32>>` / `Result<()>` | Pool |
//! | the table entry | `entry()` | `&Entry` | every structure |
//!
//! [`Array`] is not concurrent: its `len()` is its fixed element count (`usize`).
//! Errors every crate shares ([`FormatError::SizeMismatch`], [`FormatError::TypeMismatch`],
//! [`FormatError::Incomplete`], [`FormatError::InvalidArgument`]) are defined once in
//! `zeroipc-format` and arrive in [`Error::Format`].
//!
//! # Examples
//! ```
//! use zeroipc_format::Segment;
//! use zeroipc_structures::{Array, Queue};
//!
//! let seg = Segment::anonymous(1 << 16, 64)?;
//! let a = Array::<i64>::create(&seg, "samples", 4)?;
//! a.write(0, &[1, 2, 3, 4])?;
//! assert_eq!(a.iter().sum::<i64>(), 10);
//!
//! let q = Queue::<i64>::create(&seg, "work", 16)?;
//! q.push_slice(&[5, 6, 7])?;
//! assert_eq!(q.pop()?, Some(5));
//! # Ok::<(), zeroipc_structures::Error>(())
//! ```

mod array;
mod common;
mod elem;
mod error;
mod hash;
pub mod layout;
#[cfg(zeroipc_loom)]
#[doc(hidden)]
pub mod loom_models;
mod map;
mod pool;
mod probe;
mod queue;
mod ring;
mod set;
mod stack;
mod word;

pub use array::Array;
pub use error::{Error, PushError, Result};
pub use hash::{key_hash, murmur64a};
pub use map::Map;
pub use pool::Pool;
pub use queue::Queue;
pub use ring::{ReadView, Ring};
pub use set::Set;
pub use stack::Stack;
pub use zeroipc_format::{Error as FormatError, Segment, SegmentOptions};

/// The crate README's example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
