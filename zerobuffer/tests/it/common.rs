//! Shared helpers: unique names, leak checks, child processes, test patterns.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Error, Reader, Writer};
use zeroipc_testkit::park_forever;

/// A buffer name unique to this test and process.
pub fn unique(tag: &str) -> String {
    format!("zbt-{tag}-{}", std::process::id())
}

/// The files a buffer `name` may leave behind.
pub fn resource_paths(name: &str) -> [String; 4] {
    [
        format!("/dev/shm/{name}"),
        format!("/dev/shm/sem.sem-w-{name}"),
        format!("/dev/shm/sem.sem-r-{name}"),
        format!("/tmp/zerobuffer/{name}.lock"),
    ]
}

/// Asserts that nothing of buffer `name` exists any more.
pub fn assert_clean(name: &str) {
    for p in resource_paths(name) {
        assert!(!std::path::Path::new(&p).exists(), "leaked {p}");
    }
}

/// Removes whatever a killed reader left behind, through the library's own stale cleanup.
pub fn cleanup_by_new_reader(name: &str) {
    if let Ok(r) = create(name, BufferConfig::new(0, 64)) {
        drop(r);
    }
    assert_clean(name);
}

/// Frame `i` of the interop pattern: length `min + (i*37) % (max-min+1)`, byte `j` is
/// `(i*7 + j) & 0xff`.
pub fn pattern(i: u64, min: u64, max: u64) -> Vec<u8> {
    let len = min + (i * 37) % (max - min + 1);
    (0..len).map(|j| ((i * 7 + j) & 0xff) as u8).collect()
}

/// A child process running one role of this test binary.
pub struct Peer {
    pub child: Child,
    lines: Receiver<String>,
    reaped: bool,
}

impl Peer {
    /// Spawns this test binary as child with `ZB_ROLE=role` and extra environment.
    pub fn spawn(role: &str, env: &[(&str, String)]) -> Peer {
        Self::spawn_as(role, env, None)
    }

    /// Like [`Peer::spawn`], optionally as another user id (and the same group id).
    pub fn spawn_as(role: &str, env: &[(&str, String)], uid: Option<u32>) -> Peer {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = Command::new(exe);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        cmd.args([
            "child_process_entry_point",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZB_ROLE", role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn child");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            child,
            lines: rx,
            reaped: false,
        }
    }

    /// Spawns the child `role` on the buffer `name` (with `env` besides `ZB_NAME`) and waits
    /// up to 10 s for its `ZB:<ready>` line.
    pub fn started(role: &str, name: &str, env: &[(&str, String)], ready: &str) -> Peer {
        let mut all = vec![("ZB_NAME", name.to_owned())];
        all.extend_from_slice(env);
        let peer = Self::spawn(role, &all);
        peer.expect_line(ready, Duration::from_secs(10));
        peer
    }

    /// Waits for a stdout line starting with `ZB:<tag>` and returns the rest.
    pub fn expect_line(&self, tag: &str, timeout: Duration) -> String {
        let want = format!("ZB:{tag}");
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                // libtest may print "test ... " on the same line first.
                Ok(l) if l.contains(&want) => {
                    let at = l.find(&want).unwrap_or(0) + want.len();
                    return l[at..].trim().to_owned();
                }
                Ok(_) => {}
                Err(e) => panic!("child did not print {want}: {e}"),
            }
        }
    }

    /// SIGKILLs the child without reaping it (it stays a zombie until `reap`).
    pub fn kill_no_reap(&mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill");
    }

    /// Waits for the child and returns its exit status code (None if killed).
    pub fn reap(&mut self) -> Option<i32> {
        self.reaped = true;
        self.child.wait().expect("wait").code()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// SIGKILLs `child`, a writer that wrote the frames `0..n` of the 1..=1024 pattern and then
/// hangs, and asserts that `reader` still gets each of them intact (F2.1), then `WriterDead`
/// within 3 s of the kill (the liveness bound, §12). Returns how long after the kill it came.
pub fn kill_writer_then_drain(reader: &Reader, child: &mut Peer, n: u64) -> Duration {
    child.kill_no_reap();
    let killed = Instant::now();
    for i in 0..n {
        let f = reader.read_frame().expect("drain").expect("frame");
        assert_eq!(f.sequence(), i + 1, "sequence of frame {i}");
        assert_eq!(
            f.data(),
            pattern(i, 1, 1024).as_slice(),
            "bytes of frame {i}"
        );
    }
    let err = reader
        .read_frame_timeout(Duration::from_secs(10))
        .expect_err("writer is dead");
    let took = killed.elapsed();
    assert!(matches!(err, Error::WriterDead { .. }), "got {err:?}");
    assert!(took < Duration::from_secs(3), "WriterDead after {took:?}");
    took
}

/// `w`, the first writer of this connection, sends `data`; asserts that `reader` gets it as
/// frame 1, then closes both and asserts that nothing of the buffer `name` is left.
pub fn one_frame_then_close(reader: Reader, mut w: Writer, name: &str, data: &[u8]) {
    w.write_frame(data).expect("write");
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!((f.sequence(), f.data()), (1, data));
    drop(f);
    close_both(reader, w, name);
}

/// Spawns the `writer-stream` role on the buffer `name`: a writer process that sends the
/// frames `0..n` of the `min..=max` pattern (and metadata), then exits.
pub fn writer_stream(name: &str, n: u64, min: u64, max: u64) -> Peer {
    Peer::spawn(
        "writer-stream",
        &[
            ("ZB_NAME", name.to_owned()),
            ("ZB_N", n.to_string()),
            ("ZB_MIN", min.to_string()),
            ("ZB_MAX", max.to_string()),
        ],
    )
}

/// The next frame `reader` gets within `secs` seconds; none (a timeout) fails the test.
pub fn next_frame(reader: &Reader, secs: u64) -> zerobuffer::Frame<'_> {
    reader
        .read_frame_timeout(Duration::from_secs(secs))
        .expect("read")
        .unwrap_or_else(|| panic!("no frame within {secs} s"))
}

