//! Shared bodies of the fuzz targets (kept in a library so a crash input can be replayed from
//! a plain test or a debugger). Every function must return normally for every input: a panic,
//! an out-of-bounds access or a hang is a finding.

use std::time::Duration;

use zeroipc_format::Segment;
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
use zeroipc_sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, RwLock, Semaphore, Signal,
};

/// A little-endian byte cursor over the fuzz input; reads past the end give zeros.
pub struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data, pos: 0 }
    }
    /// True once every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }
    /// Next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    /// Next little-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    /// Next little-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    /// Up to `n` next bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = self.pos.saturating_add(n);
        &self.data[start..end]
    }
}

/// Opens `name` as every structure kind the segment could hold and runs a few non-blocking
/// operations on whatever opens. Nothing here may block: only `try_` forms and zero timeouts.
pub fn exercise_entry(seg: &Segment, name: &str) {
    if let Ok(a) = Array::<f32>::open(seg, name) {
        let _ = a.get(0);
        let _ = a.set(a.len().saturating_sub(1), 1.0);
        let _ = a.iter().take(64).count();
    }
    if let Ok(a) = Array::<i64>::open(seg, name) {
        let _ = a.get(a.len());
        let _ = a.to_vec().len();
    }
    if let Ok(q) = Queue::<i32>::open(seg, name) {
        let _ = q.push(7);
        let _ = q.pop();
        let _ = q.pop();
        let _ = (q.len(), q.is_full(), q.counters());
    }
    if let Ok(q) = Queue::<f64>::open(seg, name) {
        let _ = q.pop();
        let _ = q.push(1.5);
        let mut buf = [0.0f64; 4];
        let _ = q.pop_into(&mut buf);
    }
    if let Ok(s) = Stack::<i32>::open(seg, name) {
        let _ = s.peek();
        let _ = s.pop();
        let _ = s.push(9);
        let _ = (s.len(), s.snapshot(), s.slot_states());
    }
    if let Ok(s) = Stack::<u8>::open(seg, name) {
        let _ = s.push(1);
        let _ = s.pop();
    }
    if let Ok(r) = Ring::<i32>::open(seg, name) {
        let _ = r.read();
        let _ = r.write(5);
        let _ = (r.len(), r.free_slots(), r.positions_snapshot());
        let _ = r.snapshot();
        if let Ok(v) = r.read_slices() {
            let n = v.len().min(1);
            let _ = v.consume(n);
        }
    }
    if let Ok(r) = Ring::<u8>::open(seg, name) {
        let mut buf = [0u8; 16];
        let _ = r.read_into(&mut buf);
        let _ = r.write_slice(&[1, 2, 3]);
    }
    if let Ok(m) = Map::<i32, f64>::open(seg, name) {
        let _ = m.get(&1);
        let _ = m.insert(42, 4.2);
        let _ = m.remove(&2);
        let _ = m.snapshot();
    }
    if let Ok(m) = Map::<i32, i32>::open(seg, name) {
        let _ = m.contains_key(&4);
        let _ = m.insert(4, 1);
        let _ = m.snapshot();
    }
    if let Ok(s) = Set::<i32>::open(seg, name) {
        let _ = s.contains(&5);
        let _ = s.insert(77);
        let _ = s.remove(&6);
        let _ = s.snapshot();
    }
    if let Ok(p) = Pool::<i32>::open(seg, name) {
        let _ = p.free_list();
        let _ = p.free_head();
        if let Ok(Some(i)) = p.allocate() {
            let _ = p.set(i, 3);
            let _ = p.get(i);
            let _ = p.deallocate(i);
        }
        let _ = p.deallocate(0);
        let _ = p.len();
    }
    exercise_sync(seg, name);
}

/// True when `name` and `name` + every suffix are in the table. Composite opens wait up to
/// their grace period (100 ms, spec §3.8) for missing parts; opening only complete composites
/// keeps the fuzzer fast without skipping any validation.
fn composite_present(seg: &Segment, name: &str, suffixes: &[&str]) -> bool {
    matches!(seg.get(name), Ok(Some(_)))
        && suffixes
            .iter()
            .all(|s| matches!(seg.get(&format!("{name}{s}")), Ok(Some(_))))
}

