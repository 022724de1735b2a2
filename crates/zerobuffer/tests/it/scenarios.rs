//! Scenario catalogue (protocol §17): one test per scenario that runs in one process; the
//! two-process ones live in `lifecycle`, `roundtrip` and `duplex`. `docs/ZEROBUFFER.md` maps
//! every catalogue entry to its test or says why it does not apply.

use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Error, HealthLevel, Writer};

use crate::common::{assert_clean, create, peek, unique};

/// §3.1 test vector: OIEB, metadata and ring bytes after metadata "hello" and frames of 10
/// and 20 bytes in a 100/1000 buffer.
#[test]
fn oieb_test_vector_matches_spec_bytes() {
    let name = unique("sc-vector");
    let reader = create(&name, BufferConfig::new(100, 1000)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    w.set_metadata(b"hello").expect("metadata");
    w.write_frame(&[0xa1; 10]).expect("frame 1");
    w.write_frame(&[0xb2; 20]).expect("frame 2");
    let oieb = peek(&name, 0, 128);
    let word = |i: usize| u64::from_le_bytes(oieb[i * 8..i * 8 + 8].try_into().expect("8"));
    assert_eq!(&oieb[0..8], &[0x80, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(word(1), 128); // M
    assert_eq!(word(2), 115); // metadata free
    assert_eq!(word(3), 13); // metadata written
    assert_eq!(word(4), 1024); // P
    assert_eq!(word(5), 962); // payload free
    assert_eq!(word(6), 62); // write pos
    assert_eq!(word(7), 0); // read pos
    assert_eq!(word(8), 2); // written count
    assert_eq!(word(9), 0); // read count
    assert_eq!(word(10), u64::from(std::process::id())); // writer pid
    assert_eq!(word(11), u64::from(std::process::id())); // reader pid
    assert!(oieb[96..128].iter().all(|b| *b == 0));
    assert_eq!(
        peek(&name, 128, 13),
        [5, 0, 0, 0, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o']
    );
    let ring = peek(&name, 256, 62);
    assert_eq!(
        &ring[0..16],
        &[10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(ring[16..26].iter().all(|b| *b == 0xa1));
    assert_eq!(
        &ring[26..42],
        &[20, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(ring[42..62].iter().all(|b| *b == 0xb2));
    assert_eq!(
        std::fs::metadata(format!("/dev/shm/{name}"))
            .expect("stat")
            .len(),
        1280
    );
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F1.3 buffer full; F4.10 filling to 100 % blocks.
#[test]
fn f1_3_buffer_full_then_one_release_unblocks() {
    let name = unique("sc-full");
    let reader = create(&name, BufferConfig::new(0, 10240)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    let mut n = 0;
    while w
        .write_frame_timeout(&[1; 1008], Duration::from_millis(50))
        .is_ok()
    {
        n += 1;
    }
    assert_eq!(n, 10, "ten 1024-byte frames fill a 10240 ring");
    assert!(matches!(
        w.write_frame_timeout(&[1; 1008], Duration::from_millis(50)),
        Err(Error::BufferFull { .. })
    ));
    let f = reader.read_frame().expect("read").expect("frame");
    drop(f);
    w.write_frame_timeout(&[2; 1008], Duration::from_millis(50))
        .expect("space after one release");
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F4.6 exact fit: `P - 16` fills the ring (free 0), and works again after release.
#[test]
fn f4_6_exact_fit_twice() {
    let name = unique("sc-exact");
    let reader = create(&name, BufferConfig::new(0, 10240)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    for round in 0..2 {
        w.write_frame(&[round; 10224]).expect("exact fit");
        assert_eq!(reader.health().expect("health").free_bytes, 0);
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!(f.len(), 10224);
        assert!(f.iter().all(|b| *b == round));
        drop(f);
        assert_eq!(reader.health().expect("health").free_bytes, 10240);
    }
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F4.7 zero length rejected, one byte works, 16 bytes of overhead.
#[test]
fn f4_7_zero_length_rejected_one_byte_costs_seventeen() {
    let name = unique("sc-len");
    let reader = create(&name, BufferConfig::new(0, 1024)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    assert!(matches!(
        w.write_frame(&[]),
        Err(Error::InvalidFrameSize { size: 0 })
    ));
    w.write_frame(&[42]).expect("one byte");
    assert_eq!(reader.health().expect("health").free_bytes, 1024 - 17);
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!(f.data(), &[42]);
    drop(f);
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F4.4 / T11.2 payload 64: 1-byte ok, 49-byte `FrameTooLarge` (also 33..=47), 48 exact.
#[test]
fn f4_4_minimum_ring() {
    let name = unique("sc-min");
    let reader = create(&name, BufferConfig::new(0, 64)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    w.write_frame(&[1]).expect("1 byte");
    for len in [33usize, 40, 47, 49, 100] {
        assert!(
            matches!(
                w.write_frame(&vec![0; len]),
                Err(Error::FrameTooLarge { .. })
            ),
            "{len}"
        );
    }
    drop(reader.read_frame().expect("read").expect("frame"));
    w.write_frame(&[2; 2])
        .expect("2-byte frame fits a 64-byte ring");
    drop(reader.read_frame().expect("read").expect("frame"));
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F4.8 / T5.3: 6 KiB then 7 KiB in a 10 KiB ring is unplaceable: `BufferFull` at once.
#[test]
fn f4_8_unplaceable_frame_fails_immediately() {
    let name = unique("sc-unplace");
    let reader = create(&name, BufferConfig::new(0, 10240)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    w.write_frame(&[1; 6144]).expect("6 KiB");
    let start = Instant::now();
    let r = w.write_frame_timeout(&[2; 7168], Duration::from_secs(30));
    assert!(
        matches!(r, Err(Error::BufferFull { frame_bytes: 11264 })),
        "{r:?}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "must not wait for the timeout"
    );
    // Even after the reader released everything it stays unplaceable at w = 6160.
    drop(reader.read_frame().expect("read").expect("frame"));
    assert!(matches!(
        w.write_frame_timeout(&[2; 7168], Duration::from_millis(10)),
        Err(Error::BufferFull { .. })
    ));
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F5.5 / §10.3 example 1: a marker, free bytes drop by the tail, reader follows to 0.
#[test]
fn f5_5_wrap_marker_and_waste_accounting() {
    let name = unique("sc-marker");
    let reader = create(&name, BufferConfig::new(0, 1024)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    for _ in 0..3 {
        w.write_frame(&[3; 284]).expect("T = 300");
    }
    for _ in 0..3 {
        drop(reader.read_frame().expect("read").expect("frame"));
    }
    let before = reader.health().expect("health");
    assert_eq!((before.write_pos, before.free_bytes), (900, 1024));
    w.write_frame(&[4; 184]).expect("T = 200 wraps");
    let after = reader.health().expect("health");
    assert_eq!(after.free_bytes, 1024 - 124 - 200);
    assert_eq!(after.write_pos, 200);
    assert_eq!(
        after.frames_written,
        before.frames_written + 2,
        "marker counted"
    );
    assert_eq!(
        peek(&name, 128 + 900, 16),
        vec![0; 16],
        "marker {{0, 0}} at 900"
    );
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!((f.sequence(), f.len()), (4, 184));
    // Waste returned at once (nothing older held); the frame is still held.
    assert_eq!(reader.health().expect("health").free_bytes, 1024 - 200);
    drop(f);
    let h = reader.health().expect("health");
    assert_eq!((h.free_bytes, h.read_pos, h.frames_read), (1024, 200, 5));
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// §10.3 example 3: early wrap instead of a 14-byte tail.
#[test]
fn early_wrap_never_leaves_a_tiny_tail() {
    let name = unique("sc-early");
    let reader = create(&name, BufferConfig::new(0, 1024)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    w.write_frame(&[1; 584]).expect("T = 600");
    drop(reader.read_frame().expect("read").expect("frame"));
    w.write_frame(&[2; 394]).expect("T = 410 wraps early");
    let h = reader.health().expect("health");
    assert_eq!((h.write_pos, h.free_bytes), (410, 1024 - 424 - 410));
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!((f.sequence(), f.len()), (2, 394));
    drop(f);
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// §9 example (R4): frames held across a wrap are never overwritten; waste returns in order.
#[test]
fn held_frames_across_wrap_are_protected() {
    let name = unique("sc-held");
    let reader = create(&name, BufferConfig::new(0, 64)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    w.write_frame(&[0; 2]).expect("X at 0..18");
    drop(reader.read_frame().expect("read").expect("X"));
    w.write_frame(&[0xaa; 4]).expect("A at 18..38");
    let a = reader.read_frame().expect("read").expect("A");
    w.write_frame(&[0xbb; 2]).expect("B wraps to 0..18");
    let b = reader.read_frame().expect("read").expect("B");
    assert_eq!(reader.held_frames(), 2);
    // Waste (26) is not returned while A is held: free = 64 - 20 - 26 - 18 = 0.
    assert_eq!(reader.health().expect("health").free_bytes, 0);
    assert!(matches!(
        w.write_frame_timeout(&[0xcc; 2], Duration::from_millis(20)),
        Err(Error::BufferFull { .. })
    ));
    assert_eq!(a.data(), &[0xaa; 4]);
    // Explicit out-of-order release is refused; the space stays held.
    assert!(matches!(
        b.release(),
        Err(Error::OutOfOrderRelease { sequence: 3 })
    ));
    assert_eq!(reader.health().expect("health").free_bytes, 0);
    assert_eq!(a.data(), &[0xaa; 4]);
    a.release().expect("oldest first");
    assert_eq!(reader.health().expect("health").free_bytes, 64);
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F4.2 / T11.4 signal coalescing: the semaphore counts pending frames.
#[test]
fn f4_2_semaphore_counts_pending_frames() {
    let name = unique("sc-sem");
    let reader = create(&name, BufferConfig::new(0, 4096)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    for i in 0..10u8 {
        w.write_frame(&[i; 100]).expect("write");
    }
    assert_eq!(reader.pending_signals().expect("value"), 10);
    for i in 0..10u8 {
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!(f.data(), &[i; 100]);
    }
    assert_eq!(reader.pending_signals().expect("value"), 0);
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F4.1 / T11.3 alternating 90 % / 1 byte / 90 % frames.
#[test]
fn f4_1_alternating_sizes() {
    let name = unique("sc-alt");
    let reader = create(&name, BufferConfig::new(0, 10240)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    for (i, len) in [9216usize, 1, 9216, 1, 9216].into_iter().enumerate() {
        w.write_frame(&vec![i as u8; len]).expect("write");
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!(f.len(), len);
        assert!(f.iter().all(|b| *b == i as u8));
    }
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F1.5 mixed sizes through a 102400 ring; F12.2 block alignment.
#[test]
fn f1_5_mixed_sizes_and_alignment() {
    let name = unique("sc-mixed");
    let reader = create(&name, BufferConfig::new(100, 102400)).expect("create");
    assert_eq!(
        (reader.metadata_size() % 64, reader.payload_size() % 64),
        (0, 0)
    );
    let mut w = Writer::connect(&name).expect("connect");
    for len in [100usize, 1024, 10240, 1] {
        w.write_frame(&vec![7; len]).expect("write");
    }
    for (i, len) in [100usize, 1024, 10240, 1].into_iter().enumerate() {
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!((f.sequence(), f.len()), (i as u64 + 1, len));
    }
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F12.1 / T13.1 OIEB after each write and read.
#[test]
fn f12_1_oieb_consistency_after_each_operation() {
    let name = unique("sc-oieb");
    let reader = create(&name, BufferConfig::new(0, 4096)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    let mut expect_w = 0;
    for i in 1..=20u64 {
        let len = 10 + (i as usize * 13) % 90;
        let before = reader.health().expect("health");
        w.write_frame(&vec![1; len]).expect("write");
        let after = reader.health().expect("health");
        expect_w = (expect_w + 16 + len as u64) % 4096;
        assert_eq!(after.frames_written, before.frames_written + 1);
        assert_eq!(after.free_bytes, before.free_bytes - 16 - len as u64);
        assert_eq!(after.write_pos, expect_w);
        let f = reader.read_frame().expect("read").expect("frame");
        let mid = reader.health().expect("health");
        assert_eq!(mid.frames_read, before.frames_read + 1);
        assert_eq!(mid.read_pos, expect_w);
        assert_eq!(
            mid.free_bytes, after.free_bytes,
            "free only returns at release"
        );
        drop(f);
        assert_eq!(reader.health().expect("health").free_bytes, 4096);
    }
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F14.6 / T15.6 utilisation: degradation detected at 80 %, critical above 95 %.
#[test]
fn f14_6_health_levels_follow_utilisation() {
    let name = unique("sc-health");
    let reader = create(&name, BufferConfig::new(0, 10240)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    let mut levels = Vec::new();
    for _ in 0..10 {
        w.write_frame(&[0; 1008]).expect("write");
        let h = reader.health().expect("health");
        levels.push((h.utilisation, h.level));
    }
    for (u, l) in &levels {
        let want = if *u > 0.95 {
            HealthLevel::Critical
        } else if *u >= 0.8 {
            HealthLevel::Degraded
        } else {
            HealthLevel::Healthy
        };
        assert_eq!(*l, want, "at {u}");
    }
    assert_eq!(levels[6].1, HealthLevel::Healthy); // 70 %
    assert_eq!(levels[7].1, HealthLevel::Degraded); // 80 %
    assert_eq!(levels[9].1, HealthLevel::Critical); // 100 %
    drop(w);
    drop(reader);
    assert_clean(&name);
}

/// F5.7 / T5.4: 100 MiB ring, `P - 16` accepted, larger rejected.
#[test]
fn f5_7_large_ring_limits() {
    let name = unique("sc-100mib");
    let p = 100 * 1024 * 1024;
    let reader = create(&name, BufferConfig::new(0, p)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    assert!(matches!(
        w.write_frame(&vec![0; p as usize - 15]),
        Err(Error::FrameTooLarge { .. })
    ));
    let buf = w
        .get_frame_buffer(p as usize - 16)
        .expect("P - 16 accepted");
    buf[0] = 1;
    *buf.last_mut().expect("non-empty") = 2;
    w.commit_frame().expect("commit");
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!((f.len() as u64, f[0], f[f.len() - 1]), (p - 16, 1, 2));
    drop(f);
    drop(w);
    drop(reader);
    assert_clean(&name);
}