/// The next response `c` gets within `secs` seconds; none (a timeout) fails the test.
pub fn next_response(c: &zerobuffer::DuplexClient, secs: u64) -> zerobuffer::Frame<'_> {
    c.receive_response(Duration::from_secs(secs))
        .expect("receive")
        .unwrap_or_else(|| panic!("no response within {secs} s"))
}

/// A fresh buffer for a test: its unique name (from `tag`) and its reader (created with
/// `config`).
pub fn created(tag: &str, config: BufferConfig) -> (String, Reader) {
    let name = unique(tag);
    let reader = create(&name, config).expect("create");
    (name, reader)
}

/// Closes the reader and asserts that nothing of the buffer `name` is left.
pub fn close_reader(reader: Reader, name: &str) {
    drop(reader);
    assert_clean(name);
}

/// A fresh buffer for a test: its unique name (from `tag`), its reader (created with
/// `config`) and a connected writer.
pub fn connected(tag: &str, config: BufferConfig) -> (String, Reader, Writer) {
    let (name, reader) = created(tag, config);
    let writer = Writer::connect(&name).expect("connect");
    (name, reader, writer)
}

/// Closes the writer, then the reader, and asserts that nothing of the buffer `name` is left.
pub fn close_both(reader: Reader, writer: Writer, name: &str) {
    drop(writer);
    close_reader(reader, name);
}

/// Writes the frames `0..n` of the `min..=max` pattern.
fn write_pattern(w: &mut Writer, n: u64, min: u64, max: u64) {
    for i in 0..n {
        w.write_frame(&pattern(i, min, max)).expect("write");
    }
}

fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn create_server(name: &str) -> zerobuffer::DuplexServer {
    zerobuffer::DuplexServer::create(name, BufferConfig::new(4096, 1024 * 1024)).expect("server")
}

