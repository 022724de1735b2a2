//! # zeroipc-bridge
//!
//! Carries ZeroIPC `Stream<T>`s, `Channel<T>`s and ZeroBuffer frames
//! between machines over [zenoh](https://zenoh.io). Local processes keep using shared
//! memory; only the bridge speaks the network. A bridge process maps local objects to zenoh
//! key expressions:
//!
//! * `export`: subscribes to a local object and publishes each item with a per-link
//!   sequence number on `<key>/d`;
//! * `import`: receives the items and puts them into a local object of the same name and
//!   type (created if missing), detecting and reporting gaps, and returns credit on
//!   `<key>/c` so the exporter never sends more than the importer can take.
//!
//! zenoh is opened in peer mode with explicit TCP endpoints and multicast scouting off
//! ([`net::NetConfig`]). Delivery rules are in docs/BRIDGE.md.
//!
//! # Examples
//! ```no_run
//! use zeroipc_bridge::{BridgeConfig, run};
//!
//! let cfg = BridgeConfig::from_toml(r#"
//!     [net]
//!     listen = ["tcp/127.0.0.1:7447"]
//!     [[export]]
//!     kind = "stream"
//!     segment = "robot"
//!     name = "imu"
//!     type = "f64"
//! "#)?;
//! run(&cfg)?; // until every link finishes
//! # Ok::<(), zeroipc_bridge::Error>(())
//! ```

pub mod bench;
pub mod channel;
pub mod config;
pub mod elem;
mod error;
mod flow;
mod import;
mod items;
mod link;
pub mod net;
pub mod status;
pub mod stop;
pub mod stream;
pub mod wire;
pub mod zbuf;

pub use config::{BridgeConfig, LinkConfig, ObjectKind};
pub use error::{Error, Result};
pub use stop::Stop;

use std::time::Duration;

use status::{Stats, StatusWriter};

/// One link to run: the zenoh session it uses, its configuration, the statistics it keeps
/// up to date and the request that stops it. The link functions ([`stream::export`],
/// [`zbuf::import`], ...) each run one until it ends.
#[derive(Clone, Copy)]
pub struct Link<'a> {
    /// The zenoh session the link publishes and subscribes on.
    pub session: &'a zenoh::Session,
    /// What to carry, and how.
    pub cfg: &'a LinkConfig,
    /// The link's live statistics (what the status file shows).
    pub stats: &'a Stats,
    /// Ends the link at its next wait ([`Stop`]).
    pub stop: &'a Stop,
}

impl std::fmt::Debug for Link<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("cfg", self.cfg)
            .field("stats", self.stats)
            .field("stop", self.stop)
            .finish_non_exhaustive()
    }
}

/// Runs every link of `cfg` (one thread each) on one zenoh session until all of them
/// finish, keeping the status file up to date.
///
/// # Errors
/// The first link error: the other links are then stopped (as by [`Stop::stop`]) and the
/// error returned once they ended; [`Error::Config`]; [`Error::Zenoh`] if the session cannot
/// open.
pub fn run(cfg: &BridgeConfig) -> Result<()> {
    run_until(cfg, &Stop::new())
}

/// [`run`] until `stop` is stopped (from another thread, e.g. on a signal): then every link
/// ends at its next wait, and this returns `Ok(())` once they have (see [`Stop`]).
///
/// # Errors
/// As [`run`].
pub fn run_until(cfg: &BridgeConfig, stop: &Stop) -> Result<()> {
    cfg.check()?;
    // Stopped by the caller's `stop`, or by a failing link without stopping the caller's.
    let stop = &stop.child();
    let session = cfg.net.open()?;
    let links: Vec<(&str, &LinkConfig)> = cfg
        .export
        .iter()
        .map(|l| ("export", l))
        .chain(cfg.import.iter().map(|l| ("import", l)))
        .collect();
    let stats: Vec<Stats> = links
        .iter()
        .map(|(role, l)| Stats::new(role, l.kind.as_str(), &l.name, &l.key()))
        .collect();
    let dir = cfg.status_dir.clone().unwrap_or_else(status::default_dir);
    let _writer = StatusWriter::start(&dir, stats.clone(), Duration::from_millis(250))?;
    let result = std::thread::scope(|s| {
        let handles: Vec<_> = links
            .iter()
            .zip(&stats)
            .map(|((role, l), st)| {
                let session = &session;
                s.spawn(move || {
                    let link = Link {
                        session,
                        cfg: l,
                        stats: st,
                        stop,
                    };
                    let r = run_link(role, link);
                    if let Err(e) = &r {
                        st.set_state(format!("error: {e}"));
                        eprintln!("zeroipc-bridge: {role} {} {}: {e}", l.kind.as_str(), l.name);
                        // One link failed: the bridge ends (the others stop) and reports it.
                        stop.stop();
                    } else if stop.is_stopped() && st.lock().state != "closed" {
                        st.set_state("stopped");
                    }
                    r
                })
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(Error::Config("a link thread panicked".into())));
            if first.is_ok() {
                first = r;
            }
        }
        first
    });
    let _ = session.close().wait();
    result
}

use zenoh::Wait;

fn run_link(role: &str, link: Link<'_>) -> Result<()> {
    match (role, link.cfg.kind) {
        ("export", ObjectKind::Stream) => stream::export(link),
        ("import", ObjectKind::Stream) => stream::import(link),
        ("export", ObjectKind::Channel) => channel::export(link),
        ("import", ObjectKind::Channel) => channel::import(link),
        ("export", ObjectKind::Zerobuffer) => zbuf::export(link),
        ("import", ObjectKind::Zerobuffer) => zbuf::import(link),
        (role, _) => Err(Error::Config(format!("unknown role {role}"))),
    }
}
