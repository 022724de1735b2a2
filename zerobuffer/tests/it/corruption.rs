//! Hostile shared state: corrupted OIEB fields and frame headers are reported as errors,
//! never as panics or out-of-bounds accesses (R8).

use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;
use zerobuffer::{BufferConfig, Error, Writer, WriterOptions};

use crate::common::{close_both, close_reader, connected, created, poke};

const M: u64 = 64;
const P: u64 = 256;
const RING: u64 = 128 + M;

#[test]
fn oieb_size_corrupted_writer_connect_fails() {
    let (name, reader) = created("co-size", BufferConfig::new(M, P));
    poke(&name, 0, &64u32.to_le_bytes());
    assert!(matches!(
        Writer::connect(&name),
        Err(Error::InvalidOieb { .. })
    ));
    poke(&name, 0, &128u32.to_le_bytes());
    poke(&name, 4, &[2, 0, 0, 0]);
    assert!(matches!(
        Writer::connect(&name),
        Err(Error::InvalidOieb { .. })
    ));
    poke(&name, 4, &[1, 7, 3, 0]); // minor/patch are ignored
    Writer::connect(&name).expect("minor version ignored");
    close_reader(reader, &name);
}

#[test]
fn zero_size_header_at_ring_start_is_invalid_frame_size_every_time() {
    let (name, reader, mut w) = connected("co-zero", BufferConfig::new(M, P));
    w.write_frame(&[1; 10]).expect("write");
    poke(&name, RING, &0u64.to_le_bytes());
    for _ in 0..2 {
        assert!(matches!(
            reader.read_frame_timeout(Duration::from_millis(200)),
            Err(Error::InvalidFrameSize { size: 0 })
        ));
    }
    close_both(reader, w, &name);
}

#[test]
fn header_size_past_ring_end_is_corrupt() {
    let (name, reader, mut w) = connected("co-past", BufferConfig::new(M, P));
    w.write_frame(&[1; 10]).expect("write");
    for bogus in [P - 15, P, u64::MAX, u64::MAX - 15] {
        poke(&name, RING, &bogus.to_le_bytes());
        let r = reader.read_frame_timeout(Duration::from_millis(200));
        assert!(matches!(r, Err(Error::Corrupt { .. })), "{bogus}: {r:?}");
    }
    // Restoring the header makes the frame readable: nothing was skipped.
    poke(&name, RING, &10u64.to_le_bytes());
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!(f.data(), &[1; 10]);
    drop(f);
    close_both(reader, w, &name);
}

#[test]
fn sequence_corrupted_to_five_reports_expected_four() {
    let (name, reader, mut w) = connected("co-seq", BufferConfig::new(M, 1024));
    for _ in 0..4 {
        w.write_frame(&[9; 20]).expect("write");
    }
    for i in 1..=3 {
        assert_eq!(
            reader
                .read_frame()
                .expect("read")
                .expect("frame")
                .sequence(),
            i
        );
    }
    // Frame 4 starts at 3 * 36 = 108; its sequence field at +8.
    poke(&name, RING + 108 + 8, &5u64.to_le_bytes());
    for _ in 0..2 {
        assert!(matches!(
            reader.read_frame_timeout(Duration::from_millis(200)),
            Err(Error::SequenceError {
                expected: 4,
                got: 5
            })
        ));
    }
    close_both(reader, w, &name);
}

#[test]
fn impossible_oieb_values_are_corrupt() {
    let (name, reader, mut w) = connected("co-pos", BufferConfig::new(M, P));
    // payload_write_pos > P
    poke(&name, 0x30, &(P + 1).to_le_bytes());
    assert!(matches!(w.write_frame(b"x"), Err(Error::Corrupt { .. })));
    assert!(matches!(reader.health(), Err(Error::Corrupt { .. })));
    assert!(matches!(Writer::connect(&name), Err(Error::Corrupt { .. })));
    poke(&name, 0x30, &0u64.to_le_bytes());
    // payload_free_bytes > P
    poke(&name, 0x28, &(P + 64).to_le_bytes());
    assert!(matches!(w.write_frame(b"x"), Err(Error::Corrupt { .. })));
    // payload_size changed
    poke(&name, 0x28, &P.to_le_bytes());
    poke(&name, 0x20, &(P * 2).to_le_bytes());
    assert!(matches!(w.write_frame(b"x"), Err(Error::Corrupt { .. })));
    poke(&name, 0x20, &P.to_le_bytes());
    w.write_frame(b"ok").expect("consistent again");
    // metadata_written_bytes inconsistent with the stored prefix
    poke(&name, 0x18, &20u64.to_le_bytes());
    assert!(matches!(
        reader.metadata(),
        Err(Error::InvalidMetadata { .. })
    ));
    poke(&name, 0x18, &(M + 8).to_le_bytes());
    assert!(matches!(
        reader.metadata(),
        Err(Error::InvalidMetadata { .. })
    ));
    close_both(reader, w, &name);
}

thread_local! {
    static CASE: Cell<u64> = const { Cell::new(0) };
}

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..400,
        Just(P),
        Just(P - 16),
        Just(u64::MAX),
        Just(u64::MAX - 15),
        Just(i64::MAX as u64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary values at arbitrary offsets of the OIEB, metadata block and ring, then every
    /// operation of both sides: results may be errors, but nothing panics or reads out of
    /// bounds, and everything is cleaned up.
    #[test]
    fn hostile_oieb_and_frame_headers_never_panic(
        pokes in prop::collection::vec((0u64..(RING + P), value(), 1usize..=8), 1..6),
        frames in prop::collection::vec(1usize..120, 0..5),
        hold in 0usize..3,
    ) {
        let case = CASE.with(|c| { let v = c.get(); c.set(v + 1); v });
        let (name, reader) = created(&format!("co-prop-{case}"), BufferConfig::new(M, P));
        let opts = WriterOptions {
            write_timeout: Duration::from_millis(2),
            connect_grace: Duration::from_millis(1),
            ..WriterOptions::default()
        };
        let mut w = Writer::connect_with(&name, opts).expect("connect");
        for (i, len) in frames.iter().enumerate() {
            let _ = w.write_frame(&vec![i as u8; *len]);
        }
        for (off, v, n) in &pokes {
            let n = (*n).min((RING + P - off) as usize);
            poke(&name, *off, &v.to_le_bytes()[..n]);
        }
        let mut held = Vec::new();
        for _ in 0..3 {
            if let Ok(Some(f)) = reader.read_frame_timeout(Duration::from_millis(1)) {
                prop_assert!(f.len() as u64 <= P - 16);
                if held.len() < hold {
                    held.push(f);
                }
            }
        }
        let _ = reader.health();
        let _ = reader.metadata();
        let _ = reader.is_writer_connected();
        let _ = w.write_frame_timeout(&[1; 50], Duration::from_millis(1));
        if let Ok(buf) = w.get_frame_buffer(30) {
            buf.fill(3);
            let _ = w.commit_frame();
        }
        let _ = w.set_metadata(b"meta");
        let _ = Writer::connect_with(&name, opts);
        let _ = reader.read_frame_timeout(Duration::from_millis(1)).map(|f| f.map(|f| f.len()));
        drop(held);
        close_both(reader, w, &name);
    }
}
