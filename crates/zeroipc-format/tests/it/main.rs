//! Integration tests of `zeroipc-format` (one binary; a module per area).

mod golden;
mod hostile;
mod lifecycle;
mod table;
