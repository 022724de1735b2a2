//! Cross-process tests: each test re-executes this binary as its children (role in the
//! environment), which open the parent's segment and run one side of the protocol.

use std::time::Duration;

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment};
use zeroipc_sync::{Barrier, Error, Latch, Monitor, Mutex, Once, RwLock};
use zeroipc_testkit::{Child, ShmGuard, role, unique_guarded};

const LIMIT: Duration = Duration::from_secs(120);

/// Creates a segment for a test and returns it with its cleanup guard.
pub(crate) fn segment(tag: &str) -> (Segment, ShmGuard, String) {
    let (name, guard) = unique_guarded(tag);
    let seg = Segment::create(&name, 1 << 16, 64).unwrap();
    (seg, guard, name)
}

/// The child's view of the parent's segment (`SEG` in the environment) and its primitive
/// `name`, opened with `open` (`Mutex::open`...).
pub(crate) fn child_open<P, E: std::fmt::Debug>(
    open: impl FnOnce(&Segment, &str) -> Result<P, E>,
    name: &str,
) -> (Segment, P) {
    let seg = Segment::open(&std::env::var("SEG").unwrap()).unwrap();
    let primitive = open(&seg, name).unwrap();
    (seg, primitive)
}

/// A plain data region `name` of `size` bytes.
pub(crate) fn data(seg: &Segment, name: &str, size: u64) -> Region {
    match seg.get(name).unwrap() {
        Some(e) => seg.region(&e).unwrap(),
        None => seg.add(name, size, |_| Ok::<_, Error>(())).unwrap().1,
    }
}

/// Re-executes this binary as the peer `role` of `test`, on the segment named `seg`.
pub(crate) fn spawn_peer(test: &str, role: &str, seg: &str) -> Child {
    Child::spawn(test, role, &[("SEG", seg)])
}

fn spawn(test: &str, roles: &[&str], seg: &str) -> Vec<Child> {
    roles.iter().map(|r| spawn_peer(test, r, seg)).collect()
}

fn wait_all(kids: Vec<Child>) {
    for k in kids {
        k.wait_success(LIMIT);
    }
}

#[test]
fn mutex_counter_100k_increments_across_4_processes() {
    const PER: u64 = 25_000;
    if role().is_some() {
        let (seg, m) = child_open(Mutex::open, "m");
        let counter = data(&seg, "counter", 8);
        for _ in 0..PER {
            let g = m.lock_timeout(Duration::from_secs(30)).unwrap();
            assert!(!g.owner_died());
            // Deliberately non-atomic read-modify-write: only mutual exclusion keeps it exact.
            let v = counter.read::<u64>(0).unwrap();
            counter.write::<u64>(0, v + 1).unwrap();
        }
        return;
    }
    let (seg, _g, name) = segment("mtx");
    Mutex::create(&seg, "m").unwrap();
    let counter = data(&seg, "counter", 8);
    let kids = spawn(
        "multiprocess::mutex_counter_100k_increments_across_4_processes",
        &["a", "b", "c", "d"],
        &name,
    );
    wait_all(kids);
    assert_eq!(counter.read::<u64>(0).unwrap(), 4 * PER);
    assert!(!Mutex::open(&seg, "m").unwrap().is_locked().unwrap());
}

#[test]
fn barrier_holds_4_processes_through_1000_phases() {
    const PHASES: u64 = 1000;
    if let Some(r) = role() {
        let me: usize = r.parse().unwrap();
        let (seg, b) = child_open(Barrier::open, "b");
        let slots = data(&seg, "phase", 32);
        for p in 1..=PHASES {
            // Release: pairs with the Acquire loads of the other participants below.
            slots
                .atomic_u64(me * 8)
                .unwrap()
                .store(p, Ordering::Release);
            b.wait_timeout(Duration::from_secs(30)).unwrap();
            for i in 0..4 {
                let seen = slots.atomic_u64(i * 8).unwrap().load(Ordering::Acquire);
                // Nobody may pass phase p before all reached it, nor run two phases ahead.
                assert!(
                    seen == p || seen == p + 1,
                    "phase {p}: participant {i} at {seen}"
                );
            }
        }
        return;
    }
    let (seg, _g, name) = segment("bar");
    let b = Barrier::create(&seg, "b", 4).unwrap();
    data(&seg, "phase", 32);
    let kids = spawn(
        "multiprocess::barrier_holds_4_processes_through_1000_phases",
        &["0", "1", "2", "3"],
        &name,
    );
    wait_all(kids);
    assert_eq!(b.generation().unwrap() as u64, PHASES);
    assert_eq!(b.arrived().unwrap(), 0);
}

