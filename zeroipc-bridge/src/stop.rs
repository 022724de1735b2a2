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
pub struct Stop(Arc<AtomicU32>);

impl Stop {
    /// A request not made yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every link given this `Stop` (or a clone) to end.
    pub fn stop(&self) {
        // Release: pairs with the Acquire load in `is_stopped`; nothing else is published.
        self.0.store(1, Ordering::Release);
    }

    /// Whether [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }
}
