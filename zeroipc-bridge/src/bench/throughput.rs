//! Stream items/s through an export/import pair vs zenoh's own pub/sub between the same two
//! sessions, same run.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytemuck::Pod;
use zenoh::Wait;
use zenoh::qos::CongestionControl;
use zeroipc_codata::Stream;
use zeroipc_format::Segment;

use super::{Sessions, unique};
use crate::config::LinkConfig;
use crate::elem::with_elem;
use crate::error::{Error, Result};
use crate::status::Stats;

/// One measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchResult {
    /// Item size in bytes.
    pub size: usize,
    /// Items moved.
    pub items: u64,
    /// Items per second through the two bridges (producer start to last item received).
    pub bridge_items_per_s: f64,
    /// Items per second of zenoh's own pub/sub between the same sessions.
    pub zenoh_items_per_s: f64,
    /// `bridge / zenoh`.
    pub ratio: f64,
}

fn link(seg: &str, key: &str, size: usize) -> LinkConfig {
    let segment_size = ((1024 * size as u64) + (1 << 20)).next_power_of_two();
    super::stream_link(
        seg,
        "bench",
        key,
        segment_size,
        format!("bytes:{size}"),
        1024,
    )
}

/// Measures `items` items of `size` bytes (a supported element size) over 127.0.0.1:`port`
/// on sessions of its own.
///
/// # Errors
/// Segment, stream and zenoh errors.
pub fn run(items: u64, size: usize, port: u16) -> Result<BenchResult> {
    let s = Sessions::open(port)?;
    let r = measure(&s, items, size);
    s.close();
    r
}

/// Measures `items` items of `size` bytes on the sessions `s`: first through the bridges,
/// then zenoh's own pub/sub.
///
/// # Errors
/// Segment, stream and zenoh errors.
pub fn measure(s: &Sessions, items: u64, size: usize) -> Result<BenchResult> {
    let stem = unique("s");
    let (sa, sb) = (format!("{stem}_a"), format!("{stem}_b"));
    let r = with_elem!(size, bridged(&s.a, &s.b, &sa, &sb, &stem, items));
    let _ = Segment::unlink(&sa);
    let _ = Segment::unlink(&sb);
    let bridge = r?;
    let zenoh = raw(&s.a, &s.b, items, size)?;
    Ok(BenchResult {
        size,
        items,
        bridge_items_per_s: bridge,
        zenoh_items_per_s: zenoh,
        ratio: bridge / zenoh,
    })
}

fn bridged<T: Pod>(
    a: &zenoh::Session,
    b: &zenoh::Session,
    sa: &str,
    sb: &str,
    key: &str,
    items: u64,
) -> Result<f64> {
    let size = std::mem::size_of::<T>();
    let key = format!("zeroipc/bench/{key}");
    let (la, lb) = (link(sa, &key, size), link(sb, &key, size));
    let seg = la.open_segment()?;
    let src = Stream::<T>::create(&seg, "bench", 1024)?;
    let far_seg = lb.open_segment()?;
    let far = Stream::<T>::create(&far_seg, "bench", 1024)?;
    let mut sub = far.subscribe()?;
    let (st_a, st_b) = (Stats::default(), Stats::default());
    let stop = crate::Stop::new();
    std::thread::scope(|s| {
        let links = vec![
            s.spawn(|| {
                crate::stream::export(crate::Link {
                    session: a,
                    cfg: &la,
                    stats: &st_a,
                    stop: &stop,
                })
            }),
            s.spawn(|| {
                crate::stream::import(crate::Link {
                    session: b,
                    cfg: &lb,
                    stats: &st_b,
                    stop: &stop,
                })
            }),
        ];
        super::with_links(&stop, links, || {
            // Wait until the link carries an item, so connection set-up is not measured.
            src.emit(T::zeroed())?;
            sub.recv_timeout(Duration::from_secs(60))?;
            let start = Instant::now();
            let producer = s.spawn(|| -> Result<()> {
                for _ in 0..items {
                    src.emit(T::zeroed())?;
                }
                Ok(())
            });
            for _ in 0..items {
                sub.recv_timeout(Duration::from_secs(60))?;
            }
            let rate = items as f64 / start.elapsed().as_secs_f64();
            producer
                .join()
                .map_err(|_| Error::Config("bench producer panicked".into()))??;
            src.close()?;
            Ok(rate)
        })
    })
}

fn raw(a: &zenoh::Session, b: &zenoh::Session, items: u64, size: usize) -> Result<f64> {
    let key = format!("zeroipc/bench-raw/{}/{size}", unique("r"));
    let done = Arc::new((Mutex::new(0u64), Condvar::new()));
    let d2 = Arc::clone(&done);
    let _sub = b
        .declare_subscriber(&key)
        .callback(move |sample| {
            // Warm-up messages start with 0, measured ones with 1.
            let measured = sample.payload().to_bytes().first() == Some(&1);
            let (m, cv) = &*d2;
            let mut n = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *n += if measured { 1_000_000_000 } else { 1 };
            cv.notify_all();
        })
        .wait()
        .map_err(Error::zenoh)?;
    let publisher = a
        .declare_publisher(key)
        .congestion_control(CongestionControl::Block)
        .wait()
        .map_err(Error::zenoh)?;
    let warm_payload = vec![0u8; size];
    let mut payload = vec![0u8; size];
    payload[0] = 1;
    let wait_for = |target: u64, limit: Duration| super::wait_until(&done, |n| *n >= target, limit);
    super::warm_up(&publisher, &warm_payload, 6000, || {
        wait_for(1, Duration::from_millis(10))
    })?;
    // Measured messages count 10^9 each, warm-up ones (fewer than 10^9) 1.
    super::put_all(&publisher, &payload, items, || {
        wait_for(items * 1_000_000_000, Duration::from_secs(60))
    })
}
