//! Round-trip latency of one 8-byte message between two processes, for every IPC path and
//! its baselines, unpinned and (with ≥ 2 CPUs) pinned to different CPUs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use zeroipc_format::atomic::Ordering;

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer};
use zeroipc_codata::Channel;
use zeroipc_format::Segment;
use zeroipc_structures::Queue;
use zeroipc_sync::Semaphore;

use crate::Config;
use crate::baselines::{echo, futex_set, futex_wait_until};
use crate::harness::{
    Lat, dur, open, pin_to, ratio, raw, region, segment, spawn, spawn_with, two_cpus, unique,
    unpin, wait_ok,
};
use crate::report::{Goal, GroupRecord, table};

/// The round trips measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    RawSpin,
    RawFutex,
    Pipe,
    Unix,
    Queue,
    Channel,
    Semaphore,
    ZeroBuffer,
    CrossbeamChannel,
}

impl Subject {
    const ALL: [Subject; 9] = [
        Subject::RawSpin,
        Subject::RawFutex,
        Subject::Queue,
        Subject::Semaphore,
        Subject::Channel,
        Subject::ZeroBuffer,
        Subject::CrossbeamChannel,
        Subject::Unix,
        Subject::Pipe,
    ];
    const PINNED: [Subject; 5] = [
        Subject::RawSpin,
        Subject::RawFutex,
        Subject::Queue,
        Subject::Semaphore,
        Subject::Channel,
    ];

    fn label(self) -> &'static str {
        match self {
            Subject::RawSpin => "raw cache-line ping-pong, spinning (baseline)",
            Subject::RawFutex => "raw spin(200 PAUSE)-then-futex ping-pong (baseline)",
            Subject::Pipe => "pipe, 8 B each way (baseline)",
            Subject::Unix => "Unix socket pair, 8 B each way (baseline)",
            Subject::Queue => "Queue<u64>, two queues, spinning",
            Subject::Channel => "Channel<u64> (codata), two channels, blocking send/recv",
            Subject::Semaphore => "Semaphore (sync), release / acquire",
            Subject::ZeroBuffer => "ZeroBuffer duplex, 8-byte frames",
            Subject::CrossbeamChannel => {
                "crossbeam-channel bounded(1), two threads of one process (baseline)"
            }
        }
    }

    fn short(self) -> &'static str {
        match self {
            Subject::RawSpin => "raw spin",
            Subject::RawFutex => "raw futex",
            Subject::Pipe => "pipe",
            Subject::Unix => "Unix socket",
            Subject::Queue => "Queue",
            Subject::Channel => "Channel",
            Subject::Semaphore => "Semaphore",
            Subject::ZeroBuffer => "ZeroBuffer",
            Subject::CrossbeamChannel => "crossbeam-channel (threads)",
        }
    }
}

const STOP: u64 = u64::MAX;

/// Calls `once(i)` for i = 1, 2, ... and records its duration after `warm` calls, until `n`
/// samples or `cap` elapsed.
fn sample(n: usize, warm: usize, cap: Duration, mut once: impl FnMut(u64)) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    let start = Instant::now();
    let mut i = 1u64;
    while out.len() < n && (start.elapsed() < cap || out.len() < 10) {
        let t = Instant::now();
        once(i);
        let dt = t.elapsed().as_nanos() as u64;
        if i as usize > warm {
            out.push(dt);
        }
        i += 1;
    }
    out
}

struct Plan {
    n: usize,
    warm: usize,
    cap: Duration,
}

