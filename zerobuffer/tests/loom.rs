//! Loom models of the reader/writer wait-and-release protocol, run with
//! `RUSTFLAGS="--cfg zeroipc_loom" cargo test -p zerobuffer --test loom --release`.
//!
//! Under `cfg(zeroipc_loom)` the crate swaps its OS layer for an in-memory segment with loom
//! atomics and loom-atomic semaphores, so these models run the real `Reader` and `Writer`
//! code: placement, wrap markers, `payload_free_bytes` accounting, in-order reclaim, and the
//! Release/Acquire pairs that publish frame bytes.
#![cfg(zeroipc_loom)]

use zerobuffer::{BufferConfig, Error, Reader};

fn byte(seq: u64, j: usize) -> u8 {
    (seq.wrapping_mul(29).wrapping_add(j as u64) & 0xff) as u8
}

fn write_blocking(w: &mut zerobuffer::Writer, seq: u64, len: usize) {
    let data: Vec<u8> = (0..len).map(|j| byte(seq, j)).collect();
    loop {
        match w.try_write_frame(&data) {
            Ok(s) => {
                assert_eq!(s, seq);
                return;
            }
            Err(Error::BufferFull { .. }) => loom::thread::yield_now(),
            Err(e) => panic!("write {seq}: {e:?}"),
        }
    }
}

fn read_blocking(reader: &Reader, seq: u64) -> zerobuffer::Frame<'_> {
    loop {
        if let Some(f) = reader.try_read_frame().expect("read") {
            assert_eq!(f.sequence(), seq);
            return f;
        }
        loom::thread::yield_now();
    }
}

fn intact(f: &zerobuffer::Frame<'_>) {
    let s = f.sequence();
    assert!(
        f.iter().enumerate().all(|(j, b)| *b == byte(s, j)),
        "frame {s} overwritten or not yet visible"
    );
}

/// Three 40-byte frames through a 128-byte ring: the third wraps (marker at 80) and lands
/// at offset 0 while frame 2 is still held; frames are dropped out of order.
#[test]
fn frames_cross_a_wrap_while_held() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.max_branches = 100_000;
    builder.check(|| {
        let (reader, mut writer) = Reader::loom_pair(BufferConfig::new(0, 128)).expect("pair");
        let t = loom::thread::spawn(move || {
            write_blocking(&mut writer, 1, 24); // [0, 40)
            write_blocking(&mut writer, 2, 24); // [40, 80)
            write_blocking(&mut writer, 3, 24); // tail 8 would remain: marker at 80, [0, 40)
            // Must wait until frame 2 (and the waste behind it) is released, or it would
            // land on frame 2 at [40, 80).
            write_blocking(&mut writer, 4, 24);
        });
        let f1 = read_blocking(&reader, 1);
        let f2 = read_blocking(&reader, 2);
        intact(&f1);
        drop(f1);
        let f3 = read_blocking(&reader, 3);
        intact(&f2);
        intact(&f3);
        drop(f3); // out of order: deferred until f2 goes
        loom::thread::yield_now();
        intact(&f2);
        drop(f2);
        let f4 = read_blocking(&reader, 4);
        intact(&f4);
        drop(f4);
        t.join().expect("writer");
        let h = reader.health().expect("health");
        // 4 frames + 1 marker each way.
        assert_eq!((h.free_bytes, h.frames_written, h.frames_read), (128, 5, 5));
    });
}
