//! Crash tests: a peer killed with SIGKILL at a chosen point must not hang the survivors.

use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_sync::{Barrier, Error, Mutex, Once, OnceState, Semaphore};
use zeroipc_testkit::role;

use crate::multiprocess::{child_open, data, segment, spawn_peer};

#[test]
fn mutex_holder_killed_next_locker_gets_owner_died() {
    if role().is_some() {
        let (seg, m) = child_open(Mutex::open, "m");
        let flag = data(&seg, "flag", 16);
        let _g = m.lock().unwrap();
        // Half-done update of the protected data, then report "holding" and hang.
        flag.write::<u64>(8, 0xdead).unwrap();
        flag.atomic_u32(4).unwrap().store(1, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let (seg, _g, name) = segment("crash_m");
    let m = Mutex::create(&seg, "m").unwrap();
    let flag = data(&seg, "flag", 16);
    let kid = spawn_peer(
        "crash::mutex_holder_killed_next_locker_gets_owner_died",
        "holder",
        &name,
    );
    let pid = kid.id();
    while flag.atomic_u32(4).unwrap().load(Ordering::Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(m.is_locked().unwrap());
    assert_eq!(m.owner_pid().unwrap(), Some(pid));
    // Alive holder: a timed lock times out.
    assert!(matches!(
        m.lock_timeout(Duration::from_millis(30)),
        Err(Error::Timeout { .. })
    ));
    kid.kill(); // SIGKILL and reap
    let t = Instant::now();
    let g = m.lock_timeout(Duration::from_secs(10)).unwrap();
    let took = t.elapsed();
    assert!(g.owner_died(), "the takeover is reported");
    println!("dead-owner takeover after {took:?}");
    assert_eq!(m.owner_pid().unwrap(), Some(std::process::id()));
    assert_eq!(flag.read::<u64>(8).unwrap(), 0xdead, "caller can repair");
    drop(g);
    // After the repair the mutex is an ordinary unlocked mutex again.
    assert!(!m.is_locked().unwrap());
    assert!(!m.lock().unwrap().owner_died());
}

#[test]
fn barrier_participant_killed_others_time_out() {
    if let Some(r) = role() {
        let (_seg, b) = child_open(Barrier::open, "b");
        if r == "victim" {
            b.wait().unwrap(); // never completes: killed while waiting
            unreachable!("the phase cannot complete");
        }
        let t = Instant::now();
        let r = b.wait_timeout(Duration::from_millis(300));
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        assert!(t.elapsed() >= Duration::from_millis(300));
        return;
    }
    let (seg, _g, name) = segment("crash_b");
    let b = Barrier::create(&seg, "b", 4).unwrap();
    let victim = spawn_peer(
        "crash::barrier_participant_killed_others_time_out",
        "victim",
        &name,
    );
    while b.arrived().unwrap() < 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    victim.kill();
    let other = spawn_peer(
        "crash::barrier_participant_killed_others_time_out",
        "survivor",
        &name,
    );
    let r = b.wait_timeout(Duration::from_millis(300));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    other.wait_success(Duration::from_secs(60));
    // The dead participant's arrival stays counted (the layout cannot tell who arrived).
    assert_eq!(b.arrived().unwrap(), 1);
}

/// Spec §4.14: an executor killed inside `call` leaves `EXECUTING` forever; waiters return
/// `Timeout` from the timed form (never hang), `try_call` does not run `f` again, and only
/// `reset_unsafe` (the documented recovery) makes the Once usable.
#[test]
fn once_executor_killed_inside_call_others_time_out() {
    const TEST: &str = "crash::once_executor_killed_inside_call_others_time_out";
    if role().is_some() {
        let (seg, once) = child_open(Once::open, "o");
        let flag = data(&seg, "flag", 8);
        once.call(|| {
            flag.atomic_u32(0).unwrap().store(1, Ordering::Release);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap();
        unreachable!("killed inside the initialiser");
    }
    let (seg, _g, name) = segment("crash_o");
    let once = Once::create(&seg, "o").unwrap();
    let flag = data(&seg, "flag", 8);
    let kid = spawn_peer(TEST, "executor", &name);
    while flag.atomic_u32(0).unwrap().load(Ordering::Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    kid.kill();
    assert_eq!(once.state().unwrap(), OnceState::Executing);
    let t = Instant::now();
    let r = once.call_timeout(|| panic!("must not run"), Duration::from_millis(100));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!once.try_call(|| panic!("must not run")).unwrap());
    once.reset_unsafe().unwrap();
    let mut ran = false;
    assert!(once.call(|| ran = true).unwrap());
    assert!(ran && once.is_done().unwrap());
}

/// A waiter SIGKILLed while blocked in `acquire` leaves its `waiting` registration behind
/// (spec §4.8 has no way to withdraw it). The survivors are unaffected: the stale count only
/// makes `release` issue a futex wake nobody needs; acquire and release keep working.
#[test]
fn semaphore_waiter_killed_while_waiting_survivors_unaffected() {
    const TEST: &str = "crash::semaphore_waiter_killed_while_waiting_survivors_unaffected";
    if role().is_some() {
        let (_seg, sem) = child_open(Semaphore::open, "s");
        sem.acquire().unwrap(); // blocks: the count is 0
        unreachable!("killed while waiting");
    }
    let (seg, _g, name) = segment("crash_s");
    let sem = Semaphore::create(&seg, "s", 0, 1).unwrap();
    let kid = spawn_peer(TEST, "waiter", &name);
    let t = Instant::now();
    while sem.waiting().unwrap() == 0 {
        assert!(t.elapsed() < Duration::from_secs(30), "child never waited");
        std::thread::sleep(Duration::from_millis(1));
    }
    kid.kill();
    assert_eq!(
        sem.waiting().unwrap(),
        1,
        "the dead waiter stays registered"
    );
    assert_eq!(sem.count().unwrap(), 0);
    sem.release().unwrap();
    let t = Instant::now();
    sem.acquire_timeout(Duration::from_secs(5)).unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
    assert!(matches!(
        sem.acquire_timeout(Duration::from_millis(20)),
        Err(Error::Timeout { .. })
    ));
    sem.release().unwrap();
    assert!(sem.try_acquire().unwrap());
}
