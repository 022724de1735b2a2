//! Single-process behaviour of every primitive: create/open/open_or_create, argument checks,
//! non-blocking and timed forms, threads within one process.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use zeroipc_format::Segment;
use zeroipc_sync::{
    Barrier, Error, Event, EventMode, Latch, Monitor, Mutex, Once, OnceState, RwLock, Semaphore,
    Signal,
};

fn seg() -> Segment {
    Segment::anonymous(1 << 16, 64).unwrap()
}

fn is_timeout<T: std::fmt::Debug>(r: zeroipc_sync::Result<T>) -> bool {
    matches!(r, Err(Error::Timeout { .. }))
}

#[test]
fn semaphore_counts_bounds_and_times_out() {
    let s = seg();
    for (initial, max) in [(-1, 0), (0, -1), (3, 2)] {
        assert!(matches!(
            Semaphore::create(&s, "bad", initial, max),
            Err(zeroipc_sync::Error::Format(
                zeroipc_sync::FormatError::InvalidArgument(_)
            ))
        ));
    }
    let sem = Semaphore::create(&s, "sem", 1, 2).unwrap();
    assert!(matches!(
        Semaphore::create(&s, "sem", 1, 2),
        Err(Error::Format(zeroipc_format::Error::AlreadyExists { .. }))
    ));
    sem.release().unwrap();
    assert!(matches!(sem.release(), Err(Error::Overflow { max: 2, .. })));
    assert_eq!(sem.count().unwrap(), 2);
    sem.acquire().unwrap();
    sem.acquire_timeout(Duration::from_millis(1)).unwrap();
    assert!(!sem.try_acquire().unwrap());
    let t = Instant::now();
    assert!(is_timeout(sem.acquire_timeout(Duration::from_millis(20))));
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert_eq!(sem.waiting().unwrap(), 0, "a timed-out waiter deregisters");
    let again = Semaphore::open_or_create(&s, "sem", 0, 0).unwrap();
    assert_eq!(
        again.max_count(),
        2,
        "open_or_create opens the existing one"
    );
    let fresh = Semaphore::open_or_create(&s, "sem2", 0, 0).unwrap();
    assert_eq!(fresh.max_count(), 0);
    assert!(matches!(
        Semaphore::open(&s, "nope"),
        Err(Error::Format(zeroipc_format::Error::NotFound { .. }))
    ));
}

#[test]
fn semaphore_release_wakes_a_blocked_thread() {
    let s = seg();
    let sem = Semaphore::create(&s, "sem", 0, 0).unwrap();
    let other = sem.clone();
    let h = thread::spawn(move || other.acquire_timeout(Duration::from_secs(10)));
    while sem.waiting().unwrap() == 0 {
        thread::yield_now();
    }
    sem.release().unwrap();
    h.join().unwrap().unwrap();
    assert_eq!(sem.count().unwrap(), 0);
}

#[test]
fn mutex_excludes_threads_and_records_the_owner() {
    let s = seg();
    let m = Arc::new(Mutex::create(&s, "m").unwrap());
    assert!(m.tracks_owner());
    let (_, counter) = s.add("counter", 8, |_| Ok::<_, Error>(())).unwrap();
    let counter = Arc::new(counter);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (m, c) = (Arc::clone(&m), Arc::clone(&counter));
            thread::spawn(move || {
                for _ in 0..2000 {
                    let g = m.lock().unwrap();
                    assert!(!g.owner_died());
                    let v = c.read::<u64>(0).unwrap();
                    c.write::<u64>(0, v + 1).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(counter.read::<u64>(0).unwrap(), 8000);
    let g = m.lock().unwrap();
    assert_eq!(m.owner_pid().unwrap(), Some(std::process::id()));
    assert!(is_timeout(m.lock_timeout(Duration::from_millis(5))));
    g.unlock().unwrap();
    assert_eq!(m.owner_pid().unwrap(), None);
    // A 26-byte name has no room for `_owner`: the mutex works without owner tracking.
    let long = Mutex::create(&s, &"x".repeat(26)).unwrap();
    assert!(!long.tracks_owner());
    drop(long.lock().unwrap());
    // Opening a semaphore with max_count 2 as a mutex is a type mismatch.
    Semaphore::create(&s, "two", 1, 2).unwrap();
    assert!(matches!(
        Mutex::open(&s, "two"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::TypeMismatch { found: 2, .. }
        ))
    ));
    assert!(Mutex::open_or_create(&s, "m").unwrap().tracks_owner());
}

#[test]
fn barrier_phases_threads_and_times_out() {
    let s = seg();
    assert!(matches!(
        Barrier::create(&s, "b0", 0),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::InvalidArgument(_)
        ))
    ));
    let b = Barrier::create(&s, "b", 3).unwrap();
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let b = b.clone();
            thread::spawn(move || {
                (0..200)
                    .map(|_| b.wait_timeout(Duration::from_secs(10)).unwrap())
                    .filter(|leader| *leader)
                    .count()
            })
        })
        .collect();
    let leaders: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(leaders, 200, "exactly one leader per phase");
    assert_eq!(b.generation().unwrap(), 200);
    assert!(is_timeout(b.wait_timeout(Duration::from_millis(10))));
    assert_eq!(b.arrived().unwrap(), 0, "timed-out arrival withdrawn");
    assert_eq!(
        Barrier::open_or_create(&s, "b", 9).unwrap().participants(),
        3
    );
}

