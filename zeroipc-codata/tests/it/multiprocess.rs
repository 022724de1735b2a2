//! Cross-process tests: each test re-executes this binary as its children (role in the
//! environment), which open the parent's segment and run one side of the protocol.

use std::time::Duration;

use zeroipc_codata::{Channel, Future, Lazy};
use zeroipc_testkit::role;

use crate::{
    LIMIT, child_gets, child_open, eventually, race_eight, racer, segment, signal, spawn, spawn_one,
};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn future_wakes_8_waiting_processes_with_the_value() {
    if role().is_some() {
        return child_gets("f", 2.75);
    }
    let (seg, _g, name) = segment("cdfut8", 1 << 16);
    let f = Future::<f64>::create(&seg, "f").unwrap();
    let kids = spawn(
        "multiprocess::future_wakes_8_waiting_processes_with_the_value",
        &["0", "1", "2", "3", "4", "5", "6", "7"],
        &name,
    );
    assert!(
        eventually(LONG, || f.waiters().unwrap() == 8),
        "8 waiters registered"
    );
    f.set_value(2.75).unwrap();
    for k in kids {
        k.wait_success(LIMIT);
    }
    assert_eq!(f.waiters().unwrap(), 0);
}

#[test]
fn lazy_raced_by_8_processes_computes_once() {
    if let Some(r) = role() {
        return racer(&r, |seg, me| {
            let l = Lazy::<u64>::open(seg, "l").unwrap();
            let slow = || {
                std::thread::sleep(Duration::from_millis(50));
                1_000 + me
            };
            l.get_or_compute_timeout(slow, LONG).unwrap()
        });
    }
    let (seg, _g, name) = segment("cdlazy8", 1 << 16);
    let l = Lazy::<u64>::create(&seg, "l").unwrap();
    let results = race_eight::<u64>(
        "multiprocess::lazy_raced_by_8_processes_computes_once",
        &seg,
        &name,
    );
    let vals: Vec<u64> = results
        .iter()
        .map(|f| f.try_get().unwrap().unwrap())
        .collect();
    assert!(vals.iter().all(|v| *v == vals[0]), "{vals:?}");
    assert!((1_000..1_008).contains(&vals[0]));
    assert_eq!(l.compute_count().unwrap(), 1);
    assert_eq!(l.try_get().unwrap(), Some(vals[0]));
}

const TASKS: u64 = 100_000;

#[test]
fn worker_pool_of_4_processes_moves_100k_tasks() {
    if role().is_some() {
        let (seg, tasks) = child_open(Channel::<u64>::open, "tasks");
        let results = Channel::<[u64; 2]>::open(&seg, "results").unwrap();
        while let Some(t) = tasks.recv_timeout(LONG).unwrap() {
            results.send_timeout([t, t * t], LONG).unwrap();
        }
        return;
    }
    let (seg, _g, name) = segment("cdpool", 1 << 20);
    let tasks = Channel::<u64>::create(&seg, "tasks", 1024).unwrap();
    let results = Channel::<[u64; 2]>::create(&seg, "results", 1024).unwrap();
    let kids = spawn(
        "multiprocess::worker_pool_of_4_processes_moves_100k_tasks",
        &["w0", "w1", "w2", "w3"],
        &name,
    );
    let dispatcher = {
        let tasks = tasks.clone();
        std::thread::spawn(move || {
            for t in 0..TASKS {
                tasks.send_timeout(t, LONG).unwrap();
            }
            tasks.close().unwrap();
        })
    };
    let mut seen = vec![false; TASKS as usize];
    for _ in 0..TASKS {
        let [t, sq] = results.recv_timeout(LONG).unwrap().unwrap();
        assert_eq!(sq, t * t, "result of task {t}");
        assert!(
            !std::mem::replace(&mut seen[t as usize], true),
            "task {t} twice"
        );
    }
    dispatcher.join().unwrap();
    for k in kids {
        k.wait_success(LIMIT);
    }
    assert!(seen.iter().all(|s| *s), "every task has its result");
    assert_eq!(results.try_recv().unwrap(), None, "no extra results");
}

#[test]
fn unbuffered_send_blocks_until_another_process_receives() {
    if role().is_some() {
        let (seg, c) = child_open(Channel::<u32>::open, "rv");
        let sent = Future::<u32>::open(&seg, "sent").unwrap();
        c.send_timeout(41, LONG).unwrap();
        sent.set_value(1).unwrap();
        c.send_timeout(42, LONG).unwrap();
        return;
    }
    let (seg, _g, name) = segment("cdrv", 1 << 16);
    let c = Channel::<u32>::create_unbuffered(&seg, "rv").unwrap();
    let sent = Future::<u32>::create(&seg, "sent").unwrap();
    let kid = spawn_one(
        "multiprocess::unbuffered_send_blocks_until_another_process_receives",
        "sender",
        &name,
    );
    // The value is offered but `send` has not returned: nobody took it yet.
    assert!(eventually(LONG, || c.len().unwrap() == 1), "value offered");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        sent.try_get().unwrap(),
        None,
        "send returned without a receiver"
    );
    assert_eq!(c.recv_timeout(LONG).unwrap(), Some(41));
    assert_eq!(
        sent.get_timeout(LONG).unwrap(),
        1,
        "send returned after recv"
    );
    assert_eq!(c.recv_timeout(LONG).unwrap(), Some(42));
    kid.wait_success(LIMIT);
}

