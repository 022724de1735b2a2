//! Integration tests of `zeroipc-structures` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod array;
mod convenience;
mod crash;
mod crash_matrix;
mod golden;
mod hostile;
mod hostile_headers;
mod model;
mod multiprocess;
mod scenario;
mod stress;
