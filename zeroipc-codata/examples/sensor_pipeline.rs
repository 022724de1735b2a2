//! A sensor process emits raw readings into a stream; this process declares (and therefore
//! drives) a pipeline of derived streams — calibrate (map) → drop outliers (filter) → average
//! per 50 ms (time window) — and prints the averages.
//!
//! Run: `cargo run -p zeroipc-codata --example sensor_pipeline`

use std::process::Command;
use std::time::Duration;

use zeroipc_codata::{Future, Segment, Stream};

const READINGS: u32 = 2_000;

fn sensor(seg: &Segment) -> Result<(), Box<dyn std::error::Error>> {
    let raw = Stream::<u32>::open(seg, "raw")?;
    Future::<u8>::open(seg, "pipeline_ready")?.get_timeout(Duration::from_secs(30))?;
    for i in 0..READINGS {
        // A fake ADC: a slow ramp with a spike every 97 readings.
        let adc = if i % 97 == 0 { 4095 } else { 1000 + (i % 200) };
        raw.emit_timeout(adc, Duration::from_secs(30))?;
        if i % 100 == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    raw.close()?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, seg_name] = args.as_slice()
        && role == "sensor"
    {
        return sensor(&Segment::open(seg_name)?);
    }

    let name = format!("codata_sensor_{}", std::process::id());
    let seg = Segment::create(&name, 1 << 20, 64)?;
    let raw = Stream::<u32>::create(&seg, "raw", 256)?;
    let ready = Future::<u8>::create(&seg, "pipeline_ready")?;
    let mut sensor = Command::new(std::env::current_exe()?)
        .args(["sensor", &name])
        .spawn()?;

    // Declared here, so driven by threads of this process.
    let celsius = raw.map(&seg, "celsius", |adc| adc as f32 * 0.05 - 20.0)?;
    let valid = celsius.filter(&seg, "valid", |c| *c < 100.0)?;
    let avg = valid.window_time(&seg, "avg50ms", Duration::from_millis(50), |w: &[f32]| {
        [w.iter().sum::<f32>() / w.len() as f32, w.len() as f32]
    })?;
    let averages = avg.subscribe()?;
    ready.set_value(1)?;

    let mut readings = 0.0;
    for window in averages {
        let [mean, n] = window?;
        readings += n;
        println!("{n:4} readings, mean {mean:6.2} °C");
    }
    for d in [celsius, valid] {
        d.join()?;
    }
    avg.join()?;
    sensor.wait()?;
    Segment::unlink(&name)?;
    let spikes = (0..READINGS).filter(|i| i % 97 == 0).count() as f32;
    println!("{readings} valid readings ({spikes} spikes dropped)");
    if readings != READINGS as f32 - spikes {
        return Err("readings lost".into());
    }
    Ok(())
}
