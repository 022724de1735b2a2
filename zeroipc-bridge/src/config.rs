//! Link configuration: from command-line flags (one link) or a TOML file (any number).
//!
//! ```toml
//! [net]
//! listen = ["tcp/127.0.0.1:7447"]
//! connect = ["tcp/127.0.0.1:7448"]
//!
//! [[export]]
//! kind = "stream"
//! segment = "robot"
//! name = "imu"
//! type = "f64"
//! capacity = 1024
//!
//! [[import]]
//! kind = "channel"
//! segment = "robot"
//! name = "jobs"
//! type = "u64"
//! capacity = 256
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::net::NetConfig;

/// Default size of a segment the bridge creates (64 MiB).
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 << 20;

/// What a link carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A ZeroIPC `Stream<T>` (multicast: any number of importers).
    Stream,
    /// A ZeroIPC `Channel<T>` (point to point, credit-based flow control).
    Channel,
    /// A ZeroBuffer frame ring.
    Zerobuffer,
}

impl ObjectKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Channel => "channel",
            Self::Zerobuffer => "zerobuffer",
        }
    }
}

/// One exported or imported object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// What the link carries.
    #[arg(long, value_enum)]
    pub kind: ObjectKind,
    /// The object's name (stream/channel base name, or the ZeroBuffer name).
    #[arg(long)]
    pub name: String,
    /// The local segment holding the stream or channel (not used for ZeroBuffer).
    #[arg(long)]
    #[serde(default)]
    pub segment: Option<String>,
    /// Size of the segment if the bridge creates it, in bytes.
    #[arg(long)]
    #[serde(default)]
    pub segment_size: Option<u64>,
    /// Element type: u8..u128, i8..i128, f32, f64, bytes:N (streams and channels).
    #[arg(long = "type")]
    #[serde(default, rename = "type")]
    pub elem: Option<String>,
    /// Capacity in elements of an object the bridge creates (streams and channels).
    #[arg(long)]
    #[serde(default)]
    pub capacity: Option<usize>,
    /// The zenoh key expression (default `zeroipc/<kind>/<name>`).
    #[arg(long)]
    #[serde(default)]
    pub key: Option<String>,
    /// Import side: items the exporter may send ahead of what was delivered locally
    /// (default: a Stream's capacity or 16 MiB of items, whichever is more; a Channel's free
    /// space; 16 ZeroBuffer frames).
    #[arg(long)]
    #[serde(default)]
    pub window: Option<u64>,
    /// Import side: this importer's id (default: random per run).
    #[arg(long)]
    #[serde(default)]
    pub importer_id: Option<u64>,
    /// ZeroBuffer export: payload ring size of the buffer the bridge creates as its reader
    /// (bytes, default 4 MiB, rounded up to 64).
    #[arg(long)]
    #[serde(default)]
    pub payload_size: Option<u64>,
    /// ZeroBuffer export: metadata block size of that buffer (bytes, default 1024).
    #[arg(long)]
    #[serde(default)]
    pub metadata_size: Option<u64>,
    /// Export side: how long an importer may stay silent before it stops holding the link
    /// back (milliseconds, default 5000).
    #[arg(long)]
    #[serde(default)]
    pub peer_timeout_ms: Option<u64>,
}

impl LinkConfig {
    /// The zenoh key of the link.
    pub fn key(&self) -> String {
        self.key
            .clone()
            .unwrap_or_else(|| format!("zeroipc/{}/{}", self.kind.as_str(), self.name))
    }