/// One run of subject `s`; `pin` = (CPU of this process, CPU of the peer).
fn run_one(s: Subject, p: &Plan, pin: Option<(usize, usize)>) -> Vec<u64> {
    let child_pin = pin.map(|(_, c)| c);
    let prev = pin.and_then(|(me, _)| pin_to(me).ok());
    let out = match s {
        Subject::RawSpin
        | Subject::RawFutex
        | Subject::Queue
        | Subject::Channel
        | Subject::Semaphore => {
            let seg = segment("lat", 1 << 20, 16);
            let w = raw(&seg, "w", 4096);
            Queue::<u64>::create(&seg, "qping", 2).expect("queue");
            Queue::<u64>::create(&seg, "qpong", 2).expect("queue");
            Channel::<u64>::create(&seg, "cping", 2).expect("channel");
            Channel::<u64>::create(&seg, "cpong", 2).expect("channel");
            Semaphore::create(&seg, "sping", 0, 0).expect("semaphore");
            Semaphore::create(&seg, "spong", 0, 0).expect("semaphore");
            let role = match s {
                Subject::RawSpin => "lat.rawspin",
                Subject::RawFutex => "lat.rawfutex",
                Subject::Queue => "lat.queue",
                Subject::Channel => "lat.channel",
                _ => "lat.semaphore",
            };
            let child = spawn(role, seg.name(), child_pin);
            let v = ping_side(s, &seg, &w, p);
            wait_ok(child, role);
            v
        }
        Subject::Pipe => {
            let mut child = spawn_with("lat.echo", "8", child_pin, Stdio::piped(), Stdio::piped());
            let mut tx = child.stdin.take().expect("stdin");
            let mut rx = child.stdout.take().expect("stdout");
            let mut buf = [0u8; 8];
            let v = sample(p.n, p.warm, p.cap, |i| {
                tx.write_all(&i.to_le_bytes()).expect("write");
                rx.read_exact(&mut buf).expect("read");
            });
            drop(tx);
            wait_ok(child, "lat.echo");
            v
        }
        Subject::Unix => {
            let (mut a, b) = UnixStream::pair().expect("socketpair");
            let b2 = b.try_clone().expect("clone socket");
            let child = spawn_with(
                "lat.echo",
                "8",
                child_pin,
                Stdio::from(std::os::fd::OwnedFd::from(b)),
                Stdio::from(std::os::fd::OwnedFd::from(b2)),
            );
            let mut buf = [0u8; 8];
            let v = sample(p.n, p.warm, p.cap, |i| {
                a.write_all(&i.to_le_bytes()).expect("write");
                a.read_exact(&mut buf).expect("read");
            });
            a.shutdown(std::net::Shutdown::Both).expect("shutdown");
            wait_ok(child, "lat.echo");
            v
        }
        Subject::ZeroBuffer => {
            let name = unique("zbl");
            let mut child = spawn_with("lat.zb", &name, child_pin, Stdio::null(), Stdio::piped());
            zeroipc_testkit::wait_ready(&mut child);
            let mut client =
                DuplexClient::connect_with(&name, BufferConfig::new(0, 64 << 10)).expect("client");
            let mut rt = |i: u64| {
                client.send_request(&i.to_le_bytes()).expect("send");
                let r = client
                    .receive_response(Duration::from_secs(10))
                    .expect("receive")
                    .expect("response");
                assert_eq!(r.data(), i.to_le_bytes());
            };
            let v = sample(p.n, p.warm, p.cap, &mut rt);
            rt(STOP);
            drop(client);
            wait_ok(child, "lat.zb");
            v
        }
        Subject::CrossbeamChannel => {
            let (ptx, prx) = crossbeam_channel::bounded::<u64>(1);
            let (qtx, qrx) = crossbeam_channel::bounded::<u64>(1);
            let t = std::thread::spawn(move || {
                if let Some(cpu) = child_pin {
                    let _ = pin_to(cpu);
                }
                while let Ok(v) = prx.recv() {
                    if v == STOP || qtx.send(v).is_err() {
                        break;
                    }
                }
            });
            let v = sample(p.n, p.warm, p.cap, |i| {
                ptx.send(i).expect("send");
                assert_eq!(qrx.recv().expect("recv"), i);
            });
            ptx.send(STOP).expect("send");
            t.join().expect("pong thread");
            v
        }
    };
    if let Some(prev) = prev {
        unpin(&prev);
    }
    out
}

