//! Scenario catalogue (protocol §17): one test per scenario that runs in one process; the
//! two-process ones live in `lifecycle`, `roundtrip` and `duplex`. `docs/ZEROBUFFER.md` maps
//! every catalogue entry to its test or says why it does not apply.

use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Error, HealthLevel, Writer};

use crate::common::{
    assert_clean, close_both, close_reader, connected, create, created, next_frame, peek, unique,
};

/// §3.1 test vector: OIEB, metadata and ring bytes after metadata "hello" and frames of 10
/// and 20 bytes in a 100/1000 buffer.
#[test]
fn oieb_test_vector_matches_spec_bytes() {
    let (name, reader, mut w) = connected("sc-vector", BufferConfig::new(100, 1000));
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
    close_both(reader, w, &name);
}

/// F1.3 buffer full; F4.10 filling to 100 % blocks.
#[test]
fn f1_3_buffer_full_then_one_release_unblocks() {
    let (name, reader, mut w) = connected("sc-full", BufferConfig::new(0, 10240));
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
    close_both(reader, w, &name);
}

/// F4.6 exact fit: `P - 16` fills the ring (free 0), and works again after release.
#[test]
fn f4_6_exact_fit_twice() {
    let (name, reader, mut w) = connected("sc-exact", BufferConfig::new(0, 10240));
    for round in 0..2 {
        w.write_frame(&[round; 10224]).expect("exact fit");
        assert_eq!(reader.health().expect("health").free_bytes, 0);
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!(f.len(), 10224);
        assert!(f.iter().all(|b| *b == round));
        drop(f);
        assert_eq!(reader.health().expect("health").free_bytes, 10240);
    }
    close_both(reader, w, &name);
}

/// F4.7 zero length rejected, one byte works, 16 bytes of overhead.
#[test]
fn f4_7_zero_length_rejected_one_byte_costs_seventeen() {
    let (name, reader, mut w) = connected("sc-len", BufferConfig::new(0, 1024));
    assert!(matches!(
        w.write_frame(&[]),
        Err(Error::InvalidFrameSize { size: 0 })
    ));
    w.write_frame(&[42]).expect("one byte");
    assert_eq!(reader.health().expect("health").free_bytes, 1024 - 17);
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!(f.data(), &[42]);
    drop(f);
    close_both(reader, w, &name);
}

/// F4.4 / T11.2 payload 64: 1-byte ok, 49-byte `FrameTooLarge` (also 33..=47), 48 exact.
#[test]
fn f4_4_minimum_ring() {
    let (name, reader, mut w) = connected("sc-min", BufferConfig::new(0, 64));
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
    close_both(reader, w, &name);
}

/// F4.8 / T5.3: 6 KiB then 7 KiB in a 10 KiB ring is unplaceable: `BufferFull` at once.
#[test]
fn f4_8_unplaceable_frame_fails_immediately() {
    let (name, reader, mut w) = connected("sc-unplace", BufferConfig::new(0, 10240));
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
    close_both(reader, w, &name);
}

/// F5.5 / §10.3 example 1: a marker, free bytes drop by the tail, reader follows to 0.
#[test]
fn f5_5_wrap_marker_and_waste_accounting() {
    let (name, reader, mut w) = connected("sc-marker", BufferConfig::new(0, 1024));
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
    close_both(reader, w, &name);
}

/// §10.3 example 3: early wrap instead of a 14-byte tail.
#[test]
fn early_wrap_never_leaves_a_tiny_tail() {
    let (name, reader, mut w) = connected("sc-early", BufferConfig::new(0, 1024));
    w.write_frame(&[1; 584]).expect("T = 600");
    drop(reader.read_frame().expect("read").expect("frame"));
    w.write_frame(&[2; 394]).expect("T = 410 wraps early");
    let h = reader.health().expect("health");
    assert_eq!((h.write_pos, h.free_bytes), (410, 1024 - 424 - 410));
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!((f.sequence(), f.len()), (2, 394));
    drop(f);
    close_both(reader, w, &name);
}

