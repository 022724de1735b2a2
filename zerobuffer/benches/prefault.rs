//! The effect of pre-faulting a buffer's pages (`MAP_POPULATE`): time to create the reader
//! and connect the writer, and the throughput of the first lap of frames (the lap that would
//! take the page faults) against the second, with and without pre-faulting, in one run.
//!
//! `cargo bench -p zerobuffer --bench prefault` (one process; the writer and the reader
//! alternate frame by frame, so only copies and faults are measured, no hand-offs).

use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Reader, ReaderOptions, Writer, WriterOptions};

const RING: u64 = 256 << 20;
const FRAME: usize = 1 << 20;
const ROUNDS: usize = 3;

/// (setup, first lap, second lap) for one buffer.
fn measure(prefault: bool, round: usize) -> (Duration, Duration, Duration) {
    let name = format!("zb-prefault-{}-{prefault}-{round}", std::process::id());
    let t = Instant::now();
    let reader = Reader::create_with(
        &name,
        BufferConfig::new(0, RING),
        ReaderOptions {
            prefault,
            ..ReaderOptions::default()
        },
    )
    .expect("reader");
    let mut writer = Writer::connect_with(
        &name,
        WriterOptions {
            prefault,
            ..WriterOptions::default()
        },
    )
    .expect("writer");
    let setup = t.elapsed();
    let frame = vec![0xA5u8; FRAME];
    // Frames plus their 16-byte headers: a lap is a little under RING / FRAME frames.
    let per_lap = (RING as usize) / (FRAME + 16);
    let mut lap = || {
        let t = Instant::now();
        let mut sum = 0u64;
        for _ in 0..per_lap {
            writer.write_frame(&frame).expect("write");
            let f = reader.read_frame().expect("read").expect("frame");
            sum = sum.wrapping_add(u64::from(f.data()[FRAME - 1]));
        }
        std::hint::black_box(sum);
        t.elapsed()
    };
    let first = lap();
    let second = lap();
    (setup, first, second)
}

fn main() {
    let mut rows = Vec::new();
    for round in 0..ROUNDS {
        for prefault in [false, true] {
            rows.push((prefault, measure(prefault, round)));
        }
    }
    let lap_bytes = (RING as usize / (FRAME + 16) * FRAME) as f64;
    println!("| 256 MiB buffer, 1 MiB frames | create + connect | first lap | second lap |");
    println!("|---|---|---|---|");
    for (prefault, (setup, first, second)) in rows {
        println!(
            "| {} | {:.1} ms | {:.2} GB/s | {:.2} GB/s |",
            if prefault {
                "pre-faulted (default)"
            } else {
                "not pre-faulted"
            },
            setup.as_secs_f64() * 1e3,
            lap_bytes / first.as_secs_f64() / 1e9,
            lap_bytes / second.as_secs_f64() / 1e9
        );
    }
}
