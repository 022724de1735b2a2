//! Integration tests of `zeroipc-inspect`: they run the binary as a user would.
//!
//! Multi-process tests re-execute this test binary with `ZI_ROLE` set; the child runs the
//! role in [`child_process_entry_point`] instead of a test.

#[allow(dead_code)] // the multi-process helpers arrive with their tests
mod common;
mod corrupt;
mod golden;

/// Entry point of the child processes of the multi-process tests. Without `ZI_ROLE` (a
/// normal test run) it does nothing.
#[test]
fn child_process_entry_point() {
    if let Ok(role) = std::env::var("ZI_ROLE") {
        eprintln!("unknown role {role}");
        std::process::exit(99);
    }
}