fn exercise_sync(seg: &Segment, name: &str) {
    if let Ok(m) = Mutex::open(seg, name) {
        let _ = (m.is_locked(), m.owner_pid());
        if let Ok(Some(g)) = m.try_lock() {
            let _ = g.unlock();
        }
    }
    if let Ok(s) = Semaphore::open(seg, name) {
        if let Ok(true) = s.try_acquire() {
            let _ = s.release();
        }
        let _ = (s.count(), s.waiting(), s.acquire_timeout(Duration::ZERO));
    }
    if let Ok(b) = Barrier::open(seg, name) {
        let _ = (b.arrived(), b.generation(), b.participants());
    }
    if let Ok(l) = Latch::open(seg, name) {
        let _ = (l.try_wait(), l.count(), l.initial_count());
        let _ = l.count_down(1);
        let _ = l.wait_timeout(Duration::ZERO);
    }
    if let Ok(o) = Once::open(seg, name) {
        let _ = (o.state(), o.is_done());
        let _ = o.try_call(|| {});
    }
    if !composite_present(seg, name, &["_sem"]) {
        // skip Event
    } else if let Ok(e) = Event::open(seg, name) {
        let _ = (e.try_wait(), e.is_signaled(), e.waiting());
        let _ = e.signal();
        let _ = e.reset();
        let _ = e.wait_timeout(Duration::ZERO);
    }
    if !composite_present(seg, name, &["_state", "_mtx"]) {
        // skip Signal
    } else if let Ok(s) = Signal::<f64>::open(seg, name) {
        let _ = (s.try_get(), s.version());
        let _ = s.has_changed(0);
    }
    if !composite_present(seg, name, &["_state", "_mtx"]) {
        // skip Signal
    } else if let Ok(s) = Signal::<i32>::open(seg, name) {
        let _ = s.try_get();
        let _ = s.set_timeout(3, Duration::ZERO);
    }
    if !composite_present(seg, name, &["_state", "_rmtx", "_wmtx"]) {
        // skip RwLock
    } else if let Ok(rw) = RwLock::open(seg, name) {
        if let Ok(Some(g)) = rw.try_read() {
            drop(g);
        }
        if let Ok(Some(g)) = rw.try_write() {
            drop(g);
        }
    }
    if !composite_present(seg, name, &["_mtx", "_cond", "_count"]) {
        // skip Monitor
    } else if let Ok(m) = Monitor::open(seg, name) {
        if let Ok(Some(g)) = m.try_lock() {
            drop(g);
        }
    }
}

/// `segment_open`: arbitrary bytes as a segment image.
pub fn segment_open(data: &[u8]) {
    let Ok(seg) = Segment::from_bytes(data) else {
        return;
    };
    let _ = (seg.header(), seg.free_space(), seg.memory_size());
    let Ok(entries) = seg.entries() else {
        return;
    };
    for e in entries.iter().take(64) {
        let _ = seg.region(e);
        let _ = seg.find(e.name());
        exercise_entry(&seg, e.name());
    }
    // Allocation on top of a hostile table.
    let _ = seg.add("fuzz_added", 24, |r| r.write::<u64>(0, 1));
    let _ = Queue::<u32>::create(&seg, "fuzz_q", 4);
}

/// Names of the structures in the [`hostile_fixture`] segment.
pub const FIXTURE_NAMES: [&str; 12] = [
    "q", "s", "r", "m", "t", "p", "a", "mtx", "sem", "lat", "once", "evt",
];

/// The segment `hostile_ops` starts from: one of every non-composite structure.
pub fn hostile_fixture() -> Segment {
    let s = Segment::anonymous(16 * 1024, 16).expect("anonymous segment");
    Queue::<u32>::create(&s, "q", 8).expect("q");
    Stack::<u32>::create(&s, "s", 8).expect("s");
    Ring::<u32>::create(&s, "r", 8).expect("r");
    Map::<u32, u32>::create(&s, "m", 8).expect("m");
    Set::<u32>::create(&s, "t", 8).expect("t");
    Pool::<u32>::create(&s, "p", 8).expect("p");
    Array::<u32>::create(&s, "a", 8).expect("a");
    Mutex::create(&s, "mtx").expect("mtx");
    Semaphore::create(&s, "sem", 1, 4).expect("sem");
    Latch::create(&s, "lat", 3).expect("lat");
    Once::create(&s, "once").expect("once");
    Event::create(&s, "evt", EventMode::AutoReset).expect("evt");
    s
}

