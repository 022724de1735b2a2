//! Test helpers shared by the zeroipc-rs crates (not published).
//!
//! * [`unique_name`]: a shared-memory name unique to this process, test and call.
//! * [`ShmGuard`]: unlinks `/dev/shm` objects when dropped, so failing tests clean up too;
//!   [`unique_guarded`] makes a unique name and its guard at once.
//! * [`Child`]: re-executes the current test binary to run one test function as a child
//!   process with a role, the way multi-process tests are written here (never `fork`).
//! * [`Runtime`]: runs an async test on tokio (current-thread and multi-thread) and smol.
//! * [`threads`]: this process's thread count (`/proc/self/status`).
//! * [`images`]: hand-made segment images (a sparse table).

// A process-local counter, never in shared memory: the atomic facade is not needed here.
#![allow(clippy::disallowed_types)]

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod guarded;
pub mod images;
mod park;
mod runtime_yield;
pub mod spsc;

pub use guarded::unique_guarded;
pub use park::park_forever;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Directory holding the golden segment images copied from the upstream implementations.
pub fn golden_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/golden/zeroipc")
}

/// The bytes of golden image `file` (e.g. `standard-cpp.seg`).
///
/// # Panics
/// If the file cannot be read (tests only).
pub fn golden_bytes(file: &str) -> Vec<u8> {
    std::fs::read(golden_dir().join(file)).expect("read golden image")
}

/// A name `zt_<tag>_<pid>_<n>` that no other process or call uses (at most 31 bytes for short
/// tags, so it also works as a table entry name).
pub fn unique_name(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("zt_{tag}_{}_{n}", std::process::id())
}

/// Unlinks the named shared-memory objects when dropped.
#[derive(Debug, Default)]
pub struct ShmGuard {
    names: Vec<String>,
}

impl ShmGuard {
    /// A guard for `name` (with or without the leading `/`).
    pub fn new(name: &str) -> Self {
        Self {
            names: vec![name.to_owned()],
        }
    }

    /// Also unlink `name` on drop.
    pub fn add(&mut self, name: &str) {
        self.names.push(name.to_owned());
    }
}

impl Drop for ShmGuard {
    fn drop(&mut self) {
        for name in &self.names {
            let path = format!("/{}", name.trim_start_matches('/'));
            let _ = rustix::shm::unlink(path.as_str());
        }
    }
}

/// Environment variable carrying a child's role.
pub const ROLE_VAR: &str = "ZEROIPC_TEST_ROLE";

/// The role this process was started with, if it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// A child process running one test of the current test binary.
pub struct Child {
    child: std::process::Child,
}

