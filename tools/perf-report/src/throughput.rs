//! Throughput against message size between two processes: Queue, Ring, Channel and
//! ZeroBuffer against single-thread `memcpy` and a pipe. The receiver reads every byte of
//! every message (a checksum compared with what the sender sent).

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Reader, Writer};
use zeroipc_codata::Channel;
use zeroipc_format::Segment;
use zeroipc_structures::{Queue, Ring};

use crate::Config;
use crate::baselines::{memcpy_rate, pipe_produce};
use crate::harness::{
    Backoff, Spread, checksum, expected_sum, open, ratio, segment, spawn, spawn_with, template,
    unique, wait_ok,
};
use crate::report::{Goal, GroupRecord, table};

const SIZES_FULL: [usize; 7] = [8, 64, 1024, 16 << 10, 256 << 10, 1 << 20, 4 << 20];
const SIZES_QUICK: [usize; 3] = [8, 1024, 1 << 20];

/// Messages a ring of this message size holds (8 MiB worth, 4..=1024).
fn slots(size: usize) -> usize {
    ((8 << 20) / size).clamp(4, 1024)
}

fn count(cfg: &Config, size: usize) -> u64 {
    let budget = cfg.pick(256u64 << 20, 16 << 20);
    let max = cfg.pick(200_000u64, 20_000);
    (budget / size as u64).clamp(64, max)
}

macro_rules! by_size {
    ($size:expr, $f:ident ( $($a:expr),* )) => {
        match $size {
            8 => $f::<8>($($a),*),
            64 => $f::<64>($($a),*),
            1024 => $f::<1024>($($a),*),
            16384 => $f::<16384>($($a),*),
            262144 => $f::<262144>($($a),*),
            1048576 => $f::<1048576>($($a),*),
            4194304 => $f::<4194304>($($a),*),
            other => panic!("no instantiation for message size {other}"),
        }
    };
}

/// Runs `f` on a thread with a stack big enough for by-value messages of 4 MiB.
fn big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(128 << 20)
        .spawn(f)
        .expect("spawn thread")
        .join()
        .expect("thread")
}

/// Times the receiving side from its first message: returns bytes per second.
struct Timer {
    start: Option<Instant>,
    first: u64,
    bytes: u64,
    sum: u64,
}

impl Timer {
    fn new() -> Self {
        Timer {
            start: None,
            first: 0,
            bytes: 0,
            sum: 0,
        }
    }
    fn got(&mut self, data: &[u8]) {
        if self.start.is_none() {
            self.start = Some(Instant::now());
            self.first = data.len() as u64;
        }
        self.bytes += data.len() as u64;
        self.sum = self.sum.wrapping_add(checksum(data));
    }
    fn rate(&self, size: usize, count: u64) -> f64 {
        assert_eq!(
            self.sum,
            expected_sum(size, count),
            "receiver did not see the sender's bytes"
        );
        let secs = self.start.map_or(1.0, |s| s.elapsed().as_secs_f64());
        (self.bytes - self.first) as f64 / secs
    }
}

fn parse(arg: &str) -> (String, usize, u64) {
    let mut it = arg.split(':');
    let name = it.next().expect("name").to_string();
    let size = it.next().and_then(|v| v.parse().ok()).expect("size");
    let count = it.next().and_then(|v| v.parse().ok()).expect("count");
    (name, size, count)
}

fn queue_produce<const N: usize>(name: String, count: u64) {
    let seg = open(&name);
    let q = Queue::<[u8; N]>::open(&seg, "q").expect("queue");
    let mut msg = template(N);
    for i in 0..count {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        let one: &[[u8; N]] = bytemuck::cast_slice(&msg);
        let mut bk = Backoff::default();
        while q.push_slice(one).expect("push") == 0 {
            bk.snooze();
        }
    }
}

fn queue_consume<const N: usize>(seg: &Segment, count: u64) -> f64 {
    let q = Queue::<[u8; N]>::open(seg, "q").expect("queue");
    let mut buf = vec![0u8; N];
    let mut t = Timer::new();
    let mut got = 0;
    let mut bk = Backoff::default();
    while got < count {
        let dst: &mut [[u8; N]] = bytemuck::cast_slice_mut(&mut buf);
        if q.pop_into(dst).expect("pop") == 1 {
            t.got(&buf);
            got += 1;
            bk.reset();
        } else {
            bk.snooze();
        }
    }
    t.rate(N, count)
}

