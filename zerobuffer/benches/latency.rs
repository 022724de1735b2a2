//! Round-trip latency through a duplex channel (client → server → client) between two
//! processes, against a pipe ping-pong between the same kind of two processes.
//!
//! `cargo bench -p zerobuffer --bench latency` — re-executes itself as the echo server
//! (`ZB_LAT_ROLE=server` for ZeroBuffer, `ZB_LAT_ROLE=pipe` for the pipe baseline).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer};

const CFG: BufferConfig = BufferConfig::new(0, 4 << 20);

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort_unstable();
    let at = |q: f64| {
        let i = ((v.len() as f64 - 1.0) * q).round() as usize;
        v[i].as_secs_f64() * 1e6
    };
    let mean = v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1e6;
    format!(
        "{:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1}",
        at(0.0),
        mean,
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999)
    )
}

fn zerobuffer_rtt(size: usize, n: usize) -> Vec<Duration> {
    let name = format!("zb-lat-{}-{size}", std::process::id());
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("ZB_LAT_ROLE", "server")
        .env("ZB_LAT_NAME", &name)
        .env("ZB_LAT_N", (n + 100).to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn server");
    zeroipc_testkit::wait_ready(&mut child);
    let mut client = DuplexClient::connect_with(&name, CFG).expect("client");
    let req = vec![0x5au8; size];
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let t = Instant::now();
        client.send_request(&req).expect("send");
        let r = client
            .receive_response(Duration::from_secs(10))
            .expect("rx")
            .expect("response");
        assert_eq!(r.len(), size);
        drop(r);
        if i >= 100 {
            out.push(t.elapsed()); // first 100 are warm-up
        }
    }
    drop(client);
    child.wait().expect("server exit");
    out
}

fn pipe_rtt(size: usize, n: usize) -> Vec<Duration> {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("ZB_LAT_ROLE", "pipe")
        .env("ZB_LAT_SIZE", size.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn pipe echo");
    let mut tx = child.stdin.take().expect("stdin");
    let mut rx = child.stdout.take().expect("stdout");
    let req = vec![0x5au8; size];
    let mut buf = vec![0u8; size];
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let t = Instant::now();
        tx.write_all(&req).expect("write");
        rx.read_exact(&mut buf).expect("read");
        if i >= 100 {
            out.push(t.elapsed());
        }
    }
    drop(tx);
    child.wait().expect("pipe echo exit");
    out
}

fn main() {
    match std::env::var("ZB_LAT_ROLE").as_deref() {
        Ok("server") => {
            let name = std::env::var("ZB_LAT_NAME").expect("name");
            let n: u64 = zeroipc_testkit::env_parse("ZB_LAT_N").expect("n");
            let mut server = DuplexServer::create(&name, CFG).expect("server");
            zeroipc_testkit::signal_ready();
            while server.stats().requests < n {
                server
                    .serve_one(&mut |req, out| out.write_frame(req.data()).map(|_| ()))
                    .expect("serve");
            }
            return;
        }
        Ok("pipe") => {
            let size: usize = zeroipc_testkit::env_parse("ZB_LAT_SIZE").expect("size");
            let mut buf = vec![0u8; size];
            let (mut i, mut o) = (std::io::stdin().lock(), std::io::stdout().lock());
            while i.read_exact(&mut buf).is_ok() {
                o.write_all(&buf).expect("echo");
                o.flush().expect("flush");
            }
            return;
        }
        _ => {}
    }
    let n: usize = zeroipc_testkit::env_parse("ZB_LAT_N").unwrap_or(10_000);
    println!("round trip, µs | min | mean | p50 | p90 | p99 | p99.9");
    println!("---|---|---|---|---|---|---");
    for size in [1024usize, 64 * 1024, 1 << 20] {
        println!(
            "ZeroBuffer duplex, {} B | {}",
            size,
            percentiles(zerobuffer_rtt(size, n))
        );
        println!(
            "pipe ping-pong (baseline), {} B | {}",
            size,
            percentiles(pipe_rtt(size, n))
        );
    }
}