/// §9 example (R4): frames held across a wrap are never overwritten; waste returns in order.
#[test]
fn held_frames_across_wrap_are_protected() {
    let (name, reader, mut w) = connected("sc-held", BufferConfig::new(0, 64));
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
    close_both(reader, w, &name);
}

/// F4.2 / T11.4 signal coalescing: the semaphore counts pending frames.
#[test]
fn f4_2_semaphore_counts_pending_frames() {
    let (name, reader, mut w) = connected("sc-sem", BufferConfig::new(0, 4096));
    for i in 0..10u8 {
        w.write_frame(&[i; 100]).expect("write");
    }
    assert_eq!(reader.pending_signals().expect("value"), 10);
    for i in 0..10u8 {
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!(f.data(), &[i; 100]);
    }
    assert_eq!(reader.pending_signals().expect("value"), 0);
    close_both(reader, w, &name);
}

/// F4.1 / T11.3 alternating 90 % / 1 byte / 90 % frames.
#[test]
fn f4_1_alternating_sizes() {
    let (name, reader, mut w) = connected("sc-alt", BufferConfig::new(0, 10240));
    for (i, len) in [9216usize, 1, 9216, 1, 9216].into_iter().enumerate() {
        w.write_frame(&vec![i as u8; len]).expect("write");
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!(f.len(), len);
        assert!(f.iter().all(|b| *b == i as u8));
    }
    close_both(reader, w, &name);
}

/// F1.5 mixed sizes through a 102400 ring; F12.2 block alignment.
#[test]
fn f1_5_mixed_sizes_and_alignment() {
    let (name, reader) = created("sc-mixed", BufferConfig::new(100, 102400));
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
    close_both(reader, w, &name);
}

/// F12.1 / T13.1 OIEB after each write and read.
#[test]
fn f12_1_oieb_consistency_after_each_operation() {
    let (name, reader, mut w) = connected("sc-oieb", BufferConfig::new(0, 4096));
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
    close_both(reader, w, &name);
}

/// F14.6 / T15.6 utilisation: degradation detected at 80 %, critical above 95 %.
#[test]
fn f14_6_health_levels_follow_utilisation() {
    let (name, reader, mut w) = connected("sc-health", BufferConfig::new(0, 10240));
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
    close_both(reader, w, &name);
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
    close_both(reader, w, &name);
}

/// F1.1 / T1.1 simple write-read with 100 bytes of metadata and one 1 KiB frame.
#[test]
fn f1_1_simple_write_read() {
    let (name, reader, mut w) = connected("sc-simple", BufferConfig::new(1024, 10240));
    let meta: Vec<u8> = (0..100u8).collect();
    w.set_metadata(&meta).expect("metadata");
    let data: Vec<u8> = (0..1024u32).map(|i| (i % 256) as u8).collect();
    assert_eq!(w.write_frame(&data).expect("write"), 1);
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!((f.sequence(), f.data()), (1, data.as_slice()));
    assert_eq!(reader.metadata().expect("metadata"), Some(meta));
    drop(f);
    close_both(reader, w, &name);
}

/// F1.6 / F4.5 / F6.3 / T6.3 / T11.5 slow reader: the writer blocks, nothing is lost.
/// (Delays shortened to keep the suite fast: 2 ms per frame instead of 50–100 ms.)
#[test]
fn f1_6_slow_reader_flow_control() {
    let (name, reader) = created("sc-slow", BufferConfig::new(0, 1024));
    let wname = name.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Writer::connect(&wname).expect("connect");
        let mut blocked = 0u32;
        for i in 0..100u32 {
            let before = reader_free(&w);
            w.write_frame(&[(i % 256) as u8; 200]).expect("write");
            if before < 216 {
                blocked += 1;
            }
        }
        blocked
    });
    for i in 0..100u32 {
        std::thread::sleep(Duration::from_millis(2));
        let f = next_frame(&reader, 10);
        assert_eq!(f.sequence(), u64::from(i) + 1);
        assert!(f.iter().all(|b| *b == (i % 256) as u8));
    }
    let blocked = writer.join().expect("writer");
    assert!(blocked > 0, "the writer never had to wait for space");
    close_reader(reader, &name);
}