#[test]
fn latch_is_a_start_gate_for_3_processes() {
    if role().is_some() {
        let (seg, gate) = child_open(Latch::open, "gate");
        let passed = data(&seg, "passed", 8);
        passed.atomic_u32(4).unwrap().fetch_add(1, Ordering::AcqRel); // ready
        gate.wait_timeout(Duration::from_secs(30)).unwrap();
        passed.atomic_u32(0).unwrap().fetch_add(1, Ordering::AcqRel);
        return;
    }
    let (seg, _g, name) = segment("lat");
    let gate = Latch::create(&seg, "gate", 1).unwrap();
    let passed = data(&seg, "passed", 8);
    let kids = spawn(
        "multiprocess::latch_is_a_start_gate_for_3_processes",
        &["a", "b", "c"],
        &name,
    );
    while passed.atomic_u32(4).unwrap().load(Ordering::Acquire) < 3 {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        passed.atomic_u32(0).unwrap().load(Ordering::Acquire),
        0,
        "nobody passes a closed gate"
    );
    assert!(gate.count_down(1).unwrap());
    wait_all(kids);
    assert_eq!(passed.atomic_u32(0).unwrap().load(Ordering::Acquire), 3);
}

#[test]
fn once_runs_exactly_once_across_4_processes() {
    if role().is_some() {
        let (seg, once) = child_open(Once::open, "init");
        let stats = data(&seg, "stats", 16);
        let runs = stats.atomic_u32(0).unwrap();
        let ran = once
            .call_timeout(
                || {
                    runs.fetch_add(1, Ordering::AcqRel);
                    // Long enough that the other three arrive while this one executes.
                    std::thread::sleep(Duration::from_millis(50));
                    stats.write::<u64>(8, 42).unwrap();
                },
                Duration::from_secs(30),
            )
            .unwrap();
        if ran {
            stats.atomic_u32(4).unwrap().fetch_add(1, Ordering::AcqRel);
        }
        // Everyone returns only after the initialiser's effects are visible.
        assert_eq!(stats.read::<u64>(8).unwrap(), 42);
        assert!(once.is_done().unwrap());
        return;
    }
    let (seg, _g, name) = segment("once");
    Once::create(&seg, "init").unwrap();
    let stats = data(&seg, "stats", 16);
    let kids = spawn(
        "multiprocess::once_runs_exactly_once_across_4_processes",
        &["a", "b", "c", "d"],
        &name,
    );
    wait_all(kids);
    assert_eq!(stats.atomic_u32(0).unwrap().load(Ordering::Acquire), 1);
    assert_eq!(stats.atomic_u32(4).unwrap().load(Ordering::Acquire), 1);
}

#[test]
fn rwlock_writers_exclude_readers_across_processes() {
    const ITER: u32 = 1500;
    if let Some(r) = role() {
        let (seg, rw) = child_open(RwLock::open, "rw");
        let inside = data(&seg, "inside", 8);
        let readers = inside.atomic_u32(0).unwrap();
        let writers = inside.atomic_u32(4).unwrap();
        for i in 0..ITER {
            if r.starts_with('w') {
                let _w = rw.write_timeout(Duration::from_secs(30)).unwrap();
                assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0, "two writers");
                assert_eq!(readers.load(Ordering::SeqCst), 0, "reader during write");
                if i % 16 == 0 {
                    std::thread::yield_now();
                }
                writers.fetch_sub(1, Ordering::SeqCst);
            } else {
                let _r = rw.read_timeout(Duration::from_secs(30)).unwrap();
                readers.fetch_add(1, Ordering::SeqCst);
                assert_eq!(writers.load(Ordering::SeqCst), 0, "writer during read");
                if i % 16 == 0 {
                    std::thread::yield_now();
                }
                readers.fetch_sub(1, Ordering::SeqCst);
            }
        }
        return;
    }
    let (seg, _g, name) = segment("rw");
    let rw = RwLock::create(&seg, "rw").unwrap();
    data(&seg, "inside", 8);
    let kids = spawn(
        "multiprocess::rwlock_writers_exclude_readers_across_processes",
        &["w1", "w2", "r1", "r2"],
        &name,
    );
    wait_all(kids);
    assert_eq!(rw.readers().unwrap(), 0);
    assert!(!rw.writer_active().unwrap());
}

