//! The `Select` builder: arms over channels of different element types, receive and send
//! arms, timeout and default arms, fairness, and selection across processes.

use std::time::Duration;

use zeroipc_codata::{Channel, Error, Select};
use zeroipc_testkit::role;

use crate::{LIMIT, child_segment, segment, spawn};

const LONG: Duration = Duration::from_secs(60);

#[derive(Debug, PartialEq)]
enum Ev {
    A(Option<u32>),
    B(Option<[u8; 3]>),
    Sent,
    Timeout,
    Default,
}

#[test]
fn no_arm_starves_in_10000_rounds_with_every_arm_ready() {
    let (seg, _g, _name) = segment("cdselfair", 1 << 20);
    let a = Channel::<u32>::create(&seg, "a", 4).unwrap();
    let b = Channel::<[u8; 3]>::create(&seg, "b", 4).unwrap();
    let c = Channel::<u64>::create(&seg, "c", 4).unwrap();
    a.send(1).unwrap();
    b.send([1, 2, 3]).unwrap();
    let mut counts = [0usize; 3];
    for round in 0..10_000u64 {
        let (i, ev) = Select::new()
            .recv(&a, Ev::A)
            .recv(&b, Ev::B)
            .send(&c, round, || Ev::Sent)
            .wait()
            .unwrap();
        counts[i] += 1;
        // Keep every arm ready: refill what was taken, drain what was sent.
        match ev {
            Ev::A(Some(1)) => a.send(1).unwrap(),
            Ev::B(Some([1, 2, 3])) => b.send([1, 2, 3]).unwrap(),
            Ev::Sent => assert_eq!(c.recv().unwrap(), Some(round)),
            other => panic!("unexpected {other:?} from arm {i}"),
        }
    }
    assert_eq!(counts.iter().sum::<usize>(), 10_000);
    for (arm, n) in counts.iter().enumerate() {
        // A fair choice gives each about 3333; demand at least half of that.
        assert!(
            *n >= 1_666,
            "arm {arm} fired {n} times of 10000: {counts:?}"
        );
    }
}

#[test]
fn timeout_default_and_closed_arms() {
    let (seg, _g, _name) = segment("cdselarms", 1 << 20);
    let a = Channel::<u32>::create(&seg, "a", 2).unwrap();
    let b = Channel::<[u8; 3]>::create(&seg, "b", 2).unwrap();
    let r = Select::new()
        .recv(&a, Ev::A)
        .recv(&b, Ev::B)
        .timeout(Duration::from_millis(5), || Ev::Timeout)
        .wait()
        .unwrap();
    assert_eq!(r, (2, Ev::Timeout));
    let r = Select::new()
        .recv(&a, Ev::A)
        .default(|| Ev::Default)
        .wait()
        .unwrap();
    assert_eq!(r, (1, Ev::Default));
    // A send arm with room fires before the default arm is considered.
    let r = Select::new()
        .default(|| Ev::Default)
        .send(&a, 9, || Ev::Sent)
        .wait()
        .unwrap();
    assert_eq!(r, (1, Ev::Sent));
    b.close().unwrap();
    let r = Select::new()
        .recv(&b, Ev::B)
        .timeout(LONG, || Ev::Timeout)
        .wait()
        .unwrap();
    assert_eq!(r, (0, Ev::B(None)), "closed and drained fires with None");
    assert!(matches!(
        Select::new().send(&b, [0; 3], || Ev::Sent).wait(),
        Err(Error::Closed { .. })
    ));
    assert!(Select::<()>::new().wait().is_err(), "no arms at all");
}

#[test]
fn a_waiting_select_receives_a_value_sent_by_another_thread() {
    let (seg, _g, _name) = segment("cdselwake", 1 << 20);
    let a = Channel::<u32>::create(&seg, "a", 2).unwrap();
    let b = Channel::<[u8; 3]>::create(&seg, "b", 2).unwrap();
    let b2 = b.clone();
    // The selecting thread may or may not be asleep when the value comes; either way it
    // must be seen (a sleeper is woken, a later pass finds it).
    let t = std::thread::spawn(move || b2.send([4, 5, 6]).unwrap());
    let r = Select::new()
        .recv(&a, Ev::A)
        .recv(&b, Ev::B)
        .timeout(LONG, || Ev::Timeout)
        .wait()
        .unwrap();
    assert_eq!(r, (1, Ev::B(Some([4, 5, 6]))));
    t.join().unwrap();
}

/// Three other processes: one sends `u32`s on `a`, one sends pairs on `b`, one receives the
/// `u64`s this process sends on `c`; this process serves all three with one `Select` loop.
#[test]
fn select_serves_three_processes_over_channels_of_different_types() {
    const N: u32 = 500;
    if let Some(r) = role() {
        let seg = child_segment();
        match r.as_str() {
            "a" => {
                let a = Channel::<u32>::open(&seg, "a").unwrap();
                for i in 0..N {
                    a.send_timeout(i, LONG).unwrap();
                }
                a.close().unwrap();
            }
            "b" => {
                let b = Channel::<[f64; 2]>::open(&seg, "b").unwrap();
                for i in 0..N {
                    b.send_timeout([f64::from(i), -f64::from(i)], LONG).unwrap();
                }
                b.close().unwrap();
            }
            _ => {
                let c = Channel::<u64>::open(&seg, "c").unwrap();
                for i in 0..u64::from(N) {
                    assert_eq!(c.recv_timeout(LONG).unwrap(), Some(i * 3));
                }
            }
        }
        return;
    }
    #[derive(Debug)]
    enum Got {
        A(Option<u32>),
        B(Option<[f64; 2]>),
        Sent,
        Stuck,
    }
    let (seg, _g, name) = segment("cdselxproc", 1 << 20);
    let a = Channel::<u32>::create(&seg, "a", 8).unwrap();
    let b = Channel::<[f64; 2]>::create(&seg, "b", 8).unwrap();
    let c = Channel::<u64>::create(&seg, "c", 8).unwrap();
    let kids = spawn(
        "select::select_serves_three_processes_over_channels_of_different_types",
        &["a", "b", "c"],
        &name,
    );
    let (mut next_a, mut next_b, mut sent) = (0u32, 0u32, 0u64);
    let (mut a_open, mut b_open) = (true, true);
    while a_open || b_open || sent < u64::from(N) {
        let mut sel = Select::new();
        if a_open {
            sel = sel.recv(&a, Got::A);
        }
        if b_open {
            sel = sel.recv(&b, Got::B);
        }
        if sent < u64::from(N) {
            sel = sel.send(&c, sent * 3, || Got::Sent);
        }
        match sel.timeout(LONG, || Got::Stuck).wait().unwrap().1 {
            Got::A(Some(v)) => {
                assert_eq!(v, next_a);
                next_a += 1;
            }
            Got::A(None) => a_open = false,
            Got::B(Some(p)) => {
                assert_eq!(p, [f64::from(next_b), -f64::from(next_b)]);
                next_b += 1;
            }
            Got::B(None) => b_open = false,
            Got::Sent => sent += 1,
            Got::Stuck => panic!("no progress in {LONG:?}"),
        }
    }
    assert_eq!((next_a, next_b, sent), (N, N, u64::from(N)));
    for k in kids {
        k.wait_success(LIMIT);
    }
}
