//! Hostile header values in every structure: errors, never a panic, a hang or an
//! out-of-bounds access.

use proptest::prelude::*;
use zeroipc_format::Segment;
use zeroipc_structures::{Error, Map, Pool, Queue, Ring, Set, Stack};

fn corrupt_field(r: &Result<impl Sized, Error>) -> Option<&'static str> {
    match r {
        Err(Error::Format(zeroipc_format::Error::Corrupt {
            what: zeroipc_format::Corruption::Field { field, .. },
        })) => Some(field),
        _ => None,
    }
}

/// The header field a `TypeMismatch` names, or `None` for any other result.
fn type_mismatch(r: &Result<impl Sized, Error>) -> Option<&'static str> {
    match r {
        Err(Error::Format(zeroipc_format::Error::TypeMismatch { what, .. })) => Some(what),
        _ => None,
    }
}

fn fixture() -> Segment {
    let s = Segment::anonymous(1 << 16, 64).unwrap();
    Queue::<u32>::create(&s, "q", 8).unwrap();
    Stack::<u32>::create(&s, "s", 8).unwrap();
    Ring::<u32>::create(&s, "r", 8).unwrap();
    Map::<u32, u32>::create(&s, "m", 8).unwrap();
    Set::<u32>::create(&s, "t", 8).unwrap();
    Pool::<u32>::create(&s, "p", 8).unwrap();
    s
}

fn at(s: &Segment, name: &str) -> usize {
    s.find(name).unwrap().offset() as usize
}

#[test]
fn queue_capacity_zero_max_and_not_a_power_of_two() {
    for bad in [0u32, 3, u32::MAX, 1 << 31 | 1] {
        let s = fixture();
        s.raw().write::<u32>(at(&s, "q") + 8, bad).unwrap();
        assert_eq!(
            corrupt_field(&Queue::<u32>::open(&s, "q")),
            Some("capacity"),
            "{bad}"
        );
    }
    // A valid power of two that does not match the entry size.
    let s = fixture();
    s.raw().write::<u32>(at(&s, "q") + 8, 1 << 20).unwrap();
    let r = Queue::<u32>::open(&s, "q");
    assert!(crate::size_mismatch(&r).is_some(), "{r:?}");
}

#[test]
fn element_size_mismatch_in_every_structure() {
    let s = fixture();
    for (name, opened, want) in [
        ("q", Queue::<u64>::open(&s, "q").map(drop), "elem_size"),
        ("s", Stack::<u16>::open(&s, "s").map(drop), "elem_size"),
        ("r", Ring::<u8>::open(&s, "r").map(drop), "elem_size"),
        ("m", Map::<u64, u32>::open(&s, "m").map(drop), "key_size"),
        ("m", Map::<u32, u8>::open(&s, "m").map(drop), "value_size"),
        ("t", Set::<u8>::open(&s, "t").map(drop), "elem_size"),
        ("p", Pool::<u64>::open(&s, "p").map(drop), "elem_size"),
    ] {
        assert_eq!(type_mismatch(&opened), Some(want), "{name}: {opened:?}");
    }
}

#[test]
fn stack_top_out_of_range() {
    for bad in [8i32, -2, i32::MAX, i32::MIN] {
        let s = fixture();
        let st = Stack::<u32>::open(&s, "s").unwrap();
        s.raw().write::<i32>(at(&s, "s"), bad).unwrap();
        assert_eq!(corrupt_field(&st.pop()), Some("top"), "{bad}");
        assert_eq!(corrupt_field(&st.len()), Some("top"));
        assert!(matches!(
            st.push(1),
            Err(zeroipc_structures::PushError::Failed(_))
        ));
    }
}

#[test]
fn stack_slot_state_out_of_range_and_stuck_claims() {
    let s = fixture();
    let st = Stack::<u32>::open(&s, "s").unwrap();
    st.push(1).unwrap();
    let states = at(&s, "s") + 16 + 32;
    s.raw().write::<u32>(states, 9).unwrap();
    assert_eq!(corrupt_field(&st.pop()), Some("slot_state"));
    // A claim left in READING by a dead peer: bounded wait, then SlotBusy.
    s.raw().write::<u32>(states, 3).unwrap();
    assert!(matches!(
        st.peek(),
        Err(Error::SlotBusy {
            slot: 0,
            state: 3,
            ..
        })
    ));
    assert!(matches!(st.pop(), Err(Error::SlotBusy { slot: 0, .. })));
    assert_eq!(st.len().unwrap(), 1, "a failed pop gives its claim back");
}

#[test]
fn pool_free_index_and_links_out_of_range() {
    for bad in [8u64, 0xFFFF_FFFE, (7 << 32) | 1000] {
        let s = fixture();
        let p = Pool::<u32>::open(&s, "p").unwrap();
        s.raw().write::<u64>(at(&s, "p"), bad).unwrap();
        assert_eq!(corrupt_field(&p.allocate()), Some("free_head"), "{bad:#x}");
        assert!(p.free_list().is_err());
    }
    let s = fixture();
    let p = Pool::<u32>::open(&s, "p").unwrap();
    // Node 0's link points past the pool.
    s.raw().write::<u32>(at(&s, "p") + 24 + 4, 99).unwrap();
    assert_eq!(corrupt_field(&p.allocate()), Some("next"));
    // A cycle in the free list is caught by the bounded walk.
    s.raw().write::<u32>(at(&s, "p") + 24 + 4, 0).unwrap();
    assert!(p.free_list().is_err());
    // Capacity 0 and 0xFFFFFFFF are refused at open.
    for bad in [0u32, u32::MAX] {
        s.raw().write::<u32>(at(&s, "p") + 16, bad).unwrap();
        assert_eq!(corrupt_field(&Pool::<u32>::open(&s, "p")), Some("capacity"));
    }
}

