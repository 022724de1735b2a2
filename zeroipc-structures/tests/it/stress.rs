//! Multi-process stress: several processes (this test binary, re-executed) hammer one
//! structure; every item must arrive exactly once.

use std::time::Duration;

use zeroipc_format::{Segment, SegmentOptions};
use zeroipc_structures::{Array, Error, Map, Pool, PushError, Queue, Stack};
use zeroipc_testkit::{Child, role, unique_guarded};

fn env(key: &str) -> String {
    std::env::var(key).unwrap()
}

fn env_u64(key: &str) -> u64 {
    env(key).parse().unwrap()
}

/// Flags and per-consumer results: `[producers_done, _, (count, sum, sumsq, order_errors) * 2P * 2C ...]`.
fn results_len(producers: usize, consumers: usize) -> usize {
    2 + 4 * producers * consumers
}

fn item(producer: u64, seq: u64) -> u64 {
    (producer << 40) | seq
}

/// A 2-producer/2-consumer child (`prod:ID` or `cons:ID`): the segment `SEG`, its results
/// array, whether it produces, its id and the items per producer (`PER`).
fn child(role: &str) -> (Segment, Array<u64>, bool, u64, u64) {
    let seg = Segment::open(&env("SEG")).unwrap();
    let res = Array::<u64>::open(&seg, "res").unwrap();
    let (kind, id) = role.split_once(':').unwrap();
    (
        seg,
        res,
        kind == "prod",
        id.parse().unwrap(),
        env_u64("PER"),
    )
}

/// Counts item `v` in its producer's row of `stats` (count, sum, sum of squares of the
/// sequence numbers); returns the producer and the sequence number.
fn tally(stats: &mut [[u64; 4]; 2], v: u64) -> (usize, u64) {
    let (p, seq) = ((v >> 40) as usize, v & ((1 << 40) - 1));
    let s = &mut stats[p];
    s[0] += 1;
    s[1] = s[1].wrapping_add(seq);
    s[2] = s[2].wrapping_add(seq.wrapping_mul(seq));
    (p, seq)
}

/// Stores a consumer's counters (`stats`, per producer) in its rows of the results array.
fn store_stats(res: &Array<u64>, id: u64, stats: &[[u64; 4]; 2]) {
    for (p, s) in stats.iter().enumerate() {
        res.write(2 + 4 * (id as usize * 2 + p), s).unwrap();
    }
}

/// Creates a segment (tagged `tag`, unlinked at the end) with the structure `make` adds and
/// the results array, runs two consumers and two producers on it (`test` re-executed with
/// `per` items each), raises the done flag once the producers have finished, and,
/// per producer, asserts its four counters summed over both consumers: every item exactly
/// once (count, sum and sum of squares of the sequence numbers) and no order error.
fn run_2p2c(test: &str, tag: &str, per: u64, make: impl FnOnce(&Segment)) {
    let (name, _g) = unique_guarded(tag);
    let seg = SegmentOptions::new().create(&name, 1 << 20, 64).unwrap();
    make(&seg);
    let res = Array::<u64>::create(&seg, "res", results_len(2, 2)).unwrap();
    let per_s = per.to_string();
    let env = [("SEG", name.as_str()), ("PER", per_s.as_str())];
    let consumers: Vec<Child> = (0..2)
        .map(|c| Child::spawn(test, &format!("cons:{c}"), &env))
        .collect();
    let producers: Vec<Child> = (0..2)
        .map(|p| Child::spawn(test, &format!("prod:{p}"), &env))
        .collect();
    for p in producers {
        p.wait_success(Duration::from_secs(300));
    }
    res.set(0, 1).unwrap();
    for c in consumers {
        c.wait_success(Duration::from_secs(120));
    }
    let mut totals = [[0u64; 4]; 2];
    for (p, total) in totals.iter_mut().enumerate() {
        for c in 0..2 {
            let at = 2 + 4 * (c * 2 + p);
            total[0] += res.get(at).unwrap();
            total[1] = total[1].wrapping_add(res.get(at + 1).unwrap());
            total[2] = total[2].wrapping_add(res.get(at + 2).unwrap());
            total[3] += res.get(at + 3).unwrap();
        }
    }
    let (sum, sumsq) = sums(per);
    for (p, total) in totals.iter().enumerate() {
        assert_eq!(
            *total,
            [per, sum, sumsq, 0],
            "producer {p}: count, sum, sum of squares, order errors"
        );
    }
}

