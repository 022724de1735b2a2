//! Open checks: invalid sizes and field values are rejected with one clean error each.

use zeroipc_format::{Corruption, Segment};
use zeroipc_sync::{Barrier, Error, Event, EventMode, Mutex, Once, RwLock, Semaphore};

fn corrupt_field(r: zeroipc_sync::Result<impl std::fmt::Debug>) -> &'static str {
    match r {
        Err(Error::Format(zeroipc_format::Error::Corrupt {
            what: Corruption::Field { field, .. },
        })) => field,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn bad_fields_are_corrupt() {
    let s = Segment::anonymous(1 << 16, 64).unwrap();
    let raw = s.raw();
    let at = |name: &str| s.find(name).unwrap().offset() as usize;

    Semaphore::create(&s, "sem", 0, 0).unwrap();
    raw.write::<i32>(at("sem") + 8, -1).unwrap();
    assert_eq!(corrupt_field(Semaphore::open(&s, "sem")), "max_count");

    Barrier::create(&s, "bar", 2).unwrap();
    raw.write::<i32>(at("bar") + 8, 0).unwrap();
    assert_eq!(corrupt_field(Barrier::open(&s, "bar")), "num_participants");

    Once::create(&s, "once").unwrap();
    raw.write::<u32>(at("once"), 3).unwrap();
    assert_eq!(corrupt_field(Once::open(&s, "once")), "state");

    Event::create(&s, "evt", EventMode::AutoReset).unwrap();
    raw.write::<u32>(at("evt") + 4, 2).unwrap();
    assert_eq!(corrupt_field(Event::open(&s, "evt")), "mode");
    raw.write::<u32>(at("evt") + 4, 1).unwrap();
    raw.write::<u32>(at("evt"), 7).unwrap();
    assert_eq!(
        corrupt_field(Event::open(&s, "evt").unwrap().is_signaled()),
        "signaled"
    );

    RwLock::create(&s, "rw").unwrap();
    raw.write::<i32>(at("rw_wmtx") + 8, 3).unwrap();
    assert!(matches!(
        RwLock::open(&s, "rw"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::TypeMismatch { found: 3, .. }
        ))
    ));
}

#[test]
fn wrong_sizes_and_missing_parts() {
    let s = Segment::anonymous(1 << 16, 64).unwrap();
    s.add("eight", 8, |_| Ok::<_, Error>(())).unwrap();
    for r in [
        Semaphore::open(&s, "eight").map(|_| ()),
        Mutex::open(&s, "eight").map(|_| ()),
        Barrier::open(&s, "eight").map(|_| ()),
        Once::open(&s, "eight").map(|_| ()),
    ] {
        assert!(
            matches!(
                r,
                Err(zeroipc_sync::Error::Format(
                    zeroipc_sync::FormatError::SizeMismatch { found: 8, .. }
                ))
            ),
            "{r:?}"
        );
    }
    // An event whose marker never appears: Incomplete after the grace period.
    s.add("half", 12, |_| Ok::<_, Error>(())).unwrap();
    assert!(matches!(
        Event::open(&s, "half"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::Incomplete { .. }
        ))
    ));
    // RWLock parts present but no marker.
    s.add("part_state", 8, |_| Ok::<_, Error>(())).unwrap();
    assert!(matches!(
        RwLock::open(&s, "part"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::Incomplete { .. }
        ))
    ));
    // A mutex whose owner entry has the wrong size.
    Mutex::create(&s, &"m".repeat(26)).unwrap();
    s.add("mm_owner", 4, |_| Ok::<_, Error>(())).unwrap();
    Semaphore::create(&s, "mm", 1, 1).unwrap();
    assert!(matches!(
        Mutex::open(&s, "mm"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::SizeMismatch { expected: 8, .. }
        ))
    ));
}

#[test]
fn negative_count_is_no_permit() {
    let s = Segment::anonymous(1 << 16, 64).unwrap();
    let sem = Semaphore::create(&s, "sem", 0, 0).unwrap();
    let at = s.find("sem").unwrap().offset() as usize;
    s.raw().write::<i32>(at, -5).unwrap();
    assert!(!sem.try_acquire().unwrap());
    assert!(matches!(
        sem.acquire_timeout(std::time::Duration::from_millis(5)),
        Err(Error::Timeout { .. })
    ));
    sem.release().unwrap();
    assert_eq!(sem.count().unwrap(), -4);
    assert!(!sem.try_acquire().unwrap());
}

