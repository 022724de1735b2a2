//! In-process behaviour of Future, Lazy and Channel (threads stand in for processes where a
//! second party is needed), and rejection of corrupt shared state.

use std::sync::Arc;
use std::time::Duration;

use zeroipc_codata::{Channel, Error, Future, FutureState, Lazy, LazyOp, LazyState};
use zeroipc_format::Segment;

const LONG: Duration = Duration::from_secs(30);

fn seg() -> Segment {
    Segment::anonymous(1 << 20, 64).unwrap()
}

fn corrupt_u8(seg: &Segment, entry: &str, offset: usize, v: u8) {
    let e = seg.find(entry).unwrap();
    seg.raw()
        .write::<u8>(e.offset() as usize + offset, v)
        .unwrap();
}

// ----- Future -----------------------------------------------------------------------

#[test]
fn future_sizes_match_the_spec() {
    assert_eq!(Future::<i32>::memory_size(), 280);
    assert_eq!(Future::<f64>::memory_size(), 280);
    assert_eq!(Future::<u8>::memory_size(), 280);
    assert_eq!(Future::<[f32; 3]>::memory_size(), 288);
}

#[test]
fn future_set_once_then_get() {
    let s = seg();
    let f = Future::<u64>::create(&s, "f").unwrap();
    assert_eq!(f.state().unwrap(), FutureState::Pending);
    assert_eq!(f.try_get().unwrap(), None);
    assert!(!f.is_ready().unwrap());
    assert_eq!(f.completion_time().unwrap(), 0);
    f.set_value(7).unwrap();
    assert!(matches!(f.set_value(8), Err(Error::AlreadySet { .. })));
    assert!(matches!(f.set_error("x"), Err(Error::AlreadySet { .. })));
    assert_eq!(f.get().unwrap(), 7);
    assert_eq!(
        Future::<u64>::open(&s, "f").unwrap().try_get().unwrap(),
        Some(7)
    );
    assert!(f.completion_time().unwrap() > 0);
}

#[test]
fn future_get_timeout_expires_while_pending_and_leaves_no_waiter() {
    let s = seg();
    let f = Future::<u32>::create(&s, "f").unwrap();
    let e = f.get_timeout(Duration::from_millis(20)).unwrap_err();
    assert!(e.is_timeout());
    assert_eq!(f.waiters().unwrap(), 0);
}

#[test]
fn future_error_reaches_blocked_getters_with_its_message() {
    let s = seg();
    let f = Arc::new(Future::<i32>::create(&s, "f").unwrap());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let f = Arc::clone(&f);
            std::thread::spawn(move || f.get_timeout(LONG))
        })
        .collect();
    f.set_error("disk on fire").unwrap();
    for w in waiters {
        let e = w.join().unwrap().unwrap_err();
        assert_eq!(e.failure_message(), Some("disk on fire"));
    }
    assert_eq!(f.waiters().unwrap(), 0);
}

#[test]
fn future_all_and_any() {
    let s = seg();
    let a = Future::<i32>::create(&s, "a").unwrap();
    let b = Future::<i32>::create(&s, "b").unwrap();
    let c = Future::<i32>::create(&s, "c").unwrap();
    b.set_value(2).unwrap();
    assert_eq!(
        Future::any(&[&a, &b, &c], LONG).unwrap(),
        (1, 2),
        "the completed one"
    );
    assert!(
        Future::all(&[&a, &b], Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    a.set_value(1).unwrap();
    c.set_error("nope").unwrap();
    assert_eq!(Future::all(&[&a, &b], LONG).unwrap(), vec![1, 2]);
    assert_eq!(
        Future::all(&[&a, &c], LONG).unwrap_err().failure_message(),
        Some("nope")
    );
    let d = Future::<i32>::create(&s, "d").unwrap();
    d.set_error("also nope").unwrap();
    assert!(
        Future::any(&[&c, &d], LONG)
            .unwrap_err()
            .failure_message()
            .is_some()
    );
    assert!(matches!(
        Future::<i32>::any(&[], LONG),
        Err(zeroipc_codata::Error::Format(
            zeroipc_codata::FormatError::InvalidArgument(_)
        ))
    ));
}

#[test]
fn future_any_wakes_on_a_later_completion() {
    let s = seg();
    let a = Future::<i32>::create(&s, "a").unwrap();
    let b = Arc::new(Future::<i32>::create(&s, "b").unwrap());
    let b2 = Arc::clone(&b);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        b2.set_value(9).unwrap();
    });
    assert_eq!(Future::any(&[&a, &b], LONG).unwrap(), (1, 9));
    t.join().unwrap();
}