const STREAM_N: u64 = 1_000_000;

#[test]
fn stream_3_subscriber_processes_each_receive_all_elements_in_order() {
    use zeroipc_codata::Stream;
    if role().is_some() {
        let (_seg, st) = child_open(Stream::<u64>::open, "st");
        let mut sub = st.subscribe().unwrap();
        let mut expect = 0u64;
        while let Some(v) = sub.recv_timeout(LONG).unwrap() {
            assert_eq!(v, expect, "in order, nothing lost");
            expect += 1;
        }
        assert_eq!(expect, STREAM_N);
        return;
    }
    let (seg, _g, name) = segment("cdstream", 1 << 20);
    let st = Stream::<u64>::create(&seg, "st", 4096).unwrap();
    let kids = spawn(
        "multiprocess::stream_3_subscriber_processes_each_receive_all_elements_in_order",
        &["a", "b", "c"],
        &name,
    );
    assert!(eventually(LONG, || st.subscribers().unwrap() == 3));
    for v in 0..STREAM_N {
        st.emit_timeout(v, LONG).unwrap();
    }
    st.close().unwrap();
    for k in kids {
        k.wait_success(LIMIT);
    }
    assert_eq!(st.sequence().unwrap(), STREAM_N);
}

const PIPE_N: i64 = 20_000;

#[test]
fn map_filter_window_pipeline_driven_by_another_process_matches_in_process() {
    use zeroipc_codata::Stream;
    if role().is_some() {
        // The declaring process drives the derived streams.
        let (seg, src) = child_open(Stream::<i64>::open, "src");
        let mapped = src.map(&seg, "mapped", |x| x * 3 + 1).unwrap();
        let even = mapped.filter(&seg, "even", |x| x % 2 == 0).unwrap();
        let win = even.window::<4>(&seg, "win").unwrap();
        signal(&seg, "declared");
        for d in [mapped, even] {
            d.join().unwrap();
        }
        win.join().unwrap();
        return;
    }
    let (seg, _g, name) = segment("cdpipe", 1 << 20);
    let src = Stream::<i64>::create(&seg, "src", 256).unwrap();
    let declared = Future::<u8>::create(&seg, "declared").unwrap();
    let kid = spawn_one(
        "multiprocess::map_filter_window_pipeline_driven_by_another_process_matches_in_process",
        "driver",
        &name,
    );
    declared.get_timeout(LONG).unwrap();
    let win = Stream::<[i64; 4]>::open(&seg, "win").unwrap();
    assert_eq!(win.transform().unwrap(), "window");
    let sub = win.subscribe().unwrap();
    let producer = std::thread::spawn(move || {
        for v in 0..PIPE_N {
            src.emit_timeout(v, LONG).unwrap();
        }
        src.close().unwrap();
    });
    let got: Vec<[i64; 4]> = sub.map(Result::unwrap).collect();
    producer.join().unwrap();
    kid.wait_success(LIMIT);
    let evens: Vec<i64> = (0..PIPE_N)
        .map(|x| x * 3 + 1)
        .filter(|x| x % 2 == 0)
        .collect();
    let expect: Vec<[i64; 4]> = evens
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    assert_eq!(got.len(), 2500);
    assert_eq!(got, expect);
}

/// Bulk transfer between processes: two sender processes push 200k values each with
/// `send_slice` in runs of 1..=97 values (through a 64-slot buffer, so runs are cut short and
/// senders block), the parent receives with `recv_into` into buffers of varying length, and
/// every value arrives exactly once, each sender's values in order.
#[test]
fn bulk_send_slice_recv_into_between_processes_exactly_once_in_order() {
    const PER: u64 = 200_000;
    if let Some(r) = role() {
        let (_seg, c) = child_open(Channel::<u64>::open, "bulk");
        let id: u64 = r.trim_start_matches('s').parse().unwrap();
        let mut next = 0;
        let mut buf = Vec::with_capacity(97);
        while next < PER {
            let want = (next % 97 + 1).min(PER - next);
            buf.clear();
            buf.extend((next..next + want).map(|i| (id << 32) | i));
            let mut off = 0;
            while off < buf.len() {
                off += c.send_slice_timeout(&buf[off..], LONG).unwrap();
            }
            next += want;
        }
        return;
    }
    let (seg, _g, name) = segment("cdbulk", 1 << 16);
    let c = Channel::<u64>::create(&seg, "bulk", 64).unwrap();
    let kids = spawn(
        "multiprocess::bulk_send_slice_recv_into_between_processes_exactly_once_in_order",
        &["s0", "s1"],
        &name,
    );
    let mut next = [0u64; 2];
    let mut buf = [0u64; 80];
    let mut round = 0;
    while next != [PER; 2] {
        round += 1;
        let len = round % 80 + 1;
        let n = c.recv_into_timeout(&mut buf[..len], LONG).unwrap();
        assert!((1..=len).contains(&n), "recv_into returned {n} of {len}");
        for &v in &buf[..n] {
            let (id, i) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert!(id < 2, "value {v:#x} from no sender");
            assert_eq!(i, next[id], "sender {id}: next value in order");
            next[id] += 1;
        }
    }
    for k in kids {
        k.wait_success(LIMIT);
    }
    assert_eq!(c.try_recv_into(&mut buf).unwrap(), 0, "nothing extra");
    c.close().unwrap();
    assert_eq!(c.recv_into(&mut buf).unwrap(), 0, "closed and drained");
}
