//! Round trip through two bridges vs zenoh's own round trip plus two local hand-offs.
//!
//! * Bridged: stream `ping` on machine A → export (session a) → import (session b) into
//!   `ping` on machine B; an echo thread emits each item into `pong` on B → export (b) →
//!   import (a) into `pong` on A, where the sender waits for it. One ping in flight.
//! * zenoh: `put` on a ping key (session a), an echo thread receives it on session b and
//!   `put`s on a pong key, the sender receives it on session a.
//! * Local: the same ping/pong over two Streams in one segment, no network: two hand-offs.

use std::time::{Duration, Instant};

use zenoh::Wait;
use zenoh::handlers::FifoChannel;
use zenoh::qos::CongestionControl;
use zeroipc_codata::Stream;
use zeroipc_format::Segment;
use zeroipc_format::atomic::{AtomicU32, Ordering};

use super::{Sessions, percentile, unique};
use crate::config::LinkConfig;
use crate::error::{Error, Result};
use crate::status::Stats;

/// One round-trip measurement (microseconds).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoundTripResult {
    /// Pings measured (each kind).
    pub pings: u64,
    /// p50 of the round trip through two bridges.
    pub bridge_p50_us: f64,
    /// p99 of the round trip through two bridges.
    pub bridge_p99_us: f64,
    /// p50 of zenoh's own ping/pong between the same sessions.
    pub zenoh_p50_us: f64,
    /// p50 of a local Stream ping/pong (two hand-offs).
    pub local_p50_us: f64,
    /// `bridge_p50 / (zenoh_p50 + local_p50)`.
    pub ratio: f64,
}

const LIMIT: Duration = Duration::from_secs(60);
/// Pings sent before measuring.
const WARM: u64 = 50;

fn link(seg: &str, name: &str, key: &str) -> LinkConfig {
    super::stream_link(seg, name, key, 1 << 20, "u64".into(), 64)
}

/// Measures `pings` round trips of each kind on the sessions `s`.
///
/// # Errors
/// Segment, stream and zenoh errors.
pub fn measure(s: &Sessions, pings: u64) -> Result<RoundTripResult> {
    let mut bridge = bridged(s, pings)?;
    let mut zenoh = raw(s, pings)?;
    let mut local = local(pings)?;
    let (b50, b99) = (percentile(&mut bridge, 50.0), percentile(&mut bridge, 99.0));
    let z50 = percentile(&mut zenoh, 50.0);
    let l50 = percentile(&mut local, 50.0);
    Ok(RoundTripResult {
        pings,
        bridge_p50_us: b50,
        bridge_p99_us: b99,
        zenoh_p50_us: z50,
        local_p50_us: l50,
        ratio: b50 / (z50 + l50),
    })
}