fn reader_free(w: &Writer) -> u64 {
    // Free space as the writer sees it before writing (via the OIEB file).
    let b = peek(w.name(), 0x28, 8);
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

/// F1.7 / F4.9 / T6.1 10 000 × 1 KiB through a 10 KiB ring, every sequence checked.
#[test]
fn f4_9_ten_thousand_frames_through_small_ring() {
    let (name, reader) = created("sc-10k", BufferConfig::new(0, 10240));
    let wname = name.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Writer::connect(&wname).expect("connect");
        for i in 0..10_000u32 {
            w.write_frame(&[(i % 251) as u8; 1024]).expect("write");
        }
    });
    for i in 0..10_000u32 {
        let f = next_frame(&reader, 10);
        assert_eq!(f.sequence(), u64::from(i) + 1);
        assert!(f.iter().all(|b| *b == (i % 251) as u8), "frame {i}");
    }
    writer.join().expect("writer");
    close_reader(reader, &name);
}

/// F6.2 / T6.2 burst of 50 × 1 KiB written before the reader starts.
#[test]
fn f6_2_burst_before_reader_starts() {
    let (name, reader, mut w) = connected("sc-burst", BufferConfig::new(0, 64 * 1024));
    for i in 0..50u8 {
        w.write_frame(&[i; 1024]).expect("write");
    }
    for i in 0..50u8 {
        let f = reader.read_frame().expect("read").expect("frame");
        assert_eq!((f.sequence(), f[0], f[1023]), (u64::from(i) + 1, i, i));
    }
    close_both(reader, w, &name);
}

/// F7.1 / F10.1 / T10.1 semaphore creation fails after the shared memory exists: the error is
/// returned and nothing is leaked.
#[test]
fn f7_1_semaphore_creation_failure_leaks_nothing() {
    let name = unique("sc-semfail");
    // A directory where the semaphore file must go makes sem_unlink/sem_open fail.
    let blocker = format!("/dev/shm/sem.sem-w-{name}");
    std::fs::create_dir(&blocker).expect("blocker dir");
    let r = create(&name, BufferConfig::new(0, 1024));
    std::fs::remove_dir(&blocker).expect("remove blocker");
    assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    assert_clean(&name);
}

/// F7.2 / T10.6 a segment the system cannot provide fails with an OS error, nothing leaked.
#[test]
fn f7_2_impossible_segment_size_fails_cleanly() {
    let name = unique("sc-huge");
    let r = create(&name, BufferConfig::new(0, 1 << 50));
    assert!(r.is_err(), "a 1 PiB segment cannot be created");
    assert_clean(&name);
}

/// F11.1 / F11.5 / T12.3 1000 create/destroy cycles while a writer keeps trying to connect.
#[test]
fn f11_5_create_destroy_cycles_with_connecting_writer() {
    let name = unique("sc-churn");
    let stop = std::sync::Arc::new(std::sync::Mutex::new(false));
    let (wname, wstop) = (name.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0u32, 0u32);
        while !*wstop.lock().expect("lock") {
            match Writer::connect(&wname) {
                Ok(mut w) => {
                    ok += 1;
                    let _ = w.write_frame_timeout(b"x", Duration::from_millis(1));
                }
                Err(
                    Error::BufferNotFound { .. }
                    | Error::NoReader { .. }
                    | Error::InvalidOieb { .. }
                    | Error::Corrupt { .. },
                ) => failed += 1,
                Err(e) => panic!("unexpected connect error {e:?}"),
            }
        }
        (ok, failed)
    });
    for _ in 0..1000 {
        let r = create(&name, BufferConfig::new(64, 1024)).expect("create");
        drop(r);
    }
    *stop.lock().expect("lock") = true;
    let (ok, failed) = writer.join().expect("writer");
    assert!(ok + failed > 0);
    println!("churn: {ok} connects succeeded, {failed} failed cleanly");
    assert_clean(&name);
}

