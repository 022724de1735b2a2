//! `monitor`: a live view of a queue, ring, stream, channel or ZeroBuffer buffer.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use zeroipc_codata::{Channel, Stream};
use zeroipc_format::{Region, Segment};
use zeroipc_structures::{Queue, Ring};

use crate::cmd::{out, out_json};
use crate::dtype::{Dtype, Kind, Spec, Typing};
use crate::error::{CliError, Result};
use crate::infer::{Guess, infer};
use crate::source::{
    Content, Source, buffer_snapshot, classify, open_segment, resolve, unrecognised,
};

/// How often a buffer's OIEB is read between ticks (to follow its wrapping write position).
const BUFFER_SUBSAMPLE: Duration = Duration::from_millis(5);

/// Arguments of `monitor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Shared-memory name (`NAME` or `/NAME`): a ZeroIPC segment or a ZeroBuffer buffer.
    seg: String,
    /// The queue, ring, stream or channel to watch (not needed for a ZeroBuffer buffer).
    name: Option<String>,
    /// Decode NAME as `queue:TYPE`, `ring:TYPE`, `stream:TYPE` or `channel:TYPE` instead of
    /// inferring it.
    #[arg(long = "as", value_name = "KIND:TYPE")]
    spec: Option<Spec>,
    /// Milliseconds between samples.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..))]
    interval: u64,
    /// Stop after N samples (default: until interrupted).
    #[arg(long)]
    count: Option<u64>,
}

/// One reading of the counters.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Items (frames) currently held.
    depth: u64,
    /// Capacity in the same unit (bytes for a buffer).
    capacity: u64,
    /// Items (frames) ever written, monotonic in this process's view.
    written: u64,
    /// Items (frames) ever read.
    read: u64,
    /// Bytes ever written.
    bytes: u64,
}

enum Watch {
    /// Header words of a queue: head @0, tail @4; elements of `es` bytes. For a buffered
    /// channel, `chan` is its `NAME_header`.
    Queue {
        region: Region,
        cap: u64,
        es: u64,
        chan: Option<Region>,
    },
    /// Positions of a ring: write_pos @0, read_pos @8 (bytes). For a stream, `stream` is its
    /// `NAME_header` and its optional `NAME_subs`.
    Ring {
        region: Region,
        cap: u64,
        es: u64,
        stream: Option<(Region, Option<Region>)>,
    },
    /// A ZeroBuffer buffer, re-read every tick.
    Buffer(Source),
}

/// Counters that wrap (u32 queue counters, a buffer's ring position) turned into monotonic
/// totals by adding wrapped deltas.
struct Accumulator {
    last: Option<(u64, u64, u64)>,
    totals: (u64, u64, u64),
}

impl Accumulator {
    fn add(&mut self, raw: (u64, u64, u64), modulus: (u64, u64, u64)) -> (u64, u64, u64) {
        let delta = |new: u64, old: u64, m: u64| {
            if m == 0 {
                new.wrapping_sub(old)
            } else {
                (new % m + m - old % m) % m
            }
        };
        if let Some(last) = self.last {
            self.totals.0 += delta(raw.0, last.0, modulus.0);
            self.totals.1 += delta(raw.1, last.1, modulus.1);
            self.totals.2 += delta(raw.2, last.2, modulus.2);
        }
        self.last = Some(raw);
        self.totals
    }
}

