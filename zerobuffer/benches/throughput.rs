//! Cross-process throughput of ZeroBuffer, with same-run baselines.
//!
//! `cargo bench -p zerobuffer --bench throughput` — the binary re-executes itself as the
//! writer process (`ZB_BENCH_ROLE=writer`); the parent is the reader and touches every byte
//! of every frame (a checksum compared with the writer's). Prints a table:
//! 1 KiB frames through a 1 MiB ring (frames/s), 1 MiB frames through a 64 MiB ring (GB/s)
//! against single-thread `memcpy` bandwidth of 1 MiB blocks measured in the same run.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Reader, Writer};

/// Wrapping sum of the little-endian u64 words (frame sizes are multiples of 8): touches
/// every byte, vectorises, and is linear, so the writer can compute it without a second pass.
fn checksum(data: &[u8]) -> u64 {
    data.chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
        .fold(0u64, u64::wrapping_add)
}

fn writer_main(name: &str, size: usize, count: u64) {
    let mut w = Writer::connect(name).expect("connect");
    // One template per run; each frame differs in its first word (the frame index).
    let template: Vec<u8> = (0..size).map(|j| (j as u8).wrapping_mul(31)).collect();
    let rest = checksum(&template).wrapping_sub(checksum(&template[..8]));
    let mut sum = 0u64;
    for i in 0..count {
        let buf = w.get_frame_buffer(size).expect("reserve");
        buf.copy_from_slice(&template);
        buf[..8].copy_from_slice(&i.to_le_bytes());
        sum = sum.wrapping_add(rest).wrapping_add(i);
        w.commit_frame().expect("commit");
    }
    println!("SUM {sum}");
}

struct Run {
    frames: u64,
    secs: f64,
    bytes: u64,
}

