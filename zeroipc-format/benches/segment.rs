//! Opening a segment and finding an entry.
//!
//! `cargo bench -p zeroipc-format --bench segment`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use zeroipc_format::{Segment, SegmentOptions};

fn open_and_find(c: &mut Criterion) {
    let name = format!("zb_open_{}", std::process::id());
    let seg = SegmentOptions::new()
        .unlink_on_drop(true)
        .create(&name, 8192, 64)
        .expect("create bench segment");
    for i in 0..64 {
        seg.add(&format!("entry_{i:02}"), 64, |_| {
            Ok::<_, zeroipc_format::Error>(())
        })
        .expect("add entry");
    }
    let mut group = c.benchmark_group("segment");
    group.bench_function("open_64_entries_find_last", |b| {
        b.iter(|| {
            let s = Segment::open(black_box(&name)).expect("open");
            black_box(s.find("entry_63").expect("find").offset())
        })
    });
    group.bench_function("find_last_of_64", |b| {
        b.iter(|| black_box(seg.find(black_box("entry_63")).expect("find").offset()))
    });
    // The floor: the system calls any open must make (shm_open, fstat, mmap with the pages
    // populated, as a first touch would fault them in, munmap, close), with no validation.
    group.bench_function("baseline_syscalls_open_map_touch", |b| {
        let path = format!("/{name}");
        b.iter(|| {
            black_box(zeroipc_testkit::map_shm(&path));
        })
    });
    let image = seg.raw().to_vec();
    // The user-space part alone: copy the 8 KiB image to the heap, validate the header and
    // all 64 entries, find the last one.
    group.bench_function("from_bytes_8k_validate_64_find_last", |b| {
        b.iter(|| {
            let s = Segment::from_bytes(black_box(&image)).expect("from_bytes");
            black_box(s.find("entry_63").expect("find").offset())
        })
    });
    group.finish();
}

criterion_group!(benches, open_and_find);
criterion_main!(benches);
