//! Observability: each bridge process keeps a JSON status file per process in a status
//! directory (rewritten 4 times a second, removed on a clean exit); `zeroipc-bridge status`
//! reads them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Environment variable naming the status directory.
pub const DIR_VAR: &str = "ZEROIPC_BRIDGE_STATUS_DIR";

/// The status directory: `$ZEROIPC_BRIDGE_STATUS_DIR`, else `/tmp/zeroipc-bridge-<uid>`.
pub fn default_dir() -> PathBuf {
    std::env::var_os(DIR_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(format!(
                "/tmp/zeroipc-bridge-{}",
                rustix::process::getuid().as_raw()
            ))
        })
}

/// The state of one link, as shown by `zeroipc-bridge status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// `export` or `import`.
    pub role: String,
    /// `stream`, `channel` or `zerobuffer`.
    pub kind: String,
    /// The local object's name.
    pub name: String,
    /// The zenoh key.
    pub key: String,
    /// `starting`, `waiting for ...`, `running`, `closed` or `error: ...`.
    pub state: String,
    /// The exporter's incarnation (0 until known).
    pub epoch: u64,
    /// Next link sequence number (export: to send; import: expected).
    pub seq: u64,
    /// Items (frames) carried.
    pub items: u64,
    /// Payload bytes carried.
    pub bytes: u64,
    /// Import: items missing in sequence (the reported gap). Export: items an importer
    /// lost when it went silent (sent but not acknowledged).
    pub gap_items: u64,
    /// Import: how many gaps were seen.
    pub gap_events: u64,
    /// Import: how often the exporter restarted (new epoch).
    pub restarts: u64,
    /// Export: items sent but not yet delivered by the slowest importer.
    pub lag: u64,
    /// Export: live importers.
    pub importers: u64,
    /// Malformed or foreign messages dropped.
    pub malformed: u64,
    /// Items per second over the last status period.
    pub items_per_s: f64,
}

/// A shared, updatable [`LinkStatus`].
#[derive(Debug, Clone, Default)]
pub struct Stats(Arc<Mutex<LinkStatus>>);

impl Stats {
    /// A new status for a link.
    pub fn new(role: &str, kind: &str, name: &str, key: &str) -> Self {
        Self(Arc::new(Mutex::new(LinkStatus {
            role: role.into(),
            kind: kind.into(),
            name: name.into(),
            key: key.into(),
            state: "starting".into(),
            ..LinkStatus::default()
        })))
    }

    /// Locks the status for an update.
    pub fn lock(&self) -> MutexGuard<'_, LinkStatus> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the status.
    pub fn snapshot(&self) -> LinkStatus {
        self.lock().clone()
    }

    /// Sets the state text.
    pub fn set_state(&self, s: impl Into<String>) {
        self.lock().state = s.into();
    }
}

/// One bridge process's status file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessStatus {
    /// The bridge's pid.
    pub pid: u32,
    /// When the file was written (ms since the Unix epoch).
    pub updated_ms: u64,
    /// Whether the process was alive when the file was read (filled in by [`read_all`]).
    #[serde(default)]
    pub alive: bool,
    /// The links.
    pub links: Vec<LinkStatus>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes this process's status file periodically until dropped; removes it on drop.
#[derive(Debug)]
pub struct StatusWriter {
    path: PathBuf,
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StatusWriter {
    /// Starts writing `<dir>/<pid>.json` every `period`.
    ///
    /// # Errors
    /// [`Error::Io`] if the directory cannot be created.
    pub fn start(dir: &Path, links: Vec<Stats>, period: Duration) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: format!("creating the status directory {}", dir.display()),
            source,
        })?;
        let pid = std::process::id();
        let path = dir.join(format!("{pid}.json"));
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let (p, s) = (path.clone(), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("bridge-status".into())
            .spawn(move || {
                let mut last: Vec<(u64, Instant)> = vec![(0, Instant::now()); links.len()];
                loop {
                    let mut st = ProcessStatus {
                        pid,
                        updated_ms: now_ms(),
                        alive: true,
                        links: Vec::with_capacity(links.len()),
                    };
                    for (l, prev) in links.iter().zip(last.iter_mut()) {
                        let mut g = l.lock();
                        let dt = prev.1.elapsed().as_secs_f64();
                        if dt > 0.0 {
                            g.items_per_s = g.items.saturating_sub(prev.0) as f64 / dt;
                        }
                        *prev = (g.items, Instant::now());
                        st.links.push(g.clone());
                    }
                    let _ = write_atomic(&p, &st);
                    let (m, cv) = &*s;
                    let guard = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if *guard {
                        return;
                    }
                    let (guard, _) = cv
                        .wait_timeout(guard, period)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if *guard {
                        return;
                    }
                }
            })
            .map_err(|source| Error::Io {
                what: "starting the status thread".into(),
                source,
            })?;
        Ok(Self {
            path,
            stop,
            thread: Some(thread),
        })
    }

    /// The status file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StatusWriter {
    fn drop(&mut self) {
        {
            let (m, cv) = &*self.stop;
            *m.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
            cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn write_atomic(path: &Path, st: &ProcessStatus) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_vec_pretty(st).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                // A zombie (state Z) has exited.
                s.rsplit_once(')')
                    .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
                    .unwrap_or(true)
            })
            .unwrap_or(false)
}

/// Reads every status file in `dir`, sorted by pid. Files that do not parse are skipped
/// (a file being replaced is renamed atomically, so this means a foreign file).
///
/// # Errors
/// [`Error::Io`] if the directory exists but cannot be read.
pub fn read_all(dir: &Path) -> Result<Vec<ProcessStatus>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                what: format!("reading the status directory {}", dir.display()),
                source,
            });
        }
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let Ok(text) = std::fs::read(&p) else {
            continue;
        };
        let Ok(mut st) = serde_json::from_slice::<ProcessStatus>(&text) else {
            continue;
        };
        st.alive = alive(st.pid);
        out.push(st);
    }
    out.sort_by_key(|s| s.pid);
    Ok(out)
}

/// The human-readable table of `zeroipc-bridge status`.
pub fn render(all: &[ProcessStatus]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if all.is_empty() {
        s.push_str("no bridge status files (is a bridge running with this status directory?)\n");
        return s;
    }
    let _ = writeln!(
        s,
        "{:>7} {:<6} {:<10} {:<20} {:<28} {:>10} {:>11} {:>8} {:>8} {:>4}  state",
        "pid", "role", "kind", "name", "key", "items", "items/s", "lag", "gaps", "imp"
    );
    for p in all {
        for l in &p.links {
            let _ = writeln!(
                s,
                "{:>7} {:<6} {:<10} {:<20} {:<28} {:>10} {:>11.0} {:>8} {:>8} {:>4}  {}{}",
                p.pid,
                l.role,
                l.kind,
                l.name,
                l.key,
                l.items,
                l.items_per_s,
                l.lag,
                l.gap_items,
                l.importers,
                if p.alive { "" } else { "(process gone) " },
                l.state
            );
        }
    }
    s
}
