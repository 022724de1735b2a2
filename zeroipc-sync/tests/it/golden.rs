//! Sync structures in the upstream golden images, and byte-identical writing of the scenario.

use serde_json::Value;
use zeroipc_format::Segment;
use zeroipc_sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, OnceState, RwLock, Semaphore, Signal,
};
use zeroipc_testkit::{golden_bytes, golden_dir};

fn decoded(json: &str) -> Value {
    let text = std::fs::read_to_string(golden_dir().join(json)).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["structures"].clone()
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// Opens every sync structure of `image` and compares it with the decoded JSON.
fn check_image(image: &str, json: &str) {
    let seg = Segment::from_bytes(&golden_bytes(image)).unwrap();
    let s = decoded(json);

    let sem = Semaphore::open(&seg, "sem").unwrap();
    assert_eq!(i64::from(sem.count().unwrap()), int(&s["sem"], "count"));
    assert_eq!(i64::from(sem.max_count()), int(&s["sem"], "max_count"));
    assert_eq!(i64::from(sem.waiting().unwrap()), int(&s["sem"], "waiting"));
    assert_eq!((sem.count().unwrap(), sem.max_count()), (3, 5));

    let mtx = Mutex::open(&seg, "mtx").unwrap();
    assert_eq!(
        mtx.is_locked().unwrap(),
        s["mtx"]["locked"].as_bool().unwrap()
    );
    assert!(!mtx.is_locked().unwrap());
    assert!(!mtx.tracks_owner(), "upstream mutexes have no owner entry");
    // The lock works on the image's bytes.
    let g = mtx.try_lock().unwrap().unwrap();
    assert!(mtx.is_locked().unwrap());
    drop(g);

    let bar = Barrier::open(&seg, "bar").unwrap();
    assert_eq!(
        i64::from(bar.participants()),
        int(&s["bar"], "num_participants")
    );
    assert_eq!(bar.participants(), 3);
    assert_eq!(i64::from(bar.arrived().unwrap()), int(&s["bar"], "arrived"));
    assert_eq!(
        i64::from(bar.generation().unwrap()),
        int(&s["bar"], "generation")
    );

    let lat = Latch::open(&seg, "lat").unwrap();
    assert_eq!(i64::from(lat.count().unwrap()), int(&s["lat"], "count"));
    assert_eq!(
        i64::from(lat.initial_count().unwrap()),
        int(&s["lat"], "initial_count")
    );
    assert_eq!((lat.count().unwrap(), lat.initial_count().unwrap()), (3, 5));

    let done = Once::open(&seg, "once_done").unwrap();
    assert_eq!(int(&s["once_done"], "state"), 2);
    assert_eq!(done.state().unwrap(), OnceState::Done);
    let mut ran = false;
    assert!(!done.call(|| ran = true).unwrap());
    assert!(!ran);
    let pend = Once::open(&seg, "once_pend").unwrap();
    assert_eq!(int(&s["once_pend"], "state"), 0);
    assert_eq!(pend.state().unwrap(), OnceState::Pending);

    let evt = Event::open(&seg, "evt").unwrap();
    assert_eq!(int(&s["evt"], "mode"), 1);
    assert_eq!(evt.mode(), EventMode::ManualReset);
    assert_eq!(evt.is_signaled().unwrap(), int(&s["evt"], "signaled") == 1);
    assert!(evt.is_signaled().unwrap());
    assert_eq!(i64::from(evt.waiting().unwrap()), int(&s["evt"], "waiting"));
    evt.wait().unwrap(); // signalled: returns at once

    let rw = RwLock::open(&seg, "rw").unwrap();
    assert_eq!(i64::from(rw.readers().unwrap()), int(&s["rw"], "readers"));
    assert_eq!(
        i64::from(rw.writer_active().unwrap()),
        int(&s["rw"], "writer_active")
    );
    assert!(rw.try_write().unwrap().is_some(), "idle lock");

    let mon = Monitor::open(&seg, "mon").unwrap();
    assert_eq!(
        i64::from(mon.waiters().unwrap()),
        int(&s["mon"], "waiting_count")
    );
    assert_eq!(mon.waiters().unwrap(), 0);

    let f = Signal::<f64>::open(&seg, "sig_f64").unwrap();
    assert_eq!(f.version().unwrap() as i64, int(&s["sig_f64"], "version"));
    assert_eq!(f.get().unwrap(), s["sig_f64"]["value"].as_f64().unwrap());
    assert_eq!((f.version().unwrap(), f.get().unwrap()), (1, 2.5));

    let i = Signal::<i32>::open(&seg, "sig_i32").unwrap();
    assert_eq!(i.version().unwrap() as i64, int(&s["sig_i32"], "version"));
    assert_eq!(i64::from(i.get().unwrap()), int(&s["sig_i32"], "value"));
    assert_eq!((i.version().unwrap(), i.get().unwrap()), (0, 7));
}

#[test]
fn cpp_image_sync_structures_read_as_decoded() {
    check_image("standard-cpp.seg", "standard-cpp.json");
}

#[test]
fn python_image_sync_structures_read_as_decoded() {
    check_image("standard-py.seg", "standard-py.json");
    // Python's sig_i32 state is the unpadded 12 bytes; the minimum-size rule accepts it.
    let seg = Segment::from_bytes(&golden_bytes("standard-py.seg")).unwrap();
    assert_eq!(seg.find("sig_i32_state").unwrap().size(), 12);
    // ...and rejects a type whose value would not fit.
    assert!(matches!(
        Signal::<i64>::open(&seg, "sig_i32"),
        Err(zeroipc_sync::Error::Format(
            zeroipc_sync::FormatError::TypeMismatch { .. }
        ))
    ));
}

/// Names of the sync structures' entries in the C++ image, in table order.
const SYNC_ENTRIES: [&str; 21] = [
    "sem",
    "mtx",
    "bar",
    "lat",
    "once_done",
    "once_pend",
    "rw_state",
    "rw_rmtx",
    "rw_wmtx",
    "rw",
    "mon_mtx",
    "mon_cond",
    "mon_count",
    "mon",
    "evt",
    "evt_sem",
    "sig_f64_state",
    "sig_f64_mtx",
    "sig_f64",
    "sig_i32_state",
    "sig_i32_mtx",
];

#[test]
fn writing_the_scenario_matches_the_cpp_image_entry_for_entry() {
    let cpp_bytes = golden_bytes("standard-cpp.seg");
    let cpp = Segment::from_bytes(&cpp_bytes).unwrap();
    let seg = Segment::anonymous(65536, 64).unwrap();

    // The scenario's sync structures, in its order, with its operations.
    Semaphore::create(&seg, "sem", 3, 5).unwrap();
    Mutex::create(&seg, "mtx").unwrap();
    Barrier::create(&seg, "bar", 3).unwrap();
    let lat = Latch::create(&seg, "lat", 5).unwrap();
    lat.count_down(2).unwrap();
    Once::create(&seg, "once_done")
        .unwrap()
        .call(|| {})
        .unwrap();
    Once::create(&seg, "once_pend").unwrap();
    RwLock::create(&seg, "rw").unwrap();
    Monitor::create(&seg, "mon").unwrap();
    Event::create(&seg, "evt", EventMode::ManualReset)
        .unwrap()
        .signal()
        .unwrap();
    Signal::<f64>::create(&seg, "sig_f64", 1.0)
        .unwrap()
        .set(2.5)
        .unwrap();
    Signal::<i32>::create(&seg, "sig_i32", 7).unwrap();

    let ours: Vec<_> = seg.entries().unwrap();
    // The one addition: the project's owner entry right after the mutex, pid 0 (unlocked).
    let owner = seg.find("mtx_owner").unwrap();
    assert_eq!(owner.size(), 8);
    assert_eq!(seg.region(&owner).unwrap().to_vec(), vec![0u8; 8]);
    let names: Vec<&str> = ours
        .iter()
        .map(|e| e.name())
        .filter(|n| *n != "mtx_owner")
        .collect();
    let mut expected = SYNC_ENTRIES.to_vec();
    expected.push("sig_i32");
    assert_eq!(names, expected, "same entries in the same order");
    assert_eq!(ours.len(), expected.len() + 1, "only mtx_owner is extra");

    for name in expected {
        let a = seg.find(name).unwrap();
        let b = cpp.find(name).unwrap();
        assert_eq!(a.size(), b.size(), "{name}: entry size");
        assert_eq!(
            seg.region(&a).unwrap().to_vec(),
            cpp.region(&b).unwrap().to_vec(),
            "{name}: bytes"
        );
    }
    // Relative layout within the two runs of consecutive sync structures in the C++ image
    // (`sem`..`once_pend`, then `rw_state`..`sig_i32` after the lock-free structures): each
    // starts where the C++ image's does relative to the run's first entry, shifted by the
    // 8-byte owner entry after `mtx`.
    for (first, run) in [
        ("sem", &SYNC_ENTRIES[..6]),
        ("rw_state", &SYNC_ENTRIES[6..]),
    ] {
        let base_cpp = cpp.find(first).unwrap().offset();
        let base_ours = seg.find(first).unwrap().offset();
        for name in run {
            let shift = if matches!(*name, "sem" | "mtx") || first != "sem" {
                0
            } else {
                8
            };
            assert_eq!(
                seg.find(name).unwrap().offset() - base_ours,
                cpp.find(name).unwrap().offset() - base_cpp + shift,
                "{name}: relative offset"
            );
        }
    }
}
