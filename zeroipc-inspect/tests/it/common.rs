//! Running the binary, unique names, cleanup, child roles.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use zeroipc_format::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use zeroipc_format::Segment;

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_zeroipc-inspect"))
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run zeroipc-inspect")
}

/// Runs the binary, expects exit 0, parses stdout as one JSON value.
pub fn run_json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The exit code and one-line stderr of a failing run.
pub fn run_fail(args: &[&str]) -> (i32, String) {
    let out = run(args);
    let code = out
        .status
        .code()
        .expect("exited normally (no signal/panic abort)");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (code, err)
}

/// A name unique to this process and call.
pub fn unique(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "zi_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The golden images directory.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/golden/zeroipc")
}

/// Unlinks a ZeroIPC segment on drop.
pub struct SegGuard(pub String);

impl Drop for SegGuard {
    fn drop(&mut self) {
        let _ = zeroipc_format::Segment::unlink(&self.0);
    }
}

/// A new shared-memory segment `SIZE` bytes with `entries` table entries under a unique name
/// for `tag`: `(name, guard that unlinks it, segment)`.
pub fn live_segment(tag: &str, size: u64, entries: u32) -> (String, SegGuard, Segment) {
    let name = unique(tag);
    let guard = SegGuard(name.clone());
    let seg = Segment::create(&name, size, entries).expect("create segment");
    (name, guard, seg)
}

/// Removes a file on drop.
pub struct FileGuard(pub PathBuf);

impl Drop for FileGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(unique(tag));
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed and reaped on drop.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Re-executes this test binary as `role` with `args` in `ZI_ARGS` (space-separated).
pub fn spawn_child(role: &str, args: &str) -> ChildGuard {
    let exe = std::env::current_exe().expect("current exe");
    let child = Command::new(exe)
        .args([
            "child_process_entry_point",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZI_ROLE", role)
        .env("ZI_ARGS", args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    ChildGuard(child)
}

/// Waits (at most 60 s) until the child prints `ZI_READY` on stdout.
pub fn wait_ready(child: &mut ChildGuard) {
    use std::io::BufRead;
    let stdout = child.0.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads every line, so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            match line {
                // libtest may print "test NAME ... " before the child's output on one line.
                Ok(l) if l.contains("ZI_READY") => {
                    let _ = tx.send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("child did not report ZI_READY within 60 s");
}

/// Runs a child role; returns the exit code.
pub fn run_child_role(role: &str) -> i32 {
    let args = std::env::var("ZI_ARGS").unwrap_or_default();
    let args: Vec<&str> = args.split(' ').collect();
    match role {
        "producer" => crate::monitor::producer(&args),
        "zb_reader" => crate::gc::reader(&args),
        "emitter" => crate::monitor::emitter(&args),
        "zb_writer" => crate::monitor::zb_writer(&args),
        other => {
            eprintln!("unknown role {other}");
            99
        }
    }
}

/// Serialises the tests that create ZeroBuffer readers: a reader's creation removes every
/// stale buffer, which would race with the `gc` test's killed reader.
pub fn zerobuffer_serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
