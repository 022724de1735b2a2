//! Two processes create 200 arrays each in one segment at the same time.

use std::time::Duration;

use zeroipc_format::{Segment, SegmentOptions};
use zeroipc_structures::Array;
use zeroipc_testkit::{Child, role, unique_guarded};

const PER_PROCESS: usize = 200;
const TEST: &str = "multiprocess::two_processes_create_200_arrays_each";

fn capacity(i: usize) -> usize {
    i % 7 + 1
}

fn marker(prefix: &str, i: usize) -> u64 {
    (u64::from(prefix.as_bytes()[0]) << 32) | i as u64
}

fn child(seg_name: &str, prefix: &str) {
    let seg = Segment::open(seg_name).unwrap();
    let go = Array::<u64>::open(&seg, "go").unwrap();
    // Start together: wait for the parent's signal so both children contend for the lock.
    while go.get(0) != Some(1) {
        std::thread::yield_now();
    }
    for i in 0..PER_PROCESS {
        let a = Array::<u64>::create(&seg, &format!("{prefix}{i}"), capacity(i)).unwrap();
        a.fill(marker(prefix, i));
    }
}

#[test]
fn two_processes_create_200_arrays_each() {
    if let Some(r) = role() {
        let seg = std::env::var("SEG").unwrap();
        child(&seg, &r);
        return;
    }
    let (name, _g) = unique_guarded("mp");
    let seg = SegmentOptions::new().create(&name, 1 << 20, 512).unwrap();
    let go = Array::<u64>::create(&seg, "go", 1).unwrap();
    let kids: Vec<Child> = ["a", "b"]
        .iter()
        .map(|p| Child::spawn(TEST, p, &[("SEG", &name)]))
        .collect();
    go.set(0, 1).unwrap();
    for k in kids {
        k.wait_success(Duration::from_secs(60));
    }

    let mut entries = seg.entries().unwrap();
    assert_eq!(entries.len(), 1 + 2 * PER_PROCESS);
    for prefix in ["a", "b"] {
        for i in 0..PER_PROCESS {
            let a = Array::<u64>::open_with_capacity(&seg, &format!("{prefix}{i}"), capacity(i))
                .unwrap();
            assert!(
                a.iter().all(|v| v == marker(prefix, i)),
                "{prefix}{i} was overwritten"
            );
        }
    }
    entries.sort_by_key(|e| e.offset());
    for pair in entries.windows(2) {
        assert!(
            pair[0].offset() + pair[0].size() <= pair[1].offset(),
            "{:?} overlaps {:?}",
            pair[0],
            pair[1]
        );
    }
}