#[test]
fn monitor_producer_consumer_across_processes() {
    const ITEMS: u64 = 300;
    if role().is_some() {
        // Producer: puts 1..=ITEMS into the one-item slot.
        let (seg, mon) = child_open(Monitor::open, "mon");
        let slot = data(&seg, "slot", 8);
        for i in 1..=ITEMS {
            let g = mon.lock_timeout(Duration::from_secs(30)).unwrap();
            let g = g
                .wait_while_timeout(
                    || slot.read::<u64>(0).unwrap() == 0,
                    Duration::from_secs(30),
                )
                .unwrap();
            slot.write::<u64>(0, i).unwrap();
            drop(g);
            mon.notify_all().unwrap();
        }
        return;
    }
    let (seg, _g, name) = segment("mon");
    let mon = Monitor::create(&seg, "mon").unwrap();
    let slot = data(&seg, "slot", 8);
    let kids = spawn(
        "multiprocess::monitor_producer_consumer_across_processes",
        &["producer"],
        &name,
    );
    let mut got = Vec::new();
    for _ in 0..ITEMS {
        let g = mon.lock_timeout(Duration::from_secs(30)).unwrap();
        let g = g
            .wait_while_timeout(
                || slot.read::<u64>(0).unwrap() != 0,
                Duration::from_secs(30),
            )
            .unwrap();
        got.push(slot.read::<u64>(0).unwrap());
        slot.write::<u64>(0, 0).unwrap();
        drop(g);
        mon.notify_all().unwrap();
    }
    wait_all(kids);
    assert_eq!(
        got,
        (1..=ITEMS).collect::<Vec<_>>(),
        "every item once, in order"
    );
}

#[test]
fn event_and_signal_wake_waiters_in_other_processes() {
    use zeroipc_sync::{Event, EventMode, Signal};
    if role().is_some() {
        let (seg, go) = child_open(Event::open, "go");
        let sig = Signal::<u64>::open(&seg, "value").unwrap();
        go.wait_timeout(Duration::from_secs(30)).unwrap();
        // Follow the parent's updates until it publishes 10.
        let mut seen = sig.version().unwrap();
        while sig.get().unwrap() != 10 {
            seen = sig
                .wait_for_change_timeout(seen, Duration::from_secs(30))
                .unwrap();
        }
        let done = Event::open(&seg, "done").unwrap();
        done.signal().unwrap();
        return;
    }
    let (seg, _g, name) = segment("evsig");
    let go = Event::create(&seg, "go", EventMode::ManualReset).unwrap();
    let done = Event::create(&seg, "done", EventMode::AutoReset).unwrap();
    let sig = Signal::<u64>::create(&seg, "value", 0).unwrap();
    let kids = spawn(
        "multiprocess::event_and_signal_wake_waiters_in_other_processes",
        &["a", "b"],
        &name,
    );
    while go.waiting().unwrap() < 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    go.signal().unwrap();
    for v in 1..=10u64 {
        sig.set(v).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Two auto-reset signals: one per child.
    done.wait_timeout(Duration::from_secs(30)).unwrap();
    done.wait_timeout(Duration::from_secs(30)).unwrap();
    wait_all(kids);
    assert_eq!(sig.version().unwrap(), 10);
    assert!(!done.try_wait().unwrap(), "exactly two signals");
}

#[test]
fn concurrent_open_or_create_makes_each_structure_once() {
    use zeroipc_sync::{Event, EventMode, Semaphore, Signal};
    const N: usize = 30;
    if role().is_some() {
        let (seg, go) = child_open(Latch::open, "go");
        go.wait_timeout(Duration::from_secs(30)).unwrap();
        for i in 0..N {
            Mutex::open_or_create(&seg, &format!("m{i}")).unwrap();
            RwLock::open_or_create(&seg, &format!("rw{i}")).unwrap();
            Monitor::open_or_create(&seg, &format!("mon{i}")).unwrap();
            Event::open_or_create(&seg, &format!("e{i}"), EventMode::AutoReset).unwrap();
            Signal::<u32>::open_or_create(&seg, &format!("s{i}"), 5).unwrap();
            Semaphore::open_or_create(&seg, &format!("sem{i}"), 1, 1).unwrap();
        }
        return;
    }
    let (name, _g) = unique_guarded("ooc");
    let seg = zeroipc_format::SegmentOptions::new()
        .create(&name, 1 << 20, 1024)
        .unwrap();
    let go = Latch::create(&seg, "go", 1).unwrap();
    let kids = spawn(
        "multiprocess::concurrent_open_or_create_makes_each_structure_once",
        &["a", "b", "c"],
        &name,
    );
    std::thread::sleep(Duration::from_millis(50));
    go.count_down(1).unwrap();
    wait_all(kids);
    // go + per i: mutex 2, rwlock 4, monitor 4, event 2, signal 3, semaphore 1.
    let entries = seg.entries().unwrap();
    assert_eq!(entries.len(), 1 + N * 16);
    let mut names: Vec<&str> = entries.iter().map(|e| e.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), entries.len(), "no duplicate entry");
    for i in 0..N {
        assert!(Mutex::open(&seg, &format!("m{i}")).unwrap().tracks_owner());
        assert_eq!(
            Signal::<u32>::open(&seg, &format!("s{i}"))
                .unwrap()
                .get()
                .unwrap(),
            5
        );
    }
}
