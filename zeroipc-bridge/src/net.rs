//! The zenoh session a bridge process opens: peer mode, explicit TCP endpoints, no multicast
//! scouting (peers find each other only through the endpoints they are given).

use zenoh::Wait;

use crate::error::{Error, Result};

/// zenoh's largest (and default) batch size, its unit of receive buffers.
const BATCH_MAX: usize = u16::MAX as usize;
/// Receive buffers of one batch each per link (see [`NetConfig::open`]).
const RX_POOL_BATCHES: usize = 16;
/// Batches zenoh queues for sending at data priority per link (its default: 2; see
/// [`NetConfig::open`]).
const TX_QUEUE_BATCHES: usize = 8;

/// Where a bridge listens and which peers it connects to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Endpoints to listen on, e.g. `tcp/127.0.0.1:7447`.
    #[serde(default)]
    pub listen: Vec<String>,
    /// Endpoints of peers to connect to (retried in the background until they answer).
    #[serde(default)]
    pub connect: Vec<String>,
}

impl NetConfig {
    fn check(&self) -> Result<()> {
        if self.listen.is_empty() && self.connect.is_empty() {
            return Err(Error::Config(
                "no endpoint: give --listen tcp/<ip>:<port> and/or --connect tcp/<ip>:<port>"
                    .into(),
            ));
        }
        for e in self.listen.iter().chain(&self.connect) {
            if !e.starts_with("tcp/") {
                return Err(Error::Config(format!(
                    "endpoint {e:?}: this build carries only TCP; write tcp/<ip>:<port>"
                )));
            }
        }
        Ok(())
    }

    /// Opens the zenoh session.
    ///
    /// # Errors
    /// [`Error::Config`] for no or non-TCP endpoints; [`Error::Zenoh`] if zenoh cannot open
    /// (e.g. the listen port is taken).
    pub fn open(&self) -> Result<zenoh::Session> {
        self.check()?;
        let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
        let mut c = zenoh::Config::default();
        let set = |c: &mut zenoh::Config, k: &str, v: &str| {
            c.insert_json5(k, v)
                .map_err(|e| Error::Zenoh(format!("config {k}={v}: {e}")))
        };
        set(&mut c, "mode", "\"peer\"")?;
        set(&mut c, "scouting/multicast/enabled", "false")?;
        set(&mut c, "listen/endpoints", &json(&self.listen))?;
        set(&mut c, "connect/endpoints", &json(&self.connect))?;
        // Do not fail on an absent peer: keep retrying it in the background (also after it
        // went away), quickly.
        set(&mut c, "connect/exit_on_failure", "false")?;
        set(
            &mut c,
            "connect/retry",
            "{period_init_ms: 100, period_max_ms: 1000, period_increase_factor: 2}",
        )?;
        // Receive into a pool of 16 batch buffers instead of zenoh's default of one: an
        // importer holds each received message until its items are in the local object, and
        // with a pool of one, zenoh allocates (and zeroes, and page-faults in) a fresh 64 KiB
        // buffer for nearly every batch it reads meanwhile.
        set(
            &mut c,
            "transport/link/rx/buffer_size",
            &(RX_POOL_BATCHES * BATCH_MAX).to_string(),
        )?;
        // Queue up to 8 batches for sending instead of zenoh's default of 2: the exporter's
        // data messages fill a batch each, so with 2 its `put` blocks (and is woken again by
        // zenoh's transmit thread) nearly every message while the socket drains, and the local
        // producer waits behind it (bench, 1 KiB items, load 2-5: bridged median 865 k -> 1,101
        // k items/s over 40 rounds each; zenoh's own pub/sub on the same sessions, which gets
        // the same queue, 945 k -> 983 k). zenoh allocates the batches as they are needed.
        set(
            &mut c,
            "transport/link/tx/queue/size/data",
            &TX_QUEUE_BATCHES.to_string(),
        )?;
        // Serve zenoh's admin space (read-only: `adminspace/permissions/write` stays false):
        // a joining importer queries its peers' to learn that they have processed its
        // subscription (see `import.rs`).
        set(&mut c, "adminspace/enabled", "true")?;
        zenoh::open(c).wait().map_err(Error::zenoh)
    }
}