#[test]
fn ring_positions_and_capacity() {
    let s = fixture();
    let r = Ring::<u32>::open(&s, "r").unwrap();
    s.raw().write::<u64>(at(&s, "r"), 1000).unwrap();
    assert_eq!(corrupt_field(&r.read()), Some("write_pos - read_pos"));
    assert!(r.write(1).is_err());
    s.raw().write::<u64>(at(&s, "r"), 0).unwrap();
    s.raw().write::<u64>(at(&s, "r") + 8, 4).unwrap();
    assert_eq!(corrupt_field(&r.len()), Some("write_pos - read_pos"));
    for bad in [0u32, 3, u32::MAX] {
        s.raw().write::<u32>(at(&s, "r") + 16, bad).unwrap();
        assert!(Ring::<u32>::open(&s, "r").is_err(), "{bad}");
    }
}

#[test]
fn map_and_set_states_and_capacity() {
    let s = fixture();
    let m = Map::<u32, u32>::open(&s, "m").unwrap();
    m.insert(1, 1).unwrap();
    for slot in 0..8 {
        s.raw()
            .write::<u32>(at(&s, "m") + 16 + 12 * slot, 77)
            .unwrap();
    }
    assert_eq!(corrupt_field(&m.get(&1)), Some("state"));
    assert_eq!(corrupt_field(&m.snapshot()), Some("state"));
    let set = Set::<u32>::open(&s, "t").unwrap();
    s.raw().write::<u32>(at(&s, "t") + 16, 5).unwrap();
    assert!(set.snapshot().is_err());
    for (name, off) in [("m", 4usize), ("t", 4)] {
        s.raw().write::<u32>(at(&s, name) + off, 0).unwrap();
    }
    assert_eq!(
        corrupt_field(&Map::<u32, u32>::open(&s, "m")),
        Some("capacity")
    );
    assert_eq!(corrupt_field(&Set::<u32>::open(&s, "t")), Some("capacity"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random words written over every structure's header and first bytes, then every
    /// operation: no panic, no hang.
    #[test]
    fn random_header_words_never_panic(words in proptest::collection::vec((0usize..6, 0usize..12, prop_oneof![Just(0u32), Just(u32::MAX), Just(1u32 << 31), any::<u32>()]), 1..12)) {
        let s = fixture();
        for (which, word, value) in words {
            let name = ["q", "s", "r", "m", "t", "p"][which];
            s.raw().write::<u32>(at(&s, name) + 4 * word, value).unwrap();
        }
        if let Ok(q) = Queue::<u32>::open(&s, "q") {
            let _ = q.push(1);
            let _ = q.pop();
            let _ = (q.len(), q.counters());
        }
        if let Ok(st) = Stack::<u32>::open(&s, "s") {
            let _ = st.push(1);
            let _ = st.pop();
            let _ = (st.len(), st.snapshot(), st.slot_states());
        }
        if let Ok(r) = Ring::<u32>::open(&s, "r") {
            let _ = r.write(1);
            let _ = r.read();
            let _ = (r.write_slice(&[1, 2, 3]), r.read_into(&mut [0; 4]), r.snapshot());
        }
        if let Ok(m) = Map::<u32, u32>::open(&s, "m") {
            let _ = m.insert(3, 3);
            let _ = (m.get(&3), m.remove(&3), m.snapshot(), m.len());
        }
        if let Ok(t) = Set::<u32>::open(&s, "t") {
            let _ = t.insert(3);
            let _ = (t.contains(&3), t.remove(&3), t.snapshot());
        }
        if let Ok(p) = Pool::<u32>::open(&s, "p") {
            if let Ok(Some(i)) = p.allocate() {
                let _ = p.set(i, 5);
                let _ = p.deallocate(i);
            }
            let _ = (p.free_list(), p.len(), p.deallocate_unverified(1));
        }
    }
}

/// Issue 18: a capacity-1 queue as upstream C++ creates it (16-byte header, one slot, one
/// sequence word: 28 bytes for u32) is refused as *unsupported*, saying why, not as corrupt.
#[test]
fn an_upstream_capacity_1_queue_is_unsupported_not_corrupt() {
    let s = Segment::anonymous(1 << 16, 8).unwrap();
    s.add("q1", 16 + 8 + 4, |r| {
        r.write::<u32>(8, 1)?;
        r.write::<u32>(12, 4)
    })
    .unwrap();
    match Queue::<u32>::open(&s, "q1") {
        Err(Error::Format(e @ zeroipc_format::Error::Unsupported { .. })) => {
            let msg = e.to_string();
            assert!(
                msg.contains("unsupported") && msg.contains("capacity 1"),
                "{msg}"
            );
            assert!(msg.contains("overwritten"), "{msg}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
}
