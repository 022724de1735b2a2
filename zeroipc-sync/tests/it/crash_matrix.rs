//! Crash matrix (docs/RELIABILITY.md): a peer process blocked in, or holding, a primitive is
//! SIGKILLed. The survivors must return (success, or an error or timeout) within `BOUND`,
//! acknowledged state must be intact, and the primitive must stay usable where the spec says
//! so.
//!
//! A peer is killed at a known point: the parent waits until the peer's registration is
//! visible in shared memory (a `waiting` count, a reader count, a flag the peer sets after
//! taking a guard), and where the peer could otherwise be inside a short critical section
//! (Monitor) the parent holds the lock while killing, so the peer cannot hold it.

use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment};
use zeroipc_sync::{Error, Event, EventMode, Latch, Monitor, Mutex, RwLock, Semaphore};
use zeroipc_testkit::role;

use crate::multiprocess::{child_open, data, segment, spawn_peer};

/// Generous bound for a survivor's operation on a loaded 2-core machine (the operations
/// themselves use timeouts of at most 300 ms, or return at once).
const BOUND: Duration = Duration::from_secs(5);
/// How long a peer may take to start and reach its point.
const START: Duration = Duration::from_secs(30);
/// Bound for a survivor child process to finish.
const CHILD: Duration = Duration::from_secs(60);

/// Runs `op` and asserts it returns within `BOUND`.
fn bounded<R>(what: &str, op: impl FnOnce() -> R) -> R {
    let t = Instant::now();
    let r = op();
    assert!(t.elapsed() < BOUND, "{what} took {:?}", t.elapsed());
    r
}

/// Polls `cond` until it holds; panics after `START`.
fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < START, "peer never reached its point: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Spawns the peer `role` of `test` on the segment `seg_name`, waits until `reached` shows it
/// at its point (`what`), and SIGKILLs it.
fn kill_at(test: &str, seg_name: &str, role: &str, what: &str, reached: impl FnMut() -> bool) {
    let kid = spawn_peer(test, role, seg_name);
    until(what, reached);
    kid.kill();
}

fn flag(seg: &Segment) -> Region {
    data(seg, "flag", 8)
}

fn raise(seg: &Segment) {
    flag(seg).atomic_u32(0).unwrap().store(1, Ordering::Release);
}

fn raised(seg: &Segment) -> bool {
    flag(seg).atomic_u32(0).unwrap().load(Ordering::Acquire) == 1
}

fn park_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn mutex_waiter_killed_while_blocked_holder_unlocks_others_proceed() {
    const TEST: &str =
        "crash_matrix::mutex_waiter_killed_while_blocked_holder_unlocks_others_proceed";
    if let Some(r) = role() {
        let (seg, m) = child_open(Mutex::open, "m");
        if r == "victim" {
            let _g = m.lock().unwrap(); // blocks: the parent holds the mutex
            unreachable!("killed while blocked in lock");
        }
        let g = bounded("survivor lock", || {
            m.lock_timeout(Duration::from_secs(3)).unwrap()
        });
        assert!(!g.owner_died(), "nobody died holding it");
        let c = data(&seg, "count", 8);
        c.write::<u64>(0, c.read::<u64>(0).unwrap() + 1).unwrap();
        return;
    }
    let (seg, _g, name) = segment("cm_mw");
    let m = Mutex::create(&seg, "m").unwrap();
    let count = data(&seg, "count", 8);
    // The mutex word is a semaphore (spec §4.9): its `waiting` shows the blocked victim.
    let word = Semaphore::open(&seg, "m").unwrap();
    let held = m.lock().unwrap();
    kill_at(TEST, &name, "victim", "victim waiting", || {
        word.waiting().unwrap() >= 1
    });
    assert_eq!(
        word.waiting().unwrap(),
        1,
        "the dead waiter stays registered"
    );
    assert_eq!(m.owner_pid().unwrap(), Some(std::process::id()));
    drop(held);
    // The holder unlocked: a new process and the parent both lock promptly.
    spawn_peer(TEST, "survivor", &name).wait_success(CHILD);
    let g = bounded("parent lock", || {
        m.lock_timeout(Duration::from_secs(3)).unwrap()
    });
    assert!(!g.owner_died());
    assert_eq!(
        count.read::<u64>(0).unwrap(),
        1,
        "the survivor's update is there"
    );
    drop(g);
    assert!(!m.is_locked().unwrap());
}