#[test]
fn future_rejects_corrupt_state_and_short_entries() {
    let s = seg();
    let f = Future::<f64>::create(&s, "f").unwrap();
    corrupt_u8(&s, "f", 0, 9);
    assert!(matches!(
        f.try_get(),
        Err(Error::Format(zeroipc_format::Error::Corrupt { .. }))
    ));
    assert!(f.get_timeout(Duration::from_millis(10)).is_err());
    assert!(f.set_value(1.0).is_err());
    assert!(Future::<f64>::open(&s, "f").is_err());
    s.add("short", 100, |_| Ok::<_, Error>(())).unwrap();
    assert!(matches!(
        Future::<f64>::open(&s, "short"),
        Err(zeroipc_codata::Error::Format(
            zeroipc_codata::FormatError::SizeMismatch { .. }
        ))
    ));
}

// ----- Lazy -------------------------------------------------------------------------

#[test]
fn lazy_layouts_match_the_spec_table() {
    let l = Lazy::<i32>::layout();
    assert_eq!(
        (l.op, l.data, l.cached, l.error, l.count, l.total),
        (4, 8, 16, 20, 276, 280)
    );
    let l = Lazy::<u8>::layout();
    assert_eq!(
        (l.op, l.data, l.cached, l.error, l.count, l.total),
        (4, 8, 16, 17, 276, 280)
    );
    let l = Lazy::<i16>::layout();
    assert_eq!(
        (l.op, l.data, l.cached, l.error, l.count, l.total),
        (4, 8, 16, 18, 276, 280)
    );
    let l = Lazy::<f64>::layout();
    assert_eq!(
        (l.op, l.data, l.cached, l.error, l.count, l.total),
        (8, 16, 32, 40, 296, 304)
    );
    assert_eq!(Lazy::<i64>::memory_size(), 304);
}

#[test]
fn lazy_computes_once_and_caches() {
    let s = seg();
    let l = Lazy::<u64>::create(&s, "l").unwrap();
    assert!(l.detects_dead_computer());
    assert_eq!(l.state().unwrap(), LazyState::NotComputed);
    assert_eq!(l.try_get().unwrap(), None);
    assert_eq!(l.get_or_compute(|| 41 + 1).unwrap(), 42);
    assert_eq!(l.get_or_compute(|| panic!("computed twice")).unwrap(), 42);
    assert_eq!(l.compute_count().unwrap(), 1);
    assert!(l.reset().unwrap());
    assert_eq!(l.get_or_compute(|| 5).unwrap(), 5);
    assert_eq!(l.compute_count().unwrap(), 2);
}

#[test]
fn lazy_ops_are_forced_like_upstream() {
    let s = seg();
    assert_eq!(
        Lazy::<f64>::create_add(&s, "add", 2.5, 4.0)
            .unwrap()
            .force()
            .unwrap(),
        6.5
    );
    assert_eq!(
        Lazy::<i32>::create_multiply(&s, "mul", 6, -7)
            .unwrap()
            .force()
            .unwrap(),
        -42
    );
    assert_eq!(
        Lazy::<i32>::create_negate(&s, "neg", i32::MIN)
            .unwrap()
            .force()
            .unwrap(),
        i32::MIN
    );
    assert_eq!(
        Lazy::<u8>::create_add(&s, "wrap", 200, 100)
            .unwrap()
            .force()
            .unwrap(),
        44
    );
    let c = Lazy::<i64>::create_constant(&s, "k", -3).unwrap();
    assert_eq!(c.force().unwrap(), -3);
    assert_eq!(c.compute_count().unwrap(), 0);
    let m = Lazy::<i32>::open(&s, "mul").unwrap();
    assert_eq!(m.op().unwrap(), LazyOp::Multiply(6, -7));
    assert_eq!(m.try_get().unwrap(), Some(-42));
    // A get_or_compute lazy has no stored op: force fails like upstream EXTERNAL.
    let ext = Lazy::<i32>::create(&s, "ext").unwrap();
    let e = ext.force().unwrap_err();
    assert_eq!(
        e.failure_message(),
        Some("External computation not yet implemented")
    );
    assert_eq!(ext.state().unwrap(), LazyState::Error);
}

