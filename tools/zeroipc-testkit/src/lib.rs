//! Test helpers shared by the zeroipc-rs crates (not published).
//!
//! * [`unique_name`]: a shared-memory name unique to this process, test and call.
//! * [`ShmGuard`]: unlinks `/dev/shm` objects when dropped, so failing tests clean up too.
//! * [`Child`]: re-executes the current test binary to run one test function as a child
//!   process with a role, the way multi-process tests are written here (never `fork`).
//! * [`Runtime`]: runs an async test on tokio (current-thread and multi-thread) and smol.
//! * [`threads`]: this process's thread count (`/proc/self/status`).

// A process-local counter, never in shared memory: the atomic facade is not needed here.
#![allow(clippy::disallowed_types)]

use std::future::Future;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