/// Runs a child role; returns the exit code.
pub fn run_child_role(role: &str) -> i32 {
    let name = std::env::var("ZB_NAME").expect("ZB_NAME");
    let n = env_u64("ZB_N", 10);
    let min = env_u64("ZB_MIN", 1);
    let max = env_u64("ZB_MAX", 1024);
    let payload = env_u64("ZB_P", 64 * 1024);
    match role {
        // Creates a reader, announces it, never reads; killed by the parent.
        "reader-hold" => {
            let _r = create(&name, BufferConfig::new(256, payload)).expect("create");
            println!("ZB:READY");
            park_forever()
        }
        // Writes metadata and n pattern frames, then hangs until killed.
        "writer-hang" => {
            let mut w = Writer::connect(&name).expect("connect");
            write_pattern(&mut w, n, min, max);
            println!("ZB:WROTE {n}");
            park_forever()
        }
        // Writes n pattern frames, reserves a frame (zero-copy), half fills it, hangs
        // until killed before committing it.
        "writer-hang-mid-frame" => {
            let mut w = Writer::connect(&name).expect("connect");
            write_pattern(&mut w, n, min, max);
            let buf = w.get_frame_buffer(512).expect("reserve");
            buf[..256].fill(0xEE);
            println!("ZB:RESERVED {n}");
            park_forever()
        }
        // As another user: plants a dangling symlink where the lock file of `name` will be.
        "plant-lock-symlink" => {
            let target = std::env::var("ZB_TARGET").expect("ZB_TARGET");
            let _ = std::fs::create_dir("/tmp/zerobuffer");
            let link = format!("/tmp/zerobuffer/{name}.lock");
            let outcome = match std::os::unix::fs::symlink(&target, &link) {
                Ok(()) => "planted".to_owned(),
                Err(e) => format!("failed:{e}"),
            };
            println!("\nZB:RESULT {outcome}");
            0
        }
        // Under umask ZB_UMASK (octal): creates a reader with default options and reports
        // the modes of its four objects.
        "create-with-umask" => {
            let mask = u32::from_str_radix(&std::env::var("ZB_UMASK").expect("ZB_UMASK"), 8)
                .expect("octal umask");
            rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
            let r = create(&name, BufferConfig::new(0, 4096)).expect("create");
            let modes: Vec<String> = resource_paths(&name)
                .iter()
                .map(|p| {
                    use std::os::unix::fs::PermissionsExt;
                    let m = std::fs::metadata(p).expect("stat").permissions().mode();
                    format!("{:o}", m & 0o7777)
                })
                .collect();
            println!("\nZB:MODES {}", modes.join(" "));
            drop(r);
            0
        }
        // Tries to connect a writer and reports the outcome.
        "writer-connect-report" => {
            let outcome = match Writer::connect(&name) {
                Ok(_) => "Connected".to_owned(),
                Err(e) => format!("{e:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            };
            println!("\nZB:RESULT {outcome}");
            0
        }
        // Writes metadata and n pattern frames, then exits normally.
        "writer-stream" => {
            let mut w = Writer::connect(&name).expect("connect");
            // Write-once: a later writer on the same buffer finds it already written.
            match w.set_metadata(format!("{{\"frames\":{n}}}").as_bytes()) {
                Ok(()) | Err(zerobuffer::Error::MetadataAlreadyWritten) => {}
                Err(e) => panic!("metadata: {e}"),
            }
            for i in 0..n {
                let data = pattern(i, min, max);
                if i % 2 == 0 {
                    w.write_frame(&data).expect("write");
                } else {
                    let buf = w.get_frame_buffer(data.len()).expect("reserve");
                    buf.copy_from_slice(&data);
                    w.commit_frame().expect("commit");
                }
            }
            println!("ZB:DONE {n}");
            0
        }
        // Echo server; on request "hang" it announces PROCESSING and never answers.
        "duplex-server" => {
            let mut server = create_server(&name);
            println!("\nZB:READY");
            loop {
                let _ = server.serve_one(&mut |req, out| {
                    if req.data() == b"hang" {
                        println!("\nZB:PROCESSING");
                        park_forever()
                    }
                    out.write_frame(req.data()).map(|_| ())
                });
            }
        }
        // Client that sends a slow request, announces it and waits to be killed.
        "duplex-client-slow" => {
            let mut c =
                zerobuffer::DuplexClient::connect_with(&name, BufferConfig::new(4096, 1024 * 1024))
                    .expect("client");
            c.send_request(b"slow").expect("send");
            println!("\nZB:SENT");
            park_forever()
        }
        // Announces it is waiting, then connects with `connect_timeout` (the reader is created
        // by the parent afterwards) and writes n pattern frames.
        "writer-connect-wait" => {
            println!("\nZB:WAITING");
            let mut w = Writer::connect_timeout(&name, Duration::from_secs(60)).expect("connect");
            write_pattern(&mut w, n, min, max);
            println!("\nZB:WROTE {} {}", w.frames_written(), w.bytes_written());
            0
        }
        // Duplex client: sends n pattern requests and checks each response is the request
        // reversed (the server in the parent was started with `DuplexServer::start`).
        "duplex-client-reverse" => {
            let mut c =
                zerobuffer::DuplexClient::connect_with(&name, BufferConfig::new(4096, 1024 * 1024))
                    .expect("client");
            for i in 0..n {
                let req = pattern(i, min, max);
                c.send_request(&req).expect("send");
                let resp = next_response(&c, 60);
                let mut want = req.clone();
                want.reverse();
                assert_eq!(resp.data(), &want[..], "response {i}");
            }
            println!("\nZB:CHECKED {n}");
            0
        }
        other => {
            eprintln!("unknown role {other}");
            2
        }
    }
}

/// Serialises stale-resource assertions against reader creation in other tests (every
/// `Reader::create` cleans stale resources of *all* names).
pub static STALE_GUARD: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// `Reader::create` under the shared side of [`STALE_GUARD`].
pub fn create(name: &str, config: BufferConfig) -> zerobuffer::Result<Reader> {
    let _g = STALE_GUARD.read().unwrap_or_else(|e| e.into_inner());
    Reader::create(name, config)
}

/// Overwrites bytes of the shared-memory object `/dev/shm/NAME` (as a hostile peer would).
pub fn poke(name: &str, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .expect("open shm file");
    f.write_all_at(bytes, offset).expect("pwrite");
}

/// Reads bytes of `/dev/shm/NAME`.
pub fn peek(name: &str, offset: u64, len: usize) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(format!("/dev/shm/{name}")).expect("open shm file");
    let mut buf = vec![0; len];
    f.read_exact_at(&mut buf, offset).expect("pread");
    buf
}