#[test]
fn lazy_failure_is_stored_for_everyone() {
    let s = seg();
    let l = Lazy::<i32>::create(&s, "l").unwrap();
    let e = l
        .get_or_try_compute(|| Err("bad input".into()), LONG)
        .unwrap_err();
    assert_eq!(e.failure_message(), Some("bad input"));
    let other = Lazy::<i32>::open(&s, "l").unwrap();
    assert_eq!(
        other.get_or_compute(|| 1).unwrap_err().failure_message(),
        Some("bad input")
    );
}

#[test]
fn lazy_threads_race_and_compute_once() {
    let s = seg();
    Lazy::<u64>::create(&s, "l").unwrap();
    let seg = Arc::new(s);
    let ts: Vec<_> = (0..8)
        .map(|i| {
            let seg = Arc::clone(&seg);
            std::thread::spawn(move || {
                let l = Lazy::<u64>::open(&seg, "l").unwrap();
                l.get_or_compute_timeout(
                    || {
                        std::thread::sleep(Duration::from_millis(20));
                        1000 + i
                    },
                    LONG,
                )
                .unwrap()
            })
        })
        .collect();
    let vals: Vec<u64> = ts.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(vals.iter().all(|v| *v == vals[0]), "{vals:?}");
    assert_eq!(
        Lazy::<u64>::open(&seg, "l")
            .unwrap()
            .compute_count()
            .unwrap(),
        1
    );
}

#[test]
fn lazy_rejects_corrupt_state_and_op() {
    let s = seg();
    Lazy::<f64>::create_add(&s, "l", 1.0, 2.0).unwrap();
    corrupt_u8(&s, "l", 8, 6);
    assert!(Lazy::<f64>::open(&s, "l").is_err());
    corrupt_u8(&s, "l", 8, 1);
    corrupt_u8(&s, "l", 0, 4);
    assert!(Lazy::<f64>::open(&s, "l").is_err());
    assert!(matches!(
        Lazy::<i32>::open(&s, "l"),
        Err(zeroipc_codata::Error::Format(
            zeroipc_codata::FormatError::SizeMismatch { .. }
        ))
    ));
}

// ----- Channel ----------------------------------------------------------------------

#[test]
fn channel_slot_sizes_match_the_spec() {
    assert_eq!(Channel::<i32>::slot_size(), 8);
    assert_eq!(Channel::<i32>::slot_data_offset(), 4);
    assert_eq!(Channel::<f64>::slot_size(), 16);
    assert_eq!(Channel::<u8>::slot_size(), 3);
    assert_eq!(Channel::<i16>::slot_size(), 4);
    assert_eq!(Channel::<[f32; 3]>::slot_size(), 16);
}

