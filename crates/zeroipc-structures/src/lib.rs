//! # zeroipc-structures
//!
//! Data structures that live in a ZeroIPC segment and are shared by every process that maps
//! it, byte-compatible with the upstream C++ implementation. Element types are
//! [`bytemuck::Pod`]: plain bytes, no pointers, every bit pattern valid.
//!
//! Available: [`Array`]. Queue, Stack, Ring, Map, Set and Pool follow the same pattern:
//! `memory_size(capacity)`, `create`, `open`, `open_or_create`.
//!
//! # Examples
//! ```
//! use zeroipc_format::Segment;
//! use zeroipc_structures::Array;
//!
//! let seg = Segment::anonymous(1 << 16, 64)?;
//! let a = Array::<i64>::create(&seg, "samples", 4)?;
//! a.write(0, &[1, 2, 3, 4])?;
//! assert_eq!(a.iter().sum::<i64>(), 10);
//! # Ok::<(), zeroipc_structures::Error>(())
//! ```

mod array;
mod elem;
mod error;

pub use array::Array;
pub use error::{Error, Result};
pub use zeroipc_format::{Segment, SegmentOptions};
