//! Integration tests of `zeroipc-sync` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod asyncs;
mod basic;
mod crash;
mod crash_matrix;
mod golden;
mod hostile;
mod interop;
mod multiprocess;
