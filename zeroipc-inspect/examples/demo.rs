//! Creates a ZeroIPC segment and a ZeroBuffer buffer to look at with `zeroipc-inspect`, keeps
//! them for a while (default 60 s, or the first argument in seconds), then removes them.
//!
//! ```text
//! cargo run -p zeroipc-inspect --example demo -- 60 &
//! zeroipc-inspect list
//! zeroipc-inspect show demo_sensors
//! zeroipc-inspect show demo_sensors temps_f32
//! zeroipc-inspect show demo_sensors readings_f32
//! zeroipc-inspect monitor demo_sensors readings_f32
//! zeroipc-inspect monitor demo_video
//! ```

use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Reader, Writer};
use zeroipc_codata::{Channel, Future, Stream};
use zeroipc_format::Segment;
use zeroipc_structures::{Array, Map, Queue};
use zeroipc_sync::{Latch, Mutex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(60);
    let seg = Segment::create_or_replace("demo_sensors", 1 << 20, 64)?;
    let temps = Array::<f32>::create(&seg, "temps_f32", 8)?;
    temps.write(0, &[21.5, 21.7, 22.0, 22.4, 22.1, 21.9, 21.8, 21.6])?;
    let events = Queue::<u32>::create(&seg, "events_q_u32", 1024)?;
    let ids = Map::<u32, f64>::create(&seg, "calib_map_u32_f64", 64)?;
    for i in 0..5u32 {
        ids.insert(i, f64::from(i) * 0.25)
            .map_err(|e| e.to_string())?;
    }

    // Synchronisation and codata: a mutex held by this process, a latch, a completed future,
    // a stream whose subscriber stays 3 readings behind, and a channel with a registered
    // sender and receiver.
    let lock = Mutex::create(&seg, "config_mtx")?;
    let _held = lock.lock()?;
    let ready = Latch::create(&seg, "ready_latch", 3)?;
    ready.count_down(1)?;
    Future::<f64>::create(&seg, "calib_fut_f64")?.set_value(0.125)?;
    let readings = Stream::<f32>::create(&seg, "readings_f32", 64)?;
    let mut sub = readings.subscribe()?;
    for v in [20.0, 20.5, 21.0] {
        readings.emit(v)?;
    }
    let jobs = Channel::<u32>::create(&seg, "jobs_u32", 16)?;
    let (tx, rx) = (jobs.sender()?, jobs.receiver()?);

    let reader = Reader::create("demo_video", BufferConfig::new(256, 1 << 20))?;
    let mut writer = Writer::connect("demo_video")?;
    writer.set_metadata(b"format=yuv420 1280x720")?;
    println!("demo_sensors and demo_video ready for {secs} s");

    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(secs) {
        // 100 events/s, drained to about half; 30 frames/s of 64 KiB, read at once.
        let _ = events.push(n);
        if n.is_multiple_of(2) {
            let _ = events.pop();
        }
        // 100 readings/s, each read as the next arrives; 100 jobs/s, 5 left queued.
        // A full stream or channel drops the value; a failure ends the demo.
        if let Err(zeroipc_codata::TrySendError::Failed(e)) =
            readings.try_emit(21.0 + (n % 10) as f32 / 10.0)
        {
            return Err(e.into());
        }
        let _ = sub.try_recv()?;
        if let Err(zeroipc_codata::TrySendError::Failed(e)) = tx.try_send(n) {
            return Err(e.into());
        }
        if jobs.len()? > 5 {
            let _ = rx.try_recv()?;
        }
        if n.is_multiple_of(3) {
            writer.write_frame(&vec![0u8; 64 << 10])?;
            drop(reader.read_frame()?);
        }
        n = n.wrapping_add(1);
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(writer);
    drop(reader);
    Segment::unlink("demo_sensors")?;
    Ok(())
}
