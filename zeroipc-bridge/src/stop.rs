//! Stopping running links from another thread.

use std::sync::Arc;

use zeroipc_format::atomic::{AtomicU32, Ordering};

/// A request to stop links, shared by its clones. After [`Stop::stop`], every link given
/// this `Stop` ends at its next wait (within about half a second) and returns `Ok(())`.
///
/// A stopped link leaves as a killed one would, without the close that ends a link for
/// good: its peers see it go and count what was in flight ("A bridge dies" in
/// docs/BRIDGE.md), and a bridge started again resumes the link. What it created locally
/// for the link's run goes (an exporter's ZeroBuffer); segments stay.
///
/// ```no_run
/// use zeroipc_bridge::{BridgeConfig, Stop, run_until};
///
/// let cfg = BridgeConfig::from_toml(r#"
///     [net]
///     connect = ["tcp/10.0.0.2:7447"]
///     [[export]]
///     kind = "zerobuffer"
///     name = "camera"
/// "#)?;
/// let stop = Stop::new();
/// let handle = stop.clone();
/// std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_secs(60));
///     handle.stop();
/// });
/// run_until(&cfg, &stop)?; // returns within about half a second of `stop()`
/// # Ok::<(), zeroipc_bridge::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// 1 once stopped.
    flag: AtomicU32,
    /// A stop of the parent stops this one too ([`Stop::child`]).
    parent: Option<Stop>,
}

impl Stop {
    /// A request not made yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A `Stop` that is stopped when `self` is, and that can be stopped alone (without
    /// stopping `self`): `run_until` stops its other links with it when one fails.
    pub(crate) fn child(&self) -> Self {
        Self(Arc::new(Inner {
            flag: AtomicU32::new(0),
            parent: Some(self.clone()),
        }))
    }

    /// Asks every link given this `Stop` (or a clone, or a child) to end.
    pub fn stop(&self) {
        // Release: pairs with the Acquire load in `is_stopped`; nothing else is published.
        self.0.flag.store(1, Ordering::Release);
    }

    /// Whether [`Stop::stop`] was called (on this `Stop` or the one it is a child of).
    pub fn is_stopped(&self) -> bool {
        self.0.flag.load(Ordering::Acquire) != 0
            || self.0.parent.as_ref().is_some_and(Stop::is_stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_a_stop_and_children_follow_their_parent_only() {
        let a = Stop::new();
        let b = a.clone();
        let child = a.child();
        assert!(!a.is_stopped() && !b.is_stopped() && !child.is_stopped());
        let lone = a.child();
        lone.stop();
        assert!(lone.is_stopped());
        assert!(
            !a.is_stopped() && !child.is_stopped(),
            "a child's stop stays its own"
        );
        b.stop();
        assert!(a.is_stopped() && child.is_stopped());
    }
}