#[test]
fn rwlock_reader_killed_holding_a_read_guard_writers_time_out() {
    const TEST: &str = "crash_matrix::rwlock_reader_killed_holding_a_read_guard_writers_time_out";
    if role().is_some() {
        let (seg, rw) = child_open(RwLock::open, "rw");
        let _g = rw.read().unwrap();
        raise(&seg);
        park_forever();
    }
    let (seg, _g, name) = segment("cm_rr");
    let rw = RwLock::create(&seg, "rw").unwrap();
    flag(&seg);
    kill_at(TEST, &name, "reader", "read guard taken", || raised(&seg));
    assert_eq!(rw.readers().unwrap(), 1, "the dead reader stays counted");
    // No owner is recorded for readers (documented): a writer times out, never hangs, and
    // rolls its `writer_active` flag back so readers are not locked out by it.
    let r = bounded("write_timeout", || {
        rw.write_timeout(Duration::from_millis(200))
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(
        !rw.writer_active().unwrap(),
        "the timed-out writer rolled back"
    );
    assert!(rw.try_write().unwrap().is_none());
    // Readers still share the lock with the dead one.
    let g = bounded("read_timeout", || {
        rw.read_timeout(Duration::from_millis(200)).unwrap()
    });
    assert_eq!(rw.readers().unwrap(), 2);
    drop(g);
    assert_eq!(rw.readers().unwrap(), 1);
}

#[test]
fn rwlock_writer_killed_holding_the_write_guard_others_time_out() {
    const TEST: &str = "crash_matrix::rwlock_writer_killed_holding_the_write_guard_others_time_out";
    if role().is_some() {
        let (seg, rw) = child_open(RwLock::open, "rw");
        let _g = rw.write().unwrap();
        raise(&seg);
        park_forever();
    }
    let (seg, _g, name) = segment("cm_rw");
    let rw = RwLock::create(&seg, "rw").unwrap();
    flag(&seg);
    kill_at(TEST, &name, "writer", "write guard taken", || raised(&seg));
    assert!(rw.writer_active().unwrap());
    let r = bounded("read_timeout", || {
        rw.read_timeout(Duration::from_millis(200))
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    let r = bounded("write_timeout", || {
        rw.write_timeout(Duration::from_millis(200))
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(rw.try_read().unwrap().is_none());
    // The timed-out callers left nothing behind: still exactly the dead writer's state.
    assert!(rw.writer_active().unwrap());
    assert_eq!(rw.readers().unwrap(), 0);
}

#[test]
fn latch_waiter_killed_other_waiters_still_released() {
    const TEST: &str = "crash_matrix::latch_waiter_killed_other_waiters_still_released";
    if let Some(r) = role() {
        let (seg, l) = child_open(Latch::open, "l");
        if r == "victim" {
            raise(&seg);
            l.wait().unwrap();
            unreachable!("killed while waiting");
        }
        bounded("survivor wait", || {
            l.wait_timeout(Duration::from_secs(3)).unwrap()
        });
        return;
    }
    let (seg, _g, name) = segment("cm_lw");
    let l = Latch::create(&seg, "l", 1).unwrap();
    flag(&seg);
    let victim = spawn_peer(TEST, "victim", &name);
    until("victim about to wait", || raised(&seg));
    // A latch waiter registers nothing (it sleeps on `count`), so any point inside `wait` is
    // equivalent; give it time to reach the futex.
    std::thread::sleep(Duration::from_millis(50));
    victim.kill();
    let survivor = spawn_peer(TEST, "survivor", &name);
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        l.count_down(1).unwrap(),
        "this count-down released the latch"
    );
    survivor.wait_success(CHILD);
    bounded("wait", || {
        l.wait_timeout(Duration::from_millis(10)).unwrap()
    });
    assert_eq!(l.count().unwrap(), 0);
}

#[test]
fn latch_counter_killed_before_counting_down_waiters_time_out() {
    const TEST: &str = "crash_matrix::latch_counter_killed_before_counting_down_waiters_time_out";
    if role().is_some() {
        let (seg, l) = child_open(Latch::open, "l");
        assert!(!l.count_down(1).unwrap());
        raise(&seg);
        park_forever(); // killed before its second count-down
    }
    let (seg, _g, name) = segment("cm_lc");
    let l = Latch::create(&seg, "l", 2).unwrap();
    flag(&seg);
    kill_at(TEST, &name, "counter", "first count-down", || raised(&seg));
    assert_eq!(l.count().unwrap(), 1, "the acknowledged count-down is kept");
    let t = Instant::now();
    let r = bounded("wait_timeout", || {
        l.wait_timeout(Duration::from_millis(200))
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(t.elapsed() >= Duration::from_millis(200));
    // Still usable: another counter can finish the job.
    assert!(l.count_down(1).unwrap());
    bounded("wait", || {
        l.wait_timeout(Duration::from_millis(10)).unwrap()
    });
}

#[test]
fn monitor_waiter_killed_while_waiting_others_notified() {
    const TEST: &str = "crash_matrix::monitor_waiter_killed_while_waiting_others_notified";
    if let Some(r) = role() {
        let (seg, mon) = child_open(Monitor::open, "mon");
        let ready = data(&seg, "ready", 8);
        let is_ready = || ready.atomic_u32(0).unwrap().load(Ordering::Acquire) == 1;
        let g = mon.lock().unwrap();
        if r == "victim" {
            let _g = g.wait_while(|| false).unwrap();
            unreachable!("killed while waiting");
        }
        let g = bounded("survivor wait", || {
            g.wait_while_timeout(is_ready, Duration::from_secs(3))
                .unwrap()
        });
        drop(g);
        return;
    }
    let (seg, _g, name) = segment("cm_mon");
    let mon = Monitor::create(&seg, "mon").unwrap();
    let ready = data(&seg, "ready", 8);
    let victim = spawn_peer(TEST, "victim", &name);
    until("victim registered", || mon.waiters().unwrap() == 1);
    // Holding the monitor while killing: the victim is then asleep on the condition or
    // blocked relocking, never inside the monitor (which would leave it locked, documented).
    let g = bounded("lock", || mon.lock_timeout(BOUND).unwrap());
    victim.kill();
    drop(g);
    assert_eq!(
        mon.waiters().unwrap(),
        1,
        "the dead waiter stays registered"
    );
    let survivor = spawn_peer(TEST, "survivor", &name);
    until("survivor registered", || mon.waiters().unwrap() == 2);
    let g = bounded("lock", || mon.lock_timeout(BOUND).unwrap());
    ready.atomic_u32(0).unwrap().store(1, Ordering::Release);
    mon.notify_all().unwrap();
    drop(g);
    survivor.wait_success(CHILD);
    // Still usable: lock, a timed wait, unlock.
    let g = bounded("lock", || mon.lock_timeout(BOUND).unwrap());
    let (g, _) = bounded("wait", || {
        g.wait_timeout(Duration::from_millis(20)).unwrap()
    });
    drop(g);
    assert!(mon.try_lock().unwrap().is_some());
}

#[test]
fn event_manual_reset_waiter_killed_pulse_and_signal_still_work() {
    const TEST: &str = "crash_matrix::event_manual_reset_waiter_killed_pulse_and_signal_still_work";
    if let Some(r) = role() {
        let (_seg, ev) = child_open(Event::open, "ev");
        if r == "victim" {
            ev.wait().unwrap();
            unreachable!("killed while waiting");
        }
        bounded("survivor wait", || {
            ev.wait_timeout(Duration::from_secs(3)).unwrap()
        });
        return;
    }
    let (seg, _g, name) = segment("cm_evm");
    let ev = Event::create(&seg, "ev", EventMode::ManualReset).unwrap();
    kill_at(TEST, &name, "victim", "victim registered", || {
        ev.waiting().unwrap() == 1
    });
    assert_eq!(ev.waiting().unwrap(), 1, "the dead waiter stays registered");
    // `pulse` waits for registered waiters at most its 10 ms bound, so the stale
    // registration costs 10 ms, not a hang.
    bounded("pulse", || ev.pulse().unwrap());
    assert!(!ev.is_signaled().unwrap());
    let survivor = spawn_peer(TEST, "survivor", &name);
    until("survivor registered", || ev.waiting().unwrap() == 2);
    ev.signal().unwrap();
    survivor.wait_success(CHILD);
    bounded("wait", || {
        ev.wait_timeout(Duration::from_millis(10)).unwrap()
    });
}

#[test]
fn event_auto_reset_waiter_killed_signal_is_not_swallowed() {
    const TEST: &str = "crash_matrix::event_auto_reset_waiter_killed_signal_is_not_swallowed";
    if role().is_some() {
        let (_seg, ev) = child_open(Event::open, "ev");
        ev.wait().unwrap();
        unreachable!("killed while waiting");
    }
    let (seg, _g, name) = segment("cm_eva");
    let ev = Event::create(&seg, "ev", EventMode::AutoReset).unwrap();
    // Auto-reset waiters sleep on the event's semaphore `NAME_sem` (spec §4.15).
    let sem = Semaphore::open(&seg, "ev_sem").unwrap();
    kill_at(TEST, &name, "victim", "victim waiting", || {
        sem.waiting().unwrap() == 1
    });
    ev.signal().unwrap();
    // The dead waiter cannot take the signal: the next wait gets it at once.
    bounded("wait", || {
        ev.wait_timeout(Duration::from_millis(300)).unwrap()
    });
    let r = bounded("wait", || ev.wait_timeout(Duration::from_millis(20)));
    assert!(
        matches!(r, Err(Error::Timeout { .. })),
        "one signal, one waiter: {r:?}"
    );
}
