//! Look into ZeroIPC segments and ZeroBuffer buffers without changing them: the library behind
//! the `zeroipc-inspect` command.
//!
//! - [`infer()`] guesses a table entry's kind and element type from what the format stores
//!   (sizes, header invariants) and from the words of its name.
//! - [`decode()`] turns a structure into ordered [`Fields`] (the golden JSON's keys first,
//!   then what a person looking at it wants), through each structure crate's read-only API.
//! - [`golden_json`] and [`table_json`] give a segment as the golden JSON files
//!   (`interop/golden/zeroipc/*.json`, spec §8.2) hold it: the one decoder of the workspace,
//!   also used by the interop peer.
//! - [`bridge`] recognises the objects a `zeroipc-bridge` created (companion entries, bridge
//!   processes as buffer peers).
//! - [`cmd`] holds the subcommands of the binary (`list`, `show`, `monitor`, `dump`, `gc`).
//!
//! Nothing here writes to a segment, takes a lock or registers a peer.
//!
//! # Examples
//! ```
//! use zeroipc_format::Segment;
//! use zeroipc_inspect::{Guess, infer};
//! use zeroipc_structures::Queue;
//!
//! let seg = Segment::anonymous(65536, 16)?;
//! Queue::<f64>::create(&seg, "readings_f64", 8)?;
//! let entries = seg.entries()?;
//! let guess = infer(&seg, &entries, "readings_f64");
//! assert_eq!(guess.label(), "queue<float64>");
//! let Guess::Known { spec, .. } = guess else { unreachable!() };
//! let json = zeroipc_inspect::golden_json(&seg, "readings_f64", spec)?;
//! assert_eq!(json["capacity"], 8);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bridge;
pub mod cmd;
pub mod decode;
pub mod dtype;
pub mod error;
mod fmt;
pub mod golden;
pub mod infer;
pub mod prim;
mod source;

pub use decode::{F32Form, Fields, Scalar, View, decode};
pub use dtype::{Dtype, Kind, Spec, Typing};
pub use error::{CliError, Result};
pub use golden::{golden_json, golden_keys, header_json, table_json};
pub use infer::{DtypeSource, Guess, infer};
pub use prim::{Origin, parts, upstream_parts};

/// The crate README's example, compiled and run as a doctest so the README stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