struct Handles {
    q: Option<Queue<u32>>,
    s: Option<Stack<u32>>,
    r: Option<Ring<u32>>,
    m: Option<Map<u32, u32>>,
    t: Option<Set<u32>>,
    p: Option<Pool<u32>>,
    a: Option<Array<u32>>,
}

impl Handles {
    fn open(seg: &Segment) -> Self {
        Handles {
            q: Queue::open(seg, "q").ok(),
            s: Stack::open(seg, "s").ok(),
            r: Ring::open(seg, "r").ok(),
            m: Map::open(seg, "m").ok(),
            t: Set::open(seg, "t").ok(),
            p: Pool::open(seg, "p").ok(),
            a: Array::open(seg, "a").ok(),
        }
    }
}

/// `hostile_ops`: a sequence of structure operations, with the segment's header bytes (table
/// header, table entries, structure headers) overwritten between operations as a hostile peer
/// would. Handles opened before a mutation keep working from their cached geometry (D2).
pub fn hostile_ops(data: &[u8]) {
    let seg = hostile_fixture();
    let entries = seg.entries().expect("fixture entries");
    let mut h = Handles::open(&seg);
    let mut inp = Input::new(data);
    let mut steps = 0;
    while !inp.is_empty() && steps < 256 {
        steps += 1;
        let op = inp.u8();
        let v = inp.u32();
        match op % 16 {
            // Poke: the table area, or the first 64 bytes of a structure.
            0 | 1 => {
                let target = usize::from(inp.u8()) % (entries.len() + 1);
                let off = match entries.get(target) {
                    Some(e) => e.offset() as usize + usize::from(inp.u8() % 64),
                    None => usize::from(inp.u16()) % usize::try_from(seg.table_size()).unwrap_or(1),
                };
                let len = usize::from(inp.u8() % 8) + 1;
                let bytes = inp.bytes(len);
                let _ = seg.raw().write_slice(off, bytes);
            }
            2 => {
                if let Some(q) = &h.q {
                    let _ = q.push(v);
                }
            }
            3 => {
                if let Some(q) = &h.q {
                    let _ = q.pop();
                    let _ = q.len();
                }
            }
            4 => {
                if let Some(s) = &h.s {
                    let _ = s.push(v);
                    let _ = s.peek();
                }
            }
            5 => {
                if let Some(s) = &h.s {
                    let _ = s.pop();
                    let _ = s.snapshot();
                }
            }
            6 => {
                if let Some(r) = &h.r {
                    let _ = r.write_slice(&[v, v ^ 1, v ^ 2][..usize::from(op >> 6)]);
                    let _ = r.read();
                    let _ = r.snapshot();
                }
            }
            7 => {
                if let Some(m) = &h.m {
                    let _ = m.insert(v % 16, v);
                    let _ = m.get(&(v % 16 + 1));
                }
            }
            8 => {
                if let Some(m) = &h.m {
                    let _ = m.remove(&(v % 16));
                    let _ = m.snapshot();
                }
            }
            9 => {
                if let Some(t) = &h.t {
                    let _ = t.insert(v % 16);
                    let _ = t.remove(&(v % 7));
                    let _ = t.snapshot();
                }
            }
            10 => {
                if let Some(p) = &h.p {
                    match p.allocate() {
                        Ok(Some(i)) => {
                            let _ = p.set(i, v);
                            if v & 1 == 0 {
                                let _ = p.deallocate(i);
                            }
                        }
                        _ => {
                            let _ = p.deallocate(v % 9);
                        }
                    }
                    let _ = p.free_list();
                }
            }
            11 => {
                if let Some(a) = &h.a {
                    let _ = a.set(v as usize % 9, v);
                    let _ = a.get(v as usize % 9);
                }
            }
            // Re-open everything from the (possibly mutated) table.
            12 => h = Handles::open(&seg),
            13 => {
                let _ = seg.entries();
                let _ = seg.free_space();
                let _ = seg.add("late", u64::from(v % 512), |_| {
                    Ok::<(), zeroipc_format::Error>(())
                });
            }
            _ => {
                let name = FIXTURE_NAMES[v as usize % FIXTURE_NAMES.len()];
                exercise_sync(&seg, name);
            }
        }
    }
}