/// Sends `WARM + pings` pings on `ping` and waits for each on `pong`; the measured round
/// trips in microseconds.
fn ping_pong(
    ping: &Stream<u64>,
    pong: &mut zeroipc_codata::Subscription<u64>,
    pings: u64,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(pings as usize);
    for i in 0..WARM + pings {
        let t = Instant::now();
        ping.emit(i)?;
        match pong.recv_timeout(LIMIT)? {
            Some(v) if v == i => {}
            other => {
                return Err(Error::Config(format!(
                    "bench: ping {i} came back as {other:?}"
                )));
            }
        }
        if i >= WARM {
            out.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    Ok(out)
}

/// Echoes every item of `from` into `to` until `from` closes.
fn echo(mut from: zeroipc_codata::Subscription<u64>, to: &Stream<u64>) -> Result<()> {
    while let Some(v) = from.recv()? {
        to.emit(v)?;
    }
    Ok(())
}

fn bridged(s: &Sessions, pings: u64) -> Result<Vec<f64>> {
    let stem = unique("rt");
    let (sa, sb) = (format!("{stem}_a"), format!("{stem}_b"));
    let r = bridged_in(s, &sa, &sb, &stem, pings);
    let _ = Segment::unlink(&sa);
    let _ = Segment::unlink(&sb);
    r
}

fn bridged_in(s: &Sessions, sa: &str, sb: &str, stem: &str, pings: u64) -> Result<Vec<f64>> {
    let (kping, kpong) = (
        format!("zeroipc/bench/{stem}/ping"),
        format!("zeroipc/bench/{stem}/pong"),
    );
    let ping_out = link(sa, "ping", &kping);
    let ping_in = link(sb, "ping", &kping);
    let pong_out = link(sb, "pong", &kpong);
    let pong_in = link(sa, "pong", &kpong);
    let seg_a = ping_out.open_segment()?;
    let seg_b = ping_in.open_segment()?;
    let a_ping = Stream::<u64>::create(&seg_a, "ping", 64)?;
    let a_pong = Stream::<u64>::create(&seg_a, "pong", 64)?;
    let b_ping = Stream::<u64>::create(&seg_b, "ping", 64)?;
    let b_pong = Stream::<u64>::create(&seg_b, "pong", 64)?;
    let mut back = a_pong.subscribe()?;
    let far = b_ping.subscribe()?;
    let stats: Vec<Stats> = (0..4).map(|_| Stats::default()).collect();
    let stop = crate::Stop::new();
    std::thread::scope(|sc| -> Result<Vec<f64>> {
        let link = |session, cfg, i: usize| crate::Link {
            session,
            cfg,
            stats: &stats[i],
            stop: &stop,
        };
        let (a, b) = (&s.a, &s.b);
        let (ping_out, ping_in, pong_out, pong_in) = (&ping_out, &ping_in, &pong_out, &pong_in);
        let links = vec![
            sc.spawn(move || crate::stream::export(link(a, ping_out, 0))),
            sc.spawn(move || crate::stream::import(link(b, ping_in, 1))),
            sc.spawn(move || crate::stream::export(link(b, pong_out, 2))),
            sc.spawn(move || crate::stream::import(link(a, pong_in, 3))),
        ];
        let echoer = sc.spawn(|| {
            let r = echo(far, &b_pong);
            // The far pong closes after the far ping did: the pong links end too.
            let _ = b_pong.close();
            r
        });
        super::with_links(&stop, links, || {
            let r = ping_pong(&a_ping, &mut back, pings);
            if r.is_err() {
                // The links may not carry the close: end the echo here.
                let _ = b_ping.close();
            }
            a_ping.close()?;
            echoer
                .join()
                .map_err(|_| Error::Config("bench echo panicked".into()))??;
            r
        })
    })
}

fn raw(s: &Sessions, pings: u64) -> Result<Vec<f64>> {
    let stem = unique("rr");
    let (kping, kpong) = (
        format!("zeroipc/bench-raw/{stem}/ping"),
        format!("zeroipc/bench-raw/{stem}/pong"),
    );
    let far =
        s.b.declare_subscriber(&kping)
            .with(FifoChannel::new(64))
            .wait()
            .map_err(Error::zenoh)?;
    let back =
        s.a.declare_subscriber(&kpong)
            .with(FifoChannel::new(64))
            .wait()
            .map_err(Error::zenoh)?;
    let pub_ping =
        s.a.declare_publisher(kping)
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(Error::zenoh)?;
    let pub_pong =
        s.b.declare_publisher(kpong)
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(Error::zenoh)?;
    let stop = AtomicU32::new(0);
    std::thread::scope(|sc| -> Result<Vec<f64>> {
        let echoer = sc.spawn(|| -> Result<()> {
            while stop.load(Ordering::Relaxed) == 0 {
                if let Some(m) = far
                    .recv_timeout(Duration::from_millis(50))
                    .map_err(Error::zenoh)?
                {
                    pub_pong
                        .put(m.payload().to_bytes().into_owned())
                        .wait()
                        .map_err(Error::zenoh)?;
                }
            }
            Ok(())
        });
        let r = (|| -> Result<Vec<f64>> {
            // Until both subscribers are known, pings go nowhere: probe until one returns.
            let mut probe = 0u64;
            loop {
                pub_ping
                    .put(u64::MAX.to_le_bytes().to_vec())
                    .wait()
                    .map_err(Error::zenoh)?;
                if back
                    .recv_timeout(Duration::from_millis(20))
                    .map_err(Error::zenoh)?
                    .is_some()
                {
                    break;
                }
                probe += 1;
                if probe > 3000 {
                    return Err(Error::Zenoh("raw ping never came back".into()));
                }
            }
            let mut out = Vec::with_capacity(pings as usize);
            for i in 0..WARM + pings {
                let t = Instant::now();
                pub_ping
                    .put(i.to_le_bytes().to_vec())
                    .wait()
                    .map_err(Error::zenoh)?;
                // Late probe answers are skipped.
                loop {
                    let m = back
                        .recv_timeout(LIMIT)
                        .map_err(Error::zenoh)?
                        .ok_or_else(|| Error::Zenoh("raw pong lost".into()))?;
                    if m.payload().to_bytes().as_ref() == i.to_le_bytes() {
                        break;
                    }
                }
                if i >= WARM {
                    out.push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
            Ok(out)
        })();
        stop.store(1, Ordering::Relaxed);
        echoer
            .join()
            .map_err(|_| Error::Config("bench echo panicked".into()))??;
        r
    })
}

fn local(pings: u64) -> Result<Vec<f64>> {
    let seg = Segment::anonymous(1 << 20, 16)?;
    let ping = Stream::<u64>::create(&seg, "ping", 64)?;
    let pong = Stream::<u64>::create(&seg, "pong", 64)?;
    let mut back = pong.subscribe()?;
    let far = ping.subscribe()?;
    std::thread::scope(|sc| -> Result<Vec<f64>> {
        let echoer = sc.spawn(|| echo(far, &pong));
        let r = ping_pong(&ping, &mut back, pings);
        ping.close()?;
        echoer
            .join()
            .map_err(|_| Error::Config("bench echo panicked".into()))??;
        r
    })
}