/// `(sum, sum of squares)` of `0..n`, wrapping as the counters do.
fn sums(n: u64) -> (u64, u64) {
    (0..n).fold((0, 0), |(a, b): (u64, u64), s| {
        (a.wrapping_add(s), b.wrapping_add(s.wrapping_mul(s)))
    })
}

const QUEUE_ITEMS: u64 = 10_000_000;
const QUEUE_TEST: &str = "stress::queue_2p2c_10m_items_exactly_once";

#[test]
fn queue_2p2c_10m_items_exactly_once() {
    queue_2p2c(QUEUE_TEST, QUEUE_ITEMS, false);
}

const QUEUE_BULK_TEST: &str = "stress::queue_2p2c_bulk_runs_exactly_once";

/// The same accounting with every process mixing single operations and bulk runs
/// (`push_slice`/`pop_into` of 1 to 64 items, one CAS per run).
#[test]
fn queue_2p2c_bulk_runs_exactly_once() {
    queue_2p2c(QUEUE_BULK_TEST, 4_000_000, true);
}

/// Two producer and two consumer processes; every item exactly once, each producer's items
/// in order as seen by each consumer.
fn queue_2p2c(test: &str, items: u64, bulk: bool) {
    if let Some(r) = role() {
        let (seg, res, producer, id, per) = child(&r);
        let q = Queue::<u64>::open(&seg, "q").unwrap();
        if producer && bulk {
            let mut seq = 0;
            let mut batch = Vec::with_capacity(64);
            while seq < per {
                let want = (seq % 64 + 1).min(per - seq);
                if want.is_multiple_of(5) {
                    // A single push now and then, between runs.
                    match q.push(item(id, seq)) {
                        Ok(()) => seq += 1,
                        Err(PushError::Full(_)) => std::thread::yield_now(),
                        Err(e) => panic!("push: {e}"),
                    }
                    continue;
                }
                batch.clear();
                batch.extend((seq..seq + want).map(|s| item(id, s)));
                let n = q.push_slice(&batch).unwrap();
                seq += n as u64;
                if n == 0 {
                    std::thread::yield_now();
                }
            }
        } else if producer {
            for seq in 0..per {
                let mut v = item(id, seq);
                loop {
                    match q.push(v) {
                        Ok(()) => break,
                        Err(PushError::Full(back)) => {
                            v = back;
                            std::thread::yield_now();
                        }
                        Err(e) => panic!("push: {e}"),
                    }
                }
            }
        } else {
            let mut stats = [[0u64; 4]; 2];
            let mut last = [None::<u64>; 2];
            let mut buf = [0u64; 64];
            let mut round = 0usize;
            loop {
                round += 1;
                let got = if bulk && !round.is_multiple_of(4) {
                    let n = q.pop_into(&mut buf[..round % 64 + 1]).unwrap();
                    buf[..n].to_vec()
                } else {
                    q.pop().unwrap().into_iter().collect()
                };
                if got.is_empty() {
                    if res.get(0) == Some(1) && q.is_empty().unwrap() {
                        break;
                    }
                    std::thread::yield_now();
                    continue;
                }
                for v in got {
                    let (p, seq) = tally(&mut stats, v);
                    if last[p].is_some_and(|l| l >= seq) {
                        stats[p][3] += 1; // one consumer sees each producer's items in order
                    }
                    last[p] = Some(seq);
                }
            }
            store_stats(&res, id, &stats);
        }
        return;
    }
    run_2p2c(test, "sq", items / 2, |seg| {
        drop(Queue::<u64>::create(seg, "q", 1024).unwrap())
    });
}

const STACK_TEST: &str = "stress::stack_2p2c_1m_items_exactly_once";

#[test]
fn stack_2p2c_1m_items_exactly_once() {
    if let Some(r) = role() {
        let (seg, res, producer, id, per) = child(&r);
        let st = Stack::<u64>::open(&seg, "s").unwrap();
        if producer {
            for seq in 0..per {
                loop {
                    match st.push(item(id, seq)) {
                        Ok(()) => break,
                        // Full, or a claim held by a descheduled peer: try again.
                        Err(PushError::Full(_) | PushError::Failed(Error::SlotBusy { .. })) => {
                            std::thread::yield_now()
                        }
                        Err(e) => panic!("push: {e}"),
                    }
                }
            }
        } else {
            let mut stats = [[0u64; 4]; 2];
            loop {
                match st.pop() {
                    Ok(Some(v)) => {
                        tally(&mut stats, v);
                    }
                    Ok(None) if res.get(0) == Some(1) && st.is_empty().unwrap() => break,
                    Ok(None) | Err(Error::SlotBusy { .. }) => std::thread::yield_now(),
                    Err(e) => panic!("pop: {e}"),
                }
            }
            store_stats(&res, id, &stats);
        }
        return;
    }
    // A stack has no order to check: its consumers leave the order counter at 0.
    run_2p2c(STACK_TEST, "ss", 500_000, |seg| {
        drop(Stack::<u64>::create(seg, "s", 256).unwrap())
    });
}