/// `zerobuffer_reader`: a real reader and writer (shared memory, semaphores, lock file) whose
/// OIEB, metadata block and payload ring are overwritten from the input between operations;
/// the reader decodes whatever frame stream results.
pub fn zerobuffer_reader(data: &[u8]) {
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    use zerobuffer::{BufferConfig, Reader, Writer, WriterOptions};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut inp = Input::new(data);
    let cfg = inp.u8();
    let m = [0u64, 64, 128][usize::from(cfg % 3)];
    let p = [64u64, 256, 1024][usize::from((cfg / 3) % 3)];
    let name = format!(
        "zb_fuzz_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let Ok(reader) = Reader::create(&name, BufferConfig::new(m, p)) else {
        return;
    };
    let total = 128 + m + p;
    let shm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .expect("open own buffer");
    let poke = |inp: &mut Input<'_>| {
        let off = u64::from(inp.u16()) % total;
        let len = usize::from(inp.u8() % 16) + 1;
        let bytes = inp.bytes(len);
        let _ = shm.write_at(bytes, off);
    };
    // Hostile OIEB before the writer connects.
    if cfg & 0x80 != 0 {
        poke(&mut inp);
    }
    let opts = WriterOptions {
        liveness_interval: Duration::from_millis(1),
        write_timeout: Duration::ZERO,
        connect_grace: Duration::ZERO,
        ..WriterOptions::default()
    };
    let mut writer = Writer::connect_with(&name, opts).ok();
    // Image mode: a few real frames (for their "data available" tokens), then the whole
    // buffer (OIEB, metadata, ring) is replaced by a ZeroBuffer image from the input, with
    // both pids pointed at this live process so that neither side just reports a dead peer.
    if cfg & 0x40 != 0 {
        let tokens = inp.u8() % 8;
        if let Some(w) = writer.as_mut() {
            for _ in 0..tokens {
                let _ = w.try_write_frame(&[0; 8]);
            }
        }
        let image = inp.bytes(usize::try_from(total).unwrap_or(0));
        let _ = shm.write_at(image, 0);
        let pid = u64::from(std::process::id()).to_le_bytes();
        let _ = shm.write_at(&pid, 80); // writer_pid
        let _ = shm.write_at(&pid, 88); // reader_pid
    }
    let mut frames = Vec::new();
    let mut steps = 0;
    while !inp.is_empty() && steps < 128 {
        steps += 1;
        match inp.u8() % 8 {
            0 | 1 => poke(&mut inp),
            2 | 3 => {
                let len = usize::from(inp.u16() % 1100);
                if let Some(w) = writer.as_mut() {
                    let _ = w.try_write_frame(&vec![0xA5; len]);
                }
            }
            4 => {
                if frames.len() < 8 {
                    if let Ok(Some(f)) = reader.try_read_frame() {
                        let _ = f.data().iter().map(|&b| u64::from(b)).sum::<u64>();
                        frames.push(f);
                    }
                } else {
                    frames.clear();
                }
            }
            5 => {
                let i = usize::from(inp.u8());
                if !frames.is_empty() {
                    let f = frames.remove(i % frames.len());
                    let _ = f.release();
                }
            }
            6 => {
                let _ = (reader.metadata(), reader.health(), reader.held_frames());
                if let Some(w) = writer.as_ref() {
                    let _ = w.health();
                }
            }
            _ => {
                let len = usize::from(inp.u8());
                if let Some(w) = writer.as_mut() {
                    let _ = w.set_metadata(&vec![0x5A; len]);
                }
            }
        }
    }
    drop(frames);
    drop(writer);
    drop(reader);
}
