//! Objects a `zeroipc-bridge` created, recognised without changing a byte of the objects
//! themselves.
//!
//! * **Streams and channels.** Next to each stream or channel it creates, the bridge adds a
//!   companion table entry `<name>_bridge` of [`MARK_SIZE`] bytes: UTF-8 text starting with
//!   [`MARK_MAGIC`], then `key=value` lines (`role`, `kind`, `name`, `key`, `pid`), NUL-padded.
//!   The stream's or channel's own entries are exactly what an application would create.
//!   This module is the one definition of that text: the bridge writes [`Mark::encode`],
//!   `zeroipc-inspect list` reads it with [`marks`].
//! * **ZeroBuffer buffers** have a fixed layout and no table: a buffer is the bridge's when
//!   its reader or writer process is a `zeroipc-bridge` ([`bridge_process`], from
//!   `/proc/<pid>/comm`), which holds while that process lives.
//!
//! # Examples
//! ```
//! use zeroipc_inspect::bridge::Mark;
//!
//! let m = Mark {
//!     role: "import".into(),
//!     kind: "stream".into(),
//!     name: "imu".into(),
//!     key: "site1/imu".into(),
//!     pid: 4242,
//! };
//! let bytes = m.encode();
//! assert_eq!(bytes.len() as u64, zeroipc_inspect::bridge::MARK_SIZE);
//! assert_eq!(Mark::parse(&bytes), Some(m));
//! assert_eq!(Mark::parse(b"something else"), None);
//! ```

use zeroipc_format::Segment;

/// Suffix of a companion entry: `<name>_bridge` (7 bytes, like `_header`).
pub const MARK_SUFFIX: &str = "_bridge";
/// First line of a companion entry's text.
pub const MARK_MAGIC: &str = "zeroipc-bridge mark 1\n";
/// Size of a companion entry in bytes.
pub const MARK_SIZE: u64 = 256;

/// What a companion entry says: which bridge link created the object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mark {
    /// `import` or `export`.
    pub role: String,
    /// `stream` or `channel`.
    pub kind: String,
    /// The object's base name.
    pub name: String,
    /// The link's zenoh key expression.
    pub key: String,
    /// The bridge process that created it.
    pub pid: u32,
}

impl Mark {
    /// The entry's bytes: exactly [`MARK_SIZE`], the text cut to fit (a very long key is
    /// shortened) and NUL-padded.
    pub fn encode(&self) -> Vec<u8> {
        let clean = |s: &str| s.replace(['\n', '\0'], " ");
        let mut text = format!(
            "{MARK_MAGIC}role={}\nkind={}\nname={}\npid={}\nkey={}\n",
            clean(&self.role),
            clean(&self.kind),
            clean(&self.name),
            self.pid,
            clean(&self.key)
        )
        .into_bytes();
        text.truncate(MARK_SIZE as usize);
        text.resize(MARK_SIZE as usize, 0);
        text
    }

    /// Parses an entry's bytes; `None` unless they start with [`MARK_MAGIC`] and carry
    /// `role`, `kind` and `name` (nothing read from shared memory is trusted).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = std::str::from_utf8(bytes.get(..end)?).ok()?;
        let body = text.strip_prefix(MARK_MAGIC)?;
        let field = |k: &str| {
            body.lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .map(str::to_owned)
        };
        Some(Self {
            role: field("role")?,
            kind: field("kind")?,
            name: field("name")?,
            key: field("key").unwrap_or_default(),
            pid: field("pid").and_then(|p| p.parse().ok()).unwrap_or(0),
        })
    }
}

/// The companion entries of `seg` (a snapshot is loaded entry by entry), in table order.
/// Entries named `*_bridge` whose bytes are not a mark are left out.
///
/// # Errors
/// The segment's errors reading the table or an entry.
pub fn marks(seg: &Segment) -> zeroipc_format::Result<Vec<Mark>> {
    let mut out = Vec::new();
    for e in seg.entries()? {
        if !e.name().ends_with(MARK_SUFFIX) || e.size() < MARK_MAGIC.len() as u64 {
            continue;
        }
        seg.load_prefix(&e, MARK_SIZE)?;
        let r = seg.region(&e)?;
        let n = e.size().min(MARK_SIZE) as usize;
        let mut buf = vec![0u8; n];
        r.read_slice(0, &mut buf)?;
        if let Some(m) = Mark::parse(&buf) {
            out.push(m);
        }
    }
    Ok(out)
}

/// Whether process `pid` is a `zeroipc-bridge` (its `/proc/<pid>/comm`); `false` for 0, a
/// process that is gone, or one that cannot be looked at.
pub fn bridge_process(pid: u64) -> bool {
    pid != 0
        && std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim_end() == "zeroipc-bridge")
}
