//! `zerobuffer-peer`: one side of a ZeroBuffer interop run, printing a one-line JSON summary.
//!
//! Frame `i` carries sequence `i + 1`, has length `min + (i*37) % (max-min+1)`, and byte `j`
//! is `(i*7 + j) & 0xff`. The writer writes JSON metadata `{"peer":"rust","frames":N}` first.
//! `interop/python/zerobuffer_peer.py` implements the same command line on top of the PyPI
//! package `zerobuffer-ipc` 1.3.0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use zerobuffer::{BufferConfig, Error, Reader, ReaderOptions, Writer};

#[derive(Parser, Debug)]
#[command(about = "ZeroBuffer interop peer (Rust)")]
struct Cli {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// Create the buffer and read N frames, verifying every byte.
    Reader(Common),
    /// Connect to the buffer and write N frames.
    Writer(Common),
}

#[derive(Args, Debug)]
struct Common {
    /// Buffer name.
    name: String,
    /// Number of frames.
    n: u64,
    /// Payload ring size (reader).
    #[arg(long, default_value_t = 1 << 20)]
    payload_size: u64,
    /// Metadata block size (reader).
    #[arg(long, default_value_t = 4096)]
    metadata_size: u64,
    /// Smallest frame length.
    #[arg(long, default_value_t = 1)]
    min_size: u64,
    /// Largest frame length.
    #[arg(long, default_value_t = 1024)]
    max_size: u64,
    /// Seconds a read waits for a frame (reader), or the write timeout (writer).
    #[arg(long, default_value_t = 10.0)]
    read_timeout: f64,
    /// Stop after K frames and hang until killed (summary is written to --json-out first).
    #[arg(long)]
    hang_after: Option<u64>,
    /// Also write the summary to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Seconds the writer retries connecting while the reader is not there yet.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,
    /// Skip byte verification (reader), for throughput runs.
    #[arg(long)]
    no_verify: bool,
    /// Read with `Reader::read_frame_async` (no runtime: `zeroipc_sync::reactor::block_on`)
    /// instead of the blocking `read_frame_timeout` (reader).
    #[arg(long)]
    async_read: bool,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn frame_len(c: &Common, i: u64) -> u64 {
    let span = c.max_size.saturating_sub(c.min_size).saturating_add(1);
    c.min_size + (i.wrapping_mul(37)) % span
}

fn fill(buf: &mut [u8], i: u64) {
    let base = i.wrapping_mul(7);
    for (j, b) in buf.iter_mut().enumerate() {
        *b = (base.wrapping_add(j as u64) & 0xff) as u8;
    }
}

fn verify(data: &[u8], i: u64) -> bool {
    let base = i.wrapping_mul(7);
    data.iter()
        .enumerate()
        .all(|(j, b)| *b == (base.wrapping_add(j as u64) & 0xff) as u8)
}

fn error_kind(e: &Error) -> String {
    let dbg = format!("{e:?}");
    dbg.split([' ', '{', '('])
        .next()
        .unwrap_or("Error")
        .to_owned()
}

fn emit(summary: &Value, out: Option<&PathBuf>) {
    let line = summary.to_string();
    println!("{line}");
    if let Some(path) = out {
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, format!("{line}\n")).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// `read_frame_timeout` through the async API: awaits `read_frame_async` and gives up (as
/// `Ok(None)`) once `timeout` passed. The pending read's helper wakes the future at least once
/// per liveness slice (100 ms), so the deadline is checked that often.
fn read_async_timeout(
    reader: &Reader,
    timeout: Duration,
) -> Result<Option<zerobuffer::Frame<'_>>, Error> {
    let deadline = Instant::now() + timeout;
    let mut fut = std::pin::pin!(reader.read_frame_async());
    zeroipc_sync::reactor::block_on(std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Pending if Instant::now() >= deadline => std::task::Poll::Ready(Ok(None)),
        other => other,
    }))
}

fn read<'a>(
    reader: &'a Reader,
    c: &Common,
    timeout: Duration,
) -> Result<Option<zerobuffer::Frame<'a>>, Error> {
    if c.async_read {
        read_async_timeout(reader, timeout)
    } else {
        reader.read_frame_timeout(timeout)
    }
}

