//! ZeroBuffer frames/s through an export/import pair (a local writer → the exporter, the
//! importer → a local reader) vs zenoh's own pub/sub of the same payloads, same run.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use zenoh::Wait;
use zenoh::qos::CongestionControl;
use zerobuffer::{BufferConfig, Error as ZbError, Reader, Writer};

use super::{Sessions, unique};
use crate::config::{LinkConfig, ObjectKind};
use crate::error::{Error, Result};
use crate::status::Stats;

/// One frames measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FrameResult {
    /// Frame size in bytes.
    pub size: usize,
    /// Frames moved.
    pub frames: u64,
    /// Frames per second through the two bridges (first write to last read, after one
    /// warm-up frame).
    pub bridge_frames_per_s: f64,
    /// Frames per second of zenoh's own pub/sub between the same sessions.
    pub zenoh_frames_per_s: f64,
    /// `bridge / zenoh`.
    pub ratio: f64,
}

fn link(name: &str, key: &str, payload: u64) -> LinkConfig {
    LinkConfig {
        kind: ObjectKind::Zerobuffer,
        name: name.into(),
        segment: None,
        segment_size: None,
        elem: None,
        capacity: None,
        key: Some(key.into()),
        window: None,
        importer_id: None,
        payload_size: Some(payload),
        metadata_size: None,
        peer_timeout_ms: None,
    }
}

const LIMIT: Duration = Duration::from_secs(60);

/// Measures `frames` frames of `size` bytes on the sessions `s`: through the bridges, then
/// zenoh's own pub/sub.
///
/// # Errors
/// ZeroBuffer and zenoh errors.
pub fn measure(s: &Sessions, frames: u64, size: usize) -> Result<FrameResult> {
    let bridge = bridged(s, frames, size)?;
    let zenoh = raw(s, frames, size)?;
    Ok(FrameResult {
        size,
        frames,
        bridge_frames_per_s: bridge,
        zenoh_frames_per_s: zenoh,
        ratio: bridge / zenoh,
    })
}

fn bridged(s: &Sessions, frames: u64, size: usize) -> Result<f64> {
    let stem = unique("f");
    let (na, nb) = (format!("{stem}_a"), format!("{stem}_b"));
    let key = format!("zeroipc/bench/{stem}");
    // Rings of 8 frames on both sides.
    let ring = (8 * (size as u64 + 64)).next_power_of_two();
    let (la, lb) = (link(&na, &key, ring), link(&nb, &key, ring));
    let far = Reader::create(&nb, BufferConfig::new(1024, ring))?;
    let (st_a, st_b) = (Stats::default(), Stats::default());
    let payload = vec![7u8; size];
    let stop = crate::Stop::new();
    std::thread::scope(|sc| -> Result<f64> {
        let links = vec![
            sc.spawn(|| {
                crate::zbuf::export(crate::Link {
                    session: &s.a,
                    cfg: &la,
                    stats: &st_a,
                    stop: &stop,
                })
            }),
            sc.spawn(|| {
                crate::zbuf::import(crate::Link {
                    session: &s.b,
                    cfg: &lb,
                    stats: &st_b,
                    stop: &stop,
                })
            }),
        ];
        super::with_links(&stop, links, || {
            let end = Instant::now() + LIMIT;
            let mut w = loop {
                match Writer::connect(&na) {
                    Ok(w) => break w,
                    Err(ZbError::BufferNotFound { .. } | ZbError::NoReader { .. })
                        if Instant::now() < end =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            w.set_write_timeout(LIMIT);
            // Warm-up: the link carries a frame before the clock starts.
            w.write_frame(&payload)?;
            far.read_frame_timeout(LIMIT)?
                .ok_or_else(|| Error::Config("bench: no warm-up frame".into()))?;
            let start = Instant::now();
            let writer = sc.spawn(move || -> Result<Writer> {
                for _ in 0..frames {
                    w.write_frame(&payload)?;
                }
                Ok(w)
            });
            for _ in 0..frames {
                let f = far
                    .read_frame_timeout(LIMIT)?
                    .ok_or_else(|| Error::Config("bench: a frame did not arrive".into()))?;
                if f.len() != size {
                    return Err(Error::Config(format!(
                        "bench: a frame of {} bytes",
                        f.len()
                    )));
                }
            }
            let rate = frames as f64 / start.elapsed().as_secs_f64();
            let w = writer
                .join()
                .map_err(|_| Error::Config("bench writer panicked".into()))??;
            drop(w); // the close travels: both links end
            Ok(rate)
        })
    })
}

fn raw(s: &Sessions, frames: u64, size: usize) -> Result<f64> {
    let key = format!("zeroipc/bench-raw/{}", unique("fr"));
    // (warm-up messages of 1 byte, measured frames of `size` bytes) received.
    let got = Arc::new((Mutex::new((0u64, 0u64)), Condvar::new()));
    let g2 = Arc::clone(&got);
    let _sub =
        s.b.declare_subscriber(&key)
            .callback(move |sample| {
                let (m, cv) = &*g2;
                let mut n = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if sample.payload().len() == size {
                    n.1 += 1;
                } else {
                    n.0 += 1;
                }
                cv.notify_all();
            })
            .wait()
            .map_err(Error::zenoh)?;
    let publisher =
        s.a.declare_publisher(key)
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(Error::zenoh)?;
    let wait_for =
        |done: &dyn Fn(&(u64, u64)) -> bool, limit: Duration| super::wait_until(&got, done, limit);
    // Warm-up with 1-byte puts until the subscriber is known to the publisher's side.
    super::warm_up(&publisher, &[0u8], 3000, || {
        wait_for(&|n| n.0 > 0, Duration::from_millis(20))
    })?;
    super::put_all(&publisher, &vec![1u8; size], frames, || {
        wait_for(&|n| n.1 >= frames, LIMIT)
    })
}