/// F12.3 / T13.3 the lock file is locked while the reader lives.
#[test]
fn f12_3_lock_file_is_held() {
    let (name, reader) = created("sc-lock", BufferConfig::default());
    let f = std::fs::File::open(format!("/tmp/zerobuffer/{name}.lock")).expect("lock file");
    let r = rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive);
    assert_eq!(r, Err(rustix::io::Errno::WOULDBLOCK));
    close_reader(reader, &name);
    drop(f);
}

/// R1 + §10.3 example 6: an upstream writer left a 14-byte tail without a marker. The
/// reader wraps implicitly and returns the tail bytes; a project writer that inherits such a
/// write position wraps without a marker.
#[test]
fn implicit_wrap_after_upstream_tiny_tail() {
    use crate::common::poke;
    let (name, reader, mut w1) = connected("sc-tail", BufferConfig::new(0, 1024));
    w1.write_frame(&[5; 84]).expect("frame 1");
    // Rewrite it into what an upstream C++ writer produces: T = 1010 at 0, w = 1010.
    poke(&name, 128, &994u64.to_le_bytes());
    poke(&name, 0x28, &14u64.to_le_bytes());
    poke(&name, 0x30, &1010u64.to_le_bytes());
    let f = reader.read_frame().expect("read").expect("frame 1");
    assert_eq!(f.len(), 994);
    drop(f);
    assert_eq!(reader.health().expect("health").free_bytes, 1024);
    drop(w1);
    assert!(matches!(
        reader.read_frame_timeout(Duration::from_millis(300)),
        Err(Error::WriterDead { .. })
    ));
    let mut w2 = Writer::connect(&name).expect("reconnect at w = 1010");
    w2.write_frame(&[6; 50])
        .expect("wraps over the 14-byte tail");
    let h = reader.health().expect("health");
    assert_eq!((h.write_pos, h.free_bytes), (66, 1024 - 14 - 66));
    assert_eq!(
        peek(&name, 128, 16)[..8],
        50u64.to_le_bytes(),
        "frame at offset 0"
    );
    let f = reader
        .read_frame()
        .expect("read")
        .expect("frame after implicit wrap");
    assert_eq!((f.sequence(), f.len(), f[0]), (1, 50, 6));
    let st = reader.stats();
    assert_eq!((st.frames, st.implicit_wraps, st.explicit_wraps), (2, 1, 0));
    // The 14 tail bytes came back at read time, the frame's 66 on release.
    assert_eq!(reader.health().expect("health").free_bytes, 1024 - 66);
    drop(f);
    assert_eq!(reader.health().expect("health").free_bytes, 1024);
    close_both(reader, w2, &name);
}

/// Upstream writers leave `w == P` after an exact fill; a project writer connecting there
/// writes at 0 without a marker.
#[test]
fn writer_inherits_write_position_at_ring_end() {
    use crate::common::poke;
    let (name, reader, mut w1) = connected("sc-wp", BufferConfig::new(0, 1024));
    w1.write_frame(&[1; 1008]).expect("exact fill");
    poke(&name, 0x30, &1024u64.to_le_bytes()); // as upstream leaves it
    drop(reader.read_frame().expect("read").expect("frame"));
    drop(w1);
    assert!(matches!(
        reader.read_frame_timeout(Duration::from_millis(300)),
        Err(Error::WriterDead { .. })
    ));
    let mut w2 = Writer::connect(&name).expect("connect at w = P");
    assert!(w2.try_write_frame(&[2; 10]).is_ok());
    assert_eq!(w2.health().expect("health").write_pos, 26);
    let f = reader.try_read_frame().expect("read").expect("frame");
    assert_eq!((f.sequence(), f.len()), (1, 10));
    drop(f);
    close_both(reader, w2, &name);
}
