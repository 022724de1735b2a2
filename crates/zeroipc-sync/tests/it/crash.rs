//! Crash tests: a peer killed with SIGKILL at a chosen point must not hang the survivors.

use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_sync::{Barrier, Error, Mutex};
use zeroipc_testkit::{Child, role};

use crate::multiprocess::{child_segment, data, segment};

#[test]
fn mutex_holder_killed_next_locker_gets_owner_died() {
    if role().is_some() {
        let seg = child_segment();
        let m = Mutex::open(&seg, "m").unwrap();
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
    let kid = Child::spawn(
        "crash::mutex_holder_killed_next_locker_gets_owner_died",
        "holder",
        &[("SEG", &name)],
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
        let seg = child_segment();
        let b = Barrier::open(&seg, "b").unwrap();
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
    let victim = Child::spawn(
        "crash::barrier_participant_killed_others_time_out",
        "victim",
        &[("SEG", &name)],
    );
    while b.arrived().unwrap() < 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    victim.kill();
    let other = Child::spawn(
        "crash::barrier_participant_killed_others_time_out",
        "survivor",
        &[("SEG", &name)],
    );
    let r = b.wait_timeout(Duration::from_millis(300));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    other.wait_success(Duration::from_secs(60));
    // The dead participant's arrival stays counted (the layout cannot tell who arrived).
    assert_eq!(b.arrived().unwrap(), 1);
}