fn ping_side(s: Subject, seg: &Segment, w: &zeroipc_format::Region, p: &Plan) -> Vec<u64> {
    match s {
        Subject::RawSpin => {
            let (ping, pong) = (w.atomic_u64(0).expect("w"), w.atomic_u64(64).expect("w"));
            let v = sample(p.n, p.warm, p.cap, |i| {
                ping.store(i, Ordering::Release);
                while pong.load(Ordering::Acquire) != i {
                    std::hint::spin_loop();
                }
            });
            ping.store(STOP, Ordering::Release);
            v
        }
        Subject::RawFutex => {
            let (ping, pflag) = (w.atomic_u32(128).expect("w"), w.atomic_u32(136).expect("w"));
            let (pong, qflag) = (w.atomic_u32(192).expect("w"), w.atomic_u32(200).expect("w"));
            let v = sample(p.n, p.warm, p.cap, |i| {
                futex_set(ping, pflag, i as u32);
                futex_wait_until(pong, qflag, |v| v == i as u32);
            });
            futex_set(ping, pflag, u32::MAX);
            v
        }
        Subject::Queue => {
            let ping = Queue::<u64>::open(seg, "qping").expect("q");
            let pong = Queue::<u64>::open(seg, "qpong").expect("q");
            let v = sample(p.n, p.warm, p.cap, |i| {
                ping.push(i).expect("push");
                loop {
                    if let Some(got) = pong.pop().expect("pop") {
                        assert_eq!(got, i);
                        break;
                    }
                    std::hint::spin_loop();
                }
            });
            ping.push(STOP).expect("push");
            v
        }
        Subject::Channel => {
            let ping = Channel::<u64>::open(seg, "cping").expect("c");
            let pong = Channel::<u64>::open(seg, "cpong").expect("c");
            let v = sample(p.n, p.warm, p.cap, |i| {
                ping.send(i).expect("send");
                assert_eq!(pong.recv().expect("recv"), Some(i));
            });
            ping.send(STOP).expect("send");
            v
        }
        _ => {
            let ping = Semaphore::open(seg, "sping").expect("s");
            let pong = Semaphore::open(seg, "spong").expect("s");
            let v = sample(p.n, p.warm, p.cap, |_| {
                ping.release().expect("release");
                pong.acquire().expect("acquire");
            });
            w.atomic_u32(256).expect("stop").store(1, Ordering::SeqCst);
            ping.release().expect("release");
            v
        }
    }
}

/// Peer roles of this group.
pub fn child(role: &str, arg: &str) -> bool {
    match role {
        "lat.echo" => echo(arg.parse().expect("size")),
        "lat.zb" => {
            let mut server =
                DuplexServer::create(arg, BufferConfig::new(0, 64 << 10)).expect("server");
            zeroipc_testkit::signal_ready();
            let mut stop = false;
            while !stop {
                server
                    .serve_one(&mut |req, out| {
                        stop = req.data() == STOP.to_le_bytes();
                        out.write_frame(req.data()).map(|_| ())
                    })
                    .expect("serve");
            }
        }
        "lat.rawspin" => {
            let seg = open(arg);
            let w = region(&seg, "w");
            let (ping, pong) = (w.atomic_u64(0).expect("w"), w.atomic_u64(64).expect("w"));
            let mut last = 0;
            loop {
                let v = ping.load(Ordering::Acquire);
                if v == STOP {
                    break;
                }
                if v != last {
                    pong.store(v, Ordering::Release);
                    last = v;
                }
                std::hint::spin_loop();
            }
        }
        "lat.rawfutex" => {
            let seg = open(arg);
            let w = region(&seg, "w");
            let (ping, pflag) = (w.atomic_u32(128).expect("w"), w.atomic_u32(136).expect("w"));
            let (pong, qflag) = (w.atomic_u32(192).expect("w"), w.atomic_u32(200).expect("w"));
            let mut last = 0;
            loop {
                let v = futex_wait_until(ping, pflag, |v| v != last);
                if v == u32::MAX {
                    break;
                }
                futex_set(pong, qflag, v);
                last = v;
            }
        }
        "lat.queue" => {
            let seg = open(arg);
            let ping = Queue::<u64>::open(&seg, "qping").expect("q");
            let pong = Queue::<u64>::open(&seg, "qpong").expect("q");
            loop {
                match ping.pop().expect("pop") {
                    Some(STOP) => break,
                    Some(v) => pong.push(v).expect("push"),
                    None => std::hint::spin_loop(),
                }
            }
        }
        "lat.channel" => {
            let seg = open(arg);
            let ping = Channel::<u64>::open(&seg, "cping").expect("c");
            let pong = Channel::<u64>::open(&seg, "cpong").expect("c");
            while let Some(v) = ping.recv().expect("recv") {
                if v == STOP {
                    break;
                }
                pong.send(v).expect("send");
            }
        }
        "lat.semaphore" => {
            let seg = open(arg);
            let w = region(&seg, "w");
            let stop = w.atomic_u32(256).expect("stop");
            let ping = Semaphore::open(&seg, "sping").expect("s");
            let pong = Semaphore::open(&seg, "spong").expect("s");
            loop {
                ping.acquire().expect("acquire");
                if stop.load(Ordering::SeqCst) == 1 {
                    break;
                }
                pong.release().expect("release");
            }
        }
        _ => return false,
    }
    true
}

