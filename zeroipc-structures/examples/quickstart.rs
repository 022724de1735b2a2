//! Quick start: one process creates a segment and an array, a second process (this program,
//! re-executed) opens both by name and prints what it reads.
//!
//! `cargo run --release --example quickstart`

use std::process::Command;

use zeroipc_format::{Segment, SegmentOptions};
use zeroipc_structures::Array;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const READINGS: usize = 1000;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("reader") => {
            let name = args.get(2).ok_or("reader needs the segment name")?;
            reader(name)
        }
        _ => producer(),
    }
}

/// Creates `/zeroipc_quickstart_<pid>`, writes 1000 temperatures and starts the reader.
fn producer() -> Result<()> {
    let name = format!("zeroipc_quickstart_{}", std::process::id());
    // Unlinked when this handle drops, even if the reader fails.
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .create(&name, 1 << 20, 64)?;
    let temps = Array::<f32>::create(&seg, "temperature", READINGS)?;
    for i in 0..READINGS {
        temps.set(i, 20.0 + (i % 50) as f32 * 0.1)?;
    }
    let counts = Array::<u64>::create(&seg, "meta", 2)?;
    counts.write(0, &[READINGS as u64, std::process::id().into()])?;
    println!(
        "[producer {}] created /{name}: {} bytes, {} entries, array 'temperature' of {READINGS} f32",
        std::process::id(),
        seg.len(),
        seg.entries()?.len()
    );

    let status = Command::new(std::env::current_exe()?)
        .args(["reader", &name])
        .status()?;
    if !status.success() {
        return Err(format!("reader failed: {status}").into());
    }
    drop((temps, counts, seg));
    println!("[producer] reader done; segment unlinked");
    Ok(())
}

/// Opens the segment by name, as any other process (C++, Python, ...) would.
fn reader(name: &str) -> Result<()> {
    let seg = Segment::open(name)?;
    let pid = std::process::id();
    println!(
        "[reader {pid}] opened {}: table of {}:",
        seg.name(),
        seg.max_entries()
    );
    for e in seg.entries()? {
        println!(
            "[reader {pid}]   {:<12} offset {:>5}  size {:>5}",
            e.name(),
            e.offset(),
            e.size()
        );
    }
    let temps = Array::<f32>::open(&seg, "temperature")?;
    let meta = Array::<u64>::open(&seg, "meta")?;
    let first: Vec<f32> = temps.iter().take(5).collect();
    let mean = temps.iter().map(f64::from).sum::<f64>() / temps.len() as f64;
    println!("[reader {pid}] temperature[0..5] = {first:?}");
    println!(
        "[reader {pid}] {} readings, mean {mean:.2}, written by pid {}",
        temps.len(),
        meta.get(1).unwrap_or_default()
    );
    if meta.get(0) != Some(temps.len() as u64) {
        return Err("reader saw an inconsistent segment".into());
    }
    Ok(())
}