impl Watch {
    fn kind(&self) -> &'static str {
        match self {
            Watch::Queue { chan: None, .. } => "queue",
            Watch::Queue { chan: Some(_), .. } => "channel",
            Watch::Ring { stream: None, .. } => "ring",
            Watch::Ring {
                stream: Some(_), ..
            } => "stream",
            Watch::Buffer(_) => "zerobuffer",
        }
    }

    fn sample(&self, acc: &mut Accumulator) -> Result<(Sample, Option<Value>)> {
        match self {
            Watch::Queue {
                region,
                cap,
                es,
                chan,
            } => {
                let head = u64::from(region.read::<u32>(0)?);
                let tail = u64::from(region.read::<u32>(4)?);
                let depth = (tail.wrapping_sub(head) & 0xFFFF_FFFF).min(*cap);
                let (w, r, _) = acc.add((tail, head, 0), (1 << 32, 1 << 32, 0));
                let s = Sample {
                    depth,
                    capacity: *cap,
                    written: w,
                    read: r,
                    bytes: w * es,
                };
                let extra = match chan {
                    Some(h) => Some(json!({
                        "closed": h.read::<u8>(12)? == 1,
                        "waiting_senders": h.read::<u32>(4)?,
                        "waiting_receivers": h.read::<u32>(8)?,
                    })),
                    None => None,
                };
                Ok((s, extra))
            }
            Watch::Ring {
                region,
                cap,
                es,
                stream,
            } => {
                let w = region.read::<u64>(0)?;
                let r = region.read::<u64>(8)?;
                let s = Sample {
                    depth: w.saturating_sub(r).min(*cap) / es,
                    capacity: cap / es,
                    written: w / es,
                    read: r / es,
                    bytes: w,
                };
                let extra = match stream {
                    Some((h, subs)) => {
                        let (slots, max_lag) = match subs {
                            Some(subs) => {
                                let (_, slots) = crate::prim::subscribers(subs, w, *cap, *es)?;
                                let max = slots.iter().filter_map(|s| s["lag"].as_u64()).max();
                                (Value::Array(slots), max.map_or(Value::Null, Value::from))
                            }
                            None => (Value::Null, Value::Null),
                        };
                        Some(json!({
                            "closed": h.read::<u8>(12)? == 1,
                            "sequence": h.read::<u64>(0)?,
                            "subscribers": h.read::<u32>(8)?,
                            "max_lag": max_lag,
                            "subscriber_slots": slots,
                        }))
                    }
                    None => None,
                };
                Ok((s, extra))
            }
            Watch::Buffer(src) => {
                let snap = buffer_snapshot(src)?;
                let o = snap.oieb;
                let (w, r, b) = acc.add(
                    (
                        o.payload_written_count,
                        o.payload_read_count,
                        o.payload_write_pos,
                    ),
                    (0, 0, o.payload_size),
                );
                let s = Sample {
                    depth: snap.health.used_bytes,
                    capacity: snap.health.payload_size,
                    written: w,
                    read: r,
                    bytes: b,
                };
                let extra = json!({
                    "health": format!("{:?}", snap.health.level).to_lowercase(),
                    "state": crate::cmd::list::buffer_state(&snap),
                    "writer_pid": o.writer_pid,
                    "writer_alive": snap.writer_alive,
                    "reader_pid": o.reader_pid,
                    "reader_alive": snap.reader_alive,
                });
                Ok((s, Some(extra)))
            }
        }
    }
}

/// Bytes of each of the watched structure's entries read per sample: its counters and
/// headers, never its elements.
const WATCH_PREFIX: u64 = 4096;

/// A watch on a fresh snapshot of the segment: header and table, and the first
/// [`WATCH_PREFIX`] bytes of `name` and of its parts (`NAME_*`).
fn snapshot_watch(src: &Source, name: &str, spec: Option<Spec>) -> Result<Watch> {
    let seg = open_segment(src)?;
    let prefix = format!("{name}_");
    for e in seg.entries()? {
        if e.name() == name || e.name().starts_with(&prefix) {
            seg.load_prefix(&e, WATCH_PREFIX)
                .map_err(|err| CliError::from(err).context(seg.name()))?;
        }
    }
    open_watch(&seg, name, spec)
}

