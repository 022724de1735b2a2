//! Soak driver (run through `scripts/soak.sh`, not part of CI).
//!
//! `zeroipc-soak driver SECONDS` starts four peer processes: a producer (a Queue producer
//! and a Channel sender, one thread each), a consumer (a Queue consumer and a Channel
//! receiver, one thread each), a ZeroBuffer writer and a ZeroBuffer reader. Every 50..500 ms
//! it SIGKILLs a random one and restarts it, and at the end reports operations, kills, and
//! lost or duplicated items, checked against what the crash windows allow:
//!
//! * Queue: the producer acknowledges an item (in shared memory) right after `push` returns;
//!   the consumer counts an item right after `pop` returns. A producer killed between the two
//!   re-sends one item after its restart (at most one duplicate per producer kill); a
//!   consumer killed between them loses one (at most one loss per consumer kill).
//! * Channel (buffered, through registered `Sender`/`Receiver` handles): the same
//!   accounting, with `send_timeout`/`recv_timeout`; a sender that finds every receiver dead
//!   (`Disconnected`) retries the same item, a receiver that finds every sender dead (the end
//!   of the channel) waits for the restarted sender.
//! * ZeroBuffer: likewise for the writer (at most one duplicate per writer kill). A killed
//!   reader takes its buffer with it (the next reader creates a fresh one, §13), so the frames
//!   that were in the ring are lost; they are reported, bounded by the ring capacity per kill.
#![allow(clippy::unwrap_used)] // a test driver: fail loudly

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Error as ZbError, Reader, Writer, WriterOptions};
use zeroipc_codata::{Channel, Error as ChError};
use zeroipc_structures::{Array, Queue, Segment};

/// Most items per stream (the `seen` counters are one byte per item).
const MAX_ITEMS: usize = 1 << 24;
/// ZeroBuffer ring size; a frame is 16 + 8 bytes, so at most `RING / 24` frames are in flight.
const RING: u64 = 64 * 1024;
const ROLES: [&str; 4] = ["producer", "consumer", "writer", "reader"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("driver") => driver(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60)),
        Some(role) => {
            let seg = Segment::open(&args[2]).unwrap();
            match role {
                "producer" => producer(&seg),
                "consumer" => consumer(&seg),
                "writer" => writer(&seg, &args[3]),
                "reader" => reader(&seg, &args[3]),
                _ => panic!("unknown role {role}"),
            }
        }
        None => eprintln!("usage: zeroipc-soak driver SECONDS"),
    }
}

fn producer(seg: &Segment) {
    std::thread::scope(|s| {
        s.spawn(|| queue_producer(seg));
        s.spawn(|| channel_sender(seg));
    });
}

fn consumer(seg: &Segment) {
    std::thread::scope(|s| {
        s.spawn(|| queue_consumer(seg));
        s.spawn(|| channel_receiver(seg));
    });
}

/// Sends numbered items from the acknowledged count in `acked_name` on (idling once
/// `MAX_ITEMS` were sent, paced by `throttle`): `send(seq)` says whether item `seq` was
/// accepted, then it is acknowledged and the next follows; else the same item is retried.
fn produce_acknowledged(seg: &Segment, acked_name: &str, mut send: impl FnMut(u64) -> bool) -> ! {
    let acked = Array::<u64>::open(seg, acked_name).unwrap();
    let mut seq = acked.get(0).unwrap();
    loop {
        if seq as usize >= MAX_ITEMS {
            idle();
        }
        throttle(seq);
        if send(seq) {
            acked.set(0, seq + 1).unwrap();
            seq += 1;
        }
    }
}

fn channel_sender(seg: &Segment) {
    let ch = Channel::<u64>::open(seg, "ch").unwrap();
    let tx = ch.sender().unwrap();
    produce_acknowledged(seg, "ch_acked", |seq| {
        match tx.send_timeout(seq, Duration::from_millis(100)) {
            Ok(()) => true,
            // Full for 100 ms, or every receiver dead: retry the same item.
            Err(ChError::Timeout { .. }) => false,
            Err(ChError::Disconnected { .. }) => {
                std::thread::sleep(Duration::from_millis(1));
                false
            }
            Err(e) => panic!("send: {e:?}"),
        }
    })
}

fn channel_receiver(seg: &Segment) {
    let ch = Channel::<u64>::open(seg, "ch").unwrap();
    let rx = ch.receiver().unwrap();
    let seen = Array::<u8>::open(seg, "ch_seen").unwrap();
    let last = Array::<u64>::open(seg, "ch_last").unwrap();
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(v)) => count(&seen, &last, v),
            // Drained with every sender dead: a restarted sender comes back.
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(ChError::Timeout { .. }) => {}
            Err(e) => panic!("recv: {e:?}"),
        }
    }
}

