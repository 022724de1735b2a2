//! Integration tests of the `zerobuffer` crate (one binary, a module per area).
//!
//! Multi-process tests re-execute this binary with `ZB_ROLE` set; the child runs the role in
//! [`child_process_entry_point`] instead of a test.

mod api;
mod asyncs;
mod common;
mod corruption;
mod duplex;
mod lifecycle;
mod model;
mod roundtrip;
mod scenarios;
mod security;

/// Entry point for child processes spawned by the multi-process tests. Without `ZB_ROLE`
/// (a normal test run) it has nothing to do; with it, it runs the requested role and exits.
#[test]
fn child_process_entry_point() {
    if let Ok(role) = std::env::var("ZB_ROLE") {
        let code = common::run_child_role(&role);
        std::process::exit(code);
    }
}