fn open_watch(seg: &Segment, name: &str, spec: Option<Spec>) -> Result<Watch> {
    let entries = seg.entries()?;
    let spec = match spec {
        Some(s) => s,
        None => match infer(seg, &entries, name) {
            Guess::Known { spec, .. } => spec,
            Guess::Unknown if !entries.iter().any(|e| e.name() == name) => {
                return Err(CliError::from(seg.find(name).err().unwrap_or(
                    zeroipc_format::Error::NotFound {
                        name: name.to_owned(),
                    },
                ))
                .context(seg.name()));
            }
            other => {
                return Err(CliError::other(format!(
                    "{name:?}: cannot infer its kind ({}); pass --as queue:TYPE, ring:TYPE, stream:TYPE or channel:TYPE",
                    other.label()
                )));
            }
        },
    };
    let Some(dtype) = spec.dtype.filter(|_| spec.kind.typing() == Typing::One) else {
        return Err(CliError::other(format!(
            "{name:?} is a {}; monitor watches queues, rings, streams, buffered channels and ZeroBuffer buffers",
            spec.kind
        )));
    };
    let es = dtype.size();
    // Open through the typed API once: it validates the layout (writing nothing).
    macro_rules! check {
        ($S:ident) => {
            match dtype {
                Dtype::I8 | Dtype::U8 => $S::<u8>::open(seg, name).map(|_| ()),
                Dtype::I16 | Dtype::U16 => $S::<u16>::open(seg, name).map(|_| ()),
                Dtype::I32 | Dtype::U32 | Dtype::F32 => $S::<u32>::open(seg, name).map(|_| ()),
                Dtype::I64 | Dtype::U64 | Dtype::F64 => $S::<u64>::open(seg, name).map(|_| ()),
            }
        };
    }
    let region_of = |n: &str| -> Result<Region> { Ok(seg.region(&seg.find(n)?)?) };
    match spec.kind {
        Kind::Queue => {
            check!(Queue)?;
            let region = region_of(name)?;
            let cap = u64::from(region.read::<u32>(8)?);
            Ok(Watch::Queue {
                region,
                cap,
                es,
                chan: None,
            })
        }
        Kind::Ring => {
            check!(Ring)?;
            let region = region_of(name)?;
            let cap = u64::from(region.read::<u32>(16)?);
            Ok(Watch::Ring {
                region,
                cap,
                es,
                stream: None,
            })
        }
        Kind::Stream => {
            check!(Stream)?;
            let region = region_of(&format!("{name}_buffer"))?;
            let cap = u64::from(region.read::<u32>(16)?);
            let header = region_of(&format!("{name}_header"))?;
            let subs = match seg.get(&format!("{name}_subs"))? {
                Some(e) => Some(seg.region(&e)?),
                None => None,
            };
            Ok(Watch::Ring {
                region,
                cap,
                es,
                stream: Some((header, subs)),
            })
        }
        Kind::Channel => {
            check!(Channel)?;
            if seg.get(&format!("{name}_buffer"))?.is_none() {
                return Err(CliError::other(format!(
                    "{name:?} is an unbuffered channel: its layout has no counters to take rates from; `show` gives its state"
                )));
            }
            let region = region_of(&format!("{name}_buffer"))?;
            let cap = u64::from(region.read::<u32>(8)?);
            let header = region_of(&format!("{name}_header"))?;
            Ok(Watch::Queue {
                region,
                cap,
                es,
                chan: Some(header),
            })
        }
        other => Err(CliError::other(format!(
            "{name:?} is a {other}; monitor watches queues, rings, streams, buffered channels and ZeroBuffer buffers"
        ))),
    }
}

#[allow(clippy::cast_precision_loss)]
fn rate(new: u64, old: u64, secs: f64) -> f64 {
    new.saturating_sub(old) as f64 / secs
}

