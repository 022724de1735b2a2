//! Batched Stream emit and receive (`emit_slice`, `try_emit_slice`, `recv_into`,
//! `try_recv_into`): the same elements, order, backpressure and errors as element-wise
//! emit and recv.

use std::time::Duration;

use zeroipc_codata::{Error, Stream};
use zeroipc_format::Segment;

const LONG: Duration = Duration::from_secs(60);

fn seg() -> Segment {
    Segment::anonymous(1 << 20, 64).unwrap()
}

#[test]
fn a_run_that_wraps_around_the_buffer_end_arrives_intact() {
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 5).unwrap();
    let mut sub = st.subscribe().unwrap();
    let mut buf = [0u64; 8];
    // Move the positions to 3 of 5, so the next run of 5 wraps after 2.
    assert_eq!(st.emit_slice(&[1, 2, 3]).unwrap(), 3);
    assert_eq!(sub.recv_into(&mut buf).unwrap(), 3);
    assert_eq!(buf[..3], [1, 2, 3]);
    assert_eq!(st.emit_slice(&[4, 5, 6, 7, 8]).unwrap(), 5);
    assert_eq!((st.position().unwrap(), st.sequence().unwrap()), (8, 8));
    // A receive run that wraps too, in two calls of odd sizes.
    assert_eq!(sub.recv_into(&mut buf[..4]).unwrap(), 4);
    assert_eq!(buf[..4], [4, 5, 6, 7]);
    assert_eq!(sub.position().unwrap(), 7);
    assert_eq!(sub.recv_into(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], 8);
    assert_eq!(sub.position().unwrap(), 8);
}

#[test]
fn emit_slice_takes_only_the_room_the_slowest_subscriber_leaves() {
    let s = seg();
    let st = Stream::<u32>::create(&s, "st", 4).unwrap();
    let mut fast = st.subscribe().unwrap();
    let mut slow = st.subscribe().unwrap();
    assert_eq!(st.try_emit_slice(&[1, 2, 3]).unwrap(), 3);
    let mut buf = [0u32; 4];
    assert_eq!(fast.try_recv_into(&mut buf).unwrap(), 3);
    // `slow` still holds 3 of the 4 places: one more fits.
    assert_eq!(st.try_emit_slice(&[4, 5, 6]).unwrap(), 1);
    assert_eq!(st.try_emit_slice(&[5, 6]).unwrap(), 0);
    let full = st.emit_slice_timeout(&[5, 6], Duration::from_millis(5));
    assert!(matches!(full, Err(Error::Timeout { .. })), "{full:?}");
    assert_eq!(
        st.sequence().unwrap(),
        4,
        "a timed-out emit_slice emits nothing"
    );
    // `slow` takes two: two fit.
    assert_eq!(slow.try_recv_into(&mut buf[..2]).unwrap(), 2);
    assert_eq!(buf[..2], [1, 2]);
    assert_eq!(st.emit_slice(&[5, 6, 7]).unwrap(), 2);
    assert_eq!(slow.try_recv_into(&mut buf).unwrap(), 4);
    assert_eq!(buf, [3, 4, 5, 6]);
    assert_eq!(fast.try_recv_into(&mut buf).unwrap(), 3);
    assert_eq!(buf[..3], [4, 5, 6]);
}

#[test]
fn empty_runs_closed_streams_and_drained_subscriptions() {
    let s = seg();
    let st = Stream::<u16>::create(&s, "st", 8).unwrap();
    let mut sub = st.subscribe().unwrap();
    let mut buf = [0u16; 4];
    assert_eq!(st.emit_slice(&[]).unwrap(), 0);
    assert_eq!(st.try_emit_slice(&[]).unwrap(), 0);
    assert_eq!(sub.recv_into(&mut []).unwrap(), 0);
    assert_eq!(sub.try_recv_into(&mut []).unwrap(), 0);
    assert_eq!(sub.try_recv_into(&mut buf).unwrap(), 0, "nothing yet");
    st.emit_slice(&[10, 11]).unwrap();
    st.close().unwrap();
    assert!(matches!(st.emit_slice(&[12]), Err(Error::Closed { .. })));
    assert!(matches!(
        st.try_emit_slice(&[12]),
        Err(Error::Closed { .. })
    ));
    // What was emitted before the close is still delivered, then the end.
    assert_eq!(sub.recv_into(&mut buf).unwrap(), 2);
    assert_eq!(buf[..2], [10, 11]);
    assert_eq!(sub.recv_into(&mut buf).unwrap(), 0);
    assert_eq!(
        sub.recv_into_timeout(&mut buf, Duration::from_millis(1))
            .unwrap(),
        0
    );
    assert!(matches!(
        sub.try_recv_into(&mut buf),
        Err(Error::Closed { .. })
    ));
}