impl Child {
    /// Starts the current test binary running exactly `test` (its full path, e.g.
    /// `segment::two_processes_create`), with `ROLE_VAR=role` and the extra `env`.
    ///
    /// # Panics
    /// If the current executable cannot be found or started (tests only).
    pub fn spawn(test: &str, role: &str, env: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().expect("current test executable");
        let mut cmd = Command::new(exe);
        cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE_VAR, role)
            .stdin(Stdio::null())
            // The child's own harness output would interleave with the parent's; its panics
            // and assertion messages still reach stderr.
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self {
            child: cmd.spawn().expect("spawn child test process"),
        }
    }

    /// The child's pid.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the child; kills it and panics if it does not finish, and
    /// panics if it exits unsuccessfully.
    ///
    /// # Panics
    /// On timeout or failure (tests only).
    pub fn wait_success(mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait().expect("wait for child") {
                Some(status) => {
                    assert!(status.success(), "child failed: {status}");
                    return;
                }
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("child did not finish within {timeout:?}");
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Kills the child with SIGKILL and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment variable set in a test re-executed by [`private_shm`] inside its own mount
/// namespace.
pub const PRIVATE_SHM_VAR: &str = "ZEROIPC_TEST_PRIVATE_SHM";

/// Runs test `test` (its full path) of the current binary again in a private mount namespace
/// with a fresh tmpfs of `size` (e.g. `"64m"`) mounted on `/dev/shm`, and waits for it.
///
/// Returns `true` in that re-executed child, where the caller runs its scenario. In the
/// caller it returns `false` after the child passed (it panics with the child's output if the
/// child failed or ran past `timeout`), or after printing why the test cannot run here: it
/// needs root and `unshare -m` (util-linux).
///
/// # Panics
/// If the child fails or hangs (tests only).
pub fn private_shm(test: &str, size: &str, timeout: Duration) -> bool {
    private_mounts(test, &[("/dev/shm", size)], timeout)
}

/// Like [`private_shm`], with a fresh tmpfs of the given size on each `(directory, size)`
/// (for example `/tmp` as well, for tests of `/tmp/zerobuffer`).
///
/// # Panics
/// If the child fails or hangs (tests only).
pub fn private_mounts(test: &str, mounts: &[(&str, &str)], timeout: Duration) -> bool {
    if std::env::var_os(PRIVATE_SHM_VAR).is_some() {
        return true;
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("{test}: skipped: needs root to mount a private tmpfs on /dev/shm");
        return false;
    }
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("{test}: skipped: `unshare -m` is not available or not permitted here");
        return false;
    }
    let exe = std::env::current_exe().expect("current test executable");
    // The executable is held open on fd 3 and run through /proc/self/fd/3: a checkout under
    // /tmp (as CI's may be) has its test binaries hidden by the private /tmp mounted below.
    let mut script = String::from("exec 3<\"$0\" && (mount --make-rprivate / 2>/dev/null || true)");
    for (dir, size) in mounts {
        script.push_str(&format!(
            " && mount -t tmpfs -o size={size},mode=1777 zeroipc-test {dir}"
        ));
    }
    script.push_str(" && exec /proc/self/fd/3 \"$@\"");
    let mut child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(PRIVATE_SHM_VAR, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn unshare");
    let deadline = Instant::now() + timeout;
    loop {
        if child.try_wait().expect("wait for child").is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("child output");
            panic!(
                "{test} in a private /dev/shm did not finish within {timeout:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("child output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test} in a private /dev/shm failed ({}):\n{text}",
        out.status
    );
    // Show what the child measured (the text after "measured:" on its lines).
    for line in text.lines() {
        if let Some(at) = line.find("measured:") {
            eprintln!("{}", &line[at..]);
        }
    }
    false
}

/// What [`run_measured`] observed of a command.
#[derive(Debug)]
pub struct Measured {
    /// Exit code, or `None` if a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Peak resident set size in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// Wall-clock seconds.
    pub secs: f64,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Runs `argv` and reports its exit, its peak RSS and its wall time, through Python's
/// `resource.getrusage(RUSAGE_CHILDREN)` (the test crates have no `unsafe` for `wait4`).
/// `kill_after` ends a command that hangs (reported as killed by signal 9).
///
/// Returns `None` (after printing why) if `python3` is missing.
///
/// # Panics
/// If the command cannot be started (tests only).
pub fn run_measured(argv: &[&str], kill_after: Duration) -> Option<Measured> {
    const PY: &str = "import resource,subprocess,sys,time\n\
t=time.monotonic()\n\
try:\n    r=subprocess.run(sys.argv[2:],capture_output=True,timeout=float(sys.argv[1]))\n    rc=r.returncode; o=r.stdout; e=r.stderr\n\
except subprocess.TimeoutExpired as x:\n    rc=-9; o=x.stdout or b''; e=x.stderr or b''\n\
d=time.monotonic()-t\n\
m=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n\
sys.stdout.write('%d %d %f\\n'%(rc,m,d)); sys.stdout.flush()\n\
sys.stdout.buffer.write(o+b'\\0'+e)\n";
    let out = match Command::new("python3")
        .arg("-c")
        .arg(PY)
        .arg(kill_after.as_secs_f64().to_string())
        .args(argv)
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped measuring {argv:?}: python3 not available ({e})");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "measuring wrapper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (first, rest) = text.split_once('\n').expect("wrapper output");
    let mut f = first.split(' ');
    let rc: i32 = f.next().and_then(|v| v.parse().ok()).expect("rc");
    let max_rss_kib = f.next().and_then(|v| v.parse().ok()).expect("rss");
    let secs = f.next().and_then(|v| v.parse().ok()).expect("secs");
    let (stdout, stderr) = rest.split_once('\0').unwrap_or((rest, ""));
    Some(Measured {
        code: (rc >= 0).then_some(rc),
        signal: (rc < 0).then_some(-rc),
        max_rss_kib,
        secs,
        stdout: stdout.to_owned(),
        stderr: stderr.to_owned(),
    })
}

/// An async runtime the async tests run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// tokio, current-thread scheduler.
    TokioCurrent,
    /// tokio, multi-thread scheduler (2 workers).
    TokioMulti,
    /// smol (its global executor for spawned tasks).
    Smol,
}

/// A spawned task's result as a future.
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Runtime {
    /// Every runtime, in a fixed order.
    pub const ALL: [Runtime; 3] = [Runtime::TokioCurrent, Runtime::TokioMulti, Runtime::Smol];

    /// Runs `fut` to completion on a fresh runtime of this kind.
    ///
    /// # Panics
    /// If the runtime cannot be built (tests only).
    pub fn block_on<F: Future>(self, fut: F) -> F::Output {
        match self {
            Runtime::TokioCurrent => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(fut),
            Runtime::TokioMulti => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(fut),
            Runtime::Smol => smol::block_on(fut),
        }
    }

    /// Spawns `fut` as a task (call from inside [`Runtime::block_on`]); the returned future
    /// resolves to its output.
    ///
    /// # Panics
    /// The returned future panics if the task panicked (tests only).
    pub fn spawn<F>(self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Runtime::TokioCurrent | Runtime::TokioMulti => {
                let h = tokio::spawn(fut);
                Box::pin(async move { h.await.expect("task panicked") })
            }
            Runtime::Smol => Box::pin(smol::spawn(fut)),
        }
    }
}

/// This process's number of threads (`Threads:` of `/proc/self/status`).
///
/// # Panics
/// If the file cannot be read (tests only).
pub fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads: line")
}

