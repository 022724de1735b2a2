//! Integration tests of `zeroipc-codata` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod basic;
mod crash;
mod golden;
mod multiprocess;
