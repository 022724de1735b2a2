//! Integration tests of `zeroipc-bridge`: two segment names stand in for two machines; the
//! bridges run as child processes (the crate's binary) talking zenoh over 127.0.0.1.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod channel;
mod netns;
mod stop;
mod stream;
mod zbuf;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeroipc_bridge::status::{self, LinkStatus};
use zeroipc_testkit::{ShmGuard, unique_name};

/// Generous bound for anything a test waits for (the machine is shared and loaded).
pub(crate) const LIMIT: Duration = Duration::from_secs(120);

/// What every link test sets up: two segment names standing in for the two machines
/// (unlinked on drop, also when a test fails), a status directory, a unique zenoh key and a
/// free local endpoint.
pub(crate) struct Setup {
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) dir: TempDir,
    pub(crate) key: String,
    pub(crate) ep: String,
    _guard: ShmGuard,
}

impl Setup {
    pub(crate) fn new(tag: &str) -> Self {
        let (a, b) = (
            unique_name(&format!("{tag}a")),
            unique_name(&format!("{tag}b")),
        );
        let mut guard = ShmGuard::new(&a);
        guard.add(&b);
        Self {
            dir: TempDir::new(tag),
            key: format!("zt/{}", unique_name("k")),
            ep: format!("tcp/127.0.0.1:{}", free_port()),
            a,
            b,
            _guard: guard,
        }
    }

    /// `head` (the role, the local object, an endpoint), then `common` (the link's kind,
    /// name, type and key), then `--status-dir` this setup's directory.
    pub(crate) fn args<'x>(&'x self, head: &[&'x str], common: &[&'x str]) -> Vec<&'x str> {
        [head, common, &["--status-dir", self.d()]].concat()
    }

    /// Starts `zeroipc-bridge` with [`Setup::args`].
    pub(crate) fn bridge(&self, head: &[&str], common: &[&str]) -> Bridge {
        Bridge::start(&self.args(head, common))
    }

    /// The status directory, as a bridge argument.
    pub(crate) fn d(&self) -> &str {
        self.dir.0.to_str().unwrap()
    }
}

/// A Stream link's two ends: the stream "ticks" (u64, 1,024 items) in segment `a` (the
/// exporter's source) and in segment `b` (the importer's target), a subscription to the far
/// one, and the two segments.
pub(crate) type StreamPair = (
    zeroipc_codata::Stream<u64>,
    zeroipc_codata::Stream<u64>,
    zeroipc_codata::Subscription<u64>,
    (zeroipc_format::Segment, zeroipc_format::Segment),
);

impl Setup {
    /// Creates both segments and the [`StreamPair`].
    pub(crate) fn streams(&self) -> StreamPair {
        use zeroipc_codata::Stream;
        use zeroipc_format::Segment;
        let seg_a = Segment::create(&self.a, 4 << 20, 64).unwrap();
        let seg_b = Segment::create(&self.b, 4 << 20, 64).unwrap();
        let src = Stream::<u64>::create(&seg_a, "ticks", 1024).unwrap();
        let far = Stream::<u64>::create(&seg_b, "ticks", 1024).unwrap();
        let sub = far.subscribe().unwrap();
        (src, far, sub, (seg_a, seg_b))
    }
}

/// A free TCP port on 127.0.0.1 (the kernel picks it; the listener is closed again).
pub(crate) fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A status directory unique to the test, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(unique_name(tag));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bridge child process, killed on drop if still running.
pub(crate) struct Bridge {
    child: std::process::Child,
    pub(crate) pid: u32,
}

impl Bridge {
    /// Starts `zeroipc-bridge <args>`.
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::start_with(env!("CARGO_BIN_EXE_zeroipc-bridge"), args)
    }

    /// Starts `program <args>`, a program that execs the bridge (e.g. `ip netns exec`).
    pub(crate) fn start_with(program: &str, args: &[&str]) -> Self {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        Self { child, pid }
    }

    /// SIGKILL and reap.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to [`LIMIT`] for a successful exit.
    pub(crate) fn wait_success(mut self) {
        let end = Instant::now() + LIMIT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "bridge {} failed: {st}", self.pid);
                return;
            }
            assert!(Instant::now() < end, "bridge {} did not finish", self.pid);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The status of bridge `pid`'s first link, once its file exists.
pub(crate) fn link_status(dir: &Path, pid: u32) -> Option<LinkStatus> {
    status::read_all(dir)
        .unwrap()
        .into_iter()
        .find(|p| p.pid == pid)
        .and_then(|p| p.links.into_iter().next())
}

/// The `bridge` labels `zeroipc-inspect list` gives the object `/dev/shm/<name>`.
pub(crate) fn listed_bridge(name: &str) -> serde_json::Value {
    let rows = zeroipc_inspect::cmd::list::rows(Path::new("/dev/shm"), false).unwrap();
    rows.into_iter()
        .find(|r| r["name"] == name)
        .map(|r| r["bridge"].clone())
        .unwrap_or_else(|| panic!("{name} not listed"))
}

/// Polls `cond` every 10 ms until it holds or [`LIMIT`] passes (a liveness bound).
pub(crate) fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + LIMIT;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