/// Runs the loom model `f`, exploring every interleaving with at most `preemption_bound`
/// preemptions (the workspace's loom tests use 2 for the lock-free structures and 3 for the
/// synchronisation protocols, which keeps each model to seconds).
#[cfg(zeroipc_loom)]
pub fn loom_check(preemption_bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(preemption_bound);
    b.check(f);
}

/// [`loom_check`] with a preemption bound of 3.
#[cfg(zeroipc_loom)]
pub fn loom_bounded(f: impl Fn() + Sync + Send + 'static) {
    loom_check(3, f);
}

/// Waits for the one ready byte a peer process writes to its (piped) stdout with
/// [`signal_ready`] once it is set up, so the caller measures nothing of the peer's start.
///
/// # Panics
/// If the child's stdout is not piped or closes first (the peer failed to start).
pub fn wait_ready(child: &mut std::process::Child) {
    use std::io::Read;
    let mut ready = [0u8; 1];
    child
        .stdout
        .as_mut()
        .expect("the peer's stdout is piped")
        .read_exact(&mut ready)
        .expect("ready byte from the peer");
}

/// The peer's side of [`wait_ready`]: writes and flushes the ready byte.
///
/// # Panics
/// If stdout is closed.
pub fn signal_ready() {
    use std::io::Write;
    let mut out = std::io::stdout();
    out.write_all(b"R").expect("ready byte");
    out.flush().expect("flush the ready byte");
}

/// Runs `round_trip(i)` for `warm + n` rounds, starting round `i` at `period * i` after the
/// first (spinning until then, so the pace does not depend on the scheduler's timer); returns
/// how long each of the `n` rounds after the warm-up took.
pub fn paced(
    warm: usize,
    n: usize,
    period: Duration,
    mut round_trip: impl FnMut(usize),
) -> Vec<Duration> {
    let mut out = Vec::with_capacity(n);
    let start = std::time::Instant::now();
    for i in 0..warm + n {
        let due = start + period * u32::try_from(i).unwrap_or(u32::MAX);
        while std::time::Instant::now() < due {
            std::hint::spin_loop();
        }
        let t = std::time::Instant::now();
        round_trip(i);
        if i >= warm {
            out.push(t.elapsed());
        }
    }
    out
}

/// Maps all of the existing shared-memory object `path` read-write, pre-faulted
/// (`MAP_POPULATE`): what opening a segment costs at the least (the segment benchmarks'
/// baseline).
///
/// # Panics
/// If the object cannot be opened, sized or mapped.
pub fn map_shm(path: &str) -> memmap2::MmapRaw {
    let fd = rustix::shm::open(path, rustix::shm::OFlags::RDWR, rustix::fs::Mode::empty())
        .expect("shm_open");
    let st = rustix::fs::fstat(&fd).expect("fstat");
    let file = std::fs::File::from(fd);
    memmap2::MmapOptions::new()
        .len(usize::try_from(st.st_size).expect("object size"))
        .populate()
        .map_raw(&file)
        .expect("mmap")
}