#[test]
fn barrier_count_pushed_past_the_limit_still_completes_the_next_phase() {
    // The documented timeout-rollback race can leave `arrived` above the limit; the next
    // arrival then completes the phase instead of every later phase stalling.
    let s = Segment::anonymous(1 << 16, 64).unwrap();
    let b = Barrier::create(&s, "bar", 2).unwrap();
    let at = s.find("bar").unwrap().offset() as usize;
    s.raw().write::<i32>(at, 2).unwrap();
    assert!(
        b.wait_timeout(std::time::Duration::from_millis(100))
            .unwrap()
    );
    assert_eq!(b.arrived().unwrap(), 0);
    assert_eq!(b.generation().unwrap(), 1);
}

#[test]
fn auto_reset_pulse_releases_one_waiter_and_leaves_no_signal() {
    let s = Segment::anonymous(1 << 16, 64).unwrap();
    let ev = Event::create(&s, "ev", EventMode::AutoReset).unwrap();
    // Nobody waits: the pulse is lost, as for a pthread condition signal.
    ev.pulse().unwrap();
    assert!(!ev.try_wait().unwrap());
    let other = ev.clone();
    let h = std::thread::spawn(move || other.wait_timeout(std::time::Duration::from_secs(10)));
    let sem = Semaphore::open(&s, "ev_sem").unwrap();
    while sem.waiting().unwrap() == 0 {
        std::thread::yield_now();
    }
    // A pulse waits at most 10 ms for the woken waiter to take the signal; on a loaded
    // machine the waiter may miss one, so pulse until it has gone.
    for _ in 0..1000 {
        ev.pulse().unwrap();
        if h.is_finished() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    h.join().unwrap().unwrap();
    assert!(!ev.try_wait().unwrap(), "no signal left behind");
    assert!(!ev.is_signaled().unwrap());
}

/// Regression (fuzz target `hostile_ops`): `Event::reset` drained the auto-reset semaphore one
/// unit at a time, so a peer that stored a count near `i32::MAX` made it spin for minutes.
#[test]
fn auto_reset_reset_with_hostile_sem_count_is_immediate() {
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let ev = Event::create(&seg, "ev", EventMode::AutoReset).unwrap();
    let sem_off = seg.find("ev_sem").unwrap().offset() as usize;
    seg.raw().write::<i32>(sem_off, i32::MAX).unwrap();
    let t = std::time::Instant::now();
    ev.reset().unwrap();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        t.elapsed()
    );
    assert!(!ev.try_wait().unwrap());
    assert_eq!(seg.raw().read::<i32>(sem_off).unwrap(), 0);
    // A negative (corrupt) count is left alone: no permit either way.
    seg.raw().write::<i32>(sem_off, -5).unwrap();
    ev.reset().unwrap();
    assert_eq!(seg.raw().read::<i32>(sem_off).unwrap(), -5);
}

/// An unbounded semaphore's release is one `fetch_add`. At the count's one bound it must
/// still refuse and leave the count as it was, and a negative (corrupt) count is counted up
/// by the exact path, as a CAS release did.
#[test]
fn unbounded_release_at_i32_max_overflows_and_leaves_the_count() {
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let sem = Semaphore::create(&seg, "s", 0, 0).unwrap();
    let off = seg.find("s").unwrap().offset() as usize;
    let count = || seg.raw().read::<i32>(off).unwrap();
    seg.raw().write::<i32>(off, i32::MAX).unwrap();
    assert!(matches!(sem.release(), Err(Error::Overflow { .. })));
    assert_eq!(count(), i32::MAX);
    seg.raw().write::<i32>(off, -5).unwrap();
    sem.release().unwrap();
    assert_eq!(count(), -4);
    seg.raw().write::<i32>(off, 0).unwrap();
    sem.release().unwrap();
    assert_eq!(count(), 1);
    assert!(sem.try_acquire().unwrap());
    assert_eq!(count(), 0);
}