const POOL_TEST: &str = "stress::pool_churn_4_processes_exclusive_ownership";

#[test]
fn pool_churn_4_processes_exclusive_ownership() {
    if let Some(r) = role() {
        let seg = Segment::open(&env("SEG")).unwrap();
        let pool = Pool::<u64>::open(&seg, "p").unwrap();
        let id: u64 = r.parse().unwrap();
        let mut held = Vec::new();
        let mut rng = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for round in 0..200_000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            if rng.is_multiple_of(2) || held.len() >= 8 {
                if let Some(i) = held.pop() {
                    let v: u64 = pool.get(i).unwrap();
                    assert_eq!(v, (id << 32) | u64::from(i), "node {i} changed while owned");
                    pool.deallocate_unverified(i).unwrap();
                }
            } else if let Some(i) = pool.allocate().unwrap() {
                pool.set(i, (id << 32) | u64::from(i)).unwrap();
                held.push(i);
            }
            let _ = round;
        }
        for i in held {
            pool.deallocate_unverified(i).unwrap();
        }
        return;
    }
    let (name, _g) = unique_guarded("sp");
    let seg = SegmentOptions::new().create(&name, 1 << 20, 64).unwrap();
    let pool = Pool::<u64>::create(&seg, "p", 24).unwrap();
    let kids: Vec<Child> = (0..4)
        .map(|i| Child::spawn(POOL_TEST, &i.to_string(), &[("SEG", &name)]))
        .collect();
    for k in kids {
        k.wait_success(Duration::from_secs(300));
    }
    assert_eq!(pool.len().unwrap(), 0);
    let mut free = pool.free_list().unwrap();
    free.sort_unstable();
    assert_eq!(
        free,
        (0..24).collect::<Vec<u32>>(),
        "every node is back exactly once"
    );
}

const MAP_TEST: &str = "stress::map_4_processes_disjoint_and_overlapping_keys";

#[test]
fn map_4_processes_disjoint_and_overlapping_keys() {
    if let Some(r) = role() {
        let seg = Segment::open(&env("SEG")).unwrap();
        let m = Map::<u64, u64>::open(&seg, "m").unwrap();
        let id: u64 = r.parse().unwrap();
        for round in 0..20_000u64 {
            // Disjoint keys: this process alone owns them, so every result is exact.
            let k = 1000 + id * 100 + round % 50;
            assert_eq!(
                m.insert(k, round).unwrap(),
                None,
                "{k} present before insert"
            );
            assert_eq!(m.get(&k).unwrap(), Some(round));
            assert_eq!(m.remove(&k).unwrap(), Some(round));
            assert_eq!(m.get(&k).unwrap(), None);
            // Overlapping keys: everyone inserts and removes 0..8.
            let shared = round % 8;
            m.insert(shared, id).unwrap();
            if let Some(v) = m.get(&shared).unwrap() {
                assert!(v < 4, "value {v} was never written");
            }
            if round % 3 == 0 {
                m.remove(&shared).unwrap();
            }
        }
        return;
    }
    let (name, _g) = unique_guarded("sm");
    let seg = SegmentOptions::new().create(&name, 1 << 20, 64).unwrap();
    let m = Map::<u64, u64>::create(&seg, "m", 512).unwrap();
    let kids: Vec<Child> = (0..4)
        .map(|i| Child::spawn(MAP_TEST, &i.to_string(), &[("SEG", &name)]))
        .collect();
    for k in kids {
        k.wait_success(Duration::from_secs(300));
    }
    let items = m.snapshot().unwrap();
    assert_eq!(
        m.len().unwrap(),
        items.len(),
        "size counter matches occupied entries"
    );
    assert!(
        items.iter().all(|(k, v)| *k < 8 && *v < 4),
        "only shared keys remain: {items:?}"
    );
    let mut keys: Vec<u64> = items.iter().map(|(k, _)| *k).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), items.len(), "no key is stored twice: {items:?}");
}
