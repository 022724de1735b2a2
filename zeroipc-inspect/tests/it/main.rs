//! Integration tests of `zeroipc-inspect`: they run the binary as a user would.
//!
//! Multi-process tests re-execute this test binary with `ZI_ROLE` set; the child runs the
//! role in [`child_process_entry_point`] instead of a test.

mod common;
mod corrupt;
mod files;
mod gc;
mod golden;
mod live;
mod monitor;
mod prim;

/// Entry point of the child processes of the multi-process tests. Without `ZI_ROLE` (a
/// normal test run) it does nothing.
#[test]
fn child_process_entry_point() {
    if let Ok(role) = std::env::var("ZI_ROLE") {
        let code = common::run_child_role(&role);
        std::process::exit(code);
    }
}