fn channel_produce<const N: usize>(name: String, count: u64) {
    {
        let seg = open(&name);
        let c = Channel::<[u8; N]>::open(&seg, "c").expect("channel");
        let msg = template(N);
        let mut v: [u8; N] = bytemuck::cast_slice::<u8, [u8; N]>(&msg)[0];
        for i in 0..count {
            v[..8].copy_from_slice(&i.to_le_bytes());
            c.send(v).expect("send");
        }
    }
}

fn channel_consume<const N: usize>(name: String, count: u64) -> f64 {
    {
        let seg = open(&name);
        let c = Channel::<[u8; N]>::open(&seg, "c").expect("channel");
        let mut t = Timer::new();
        for _ in 0..count {
            let v = c.recv().expect("recv").expect("open");
            t.got(&v);
        }
        t.rate(N, count)
    }
}

fn create_queue<const N: usize>(seg: &Segment, slots: usize) {
    Queue::<[u8; N]>::create(seg, "q", slots).expect("queue");
}

fn create_channel<const N: usize>(seg: &Segment, slots: usize) {
    Channel::<[u8; N]>::create(seg, "c", slots).expect("channel");
}

/// Peer roles of this group.
pub fn child(role: &str, arg: &str) -> bool {
    if !role.starts_with("tp.") {
        return false;
    }
    let (role, arg) = (role.to_string(), arg.to_string());
    big_stack(move || child_inner(&role, &arg))
}

fn child_inner(role: &str, arg: &str) -> bool {
    let (name, size, count) = parse(arg);
    match role {
        "tp.pipe" => pipe_produce(size, count),
        "tp.queue" => by_size!(size, queue_produce(name, count)),
        "tp.channel" => by_size!(size, channel_produce(name, count)),
        "tp.ring" => {
            let seg = open(&name);
            let r = Ring::<u8>::open(&seg, "r").expect("ring");
            let mut msg = template(size);
            for i in 0..count {
                msg[..8].copy_from_slice(&i.to_le_bytes());
                let mut off = 0;
                let mut bk = Backoff::default();
                while off < size {
                    let n = r.write_slice(&msg[off..]).expect("write");
                    if n == 0 {
                        bk.snooze();
                    } else {
                        bk.reset();
                    }
                    off += n;
                }
            }
        }
        "tp.zb" => {
            let mut w = Writer::connect(&name).expect("connect");
            let msg = template(size);
            for i in 0..count {
                let buf = w.get_frame_buffer(size).expect("reserve");
                buf.copy_from_slice(&msg);
                buf[..8].copy_from_slice(&i.to_le_bytes());
                w.commit_frame().expect("commit");
            }
        }
        _ => return false,
    }
    true
}

/// Subjects in table order.
const SUBJECTS: [&str; 6] = [
    "memcpy, 1 thread (baseline)",
    "pipe (baseline)",
    "Queue<[u8; N]>",
    "Ring<u8> (zero-copy read)",
    "Channel<[u8; N]>",
    "ZeroBuffer",
];

/// One measurement, on a thread with a big stack: the by-value paths of 4 MiB messages
/// (inlined into this function's frame) do not fit in the main thread's 8 MiB.
fn one(k: usize, size: usize, count: u64) -> f64 {
    big_stack(move || one_inner(k, size, count))
}

