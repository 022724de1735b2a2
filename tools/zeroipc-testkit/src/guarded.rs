//! A unique shared-memory name together with the guard that unlinks it.

use crate::{ShmGuard, unique_name};

/// A [`unique_name`] for `tag` and the [`ShmGuard`] that unlinks it when dropped (keep the
/// guard alive for as long as the test uses the name).
pub fn unique_guarded(tag: &str) -> (String, ShmGuard) {
    let name = unique_name(tag);
    let guard = ShmGuard::new(&name);
    (name, guard)
}