#[test]
fn buffered_channel_is_fifo_and_closes_after_draining() {
    let s = seg();
    let c = Channel::<u32>::create(&s, "c", 3).unwrap();
    assert_eq!(c.capacity(), 4);
    for v in 0..4 {
        c.try_send(v).unwrap();
    }
    assert!(matches!(
        c.try_send(9),
        Err(zeroipc_codata::TrySendError::Full(_))
    ));
    assert!(
        c.send_timeout(9, Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    let o = Channel::<u32>::open(&s, "c").unwrap();
    assert_eq!(o.recv().unwrap(), Some(0));
    c.close().unwrap();
    assert!(matches!(
        c.try_send(9),
        Err(zeroipc_codata::TrySendError::Failed(Error::Closed { .. }))
    ));
    assert!(matches!(c.send(9), Err(Error::Closed { .. })));
    assert_eq!(o.recv_timeout(LONG).unwrap(), Some(1));
    assert_eq!(o.try_recv().unwrap(), Some(2));
    assert_eq!(o.recv().unwrap(), Some(3));
    assert_eq!(o.recv().unwrap(), None);
    assert!(matches!(o.try_recv(), Err(Error::Closed { .. })));
}

#[test]
fn bulk_operations_fill_drain_time_out_and_close() {
    let s = seg();
    let c = Channel::<u32>::create(&s, "c", 4).unwrap();
    assert_eq!(c.try_send_slice(&[]).unwrap(), 0);
    assert_eq!(
        c.try_send_slice(&[1, 2, 3, 4, 5, 6]).unwrap(),
        4,
        "up to full"
    );
    assert_eq!(c.try_send_slice(&[5]).unwrap(), 0, "full");
    assert!(
        c.send_slice_timeout(&[5], Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    let mut buf = [0u32; 3];
    assert_eq!(c.recv_into(&mut buf).unwrap(), 3);
    assert_eq!(buf, [1, 2, 3]);
    assert_eq!(c.send_slice(&[5, 6, 7, 8]).unwrap(), 3, "room for three");
    assert_eq!(
        c.try_recv_into(&mut []).unwrap(),
        0,
        "empty buffer, nothing taken"
    );
    let mut big = [0u32; 10];
    assert_eq!(c.try_recv_into(&mut big).unwrap(), 4);
    assert_eq!(big[..4], [4, 5, 6, 7]);
    assert_eq!(c.try_recv_into(&mut big).unwrap(), 0, "empty");
    assert!(
        c.recv_into_timeout(&mut big, Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    c.send(9).unwrap();
    c.close().unwrap();
    assert!(matches!(c.try_send_slice(&[1]), Err(Error::Closed { .. })));
    assert!(matches!(c.send_slice(&[1]), Err(Error::Closed { .. })));
    assert_eq!(
        c.recv_into(&mut big).unwrap(),
        1,
        "buffered value after close"
    );
    assert_eq!(big[0], 9);
    assert_eq!(c.recv_into(&mut big).unwrap(), 0, "closed and drained");
    assert!(matches!(
        c.try_recv_into(&mut big),
        Err(Error::Closed { .. })
    ));
}

#[test]
fn bulk_receive_wakes_for_a_blocked_reader_and_unbuffered_moves_one() {
    let s = seg();
    let c = Channel::<u64>::create(&s, "c", 8).unwrap();
    let c2 = c.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u64; 8];
        let n = c2.recv_into_timeout(&mut buf, LONG).unwrap();
        buf[..n].to_vec()
    });
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(c.send_slice(&[10, 11, 12]).unwrap(), 3);
    let got = reader.join().unwrap();
    assert!(
        !got.is_empty() && [10, 11, 12].starts_with(&got),
        "got {got:?}"
    );

    let rv = Channel::<u64>::create_unbuffered(&s, "rv").unwrap();
    let rv2 = rv.clone();
    let sender = std::thread::spawn(move || rv2.send_slice_timeout(&[7, 8], LONG));
    let mut buf = [0u64; 4];
    assert_eq!(rv.recv_into_timeout(&mut buf, LONG).unwrap(), 1);
    assert_eq!(buf[0], 7);
    assert_eq!(
        sender.join().unwrap().unwrap(),
        1,
        "a rendezvous moves one value"
    );
}

#[test]
fn buffered_send_blocks_until_a_receiver_makes_room() {
    let s = seg();
    let c = Channel::<u64>::create(&s, "c", 2).unwrap();
    let c2 = c.clone();
    let t = std::thread::spawn(move || {
        for v in 0..1000 {
            c2.send_timeout(v, LONG).unwrap();
        }
        c2.close().unwrap();
    });
    let got: Vec<u64> = std::iter::from_fn(|| c.recv_timeout(LONG).unwrap()).collect();
    t.join().unwrap();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn close_wakes_blocked_senders_and_receivers() {
    let s = seg();
    let full = Channel::<u8>::create(&s, "full", 2).unwrap();
    full.send(1).unwrap();
    full.send(2).unwrap();
    let empty = Channel::<u8>::create(&s, "empty", 2).unwrap();
    let rv = Channel::<u8>::create_unbuffered(&s, "rv").unwrap();
    let (f2, e2, r2) = (full.clone(), empty.clone(), rv.clone());
    let a = std::thread::spawn(move || f2.send(3));
    let b = std::thread::spawn(move || e2.recv());
    let c = std::thread::spawn(move || r2.send(4));
    std::thread::sleep(Duration::from_millis(30));
    full.close().unwrap();
    empty.close().unwrap();
    rv.close().unwrap();
    assert!(matches!(a.join().unwrap(), Err(Error::Closed { .. })));
    assert_eq!(b.join().unwrap().unwrap(), None);
    assert!(matches!(c.join().unwrap(), Err(Error::Closed { .. })));
}

#[test]
fn unbuffered_channel_hands_over_values_in_order() {
    let s = seg();
    let c = Channel::<f64>::create_unbuffered(&s, "rv").unwrap();
    assert!(!c.is_buffered());
    assert_eq!(c.try_recv().unwrap(), None);
    assert!(
        matches!(c.try_send(1.0), Err(zeroipc_codata::TrySendError::Full(_))),
        "no receiver waiting"
    );
    assert!(
        c.send_timeout(1.0, Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(c.len().unwrap(), 0, "a timed-out offer is withdrawn");
    let o = Channel::<f64>::open(&s, "rv").unwrap();
    let t = std::thread::spawn(move || {
        for i in 0..200 {
            o.send_timeout(f64::from(i), LONG).unwrap();
        }
    });
    for i in 0..200 {
        assert_eq!(c.recv_timeout(LONG).unwrap(), Some(f64::from(i)));
    }
    t.join().unwrap();
}

#[test]
fn select_takes_from_whichever_channel_has_data() {
    let s = seg();
    let a = Channel::<i32>::create(&s, "a", 4).unwrap();
    let b = Channel::<i32>::create(&s, "b", 4).unwrap();
    assert!(
        Channel::select(&[&a, &b], Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    b.send(5).unwrap();
    assert_eq!(Channel::select(&[&a, &b], LONG).unwrap(), Some((1, 5)));
    let a2 = a.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        a2.send(6).unwrap();
    });
    assert_eq!(Channel::select(&[&a, &b], LONG).unwrap(), Some((0, 6)));
    t.join().unwrap();
    a.close().unwrap();
    b.close().unwrap();
    assert_eq!(Channel::select(&[&a, &b], LONG).unwrap(), None);
}

#[test]
fn registered_ends_detect_the_other_side_leaving() {
    let s = seg();
    let c = Channel::<u32>::create(&s, "c", 2).unwrap();
    assert_eq!(c.live_senders().unwrap(), Some(0));
    let rx = c.receiver().unwrap();
    let tx = c.sender().unwrap();
    assert_eq!(
        (c.live_senders().unwrap(), c.live_receivers().unwrap()),
        (Some(1), Some(1))
    );
    tx.send(1).unwrap();
    drop(tx);
    assert_eq!(c.live_senders().unwrap(), Some(0));
    // Drained, then the end: every registered sender is gone.
    assert_eq!(rx.recv_timeout(LONG).unwrap(), Some(1));
    assert_eq!(rx.recv_timeout(LONG).unwrap(), None);
    drop(rx);
    let tx = c.sender().unwrap();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert!(matches!(
        tx.send_timeout(3, LONG),
        Err(Error::Disconnected {
            side: "receiver",
            ..
        })
    ));
}

#[test]
fn channel_rejects_corrupt_headers() {
    let s = seg();
    Channel::<u32>::create(&s, "c", 4).unwrap();
    corrupt_u8(&s, "c_header", 12, 7);
    assert!(Channel::<u32>::open(&s, "c").is_err());
    corrupt_u8(&s, "c_header", 12, 0);
    corrupt_u8(&s, "c_header", 0, 3);
    assert!(Channel::<u32>::open(&s, "c").is_err());
    corrupt_u8(&s, "c_header", 0, 8);
    assert!(matches!(
        Channel::<u32>::open(&s, "c"),
        Err(zeroipc_codata::Error::Format(
            zeroipc_codata::FormatError::TypeMismatch { .. }
        ))
    ));
    Channel::<u32>::create_unbuffered(&s, "u").unwrap();
    corrupt_u8(&s, "u_slot", 0, 5);
    assert!(Channel::<u32>::open(&s, "u").is_err());
    assert!(Channel::<u64>::open(&s, "u").is_err());
    assert!(Channel::<u32>::create(&s, "a_name_that_is_too_long_x", 4).is_err());
}

// ----- Stream -----------------------------------------------------------------------

use zeroipc_codata::Stream;

#[test]
fn stream_subscribers_each_get_everything_in_order() {
    let s = seg();
    let st = Stream::<u32>::create(&s, "st", 8).unwrap();
    let mut a = st.subscribe().unwrap();
    let mut b = Stream::<u32>::open(&s, "st").unwrap().subscribe().unwrap();
    assert_eq!(st.subscribers().unwrap(), 2);
    let producer = {
        let st = st.clone();
        std::thread::spawn(move || {
            for v in 0..500 {
                st.emit_timeout(v, LONG).unwrap();
            }
            st.close().unwrap();
        })
    };
    let other = std::thread::spawn(move || b.by_ref().map(Result::unwrap).collect::<Vec<_>>());
    let got: Vec<u32> = a.by_ref().map(Result::unwrap).collect();
    assert_eq!(got, (0..500).collect::<Vec<_>>());
    assert_eq!(other.join().unwrap(), got);
    producer.join().unwrap();
    assert!(matches!(a.try_recv(), Err(Error::Closed { .. })));
    assert!(matches!(st.emit(1), Err(Error::Closed { .. })));
    assert_eq!(st.sequence().unwrap(), 500);
}

#[test]
fn stream_slowest_subscriber_applies_backpressure() {
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 4).unwrap();
    let mut slow = st.subscribe().unwrap();
    assert_eq!(st.try_emit_slice(&[1, 2, 3, 4, 5]).unwrap(), 4);
    assert!(matches!(
        st.try_emit(5),
        Err(zeroipc_codata::TrySendError::Full(_))
    ));
    assert!(
        st.emit_timeout(5, Duration::from_millis(10))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(slow.try_recv().unwrap(), Some(1));
    st.try_emit(5).unwrap();
    // Dropping the slow subscriber releases the producer.
    drop(slow);
    assert_eq!(st.subscribers().unwrap(), 0);
    let mut late = st.subscribe().unwrap();
    assert_eq!(
        late.try_recv().unwrap(),
        None,
        "a subscriber sees only later elements"
    );
    st.emit(6).unwrap();
    assert_eq!(late.recv_timeout(LONG).unwrap(), Some(6));
}

#[test]
fn subscription_position_counts_elements_from_the_stream_start() {
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 4).unwrap();
    let mut first = st.subscribe().unwrap();
    assert_eq!(first.position().unwrap(), 0);
    // Across several wrap-arounds of the 4-element buffer: position = elements taken.
    for v in 0..10u64 {
        st.emit(v).unwrap();
        assert_eq!(first.position().unwrap(), v);
        assert_eq!(first.try_recv().unwrap(), Some(v));
        assert_eq!(first.position().unwrap(), v + 1);
    }
    // A later subscriber starts at the sequence it subscribed at.
    st.emit(10).unwrap();
    let mut late = st.subscribe().unwrap();
    assert_eq!(late.position().unwrap(), st.sequence().unwrap());
    assert_eq!(late.position().unwrap(), 11);
    st.emit(11).unwrap();
    assert_eq!(late.try_recv().unwrap(), Some(11));
    assert_eq!(late.position().unwrap(), 12);
    // The first one has caught up once it took everything.
    assert_eq!(first.try_recv().unwrap(), Some(10));
    assert_eq!(first.try_recv().unwrap(), Some(11));
    assert_eq!(first.position().unwrap(), st.sequence().unwrap());
    // A cursor outside the buffered span is corruption, not a position.
    let e = s.find("st_subs").unwrap();
    let slot0 = e.offset() as usize + 32;
    s.raw().write::<u64>(slot0, 1 << 40).unwrap();
    assert!(first.position().is_err());
    s.raw().write::<u64>(slot0, 8 * 12 - 5).unwrap();
    assert!(
        first.position().is_err(),
        "not a multiple of the element size"
    );
}

#[test]
fn stream_rejects_corrupt_state() {
    let s = seg();
    let st = Stream::<u32>::create(&s, "st", 4).unwrap();
    let mut sub = st.subscribe().unwrap();
    st.emit(1).unwrap();
    // A write_pos far ahead of the cursor (more than the capacity) is corruption.
    let e = s.find("st_buffer").unwrap();
    s.raw().write::<u64>(e.offset() as usize, 1 << 40).unwrap();
    assert!(sub.try_recv().is_err());
    assert!(st.try_emit(2).is_err());
    corrupt_u8(&s, "st_header", 12, 2);
    assert!(Stream::<u32>::open(&s, "st").is_err());
    assert!(Stream::<u64>::open(&s, "st").is_err());
    assert!(Stream::<u32>::create(&s, "zero", 0).is_err());
}

// ----- Stream operators -------------------------------------------------------------

fn emit_all(st: &Stream<i64>, values: impl IntoIterator<Item = i64>) {
    for v in values {
        st.emit_timeout(v, LONG).unwrap();
    }
    st.close().unwrap();
}

#[test]
fn map_filter_scan_take_skip_compose() {
    let s = seg();
    let src = Stream::<i64>::create(&s, "src", 16).unwrap();
    let sq = src.map(&s, "sq", |x| x * x).unwrap();
    let even = sq.filter(&s, "even", |x| x % 2 == 0).unwrap();
    let sums = even.scan(&s, "sums", 0i64, |a, x| a + x).unwrap();
    let tail = sums.skip(&s, "tail", 2).unwrap();
    let first = tail.take(&s, "first", 3).unwrap();
    assert_eq!(sq.transform().unwrap(), "map");
    assert_eq!(even.transform().unwrap(), "filter");
    assert_eq!(first.transform().unwrap(), "take");
    let out = first.subscribe().unwrap();
    emit_all(&src, 0..20);
    let got: Vec<i64> = out.map(Result::unwrap).collect();
    let expect: Vec<i64> = (0..20i64)
        .map(|x| x * x)
        .filter(|x| x % 2 == 0)
        .scan(0, |a, x| {
            *a += x;
            Some(*a)
        })
        .skip(2)
        .take(3)
        .collect();
    assert_eq!(got, expect);
    for d in [sq, even, sums, tail, first] {
        d.join().unwrap();
    }
}

#[test]
fn count_and_time_windows_account_for_every_element() {
    let s = seg();
    let src = Stream::<i64>::create(&s, "src", 64).unwrap();
    let w = src.window::<4>(&s, "w4").unwrap();
    let t = src
        .window_time(&s, "wt", Duration::from_millis(5), |b: &[i64]| {
            [b.len() as i64, b.iter().sum::<i64>()]
        })
        .unwrap();
    let wsub = w.subscribe().unwrap();
    let tsub = t.subscribe().unwrap();
    let producer = {
        let src = src.clone();
        std::thread::spawn(move || {
            for v in 0..1002 {
                src.emit_timeout(v, LONG).unwrap();
                if v % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            src.close().unwrap();
        })
    };
    let windows: Vec<[i64; 4]> = wsub.map(Result::unwrap).collect();
    let batches: Vec<[i64; 2]> = tsub.map(Result::unwrap).collect();
    producer.join().unwrap();
    assert_eq!(windows.len(), 250, "the partial window of 2 is dropped");
    for (i, win) in windows.iter().enumerate() {
        let b = 4 * i as i64;
        assert_eq!(*win, [b, b + 1, b + 2, b + 3]);
    }
    assert_eq!(batches.iter().map(|b| b[0]).sum::<i64>(), 1002);
    assert_eq!(
        batches.iter().map(|b| b[1]).sum::<i64>(),
        (0..1002).sum::<i64>()
    );
    w.join().unwrap();
    t.join().unwrap();
}

#[test]
fn merge_zip_unfold_for_each_fold() {
    let s = seg();
    // `unfold` starts at once; the stream retains (then holds back) until the first
    // subscriber, which inherits everything retained.
    let a = Stream::<i64>::unfold(&s, "a", 8, 0i64, |n| (n < 100).then_some((n, n + 1))).unwrap();
    assert_eq!(a.transform().unwrap(), "unfold");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(
        a.fold(0i64, |acc, x| acc + x).unwrap(),
        (0..100).sum::<i64>()
    );
    a.join().unwrap();

    let b_src = Stream::<i64>::create(&s, "b", 8).unwrap();
    let c_src = Stream::<i64>::create(&s, "c", 8).unwrap();
    let merged = b_src.merge(&s, "m", &c_src).unwrap();
    let zipped = b_src.zip(&s, "z", &c_src).unwrap();
    let msub = merged.subscribe().unwrap();
    let zsub = zipped.subscribe().unwrap();
    let (b2, c2) = (b_src.clone(), c_src.clone());
    let pb = std::thread::spawn(move || emit_all(&b2, 0..50));
    let pc = std::thread::spawn(move || emit_all(&c2, 1000..1040));
    let zt = std::thread::spawn(move || zsub.map(Result::unwrap).collect::<Vec<[i64; 2]>>());
    let m: Vec<i64> = msub.map(Result::unwrap).collect();
    let z = zt.join().unwrap();
    pb.join().unwrap();
    pc.join().unwrap();
    let from_b: Vec<i64> = m.iter().copied().filter(|x| *x < 1000).collect();
    let from_c: Vec<i64> = m.iter().copied().filter(|x| *x >= 1000).collect();
    assert_eq!(
        from_b,
        (0..50).collect::<Vec<_>>(),
        "each source's order kept"
    );
    assert_eq!(from_c, (1000..1040).collect::<Vec<_>>());
    assert_eq!(z, (0..40).map(|i| [i, 1000 + i]).collect::<Vec<_>>());
    merged.join().unwrap();
    zipped.join().unwrap();

    let f = Stream::<i64>::create(&s, "f", 4).unwrap();
    let f2 = f.clone();
    let feeder = std::thread::spawn(move || emit_all(&f2, 1..=5));
    let mut seen = Vec::new();
    f.for_each(|x| seen.push(x)).unwrap();
    feeder.join().unwrap();
    assert_eq!(
        seen,
        [1, 2, 3, 4, 5],
        "the first subscriber gets what was retained"
    );
}

#[test]
fn hostile_stream_positions_and_slots_give_errors_not_panics() {
    let s = seg();
    let st = Stream::<u64>::create(&s, "st", 4).unwrap();
    let mut sub = st.subscribe().unwrap();
    let buf = s.find("st_buffer").unwrap().offset() as usize;
    let subs = s.find("st_subs").unwrap().offset() as usize;
    // Positions at the top of the u64 range: advancing would overflow.
    s.raw().write::<u64>(buf, u64::MAX - 7).unwrap();
    s.raw().write::<u64>(buf + 8, u64::MAX - 7).unwrap();
    s.raw().write::<u64>(subs + 32, u64::MAX - 7).unwrap();
    assert!(st.try_emit(1).is_err());
    assert!(sub.try_recv().unwrap().is_none());
    // A cursor ahead of write_pos is corruption.
    s.raw().write::<u64>(buf, 64).unwrap();
    s.raw().write::<u64>(buf + 8, 64).unwrap();
    s.raw().write::<u64>(subs + 32, 72).unwrap();
    assert!(sub.try_recv().is_err());
    assert!(st.try_emit(1).is_err());
    // A foreign pid in our slot is reported.
    s.raw().write::<u64>(subs + 32, 64).unwrap();
    s.raw().write::<u32>(subs + 40, 1).unwrap();
    assert!(sub.try_recv().is_err());
    // Bad slot count or multicast flag.
    s.raw().write::<u32>(subs + 16, 9).unwrap();
    assert!(st.try_emit(1).is_err());
    s.raw().write::<u32>(subs, 3).unwrap();
    assert!(Stream::<u64>::open(&s, "st").is_err());
}

#[test]
fn hostile_channel_peer_table_is_rejected() {
    let s = seg();
    Channel::<u32>::create(&s, "c", 4).unwrap();
    let peers = s.find("c_peers").unwrap().offset() as usize;
    s.raw().write::<u32>(peers, 1000).unwrap();
    assert!(Channel::<u32>::open(&s, "c").is_err());
    s.raw().write::<u32>(peers, 32).unwrap();
    let c = Channel::<u32>::open(&s, "c").unwrap();
    // Garbage slot words: unknown kinds are ignored, a huge pid counts as dead.
    s.raw().write::<u64>(peers + 16, u64::MAX).unwrap();
    s.raw()
        .write::<u64>(peers + 24, (1 << 32) | 0xFFFF_FFF0)
        .unwrap();
    assert_eq!(c.live_senders().unwrap(), Some(0));
    assert_eq!(c.live_receivers().unwrap(), Some(0));
    let tx = c.sender().unwrap();
    assert_eq!(c.live_senders().unwrap(), Some(1));
    drop(tx);
}

#[test]
fn lazy_recovers_from_a_stale_dead_owner_after_reset() {
    let s = seg();
    let l = Lazy::<u32>::create(&s, "l").unwrap();
    assert_eq!(l.get_or_compute(|| 1).unwrap(), 1);
    // A computer that died after publishing but before clearing the owner word.
    let owner = s.find("l_owner").unwrap().offset() as usize;
    s.raw().write::<u32>(owner, 4_999_999).unwrap();
    assert!(l.reset().unwrap());
    assert_eq!(l.get_or_compute_timeout(|| 2, LONG).unwrap(), 2);
    assert_eq!(l.compute_count().unwrap(), 2);
    assert_eq!(s.raw().read::<u32>(owner).unwrap(), 0, "owner released");
}

#[test]
fn channel_is_full_for_buffered_and_unbuffered() {
    let s = seg();
    let ch = Channel::<u32>::create(&s, "full", 2).unwrap();
    assert!(!ch.is_full().unwrap());
    ch.send(1).unwrap();
    assert!(!ch.is_full().unwrap());
    ch.send(2).unwrap();
    assert!(ch.is_full().unwrap());
    assert!(
        matches!(ch.try_send(3), Err(zeroipc_codata::TrySendError::Full(3))),
        "full means a send would wait"
    );
    assert_eq!(ch.recv().unwrap(), Some(1));
    assert!(!ch.is_full().unwrap());
    let rv = Channel::<u32>::create_unbuffered(&s, "rv").unwrap();
    assert!(!rv.is_full().unwrap(), "no value offered yet");
}
