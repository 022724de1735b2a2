//! Property tests: each structure against a std model over random operation sequences,
//! including counters started near their wrap-around.

use std::collections::{HashMap, HashSet, VecDeque};

use proptest::prelude::*;
use zeroipc_format::Segment;
use zeroipc_structures::{Error, Map, Pool, PushError, Queue, Ring, Set, Stack};

fn seg() -> Segment {
    Segment::anonymous(1 << 20, 64).unwrap()
}

#[derive(Debug, Clone)]
enum QOp {
    Push(u32),
    Pop,
    PushSlice(Vec<u32>),
    PopInto(usize),
}

fn qops() -> impl Strategy<Value = Vec<QOp>> {
    proptest::collection::vec(
        prop_oneof![
            3 => any::<u32>().prop_map(QOp::Push),
            3 => Just(QOp::Pop),
            1 => proptest::collection::vec(any::<u32>(), 0..20).prop_map(QOp::PushSlice),
            1 => (0usize..20).prop_map(QOp::PopInto),
        ],
        1..300,
    )
}

/// Moves a fresh queue's counters to `start`, with every slot's sequence consistent.
fn start_queue_at(seg: &Segment, q: &Queue<u32>, start: u32) {
    let at = q.entry().offset() as usize;
    let cap = q.capacity() as u32;
    let raw = seg.raw();
    raw.write::<u32>(at, start).unwrap();
    raw.write::<u32>(at + 4, start).unwrap();
    let seq_at = at + 16 + (cap as usize * 4).next_multiple_of(8);
    for slot in 0..cap {
        // The next tail value that maps to this slot.
        let next = start.wrapping_add(slot.wrapping_sub(start) & (cap - 1));
        raw.write::<u32>(seq_at + 4 * slot as usize, next).unwrap();
    }
}

/// Checks a bulk write of `vs` that stored `n` items against the FIFO `model` of a structure
/// of `cap` slots (as many as fit, from the front) and applies it to the model.
fn bulk_written(
    model: &mut VecDeque<u32>,
    vs: &[u32],
    n: usize,
    cap: usize,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(n, vs.len().min(cap - model.len()));
    model.extend(&vs[..n]);
    Ok(())
}

