//! Integration tests of `zeroipc-sync` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod basic;
mod golden;
mod hostile;