/// Runs the group: every subject once per round, rounds interleaved.
pub fn run(cfg: &Config, img: &Path) -> GroupRecord {
    let plan = Plan {
        n: cfg.pick(20_000, 2_000),
        warm: cfg.pick(1_000, 200),
        cap: Duration::from_millis(cfg.pick(1_500, 250)),
    };
    let pinned = two_cpus();
    let mut un: Vec<Vec<u64>> = vec![Vec::new(); Subject::ALL.len()];
    let mut pi: Vec<Vec<u64>> = vec![Vec::new(); Subject::PINNED.len()];
    // Per-round p50 of every unpinned subject, for the #19 "in every round" goals.
    let mut round_p50: Vec<Vec<f64>> = vec![Vec::new(); Subject::ALL.len()];
    for r in 0..cfg.rounds {
        crate::harness::noise_probe();
        for (k, s) in Subject::ALL.iter().enumerate() {
            eprintln!("   round {} {}", r + 1, s.short());
            let samples = run_one(*s, &plan, None);
            round_p50[k].push(Lat::new(samples.clone()).p(0.5));
            un[k].extend(samples);
        }
        if pinned.is_some() {
            for (k, s) in Subject::PINNED.iter().enumerate() {
                eprintln!("   round {} {} pinned", r + 1, s.short());
                pi[k].extend(run_one(*s, &plan, pinned));
            }
        }
    }
    let un: Vec<Lat> = un.into_iter().map(Lat::new).collect();
    let pi: Vec<Lat> = pi.into_iter().map(Lat::new).collect();
    let get = |s: Subject| &un[Subject::ALL.iter().position(|x| *x == s).expect("subject")];
    let getp = |s: Subject| {
        Subject::PINNED
            .iter()
            .position(|x| *x == s)
            .map(|i| &pi[i])
            .filter(|l| l.len() > 0)
    };
    let spin = get(Subject::RawSpin).p(0.5);
    let fx = get(Subject::RawFutex).p(0.5);
    let pipe = get(Subject::Pipe).p(0.5);
    let mut rows = Vec::new();
    let mut push_row = |label: String, l: &Lat, spin: f64, fx: f64| {
        rows.push(vec![
            label,
            l.len().to_string(),
            dur(l.p(0.5)),
            dur(l.p(0.9)),
            dur(l.p(0.99)),
            dur(l.p(0.999)),
            ratio(l.p(0.5) / spin),
            ratio(l.p(0.5) / fx),
            ratio(pipe / l.p(0.5)),
        ]);
    };
    for s in Subject::ALL {
        push_row(s.label().to_string(), get(s), spin, fx);
    }
    let (pspin, pfx) = (
        getp(Subject::RawSpin).map_or(f64::NAN, |l| l.p(0.5)),
        getp(Subject::RawFutex).map_or(f64::NAN, |l| l.p(0.5)),
    );
    for s in Subject::PINNED {
        if let Some(l) = getp(s) {
            push_row(
                format!(
                    "{}, **pinned** to CPUs {} and {}",
                    s.label(),
                    pinned.map_or(0, |p| p.0),
                    pinned.map_or(1, |p| p.1)
                ),
                l,
                pspin,
                pfx,
            );
        }
    }
    let mut md = table(
        &[
            "round trip, 2 processes",
            "samples",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "p50 / raw spin",
            "p50 / raw futex",
            "pipe p50 / p50",
        ],
        &rows,
    );
    md.push_str(
        "\nPinned rows use the pinned baselines (ratios against the pinned raw ping-pongs).\n",
    );
    let series: Vec<(String, &Lat)> = Subject::ALL
        .iter()
        .map(|s| (s.short().to_string(), get(*s)))
        .collect();
    crate::plot::embed(&mut md, img, "roundtrip.svg", "round-trip CDF", |path| {
        crate::plot::cdf(
            path,
            "Round trip of one 8-byte message between two processes (CDF)",
            &series,
        )
    });

    let q = get(Subject::Queue);
    let sem = get(Subject::Semaphore);
    let ch = get(Subject::Channel);
    let zbl = get(Subject::ZeroBuffer);
    let (raw_spin, raw_futex, pipe_lat) = (
        get(Subject::RawSpin),
        get(Subject::RawFutex),
        get(Subject::Pipe),
    );
    let lat2 = |l: &Lat| format!("p50 {}, p99 {}", dur(l.p(0.5)), dur(l.p(0.99)));
    // `ours` against the baseline `base` (described by `against`): met if its p50 is at most
    // `limit` times the baseline's.
    let p50_within =
        |issue: &str, figure: &str, ours: &Lat, against: &str, base: &Lat, limit: f64| {
            let r = ours.p(0.5) / base.p(0.5);
            Goal::new(issue, figure)
                .result(lat2(ours))
                .baseline(format!("{against}: {}", lat2(base)))
                .ratio(format!("p50 {}", ratio(r)))
                .goal(format!("p50 ≤ {limit}×"), Some(r <= limit))
        };
    // `ours` (named `what` in the ratio) against a pipe between two processes (`against`).
    let vs_pipe = |issue: &str, figure: &str, ours: &Lat, what: &str, against: &str| {
        Goal::new(issue, figure)
            .result(lat2(ours))
            .baseline(format!("{against}: {}", lat2(pipe_lat)))
            .ratio(format!(
                "pipe p50 / {what} p50: {}",
                ratio(pipe / ours.p(0.5))
            ))
    };
    let twenty_times = |ours: &Lat| Some(pipe / ours.p(0.5) > 20.0);
    let mut goals = vec![
        p50_within(
            "#5 structures",
            "Queue round trip, 2 processes, spinning",
            q,
            "raw cache-line ping-pong",
            raw_spin,
            2.0,
        ),
        p50_within(
            "#4 sync",
            "Semaphore ping-pong round trip, unpinned",
            sem,
            "raw spin-then-futex",
            raw_futex,
            1.5,
        ),
    ];
    let pinned_futex = getp(Subject::RawFutex);
    if let (Some(ps), Some(pf)) = (getp(Subject::Semaphore), pinned_futex) {
        goals.push(p50_within(
            "#4 sync",
            "Semaphore ping-pong round trip, pinned to 2 CPUs",
            ps,
            "raw spin-then-futex, pinned",
            pf,
            1.5,
        ));
    }
    goals.push(p50_within(
        "#7 codata",
        "Channel round trip, blocking, 2 processes",
        ch,
        "raw spin-then-futex",
        raw_futex,
        1.5,
    ));
    goals.push(
        vs_pipe(
            "#7 codata",
            "Channel round trip vs pipe",
            ch,
            "Channel",
            "pipe",
        )
        .goal("> 20× faster than a pipe", twenty_times(ch)),
    );
    if let (Some(pc), Some(pf)) = (getp(Subject::Channel), pinned_futex) {
        goals.push(p50_within(
            "#7 codata",
            "Channel round trip, blocking, pinned to 2 CPUs",
            pc,
            "raw spin-then-futex, pinned",
            pf,
            1.5,
        ));
        goals.push(
            vs_pipe(
                "#7 codata",
                "Channel round trip pinned vs pipe",
                pc,
                "Channel",
                "pipe (unpinned)",
            )
            .goal("> 20× faster than a pipe", twenty_times(pc)),
        );
    }
    goals.push(
        vs_pipe(
            "#10 report",
            "ZeroBuffer duplex round trip, 8-byte frames",
            zbl,
            "ZeroBuffer",
            "pipe",
        )
        .goal("–", None),
    );
    // Issue #19: the blocking round trips against the raw spin-then-futex of the same round.
    let idx = |s: Subject| Subject::ALL.iter().position(|x| *x == s).expect("subject");
    for (subject, figure) in [
        (Subject::Channel, "Channel blocking round trip, unpinned"),
        (
            Subject::Semaphore,
            "Semaphore blocking round trip, unpinned",
        ),
    ] {
        let per: Vec<f64> = round_p50[idx(subject)]
            .iter()
            .zip(&round_p50[idx(Subject::RawFutex)])
            .map(|(a, b)| a / b)
            .collect();
        let sp = crate::harness::Spread::of(&per);
        goals.push(
            Goal::new("#19 perf", figure)
                .result(lat2(get(subject)))
                .baseline(format!("raw spin-then-futex: {}", lat2(raw_futex)))
                .ratio(crate::report::median_worst(&sp, cfg.rounds, true))
                .goal("p50 ≤ 1.5× in every round", Some(sp.max <= 1.5)),
        );
    }
    GroupRecord::new(md, goals)
}
