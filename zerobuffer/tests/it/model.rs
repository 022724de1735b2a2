//! Model-based property test of the real reader and writer in one process: random writes,
//! reads, and releases in any order (several frames held across wraps). Invariants: held
//! frames are never overwritten, sequences arrive in order, the writer only fails with
//! `BufferFull` (no space now) or `FrameTooLarge` (statically unplaceable), and all space
//! returns when everything is released.

use std::cell::Cell;

use proptest::prelude::*;
use zerobuffer::{BufferConfig, Error, Frame, Writer, ring};

use crate::common::{close_both, created};

#[derive(Clone, Debug)]
enum Op {
    Write(u64),
    Read,
    Release(usize),
}

fn op(p: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1..=p).prop_map(Op::Write),
        3 => Just(Op::Read),
        2 => any::<usize>().prop_map(Op::Release),
    ]
}

fn byte(seq: u64, j: usize) -> u8 {
    (seq.wrapping_mul(13).wrapping_add(j as u64) & 0xff) as u8
}

thread_local! {
    static CASE: Cell<u64> = const { Cell::new(0) };
}

fn check_held(held: &[Frame<'_>]) -> Result<(), TestCaseError> {
    for f in held {
        let s = f.sequence();
        prop_assert!(
            f.iter().enumerate().all(|(j, b)| *b == byte(s, j)),
            "held frame {} was overwritten",
            s
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_writes_reads_and_releases_keep_held_frames_intact(
        requested in prop_oneof![Just(64u64), Just(100), Just(256), Just(1000)],
        ops in prop::collection::vec(op(1000), 1..120),
    ) {
        let case = CASE.with(|c| { let v = c.get(); c.set(v + 1); v });
        let (name, reader) = created(&format!("model-{case}"), BufferConfig::new(0, requested));
        let p = reader.payload_size();
        let mut w = Writer::connect(&name).expect("connect");
        let mut written = 0u64; // frames written
        let mut read = 0u64; // frames read
        let mut held: Vec<Frame<'_>> = Vec::new();
        for op in ops {
            match op {
                Op::Write(len) => {
                    let len = 1 + (len - 1) % p; // 1..=P
                    let seq = written + 1;
                    let data: Vec<u8> = (0..len as usize).map(|j| byte(seq, j)).collect();
                    match w.try_write_frame(&data) {
                        Ok(s) => {
                            prop_assert_eq!(s, seq);
                            written += 1;
                        }
                        Err(Error::FrameTooLarge { .. }) => {
                            prop_assert!(ring::frame_bytes(p, len).is_err());
                        }
                        Err(Error::BufferFull { .. }) => {}
                        Err(e) => prop_assert!(false, "write failed: {e:?}"),
                    }
                }
                Op::Read => match reader.try_read_frame() {
                    Ok(Some(f)) => {
                        read += 1;
                        prop_assert_eq!(f.sequence(), read);
                        held.push(f);
                    }
                    Ok(None) => prop_assert_eq!(read, written, "a written frame was not readable"),
                    Err(e) => prop_assert!(false, "read failed: {e:?}"),
                },
                Op::Release(i) => {
                    if !held.is_empty() {
                        let f = held.remove(i % held.len());
                        drop(f);
                    }
                }
            }
            check_held(&held)?;
            let h = reader.health().expect("health");
            prop_assert!(h.free_bytes <= p);
        }
        // Drain the rest, then everything must be free again.
        held.clear();
        while let Some(f) = reader.try_read_frame().expect("drain") {
            read += 1;
            prop_assert_eq!(f.sequence(), read);
        }
        prop_assert_eq!(read, written);
        prop_assert_eq!(reader.health().expect("health").free_bytes, p);
        drop(held);
        close_both(reader, w, &name);
    }
}