#[test]
fn latch_releases_all_waiters() {
    let s = seg();
    assert!(Latch::create(&s, "neg", -1).is_err());
    let l = Latch::create(&s, "l", 3).unwrap();
    assert!(matches!(
        l.count_down(0),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::InvalidArgument(_)
        ))
    ));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let l = l.clone();
            thread::spawn(move || l.wait_timeout(Duration::from_secs(10)))
        })
        .collect();
    assert!(is_timeout(l.wait_timeout(Duration::from_millis(5))));
    assert!(!l.count_down(1).unwrap());
    assert!(l.count_down(5).unwrap(), "clamped at 0, releases");
    assert!(!l.count_down(1).unwrap(), "already released");
    for h in hs {
        h.join().unwrap().unwrap();
    }
    assert_eq!(l.count().unwrap(), 0);
    l.reset().unwrap();
    assert_eq!(l.count().unwrap(), 3);
    assert!(!l.try_wait().unwrap());
}

#[test]
fn once_runs_once_even_when_the_closure_panics() {
    let s = seg();
    let o = Once::create(&s, "o").unwrap();
    let o2 = o.clone();
    let r = thread::spawn(move || o2.call(|| panic!("boom"))).join();
    assert!(r.is_err(), "the panic propagates");
    assert_eq!(o.state().unwrap(), OnceState::Done);
    let mut ran = false;
    assert!(!o.call(|| ran = true).unwrap());
    assert!(!ran);
    o.reset_unsafe().unwrap();
    assert!(o.try_call(|| ran = true).unwrap());
    assert!(ran);
    // A state stuck in "executing" (a dead executor): only the timed form returns.
    s.raw()
        .write::<u32>(o.entry().offset() as usize, 1)
        .unwrap();
    assert!(is_timeout(o.call_timeout(|| {}, Duration::from_millis(10))));
    assert!(!o.try_call(|| {}).unwrap());
}