fn one_inner(k: usize, size: usize, count: u64) -> f64 {
    let arg = |name: &str| format!("{name}:{size}:{count}");
    let sl = slots(size);
    match k {
        0 => memcpy_rate(size, sl, count),
        1 => {
            let mut child = spawn_with("tp.pipe", &arg("-"), None, Stdio::null(), Stdio::piped());
            let mut rx = child.stdout.take().expect("stdout");
            let mut buf = vec![0u8; size];
            let mut t = Timer::new();
            for _ in 0..count {
                rx.read_exact(&mut buf).expect("read");
                t.got(&buf);
            }
            drop(rx);
            wait_ok(child, "tp.pipe");
            t.rate(size, count)
        }
        2 | 4 => {
            let seg = segment("tp", (sl * (size + 8)) as u64 + (1 << 20), 8);
            let role = if k == 2 { "tp.queue" } else { "tp.channel" };
            if k == 2 {
                by_size!(size, create_queue(&seg, sl));
            } else {
                by_size!(size, create_channel(&seg, sl));
            }
            let child = spawn(role, &arg(seg.name()), None);
            let r = if k == 2 {
                by_size!(size, queue_consume(&seg, count))
            } else {
                by_size!(size, channel_consume(seg.name().to_string(), count))
            };
            wait_ok(child, role);
            r
        }
        3 => {
            let seg = segment("tp", (sl * size) as u64 + (1 << 20), 8);
            let r = Ring::<u8>::create(&seg, "r", sl * size).expect("ring");
            let child = spawn("tp.ring", &arg(seg.name()), None);
            let total = size as u64 * count;
            let mut t = Timer::new();
            let mut bk = Backoff::default();
            while t.bytes < total {
                let view = r.read_slices().expect("view");
                let n = view.len();
                if n == 0 {
                    bk.snooze();
                    continue;
                }
                bk.reset();
                let (a, b) = view.bytes();
                // Positions stay multiples of 8 (every write and read is), so the two parts
                // split on word boundaries.
                if t.start.is_none() {
                    t.start = Some(Instant::now());
                    t.first = n as u64;
                }
                t.bytes += n as u64;
                t.sum = t.sum.wrapping_add(checksum(a)).wrapping_add(checksum(b));
                view.consume(n).expect("consume");
            }
            wait_ok(child, "tp.ring");
            t.rate(size, count)
        }
        _ => {
            let name = unique("zbt");
            let payload = (sl * (size + 64)) as u64;
            let reader = Reader::create(&name, BufferConfig::new(0, payload)).expect("reader");
            let child = spawn("tp.zb", &arg(&name), None);
            let mut t = Timer::new();
            for _ in 0..count {
                let f = reader
                    .read_frame_timeout(Duration::from_secs(30))
                    .expect("read")
                    .expect("frame");
                t.got(f.data());
            }
            wait_ok(child, "tp.zb");
            t.rate(size, count)
        }
    }
}

fn size_label(s: usize) -> String {
    if s >= 1 << 20 {
        format!("{} MiB", s >> 20)
    } else if s >= 1024 {
        format!("{} KiB", s >> 10)
    } else {
        format!("{s} B")
    }
}

