//! Running the binary, unique names, cleanup, child roles.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use zeroipc_format::atomic::{AtomicU32, Ordering};

use serde_json::Value;

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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/golden/zeroipc")
}

/// Unlinks a ZeroIPC segment on drop.
pub struct SegGuard(pub String);

impl Drop for SegGuard {
    fn drop(&mut self) {
        let _ = zeroipc_format::Segment::unlink(&self.0);
    }
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

/// Waits until the child prints a line starting with `READY` on stdout.
pub fn wait_ready(child: &mut ChildGuard) {
    use std::io::BufRead;
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("READY") => break,
            Some(Ok(_)) => {}
            other => panic!("child ended before READY: {other:?}"),
        }
    }
    // Keep draining in the background so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
}