#[test]
fn events_auto_and_manual() {
    let s = seg();
    let auto = Event::create(&s, "a", EventMode::AutoReset).unwrap();
    auto.signal().unwrap();
    auto.signal().unwrap();
    auto.wait().unwrap();
    assert!(auto.try_wait().unwrap(), "signals accumulate");
    assert!(!auto.try_wait().unwrap());
    assert!(is_timeout(auto.wait_timeout(Duration::from_millis(5))));

    let man = Event::create(&s, "m", EventMode::ManualReset).unwrap();
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let e = man.clone();
            thread::spawn(move || e.wait_timeout(Duration::from_secs(10)))
        })
        .collect();
    while man.waiting().unwrap() < 3 {
        thread::yield_now();
    }
    // A pulse waits at most 10 ms for the woken waiters to leave; on a loaded machine one
    // may miss it, so pulse until all have gone.
    for _ in 0..1000 {
        man.pulse().unwrap();
        if hs.iter().all(|h| h.is_finished()) {
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    for h in hs {
        h.join().unwrap().unwrap();
    }
    assert!(!man.is_signaled().unwrap(), "pulse resets");
    assert_eq!(Event::open(&s, "m").unwrap().mode(), EventMode::ManualReset);
    assert!(Event::create(&s, &"e".repeat(28), EventMode::AutoReset).is_err());
}

#[test]
fn rwlock_readers_share_writers_exclude() {
    let s = seg();
    let rw = RwLock::create(&s, "rw").unwrap();
    let r1 = rw.read().unwrap();
    let r2 = rw.try_read().unwrap().unwrap();
    assert_eq!(rw.readers().unwrap(), 2);
    assert!(rw.try_write().unwrap().is_none());
    assert!(is_timeout(rw.write_timeout(Duration::from_millis(5))));
    assert!(!rw.writer_active().unwrap(), "timed-out writer rolled back");
    drop((r1, r2));
    let w = rw.write().unwrap();
    assert!(rw.writer_active().unwrap());
    assert!(rw.try_read().unwrap().is_none());
    assert!(is_timeout(rw.read_timeout(Duration::from_millis(5))));
    drop(w);
    assert!(rw.try_read().unwrap().is_some());
    assert!(RwLock::create(&s, &"r".repeat(26)).is_err());
    RwLock::open_or_create(&s, "rw").unwrap();
}

#[test]
fn monitor_producer_consumer_threads() {
    let s = seg();
    let mon = Monitor::create(&s, "mon").unwrap();
    let (_, slot) = s.add("slot", 8, |_| Ok::<_, Error>(())).unwrap();
    let (m2, slot2) = (mon.clone(), slot.clone());
    let consumer = thread::spawn(move || {
        let mut sum = 0u64;
        for _ in 0..100 {
            let g = m2.lock().unwrap();
            let g = g.wait_while(|| slot2.read::<u64>(0).unwrap() != 0).unwrap();
            sum += slot2.read::<u64>(0).unwrap();
            slot2.write::<u64>(0, 0).unwrap();
            drop(g);
            m2.notify_all().unwrap();
        }
        sum
    });
    for i in 1..=100u64 {
        let g = mon.lock().unwrap();
        let g = g.wait_while(|| slot.read::<u64>(0).unwrap() == 0).unwrap();
        slot.write::<u64>(0, i).unwrap();
        drop(g);
        mon.notify_all().unwrap();
    }
    assert_eq!(consumer.join().unwrap(), 5050);
    let _ = Monitor::open(&s, "mon").unwrap();
}

#[test]
fn signal_versions_and_waits() {
    let s = seg();
    let sig = Signal::<[u8; 12]>::create(&s, "sig", [1; 12]).unwrap();
    assert_eq!(s.find("sig_state").unwrap().size(), 24);
    assert_eq!(sig.version().unwrap(), 0);
    let other = Signal::<[u8; 12]>::open(&s, "sig").unwrap();
    let h = thread::spawn(move || other.wait_for_change_timeout(0, Duration::from_secs(10)));
    thread::sleep(Duration::from_millis(5));
    sig.set([2; 12]).unwrap();
    assert_eq!(h.join().unwrap().unwrap(), 1);
    assert_eq!(
        sig.update(|mut v| {
            v[0] = 9;
            v
        })
        .unwrap()[0],
        9
    );
    assert!(sig.has_changed(1).unwrap());
    assert!(is_timeout(
        sig.wait_for_change_timeout(2, Duration::from_millis(5))
    ));
    assert_eq!(sig.try_get().unwrap().unwrap()[0], 9);
    // A held value mutex (e.g. a writer that died inside `set`): the timed forms give up.
    let mtx = zeroipc_sync::Semaphore::open(&s, "sig_mtx").unwrap();
    mtx.acquire().unwrap();
    assert!(sig.try_get().unwrap().is_none());
    assert!(is_timeout(sig.get_timeout(Duration::from_millis(5))));
    assert!(is_timeout(
        sig.set_timeout([0; 12], Duration::from_millis(5))
    ));
    mtx.release().unwrap();
    sig.set_timeout([3; 12], Duration::from_millis(50)).unwrap();
    assert_eq!(sig.get().unwrap(), [3; 12]);
    assert!(matches!(
        Signal::<[u8; 24]>::open(&s, "sig"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::TypeMismatch { .. }
        ))
    ));
}

#[test]
fn semaphore_guard_releases_on_drop_and_on_release() {
    let s = seg();
    let sem = Semaphore::create(&s, "guarded", 2, 2).unwrap();
    let g1 = sem.acquire_guard().unwrap();
    let g2 = sem
        .acquire_guard_timeout(Duration::from_millis(100))
        .unwrap();
    assert_eq!(sem.count().unwrap(), 0);
    assert!(sem.try_acquire_guard().unwrap().is_none());
    assert!(is_timeout(
        sem.acquire_guard_timeout(Duration::from_millis(5))
            .map(|_| ())
    ));
    drop(g1);
    assert_eq!(sem.count().unwrap(), 1, "drop returns the permit");
    g2.release().unwrap();
    assert_eq!(sem.count().unwrap(), 2, "release returns the permit once");
    // A guard held across a panic is still released (unwinding drops it).
    let s2 = Arc::new(s);
    let sem2 = Semaphore::open(&s2, "guarded").unwrap();
    let r = thread::spawn(move || {
        let _g = sem2.acquire_guard().unwrap();
        panic!("holder panics");
    })
    .join();
    assert!(r.is_err());
    assert_eq!(sem.count().unwrap(), 2);
}

#[test]
fn semaphore_guard_wakes_a_waiting_thread_when_dropped() {
    let s = Arc::new(seg());
    let sem = Semaphore::create(&s, "one", 1, 1).unwrap();
    let g = sem.acquire_guard().unwrap();
    let s2 = Arc::clone(&s);
    let waiter = thread::spawn(move || {
        let sem = Semaphore::open(&s2, "one").unwrap();
        let _g = sem.acquire_guard_timeout(Duration::from_secs(30)).unwrap();
    });
    while sem.waiting().unwrap() == 0 && !waiter.is_finished() {
        thread::yield_now();
    }
    drop(g);
    waiter.join().unwrap();
    assert_eq!(sem.count().unwrap(), 1);
}
