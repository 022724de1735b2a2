//! Table mutations: names, duplicates, alignment, room, rollback.

use zeroipc_format::{Error, Region, Segment};

fn seg() -> Segment {
    Segment::anonymous(1 << 16, 64).unwrap()
}

fn nothing(_: &Region) -> Result<(), Error> {
    Ok(())
}

#[test]
fn name_lengths() {
    let s = seg();
    let n31 = "a".repeat(31);
    let (e, _) = s.add(&n31, 8, nothing).unwrap();
    assert_eq!(e.name(), n31);
    assert_eq!(s.find(&n31).unwrap().offset(), 3104);
    let n32 = "b".repeat(32);
    assert!(matches!(
        s.add(&n32, 8, nothing),
        Err(Error::NameTooLong {
            len: 32,
            max: 31,
            ..
        })
    ));
    assert!(matches!(
        s.add("", 8, nothing),
        Err(Error::InvalidName { .. })
    ));
    assert!(matches!(s.find(&n32), Err(Error::NotFound { .. })));
    assert_eq!(s.entries().unwrap().len(), 1);
}

#[test]
fn duplicate_is_rejected_and_leaks_no_space() {
    let s = seg();
    s.add("dup", 24, nothing).unwrap();
    let before = s.header().unwrap();
    assert!(matches!(
        s.add("dup", 24, nothing),
        Err(Error::AlreadyExists { name }) if name == "dup"
    ));
    assert_eq!(s.header().unwrap(), before);
}

#[test]
fn entries_are_8_aligned_and_sized_as_requested() {
    let s = seg();
    let (a, _) = s.add("once", 4, nothing).unwrap();
    let (b, _) = s.add("marker", 1, nothing).unwrap();
    let (c, _) = s.add("next", 16, nothing).unwrap();
    assert_eq!((a.offset(), a.size()), (3104, 4));
    assert_eq!((b.offset(), b.size()), (3112, 1));
    assert_eq!((c.offset(), c.size()), (3120, 16));
    assert_eq!(s.header().unwrap().next_offset, 3136);
}

#[test]
fn table_full_and_out_of_space_change_nothing() {
    let s = Segment::anonymous(4096, 2).unwrap();
    s.add("a", 8, nothing).unwrap();
    s.add("b", 8, nothing).unwrap();
    let before = s.header().unwrap();
    assert!(matches!(
        s.add("c", 8, nothing),
        Err(Error::TableFull {
            needed: 1,
            max_entries: 2
        })
    ));
    assert_eq!(s.header().unwrap(), before);

    let s = Segment::anonymous(4096, 2).unwrap();
    let room = s.free_space().unwrap();
    assert!(matches!(
        s.add("big", room + 1, nothing),
        Err(Error::OutOfSpace { .. })
    ));
    assert!(matches!(
        s.add("huge", u64::MAX, nothing),
        Err(Error::OutOfSpace { .. })
    ));
    assert_eq!(s.free_space().unwrap(), room);
    s.add("fits", room, nothing).unwrap();
    assert_eq!(s.free_space().unwrap(), 0);
}

#[test]
fn failed_initialisation_rolls_back() {
    let s = seg();
    let before = s.header().unwrap();
    let r = s.add("bad", 64, |_| Err(Error::InvalidArgument("refused".into())));
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    assert_eq!(s.header().unwrap(), before);
    assert!(s.get("bad").unwrap().is_none());
}

#[test]
fn new_structures_start_zeroed() {
    let s = seg();
    let (e, r) = s.add("junk", 64, |r| r.fill(0, 64, 0xAB)).unwrap();
    assert!(r.to_vec().iter().all(|&b| b == 0xAB));
    drop(e);
    // Reuse is impossible (entries are never removed), but fresh space is zeroed even if a
    // previous writer scribbled past next_offset.
    let raw = s.raw();
    let next = s.header().unwrap().next_offset as usize;
    raw.fill(next, 64, 0xCD).unwrap();
    let (_, fresh) = s.add("fresh", 64, nothing).unwrap();
    assert!(fresh.to_vec().iter().all(|&b| b == 0));
}

#[test]
fn composite_add_publishes_all_parts_at_once() {
    let s = seg();
    let mut lock = s.lock_table().unwrap();
    let (entries, regions) = lock
        .add(
            &[("rw_state", 8), ("rw_rmtx", 16), ("rw_wmtx", 16), ("rw", 1)],
            |rs| {
                assert_eq!(rs.len(), 4);
                rs[1].write::<i32>(0, 1)?;
                Ok::<_, Error>(())
            },
        )
        .unwrap();
    drop(lock);
    let offsets: Vec<u64> = entries.iter().map(|e| e.offset()).collect();
    assert_eq!(offsets, [3104, 3112, 3128, 3144]);
    assert_eq!(regions[1].read::<i32>(0).unwrap(), 1);
    assert_eq!(s.header().unwrap().entry_count, 4);

    let mut lock = s.lock_table().unwrap();
    let before = s.header().unwrap();
    assert!(matches!(
        lock.add(&[("x", 8), ("x", 8)], |_| Ok::<_, Error>(())),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        lock.add(&[("y", 8), ("rw", 8)], |_| Ok::<_, Error>(())),
        Err(Error::AlreadyExists { .. })
    ));
    assert_eq!(s.header().unwrap(), before);
}

#[test]
fn regions_are_bounded_by_their_entry() {
    let s = seg();
    let (_, r) = s.add("small", 12, nothing).unwrap();
    assert_eq!(r.len(), 12);
    assert!(r.read::<u64>(4).is_ok());
    assert!(matches!(r.read::<u64>(5), Err(Error::OutOfBounds { .. })));
}