fn queue_producer(seg: &Segment) {
    let q = Queue::<u64>::open(seg, "q").unwrap();
    produce_acknowledged(seg, "q_acked", |seq| match q.push(seq) {
        Ok(()) => true,
        Err(e) if e.is_full() => {
            std::thread::sleep(Duration::from_micros(50));
            false
        }
        Err(e) => panic!("push: {e:?}"),
    })
}

fn queue_consumer(seg: &Segment) {
    let q = Queue::<u64>::open(seg, "q").unwrap();
    let seen = Array::<u8>::open(seg, "q_seen").unwrap();
    let last = Array::<u64>::open(seg, "q_last").unwrap();
    loop {
        match q.pop().unwrap() {
            Some(v) => count(&seen, &last, v),
            None => std::thread::sleep(Duration::from_micros(50)),
        }
    }
}

/// At most about 20 000 items per second and stream, so `MAX_ITEMS` lasts over ten minutes.
fn throttle(seq: u64) {
    if seq.is_multiple_of(20) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A sender that reached `MAX_ITEMS` waits to be killed (exiting would look like a crash).
fn idle() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Counts `v`, then records `v + 1` as the next item expected: with one sender and one
/// receiver per FIFO stream, an item lost because the receiver was killed between taking it
/// and counting it is exactly the `last` the driver reads right after that kill.
fn count(seen: &Array<u8>, last: &Array<u64>, v: u64) {
    bump(seen, v);
    last.set(0, v + 1).unwrap();
}

fn bump(seen: &Array<u8>, v: u64) {
    let i = usize::try_from(v).unwrap();
    let c = seen.get(i).expect("item out of range");
    seen.set(i, c.saturating_add(1)).unwrap();
}

fn writer(seg: &Segment, name: &str) {
    let acked = Array::<u64>::open(seg, "zb_acked").unwrap();
    let opts = WriterOptions {
        write_timeout: Duration::from_millis(500),
        ..WriterOptions::default()
    };
    'connect: loop {
        let mut w = match Writer::connect_with(name, opts) {
            Ok(w) => w,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        loop {
            let seq = acked.get(0).unwrap();
            if seq as usize >= MAX_ITEMS {
                idle();
            }
            throttle(seq);
            match w.write_frame(&seq.to_le_bytes()) {
                Ok(_) => acked.set(0, seq + 1).unwrap(),
                Err(ZbError::BufferFull { .. }) => {}
                Err(_) => continue 'connect, // ReaderDead: a new reader comes up
            }
        }
    }
}

fn reader(seg: &Segment, name: &str) {
    let seen = Array::<u8>::open(seg, "zb_seen").unwrap();
    let r = loop {
        match Reader::create(name, BufferConfig::new(0, RING)) {
            Ok(r) => break r,
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    loop {
        match r.read_frame_timeout(Duration::from_millis(100)) {
            Ok(Some(f)) => {
                let v = u64::from_le_bytes(f.data().try_into().expect("8-byte frame"));
                bump(&seen, v);
            }
            Ok(None) | Err(ZbError::WriterDead { .. }) => {}
            Err(e) => panic!("read: {e:?}"),
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn driver(seconds: u64) {
    let pid = std::process::id();
    let seg_name = format!("zt_soak_{pid}");
    let zb_name = format!("zb_soak_{pid}");
    let size = (3 * MAX_ITEMS + (1 << 20)) as u64;
    let seg = Segment::create(&seg_name, size, 16).unwrap();
    let q = Queue::<u64>::create(&seg, "q", 1024).unwrap();
    let q_acked = Array::<u64>::create(&seg, "q_acked", 1).unwrap();
    let q_seen = Array::<u8>::create(&seg, "q_seen", MAX_ITEMS).unwrap();
    let q_last = Array::<u64>::create(&seg, "q_last", 1).unwrap();
    let ch = Channel::<u64>::create(&seg, "ch", 1024).unwrap();
    let ch_acked = Array::<u64>::create(&seg, "ch_acked", 1).unwrap();
    let ch_seen = Array::<u8>::create(&seg, "ch_seen", MAX_ITEMS).unwrap();
    let ch_last = Array::<u64>::create(&seg, "ch_last", 1).unwrap();
    // Items that a consumer kill may have lost (see `count`), per stream.
    let mut q_window = std::collections::HashSet::new();
    let mut ch_window = std::collections::HashSet::new();
    let zb_acked = Array::<u64>::create(&seg, "zb_acked", 1).unwrap();
    let zb_seen = Array::<u8>::create(&seg, "zb_seen", MAX_ITEMS).unwrap();
    let exe = std::env::current_exe().unwrap();
    let spawn = |role: &str| -> Child {
        Command::new(&exe)
            .args([role, &seg_name, &zb_name])
            .spawn()
            .unwrap()
    };
    let mut kids: Vec<Child> = ROLES.iter().map(|r| spawn(r)).collect();
    let mut kills = [0u64; 4];
    let mut unexpected = 0u64;
    let mut rng = Rng(u64::from(pid).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50 + rng.next(450)));
        let i = rng.next(4) as usize;
        if let Ok(Some(status)) = kids[i].try_wait() {
            // A peer that exits on its own is a finding (panics print their message).
            eprintln!("soak: {} exited by itself: {status}", ROLES[i]);
            unexpected += 1;
        }
        kids[i].kill().unwrap(); // SIGKILL
        kids[i].wait().unwrap();
        kills[i] += 1;
        if i == 1 {
            q_window.insert(q_last.get(0).unwrap());
            ch_window.insert(ch_last.get(0).unwrap());
        }
        kids[i] = spawn(ROLES[i]);
    }
    // Let the consumers catch up, then stop everything.
    std::thread::sleep(Duration::from_millis(500));
    for k in &mut kids {
        let _ = k.kill();
        let _ = k.wait();
    }
    q_window.insert(q_last.get(0).unwrap());
    ch_window.insert(ch_last.get(0).unwrap());
    while let Some(v) = q.pop().unwrap() {
        bump(&q_seen, v);
    }
    // The peers are gone: drain what the channel still holds (dead senders end it).
    loop {
        match ch.try_recv() {
            Ok(Some(v)) => bump(&ch_seen, v),
            Ok(None) => break,
            Err(e) => panic!("channel drain: {e:?}"),
        }
    }
    // Lost items outside the consumer-kill windows (`window`), if given, are unexplained.
    let report = |what: &str,
                  acked: u64,
                  seen: &Array<u8>,
                  dup_kills: u64,
                  window: Option<&std::collections::HashSet<u64>>|
     -> (u64, u64, u64) {
        let mut lost = 0;
        let mut dup = 0;
        let mut unexplained = 0;
        for i in 0..acked as usize {
            match seen.get(i).unwrap() {
                0 => {
                    lost += 1;
                    if window.is_some_and(|w| !w.contains(&(i as u64))) {
                        unexplained += 1;
                        eprintln!("{what}: item {i} lost outside a consumer-kill window");
                    }
                }
                1 => {}
                c => dup += u64::from(c - 1),
            }
        }
        let explained = if window.is_some() {
            format!(", {} of them in a consumer-kill window", lost - unexplained)
        } else {
            String::new()
        };
        println!(
            "{what}: {acked} acknowledged, {} received, {lost} lost{explained}, {dup} \
             duplicated ({dup_kills} kills of the sending side)",
            acked - lost
        );
        (lost, dup, unexplained)
    };
    println!(
        "soak: {seconds} s, kills: producer {}, consumer {}, writer {}, reader {}",
        kills[0], kills[1], kills[2], kills[3]
    );
    // Per stream: name, acknowledged count, receipt counts, kills of the sending side and
    // the consumer-kill window that explains losses (none for ZeroBuffer frames).
    let [
        (q_lost, q_dup, q_odd),
        (ch_lost, ch_dup, ch_odd),
        (zb_lost, zb_dup, _),
    ] = [
        ("queue", &q_acked, &q_seen, kills[0], Some(&q_window)),
        ("channel", &ch_acked, &ch_seen, kills[0], Some(&ch_window)),
        ("zerobuffer", &zb_acked, &zb_seen, kills[2], None),
    ]
    .map(|(what, acked, seen, dup_kills, window)| {
        report(what, acked.get(0).unwrap(), seen, dup_kills, window)
    });
    let zb_bound = (kills[3] + 1) * (RING / 24);
    println!(
        "zerobuffer: frames lost with killed readers: {zb_lost} (bound: {} reader kills x {} frames)",
        kills[3],
        RING / 24
    );
    drop((q, ch, seg));
    let _ = Segment::unlink(&seg_name);
    // A reader killed last leaves its buffer behind; a fresh reader cleans it up (§13).
    drop(Reader::create(&zb_name, BufferConfig::new(0, 64)));
    println!("soak: peers that exited by themselves: {unexpected}");
    let ok = unexpected == 0
        && q_odd == 0
        && ch_odd == 0
        && q_lost <= kills[1]
        && q_dup <= kills[0]
        && ch_lost <= kills[1]
        && ch_dup <= kills[0]
        && zb_dup <= kills[2]
        && zb_lost <= zb_bound;
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    if !ok {
        std::process::exit(1);
    }
}