fn run_reader(c: &Common) -> Value {
    let mut s = json!({
        "role": "reader", "impl": if c.async_read { "rust-async" } else { "rust" }, "name": c.name, "expected": c.n,
        "frames": 0, "bytes": 0, "bad_frames": 0, "error": null, "error_at_ms": null,
        "metadata": null, "metadata_ok": false, "ok": false,
    });
    let reader = match Reader::create_with(
        &c.name,
        BufferConfig::new(c.metadata_size, c.payload_size),
        ReaderOptions::default(),
    ) {
        Ok(r) => r,
        Err(e) => {
            s["error"] = json!(error_kind(&e));
            s["detail"] = json!(e.to_string());
            return s;
        }
    };
    let timeout = Duration::from_secs_f64(c.read_timeout.max(0.001));
    let mut frames = 0u64;
    let mut bytes = 0u64;
    let mut bad = 0u64;
    let mut first_bad: Option<String> = None;
    let mut t_first: Option<Instant> = None;
    let limit = c.hang_after.unwrap_or(c.n).min(c.n);
    let mut error: Option<Error> = None;
    while frames < limit {
        match read(&reader, c, timeout) {
            Ok(Some(f)) => {
                t_first.get_or_insert_with(Instant::now);
                let i = frames;
                let len_ok = f.len() as u64 == frame_len(c, i);
                let seq_ok = f.sequence() == i + 1;
                let bytes_ok = c.no_verify || verify(f.data(), i);
                if !(len_ok && seq_ok && bytes_ok) {
                    bad += 1;
                    first_bad.get_or_insert_with(|| {
                        format!(
                            "frame {i}: seq {} len {} (want {}), bytes ok {bytes_ok}",
                            f.sequence(),
                            f.len(),
                            frame_len(c, i)
                        )
                    });
                }
                bytes += f.len() as u64;
                frames += 1;
            }
            Ok(None) => {
                s["error"] = json!("Timeout");
                break;
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let elapsed = t_first.map_or(0.0, |t| t.elapsed().as_secs_f64());
    if let Ok(Some(meta)) = reader.metadata() {
        let text = String::from_utf8_lossy(&meta).into_owned();
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        s["metadata_ok"] = json!(
            parsed
                .as_ref()
                .and_then(|v| v.get("frames"))
                .and_then(Value::as_u64)
                == Some(c.n)
        );
        s["metadata"] = json!(text);
    }
    s["frames"] = json!(frames);
    s["bytes"] = json!(bytes);
    s["bad_frames"] = json!(bad);
    s["first_bad"] = json!(first_bad);
    s["elapsed_s"] = json!(elapsed);
    s["frames_per_s"] = json!(per_second(frames, elapsed));
    let st = reader.stats();
    s["wraps"] = json!(st.explicit_wraps);
    // 1..15-byte tails without marker, as the upstream Python writer leaves them (R1).
    s["implicit_wraps"] = json!(st.implicit_wraps);
    if error.is_none() && c.hang_after.is_some() && frames == limit {
        s["hung"] = json!(true);
        s["ok"] = json!(bad == 0);
        emit(&s, c.json_out.as_ref());
        // Release nothing more, read nothing more: wait to be killed.
        hang();
    }
    if let Some(e) = error.as_ref() {
        s["error"] = json!(error_kind(e));
        s["detail"] = json!(e.to_string());
        s["error_at_ms"] = json!(now_ms());
    } else if frames == c.n {
        // Drain: after the last frame the writer's close must be reported as WriterDead.
        match read(&reader, c, timeout) {
            Err(Error::WriterDead { .. }) => s["writer_closed_seen"] = json!(true),
            Ok(None) => s["writer_closed_seen"] = json!(false),
            Ok(Some(_)) => s["extra_frame"] = json!(true),
            Err(e) => s["after_error"] = json!(error_kind(&e)),
        }
    }
    s["ok"] = json!(frames == c.n && bad == 0 && s["error"].is_null());
    s
}

fn connect(c: &Common) -> Result<Writer, Error> {
    let deadline = Instant::now() + Duration::from_secs_f64(c.connect_timeout.max(0.0));
    loop {
        match Writer::connect(&c.name) {
            Ok(w) => return Ok(w),
            Err(Error::BufferNotFound { .. } | Error::NoReader { .. })
                if Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

fn run_writer(c: &Common) -> Value {
    let mut s = json!({
        "role": "writer", "impl": "rust", "name": c.name, "expected": c.n,
        "frames": 0, "bytes": 0, "error": null, "error_at_ms": null, "ok": false,
    });
    let mut w = match connect(c) {
        Ok(w) => w,
        Err(e) => {
            s["error"] = json!(error_kind(&e));
            s["detail"] = json!(e.to_string());
            return s;
        }
    };
    w.set_write_timeout(Duration::from_secs_f64(c.read_timeout.max(0.001)));
    let meta = json!({"peer": "rust", "frames": c.n}).to_string();
    if let Err(e) = w.set_metadata(meta.as_bytes()) {
        s["metadata_error"] = json!(e.to_string());
    }
    let start = Instant::now();
    let mut frames = 0u64;
    let mut bytes = 0u64;
    for i in 0..c.n {
        if c.hang_after == Some(i) {
            s["frames"] = json!(frames);
            s["hung"] = json!(true);
            s["ok"] = json!(true);
            emit(&s, c.json_out.as_ref());
            hang();
        }
        let len = frame_len(c, i) as usize;
        let res = w.get_frame_buffer(len).map(|buf| fill(buf, i));
        match res.and_then(|()| w.commit_frame()) {
            Ok(_) => {
                frames += 1;
                bytes += len as u64;
            }
            Err(e) => {
                s["error_at_ms"] = json!(now_ms());
                s["error"] = json!(error_kind(&e));
                s["detail"] = json!(e.to_string());
                break;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Ok(h) = w.health() {
        // payload_written_count counts frames plus the wrap markers written.
        s["wraps"] = json!(h.frames_written.saturating_sub(frames));
    }
    s["frames"] = json!(frames);
    s["bytes"] = json!(bytes);
    s["elapsed_s"] = json!(elapsed);
    s["frames_per_s"] = json!(per_second(frames, elapsed));
    s["ok"] = json!(frames == c.n && s["error"].is_null());
    s
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (summary, common) = match &cli.role {
        Role::Reader(c) => (run_reader(c), c),
        Role::Writer(c) => (run_writer(c), c),
    };
    emit(&summary, common.json_out.as_ref());
    if summary["ok"].as_bool() == Some(true) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `n` per second over `elapsed` seconds (0 for no time).
fn per_second(n: u64, elapsed: f64) -> f64 {
    if elapsed > 0.0 {
        n as f64 / elapsed
    } else {
        0.0
    }
}