/// Runs the group.
pub fn run(cfg: &Config, img: &Path) -> GroupRecord {
    let sizes: Vec<usize> = if cfg.quick {
        SIZES_QUICK.to_vec()
    } else {
        SIZES_FULL.to_vec()
    };
    // rates[subject][size] = per-round bytes/s
    let mut rates = vec![vec![Vec::new(); sizes.len()]; SUBJECTS.len()];
    // The ZeroBuffer protocol's per-frame floor, in the rounds of the 1 KiB frames.
    let mut floor = Vec::new();
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        for (j, &size) in sizes.iter().enumerate() {
            let c = count(cfg, size);
            for (k, sub) in rates.iter_mut().enumerate() {
                eprintln!("   round {} {} {}", r + 1, size_label(size), SUBJECTS[k]);
                sub[j].push(one(k, size, c));
            }
            if size == 1024 {
                eprintln!("   round {} ZeroBuffer per-frame floor", r + 1);
                floor.push(crate::zbfloor::rate(c));
            }
        }
    }
    let spreads: Vec<Vec<Spread>> = rates.iter().map(|s| Spread::each(s)).collect();
    let mut header = vec!["message size".to_string(), "messages".to_string()];
    header.extend(SUBJECTS.iter().map(|s| s.to_string()));
    let h: Vec<&str> = header.iter().map(String::as_str).collect();
    let (mut abs, mut rel, mut msgs) = (Vec::new(), Vec::new(), Vec::new());
    for (j, &size) in sizes.iter().enumerate() {
        let memcpy = spreads[0][j].med;
        let head = vec![size_label(size), count(cfg, size).to_string()];
        let (mut a, mut r, mut m) = (head.clone(), head.clone(), head);
        for sp in &spreads {
            a.push(sp[j].show(1e-9, ""));
            r.push(ratio(sp[j].med / memcpy));
            m.push(crate::harness::num(sp[j].med / size as f64 / 1e6));
        }
        abs.push(a);
        rel.push(r);
        if size <= 1024 {
            msgs.push(m);
        }
    }
    let mut md = format!(
        "GB/s, median (min–max) over {} rounds:\n\n{}\nRatio of the medians to `memcpy` of the \
         same size:\n\n{}\nSmall messages in millions of messages per second (median):\n\n{}",
        cfg.rounds,
        table(&h, &abs),
        table(&h, &rel),
        table(&h, &msgs)
    );
    let series: Vec<(String, Vec<(f64, f64)>)> = SUBJECTS
        .iter()
        .enumerate()
        .map(|(k, s)| {
            (
                s.to_string(),
                sizes
                    .iter()
                    .enumerate()
                    .map(|(j, &size)| (size as f64, spreads[k][j].med / 1e9))
                    .collect(),
            )
        })
        .collect();
    crate::plot::embed(
        &mut md,
        img,
        "throughput.svg",
        "throughput against message size",
        |path| {
            crate::plot::lines(
                path,
                "Throughput against message size, 2 processes (GB/s)",
                "message size (bytes)",
                "GB/s",
                &series,
                true,
                true,
            )
        },
    );

    let mut goals = Vec::new();
    let at = |size: usize| sizes.iter().position(|&s| s == size);
    if let Some(j) = at(1 << 20) {
        let memcpy = spreads[0][j];
        let ring = spreads[3][j];
        let zbuf = spreads[5][j];
        // Both 1 MiB copy paths are held to 80 % of a plain memcpy of the same blocks.
        let vs_memcpy = |issue: &str, figure: &str, s: Spread| {
            Goal::new(issue, figure)
                .result(s.show(1e-9, "GB/s"))
                .baseline(format!(
                    "memcpy 1 MiB blocks into 8 MiB: {}",
                    memcpy.show(1e-9, "GB/s")
                ))
                .ratio(ratio(s.med / memcpy.med))
                .goal("≥ 0.8×", Some(s.med / memcpy.med >= 0.8))
        };
        goals.push(vs_memcpy(
            "#5 structures",
            "Ring 1 MiB writes + zero-copy reads (reader sums every word), 2 processes",
            ring,
        ));
        goals.push(vs_memcpy(
            "#3 zerobuffer",
            "1 MiB frames, one copy in, zero-copy read of every byte, 2 processes",
            zbuf,
        ));
    }
    if let Some(j) = at(1024) {
        // Bytes/s of 1 KiB messages as messages/s.
        let per_msg = |s: Spread| Spread {
            med: s.med / 1024.0,
            min: s.min / 1024.0,
            max: s.max / 1024.0,
        };
        let (zbuf, pipe) = (spreads[5][j], spreads[1][j]);
        let frames = per_msg(zbuf).show(1e-6, "M frames/s");
        let fps = zbuf.med / 1024.0;
        goals.push(
            Goal::new(
                "#3 zerobuffer",
                "1 KiB frames, reader touches every byte, 2 processes",
            )
            .result(frames.clone())
            .baseline(format!(
                "pipe, 1 KiB messages: {}",
                per_msg(pipe).show(1e-6, "M msgs/s")
            ))
            .ratio(ratio(zbuf.med / pipe.med))
            .goal("≥ 4 M frames/s", Some(fps >= 4e6)),
        );
        if !floor.is_empty() {
            let fl = Spread::of(&floor);
            goals.push(
                Goal::new(
                    "#19 perf",
                    "ZeroBuffer 1 KiB frames against the protocol's per-frame floor",
                )
                .result(frames)
                .baseline(format!(
                    "OIEB and semaphore operations alone, no payload: {}",
                    fl.show(1e-6, "M frames/s")
                ))
                .ratio(ratio(fps / fl.med))
                .goal("≥ 6 M frames/s", Some(fps >= 6e6)),
            );
        }
    }
    GroupRecord::new(md, goals)
}
