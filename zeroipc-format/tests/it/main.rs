//! Integration tests of `zeroipc-format` (one binary; a module per area).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod filesystem;
mod golden;
mod hostile;
mod lifecycle;
mod table;