fn run_pair(tag: &str, size: usize, ring: u64, count: u64) -> Run {
    let name = format!("zb-bench-{tag}-{}", std::process::id());
    let reader = Reader::create(&name, BufferConfig::new(0, ring)).expect("create");
    let child = Command::new(std::env::current_exe().expect("exe"))
        .env("ZB_BENCH_ROLE", "writer")
        .env("ZB_BENCH_NAME", &name)
        .env("ZB_BENCH_SIZE", size.to_string())
        .env("ZB_BENCH_COUNT", count.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn writer");
    let mut sum = 0u64;
    let mut start = None;
    let mut bytes = 0u64;
    for _ in 0..count {
        let f = reader
            .read_frame_timeout(Duration::from_secs(30))
            .expect("read")
            .expect("frame");
        start.get_or_insert_with(Instant::now);
        sum = sum.wrapping_add(checksum(f.data()));
        bytes += f.len() as u64;
    }
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let out = child.wait_with_output().expect("writer");
    let text = String::from_utf8_lossy(&out.stdout);
    let want = text
        .lines()
        .find_map(|l| l.strip_prefix("SUM "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert_eq!(
        want,
        Some(sum),
        "checksum mismatch: reader did not see the writer's bytes"
    );
    drop(reader);
    Run {
        frames: count - 1,
        secs,
        bytes: bytes - size as u64,
    }
}

/// Single-thread memcpy of 1 MiB blocks from one source into a destination of `dst_size`
/// bytes, block after block (a 64 MiB destination behaves like the ring: not cache resident).
fn memcpy_gbps(block: usize, dst_size: usize, reps: u32) -> f64 {
    let src = vec![7u8; block];
    // Non-zero fill: the pages are faulted in before timing (the ring is pre-faulted too).
    let mut dst = vec![1u8; dst_size];
    let slots = dst_size / block;
    let start = Instant::now();
    for i in 0..reps as usize {
        let off = (i % slots) * block;
        dst[off..off + block].copy_from_slice(black_box(&src));
        black_box(&mut dst);
    }
    (block as f64 * f64::from(reps)) / start.elapsed().as_secs_f64() / 1e9
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`, field 1).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU used by a reader blocked for `secs` with no writer (F9.1), as a fraction of wall time.
fn idle_reader_cpu(secs: u64) -> f64 {
    let name = format!("zb-bench-idle-{}", std::process::id());
    let reader = Reader::create(&name, BufferConfig::new(0, 4096)).expect("create");
    let (c0, t0) = (thread_cpu_ns(), Instant::now());
    let r = reader
        .read_frame_timeout(Duration::from_secs(secs))
        .expect("read");
    assert!(r.is_none());
    let cpu = thread_cpu_ns().saturating_sub(c0) as f64;
    cpu / t0.elapsed().as_nanos() as f64
}

fn main() {
    if std::env::var("ZB_BENCH_ROLE").as_deref() == Ok("writer") {
        let name = std::env::var("ZB_BENCH_NAME").expect("name");
        let size: usize = zeroipc_testkit::env_parse("ZB_BENCH_SIZE").expect("size");
        let count: u64 = zeroipc_testkit::env_parse("ZB_BENCH_COUNT").expect("count");
        writer_main(&name, size, count);
        return;
    }
    let rounds: u32 = zeroipc_testkit::env_parse("ZB_BENCH_ROUNDS").unwrap_or(3);
    println!("| case | run | frames | seconds | frames/s | GB/s |");
    println!("|---|---|---|---|---|---|");
    let only_small = std::env::var("ZB_BENCH_CASES").as_deref() == Ok("1k");
    let mut best_small = 0.0f64;
    let mut best_large = 0.0f64;
    for r in 1..=rounds {
        let s = run_pair("1k", 1024, 1 << 20, 4_000_000);
        let fps = s.frames as f64 / s.secs;
        best_small = best_small.max(fps);
        println!(
            "| 1 KiB frames, 1 MiB ring, 2 processes | {r} | {} | {:.3} | {:.0} | {:.2} |",
            s.frames,
            s.secs,
            fps,
            s.bytes as f64 / s.secs / 1e9
        );
    }
    if only_small {
        println!("best 1 KiB: {best_small:.0} frames/s");
        return;
    }
    for r in 1..=rounds {
        let s = run_pair("1m", 1 << 20, 64 << 20, 3000);
        let gbps = s.bytes as f64 / s.secs / 1e9;
        best_large = best_large.max(gbps);
        println!(
            "| 1 MiB frames, 64 MiB ring, 2 processes | {r} | {} | {:.3} | {:.0} | {:.2} |",
            s.frames,
            s.secs,
            s.frames as f64 / s.secs,
            gbps
        );
    }
    // F14.3 wrap overhead: 65 520-byte frames (64 KiB ring bytes each). A 64 KiB ring holds
    // exactly one frame (exact fit, never a marker); a 96 KiB ring (1.5 frames) also holds one
    // but wraps with a marker and 32 KiB of waste on every frame. Same serialisation, so the
    // ratio is the cost of wrapping. A 64 MiB ring shows the pipelined rate for reference.
    let len = 65_520usize;
    let mut wrap_ratio = Vec::new();
    for r in 1..=rounds {
        let exact = run_pair("wex", len, 65_536, 20_000);
        let wrap = run_pair("w15", len, 98_304, 20_000);
        let big = run_pair("w64m", len, 64 << 20, 20_000);
        let rate = |x: &Run| x.frames as f64 / x.secs;
        wrap_ratio.push(rate(&wrap) / rate(&exact));
        for (label, x) in [
            ("64 KiB frames, 64 KiB ring (exact fit, no wraps)", &exact),
            (
                "64 KiB frames, 96 KiB ring (marker + waste every frame)",
                &wrap,
            ),
            ("64 KiB frames, 64 MiB ring (pipelined)", &big),
        ] {
            println!(
                "| {label} | {r} | {} | {:.3} | {:.0} | {:.2} |",
                x.frames,
                x.secs,
                rate(x),
                x.bytes as f64 / x.secs / 1e9
            );
        }
    }
    let idle = idle_reader_cpu(2);
    println!(
        "| reader blocked 2 s without writer: CPU / wall | 1 | - | 2 | - | {:.4} % |",
        idle * 100.0
    );
    let mut best_memcpy = 0.0f64;
    let mut best_hot = 0.0f64;
    for r in 1..=rounds {
        let g = memcpy_gbps(1 << 20, 64 << 20, 3000);
        best_memcpy = best_memcpy.max(g);
        println!(
            "| memcpy 1 MiB blocks into 64 MiB, 1 thread (baseline) | {r} | 3000 | - | - | {g:.2} |"
        );
        let h = memcpy_gbps(1 << 20, 1 << 20, 3000);
        best_hot = best_hot.max(h);
        println!("| memcpy 1 MiB to 1 MiB, cache-hot, 1 thread | {r} | 3000 | - | - | {h:.2} |");
    }
    println!();
    println!(
        "wrap overhead, 96 KiB ring / 64 KiB ring throughput (1.00 = no overhead): {}",
        wrap_ratio
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("best 1 KiB: {best_small:.0} frames/s");
    println!(
        "best 1 MiB: {best_large:.2} GB/s = {:.0} % of single-thread memcpy into 64 MiB \
         ({best_memcpy:.2} GB/s), {:.0} % of cache-hot memcpy ({best_hot:.2} GB/s)",
        100.0 * best_large / best_memcpy,
        100.0 * best_large / best_hot
    );
}