/// Checks a bulk read into `buf` that returned `got` items against the FIFO `model` (as many
/// as asked and present, oldest first) and applies it to the model.
fn bulk_read(model: &mut VecDeque<u32>, buf: &[u32], got: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(got, buf.len().min(model.len()));
    let want: Vec<u32> = model.drain(..got).collect();
    prop_assert_eq!(&buf[..got], &want[..]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn queue_matches_vecdeque(cap in 1usize..40, start in prop_oneof![Just(0u32), (u32::MAX - 64)..=u32::MAX, any::<u32>()], ops in qops()) {
        let s = seg();
        let q = Queue::<u32>::create(&s, "q", cap).unwrap();
        start_queue_at(&s, &q, start);
        let cap = q.capacity();
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                QOp::Push(v) => match q.push(v) {
                    Ok(()) => { prop_assert!(model.len() < cap); model.push_back(v) }
                    Err(PushError::Full(back)) => { prop_assert_eq!(model.len(), cap); prop_assert_eq!(back, v) }
                    Err(e) => panic!("{e}"),
                },
                QOp::Pop => prop_assert_eq!(q.pop().unwrap(), model.pop_front()),
                QOp::PushSlice(vs) => {
                    let n = q.push_slice(&vs).unwrap();
                    bulk_written(&mut model, &vs, n, cap)?;
                }
                QOp::PopInto(n) => {
                    let mut buf = vec![0; n];
                    let got = q.pop_into(&mut buf).unwrap();
                    bulk_read(&mut model, &buf, got)?;
                }
            }
            prop_assert_eq!(q.len().unwrap(), model.len());
            prop_assert_eq!(q.snapshot().unwrap(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(q.is_empty().unwrap(), model.is_empty());
            prop_assert_eq!(q.is_full().unwrap(), model.len() == cap);
        }
    }

    #[test]
    fn stack_matches_vec(cap in 1usize..40, ops in proptest::collection::vec(prop_oneof![any::<i16>().prop_map(Some), Just(None)], 1..300)) {
        let s = seg();
        let st = Stack::<i16>::create(&s, "s", cap).unwrap();
        let mut model = Vec::new();
        for op in ops {
            match op {
                Some(v) => match st.push(v) {
                    Ok(()) => model.push(v),
                    Err(PushError::Full(_)) => prop_assert_eq!(model.len(), cap),
                    Err(e) => panic!("{e}"),
                },
                None => prop_assert_eq!(st.pop().unwrap(), model.pop()),
            }
            prop_assert_eq!(st.len().unwrap(), model.len());
            prop_assert_eq!(st.peek().unwrap(), model.last().copied());
            prop_assert_eq!(st.snapshot().unwrap(), model.clone());
        }
    }

    #[test]
    fn ring_matches_vecdeque(cap in 1usize..40, ops in qops()) {
        let s = seg();
        let r = Ring::<u32>::create(&s, "r", cap).unwrap();
        let mut model = VecDeque::new();
        for op in ops {
            match op {
                QOp::Push(v) => match r.write(v) {
                    Ok(()) => model.push_back(v),
                    Err(PushError::Full(_)) => prop_assert_eq!(model.len(), cap),
                    Err(e) => panic!("{e}"),
                },
                QOp::Pop => prop_assert_eq!(r.read().unwrap(), model.pop_front()),
                QOp::PushSlice(vs) => {
                    let n = r.write_slice(&vs).unwrap();
                    bulk_written(&mut model, &vs, n, cap)?;
                }
                QOp::PopInto(n) if n % 2 == 1 => {
                    // Zero-copy: view everything unread, release n of it.
                    let view = r.read_slices().unwrap();
                    let (a, b) = view.elements().unwrap();
                    let seen: Vec<u32> = a.iter().chain(b).copied().collect();
                    prop_assert_eq!(&seen, &model.iter().copied().collect::<Vec<_>>());
                    prop_assert_eq!(view.len(), model.len());
                    view.consume(n).unwrap();
                    model.drain(..n.min(model.len()));
                }
                QOp::PopInto(n) => {
                    let mut buf = vec![0; n];
                    let got = r.read_into(&mut buf).unwrap();
                    bulk_read(&mut model, &buf, got)?;
                }
            }
            prop_assert_eq!(r.len().unwrap(), model.len());
            prop_assert_eq!(r.free_slots().unwrap(), cap - model.len());
            prop_assert_eq!(r.snapshot().unwrap(), model.iter().copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn map_matches_hashmap(cap in 1usize..24, ops in proptest::collection::vec((0u8..3, -20i32..20, any::<i64>()), 1..300)) {
        let s = seg();
        let m = Map::<i32, i64>::create(&s, "m", cap).unwrap();
        let mut model = HashMap::new();
        for (op, k, v) in ops {
            match op {
                0 => match m.insert(k, v) {
                    Ok(old) => prop_assert_eq!(old, model.insert(k, v)),
                    Err(PushError::Full((fk, fv))) => {
                        prop_assert_eq!((fk, fv), (k, v));
                        prop_assert!(!model.contains_key(&k));
                        prop_assert_eq!(model.len(), cap);
                    }
                    Err(e) => panic!("{e}"),
                },
                1 => prop_assert_eq!(m.remove(&k).unwrap(), model.remove(&k)),
                _ => {
                    prop_assert_eq!(m.get(&k).unwrap(), model.get(&k).copied());
                    prop_assert_eq!(m.contains_key(&k).unwrap(), model.contains_key(&k));
                }
            }
            prop_assert_eq!(m.len().unwrap(), model.len());
        }
        let items: HashMap<i32, i64> = m.snapshot().unwrap().into_iter().collect();
        prop_assert_eq!(items, model);
    }

    #[test]
    fn set_matches_hashset(cap in 1usize..24, ops in proptest::collection::vec((0u8..3, 0u64..40), 1..300)) {
        let s = seg();
        let set = Set::<u64>::create(&s, "s", cap).unwrap();
        let mut model = HashSet::new();
        for (op, v) in ops {
            match op {
                0 => match set.insert(v) {
                    Ok(new) => prop_assert_eq!(new, model.insert(v)),
                    Err(PushError::Full(_)) => {
                        prop_assert!(!model.contains(&v));
                        prop_assert_eq!(model.len(), cap);
                    }
                    Err(e) => panic!("{e}"),
                },
                1 => prop_assert_eq!(set.remove(&v).unwrap(), model.remove(&v)),
                _ => prop_assert_eq!(set.contains(&v).unwrap(), model.contains(&v)),
            }
            prop_assert_eq!(set.len().unwrap(), model.len());
        }
        let items: HashSet<u64> = set.snapshot().unwrap().into_iter().collect();
        prop_assert_eq!(items, model);
    }

    #[test]
    fn pool_matches_a_free_list(cap in 1usize..32, ops in proptest::collection::vec((0u8..4, any::<u32>()), 1..300)) {
        let s = seg();
        let p = Pool::<u64>::create(&s, "p", cap).unwrap();
        // The free list is LIFO with node 0 on top: model it as a stack.
        let mut free: Vec<u32> = (0..cap as u32).rev().collect();
        let mut used: Vec<u32> = Vec::new();
        for (op, x) in ops {
            match op {
                0 | 1 => {
                    let got = p.allocate().unwrap();
                    prop_assert_eq!(got, free.pop());
                    if let Some(i) = got {
                        p.set(i, u64::from(x)).unwrap();
                        prop_assert_eq!(p.get(i).unwrap(), u64::from(x));
                        used.push(i);
                    }
                }
                2 if !used.is_empty() => {
                    let i = used.swap_remove(x as usize % used.len());
                    p.deallocate(i).unwrap();
                    free.push(i);
                }
                _ => {
                    // Freeing a free node or an out-of-range index is an error, and changes nothing.
                    if let Some(&i) = free.last() {
                        let double = matches!(p.deallocate(i), Err(Error::DoubleFree { index, .. }) if index == i);
                        prop_assert!(double);
                    }
                    let out_of_range = matches!(p.deallocate(cap as u32 + x % 8), Err(Error::OutOfRange { .. }));
                    prop_assert!(out_of_range);
                }
            }
            prop_assert_eq!(p.len().unwrap(), used.len());
            let mut listed = p.free_list().unwrap();
            listed.reverse();
            prop_assert_eq!(listed, free.clone());
        }
    }
}
