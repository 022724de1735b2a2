//! The convenience calls shared with upstream: Ring `is_empty`/`is_full`/`clear`, Pool
//! `is_empty`/`is_full`/`reset`.

use crate::small_segment;
use zeroipc_structures::{Pool, Ring};

#[test]
fn ring_is_empty_is_full_follow_the_fill_level() {
    let s = small_segment();
    let r = Ring::<u32>::create(&s, "r", 3).unwrap();
    assert!(r.is_empty().unwrap() && !r.is_full().unwrap());
    r.write(1).unwrap();
    assert!(!r.is_empty().unwrap() && !r.is_full().unwrap());
    r.write_slice(&[2, 3]).unwrap();
    assert!(r.is_full().unwrap());
    assert!(r.write(4).is_err(), "full means a write is refused");
    assert_eq!(r.read().unwrap(), Some(1));
    assert!(!r.is_full().unwrap());
    // Another handle (as another process would) sees the same state.
    let other = Ring::<u32>::open(&s, "r").unwrap();
    assert!(!other.is_empty().unwrap());
}

#[test]
fn ring_clear_discards_unread_and_keeps_working_across_the_wrap() {
    let s = small_segment();
    let r = Ring::<u16>::create(&s, "r", 4).unwrap();
    assert_eq!(
        r.clear().unwrap(),
        0,
        "clearing an empty ring discards nothing"
    );
    for round in 0..10u16 {
        assert_eq!(r.write_slice(&[round, round + 1, round + 2]).unwrap(), 3);
        assert_eq!(r.clear().unwrap(), 3);
        assert!(r.is_empty().unwrap());
        assert_eq!(r.read().unwrap(), None);
        r.write(round).unwrap();
        assert_eq!(r.read().unwrap(), Some(round), "next element after a clear");
    }
    let (w, rp) = r.positions_snapshot().unwrap();
    assert_eq!(w, rp);
}

#[test]
fn pool_is_empty_is_full_track_allocations() {
    let s = small_segment();
    let p = Pool::<u64>::create(&s, "p", 3).unwrap();
    assert!(p.is_empty().unwrap() && !p.is_full().unwrap());
    let a = p.allocate().unwrap().unwrap();
    let _b = p.allocate().unwrap().unwrap();
    assert!(!p.is_empty().unwrap() && !p.is_full().unwrap());
    let _c = p.allocate().unwrap().unwrap();
    assert!(p.is_full().unwrap());
    assert_eq!(p.allocate().unwrap(), None);
    p.deallocate(a).unwrap();
    assert!(!p.is_full().unwrap());
}

#[test]
fn pool_reset_frees_every_node_and_bumps_the_generation() {
    let s = small_segment();
    let p = Pool::<u32>::create(&s, "p", 4).unwrap();
    let held: Vec<u32> = (0..3).map(|_| p.allocate().unwrap().unwrap()).collect();
    p.set(held[0], 42).unwrap();
    let (_, gen_before) = p.free_head().unwrap();
    p.reset().unwrap();
    assert!(p.is_empty().unwrap());
    assert_eq!(p.len().unwrap(), 0);
    assert_eq!(p.free_list().unwrap(), vec![0, 1, 2, 3]);
    let (head, gen_after) = p.free_head().unwrap();
    assert_eq!(head, 0);
    assert_eq!(gen_after, gen_before.wrapping_add(1));
    assert_eq!(p.get(held[0]).unwrap(), 42, "values are kept");
    let again: Vec<u32> = (0..4).map(|_| p.allocate().unwrap().unwrap()).collect();
    assert_eq!(again, vec![0, 1, 2, 3]);
    assert!(p.is_full().unwrap());
}