#[test]
fn mixed_batched_and_single_ends_see_every_element_in_order() {
    // A producer emitting runs of varying length into a small buffer (it blocks on the
    // slowest subscriber again and again), one subscriber receiving runs into buffers of
    // varying length, another element by element.
    const N: u64 = 50_000;
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 7).unwrap();
    let mut batched = st.subscribe().unwrap();
    let single = st.subscribe().unwrap();
    std::thread::scope(|sc| {
        let producer = sc.spawn(|| {
            let data: Vec<u64> = (0..N).collect();
            let (mut sent, mut len) = (0usize, 1usize);
            while sent < data.len() {
                let end = (sent + len).min(data.len());
                sent += st.emit_slice_timeout(&data[sent..end], LONG).unwrap();
                len = len % 11 + 1;
            }
            st.close().unwrap();
        });
        let other = sc.spawn(move || single.map(Result::unwrap).collect::<Vec<u64>>());
        let (mut got, mut buf, mut len) = (Vec::new(), [0u64; 13], 1usize);
        loop {
            let n = batched.recv_into_timeout(&mut buf[..len], LONG).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= len);
            got.extend_from_slice(&buf[..n]);
            len = len % 13 + 1;
        }
        producer.join().unwrap();
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        assert_eq!(other.join().unwrap(), got);
    });
    assert_eq!(st.sequence().unwrap(), N);
    assert_eq!(st.position().unwrap(), N);
}

#[test]
fn batched_calls_on_hostile_positions_give_errors_not_panics() {
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 4).unwrap();
    let mut sub = st.subscribe().unwrap();
    let buf = s.find("st_buffer").unwrap().offset() as usize;
    let subs = s.find("st_subs").unwrap().offset() as usize;
    let mut dst = [0u64; 4];
    // Positions at the top of the u64 range: a run would overflow `write_pos`.
    s.raw().write::<u64>(buf, u64::MAX - 7).unwrap();
    s.raw().write::<u64>(buf + 8, u64::MAX - 7).unwrap();
    s.raw().write::<u64>(subs + 32, u64::MAX - 7).unwrap();
    assert!(st.try_emit_slice(&[1, 2]).is_err());
    assert!(st.emit_slice(&[1, 2]).is_err());
    assert_eq!(sub.try_recv_into(&mut dst).unwrap(), 0);
    // write_pos more than the capacity ahead of the cursor, or a cursor ahead of it.
    s.raw().write::<u64>(buf, 1 << 40).unwrap();
    s.raw().write::<u64>(subs + 32, 0).unwrap();
    assert!(sub.try_recv_into(&mut dst).is_err());
    assert!(sub.recv_into(&mut dst).is_err());
    s.raw().write::<u64>(buf, 64).unwrap();
    s.raw().write::<u64>(buf + 8, 64).unwrap();
    s.raw().write::<u64>(subs + 32, 72).unwrap();
    assert!(sub.try_recv_into(&mut dst).is_err());
    assert!(st.try_emit_slice(&[1]).is_err());
    // A position that is not a whole number of elements.
    s.raw().write::<u64>(subs + 32, 61).unwrap();
    assert!(sub.try_recv_into(&mut dst).is_err());
}

#[test]
fn a_subscriber_that_does_not_spin_is_woken_by_the_producer_and_misses_nothing() {
    // With spinning off every wait parks after about a microsecond, so the producer's
    // wake-ups (not a spinning poll) must bring each element in.
    const N: u64 = 20_000;
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 16).unwrap();
    let mut single = st.subscribe().unwrap();
    let mut batched = st.subscribe().unwrap();
    assert!(
        single.spins() && batched.spins(),
        "spinning is on by default"
    );
    single.set_spin(false);
    batched.set_spin(false);
    assert!(!single.spins() && !batched.spins());
    std::thread::scope(|sc| {
        sc.spawn(|| {
            for v in 0..N {
                st.emit_timeout(v, LONG).unwrap();
            }
            st.close().unwrap();
        });
        let other = sc.spawn(move || {
            let (mut got, mut buf) = (Vec::new(), [0u64; 5]);
            loop {
                let n = batched.recv_into_timeout(&mut buf, LONG).unwrap();
                if n == 0 {
                    break got;
                }
                got.extend_from_slice(&buf[..n]);
            }
        });
        let mut got = Vec::new();
        while let Some(v) = single.recv_timeout(LONG).unwrap() {
            got.push(v);
        }
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        assert_eq!(other.join().unwrap(), got);
    });
}