    /// The element size in bytes.
    ///
    /// # Errors
    /// [`Error::Config`] if the type is missing (streams and channels) or unknown.
    pub fn elem_size(&self) -> Result<usize> {
        let t = self.elem.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "{}: --type (or `type` in the file) is required for a {}",
                self.name,
                self.kind.as_str()
            ))
        })?;
        crate::elem::size_of_type(t)
    }

    /// The segment name.
    ///
    /// # Errors
    /// [`Error::Config`] if missing.
    pub fn segment(&self) -> Result<&str> {
        self.segment.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "{}: --segment (or `segment` in the file) is required for a {}",
                self.name,
                self.kind.as_str()
            ))
        })
    }

    /// Opens the link's segment, creating it if absent.
    ///
    /// # Errors
    /// The segment's errors.
    pub fn open_segment(&self) -> Result<zeroipc_format::Segment> {
        let size = self.segment_size.unwrap_or(DEFAULT_SEGMENT_SIZE);
        Ok(zeroipc_format::Segment::open_or_create(
            self.segment()?,
            size,
            64,
        )?)
    }

    /// Marks the object this link just created in `seg` with a companion entry
    /// `<name>_bridge` (see `zeroipc_inspect::bridge`), so `zeroipc-inspect list` labels it.
    /// The object's own entries are untouched. A segment without room for the entry only
    /// loses the label (logged).
    pub fn mark_created(&self, seg: &zeroipc_format::Segment, role: &str) {
        use zeroipc_inspect::bridge::{MARK_SIZE, MARK_SUFFIX, Mark};
        let mark = Mark {
            role: role.into(),
            kind: self.kind.as_str().into(),
            name: self.name.clone(),
            key: self.key(),
            pid: std::process::id(),
        };
        let entry = format!("{}{MARK_SUFFIX}", self.name);
        let bytes = mark.encode();
        if let Err(e) = seg.add(&entry, MARK_SIZE, |r| r.write_slice(0, &bytes)) {
            eprintln!(
                "zeroipc-bridge: {}: created, but not marked as the bridge's ({entry}: {e}); \
                 zeroipc-inspect list will not label it",
                self.name
            );
        }
    }

    /// How long an importer may stay silent.
    pub fn peer_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.peer_timeout_ms.unwrap_or(5000))
    }
}

/// A bridge process: its network endpoints and its links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// zenoh endpoints.
    #[serde(default)]
    pub net: NetConfig,
    /// Where status files go (default: see [`crate::status::default_dir`]).
    #[serde(default)]
    pub status_dir: Option<PathBuf>,
    /// Objects exported to the network.
    #[serde(default)]
    pub export: Vec<LinkConfig>,
    /// Objects imported from the network.
    #[serde(default)]
    pub import: Vec<LinkConfig>,
}

impl BridgeConfig {
    /// Parses a TOML configuration.
    ///
    /// # Errors
    /// [`Error::Config`] with the parser's message (line and column).
    pub fn from_toml(text: &str) -> Result<Self> {
        let c: Self = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    /// Reads and parses a TOML file.
    ///
    /// # Errors
    /// [`Error::Io`]; [`Error::Config`].
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            what: format!("reading {}", path.display()),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Checks every link (types known, segments named).
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn check(&self) -> Result<()> {
        if self.export.is_empty() && self.import.is_empty() {
            return Err(Error::Config("no [[export]] or [[import]] link".into()));
        }
        for l in self.export.iter().chain(&self.import) {
            if l.kind != ObjectKind::Zerobuffer {
                l.elem_size()?;
                l.segment()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let text = r#"
            [net]
            listen = ["tcp/127.0.0.1:7447"]
            [[export]]
            kind = "stream"
            segment = "robot"
            name = "imu"
            type = "f64"
            capacity = 1024
            [[import]]
            kind = "channel"
            segment = "robot"
            name = "jobs"
            type = "u64"
        "#;
        let c = BridgeConfig::from_toml(text).unwrap();
        assert_eq!(c.export.len(), 1);
        assert_eq!(c.export[0].elem_size().unwrap(), 8);
        assert_eq!(c.export[0].key(), "zeroipc/stream/imu");
        assert_eq!(c.import[0].kind, ObjectKind::Channel);
        assert!(BridgeConfig::from_toml("[[export]]\nkind = \"stream\"\nname = \"x\"").is_err());
        assert!(BridgeConfig::from_toml("bogus = 1").is_err());
    }
}