/// Runs `monitor`.
///
/// # Errors
/// Exit 1 (not found), 2 (corrupt), 3 (not a queue, ring or buffer).
pub fn run(args: &Args, json: bool) -> Result<()> {
    let src = resolve(&args.seg)?;
    let (content, len) = classify(&src.path)?;
    // A segment is never mapped: every sample re-reads the header, the table and the first
    // bytes of the watched structure's entries with pread (see `snapshot_watch`), so a peer
    // shrinking the file gives an error, never SIGBUS.
    let watch = match (content, &args.name) {
        (Content::ZeroIpc, Some(name)) => snapshot_watch(&src, name, args.spec)?,
        (Content::ZeroIpc, None) => {
            return Err(CliError::other(format!(
                "{}: name the queue, ring, stream or channel to monitor",
                src.label()
            )));
        }
        (Content::ZeroBuffer, _) => {
            buffer_snapshot(&src)?;
            Watch::Buffer(src.clone())
        }
        (Content::Other, _) => return Err(unrecognised(&src, len)),
    };
    let interval = Duration::from_millis(args.interval);
    let mut acc = Accumulator {
        last: None,
        totals: (0, 0, 0),
    };
    let start = Instant::now();
    let resample = |acc: &mut Accumulator| -> Result<(Sample, Option<Value>)> {
        match (&watch, &args.name) {
            (Watch::Buffer(_), _) | (_, None) => watch.sample(acc),
            (_, Some(name)) => snapshot_watch(&src, name, args.spec)?.sample(acc),
        }
    };
    let (mut prev, _) = resample(&mut acc)?;
    let mut prev_at = Instant::now();
    let mut tick: u64 = 0;
    loop {
        tick += 1;
        if args.count.is_some_and(|c| tick > c) {
            return Ok(());
        }
        let due = start + interval.saturating_mul(u32::try_from(tick).unwrap_or(u32::MAX));
        while let Some(wait) = due.checked_duration_since(Instant::now()) {
            if let Watch::Buffer(_) = watch {
                // A buffer's write position wraps every P bytes: sample it often enough that
                // it rarely laps between two readings (the byte rate would miss whole laps).
                std::thread::sleep(wait.min(BUFFER_SUBSAMPLE));
                if due > Instant::now() {
                    resample(&mut acc)?;
                }
            } else {
                std::thread::sleep(wait);
            }
        }
        let (s, extra) = resample(&mut acc)?;
        let now = Instant::now();
        let secs = now.duration_since(prev_at).as_secs_f64().max(1e-9);
        let written = rate(s.written, prev.written, secs);
        let read = rate(s.read, prev.read, secs);
        let bytes = rate(s.bytes, prev.bytes, secs);
        #[allow(clippy::cast_precision_loss)]
        let util = s.depth as f64 / s.capacity.max(1) as f64;
        let is_buffer = matches!(watch, Watch::Buffer(_));
        if json {
            let mut v = json!({
                "tick": tick,
                "elapsed_s": now.duration_since(start).as_secs_f64(),
                "interval_s": secs,
                "kind": watch.kind(),
                "depth": s.depth,
                "capacity": s.capacity,
                "utilisation": util,
                "written_total": s.written,
                "read_total": s.read,
                "bytes_per_s": bytes,
            });
            if let Value::Object(m) = &mut v {
                if is_buffer {
                    m.insert("frames_per_s".into(), json!(written));
                    m.insert("read_frames_per_s".into(), json!(read));
                    m.insert("mb_per_s".into(), json!(bytes / 1e6));
                } else {
                    m.insert("items_per_s".into(), json!(written));
                    m.insert("read_items_per_s".into(), json!(read));
                }
                if let Some(Value::Object(e)) = extra.clone() {
                    m.extend(e);
                }
            }
            out_json(&v)?;
        } else {
            let unit = if is_buffer { "B" } else { "items" };
            let rates = if is_buffer {
                format!(
                    "{written:>9.1} frames/s in {read:>9.1} out  {:>8.2} MB/s",
                    bytes / 1e6
                )
            } else {
                format!(
                    "{written:>9.1} items/s in {read:>9.1} out  {:>10.0} B/s",
                    bytes
                )
            };
            let mut notes = String::new();
            if let Some(e) = &extra {
                if let Some(slots) = e["subscriber_slots"].as_array() {
                    notes.push_str(&format!("  subscribers {}", slots.len()));
                }
                if let Some(lag) = e["max_lag"].as_u64() {
                    notes.push_str(&format!(", max lag {lag}"));
                }
                if e["closed"] == Value::Bool(true) {
                    notes.push_str("  closed");
                }
            }
            out(&format!(
                "{:>8.1}s {} {:>5.1}% {:>8}/{} {unit}  {rates}{notes}",
                now.duration_since(start).as_secs_f64(),
                crate::fmt::bar(util, 20),
                util * 100.0,
                s.depth,
                s.capacity
            ))?;
        }
        prev = s;
        prev_at = now;
    }
}
