//! Crash tests: a peer is killed with SIGKILL at a chosen point; the survivors neither hang
//! nor lose acknowledged data.

use std::time::{Duration, Instant};

use zeroipc_codata::{Channel, Error, Lazy, LazyState, Sender};
use zeroipc_testkit::role;

use crate::{child_open, eventually, segment, signal, spawn_one, spawn_ready};

const LONG: Duration = Duration::from_secs(60);

/// Asserts that sending `v` fails with `Disconnected` (every receiver gone) within 10 s: an
/// error, not a hang.
fn disconnected_promptly<T: bytemuck::Pod>(tx: &Sender<T>, v: T) {
    let start = Instant::now();
    let r = tx.send_timeout(v, LONG);
    let gone = matches!(
        r,
        Err(Error::Disconnected {
            side: "receiver",
            ..
        })
    );
    assert!(gone, "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(10), "no hang");
}

#[test]
fn lazy_computer_killed_another_process_takes_over() {
    if role().is_some() {
        let (_seg, l) = child_open(Lazy::<u64>::open, "l");
        l.get_or_compute(|| {
            loop {
                // Computes forever: the parent kills us mid-computation.
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap();
        unreachable!("the computation never finishes");
    }
    let (seg, _g, name) = segment("cdlazyk", 1 << 16);
    let l = Lazy::<u64>::create(&seg, "l").unwrap();
    let kid = spawn_one(
        "crash::lazy_computer_killed_another_process_takes_over",
        "computer",
        &name,
    );
    assert!(eventually(LONG, || l.state().unwrap() == LazyState::Computing));
    // Waiting while the computer lives: a timeout, not a takeover.
    assert!(
        l.get_or_compute_timeout(|| 1, Duration::from_millis(50))
            .unwrap_err()
            .is_timeout()
    );
    kid.kill();
    let start = Instant::now();
    assert_eq!(l.get_or_compute_timeout(|| 77, LONG).unwrap(), 77);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took over promptly"
    );
    assert_eq!(l.compute_count().unwrap(), 1);
    assert_eq!(
        Lazy::<u64>::open(&seg, "l").unwrap().try_get().unwrap(),
        Some(77)
    );
}

#[test]
fn channel_receiver_killed_senders_get_an_error_not_a_hang() {
    if role().is_some() {
        let (seg, c) = child_open(Channel::<u32>::open, "c");
        let rx = c.receiver().unwrap();
        signal(&seg, "ready");
        // Takes one value, then blocks until killed.
        assert_eq!(rx.recv_timeout(LONG).unwrap(), Some(1));
        let _ = rx.recv_timeout(LONG);
        unreachable!("killed while blocked");
    }
    let (seg, _g, name) = segment("cdrxk", 1 << 16);
    let c = Channel::<u32>::create(&seg, "c", 2).unwrap();
    let kid = spawn_ready(
        "crash::channel_receiver_killed_senders_get_an_error_not_a_hang",
        "receiver",
        &seg,
        &name,
        "ready",
    );
    let tx = c.sender().unwrap();
    tx.send_timeout(1, LONG).unwrap();
    assert!(
        eventually(LONG, || c.is_empty().unwrap()),
        "the receiver took it"
    );
    kid.kill();
    tx.send_timeout(2, LONG).unwrap();
    tx.send_timeout(3, LONG).unwrap();
    disconnected_promptly(&tx, 4);
    // An unregistered sender gets its timeout.
    assert!(
        c.send_timeout(4, Duration::from_millis(20))
            .unwrap_err()
            .is_timeout()
    );
    assert_eq!(c.live_receivers().unwrap(), Some(0));
}

#[test]
fn stream_subscriber_killed_producer_is_not_held_back() {
    use zeroipc_codata::Stream;
    if role().is_some() {
        let (_seg, st) = child_open(Stream::<u32>::open, "st");
        let _sub = st.subscribe().unwrap();
        // Never reads: holds the producer back until killed.
        std::thread::sleep(LONG);
        unreachable!("killed while subscribed");
    }
    let (seg, _g, name) = segment("cdsubk", 1 << 16);
    let st = Stream::<u32>::create(&seg, "st", 8).unwrap();
    let kid = spawn_one(
        "crash::stream_subscriber_killed_producer_is_not_held_back",
        "subscriber",
        &name,
    );
    assert!(eventually(LONG, || st.subscribers().unwrap() == 1));
    for v in 0..8 {
        st.emit_timeout(v, LONG).unwrap();
    }
    assert!(
        matches!(st.try_emit(8), Err(zeroipc_codata::TrySendError::Full(_))),
        "held back by the live subscriber"
    );
    kid.kill();
    let start = Instant::now();
    st.emit_timeout(8, LONG).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "released within the liveness check, took {:?}",
        start.elapsed()
    );
    assert_eq!(
        st.subscribers().unwrap(),
        0,
        "the dead subscriber was dropped"
    );
}

#[test]
fn rendezvous_receiver_killed_sender_gets_disconnected() {
    if role().is_some() {
        let (seg, c) = child_open(Channel::<u64>::open, "rv");
        let _rx = c.receiver().unwrap();
        signal(&seg, "ready");
        // Registered but never receives: killed while "alive".
        std::thread::sleep(LONG);
        unreachable!("killed");
    }
    let (seg, _g, name) = segment("cdrvk", 1 << 16);
    let c = Channel::<u64>::create_unbuffered(&seg, "rv").unwrap();
    let kid = spawn_ready(
        "crash::rendezvous_receiver_killed_sender_gets_disconnected",
        "receiver",
        &seg,
        &name,
        "ready",
    );
    let tx = c.sender().unwrap();
    // While the receiver lives, an offer nobody takes times out.
    assert!(
        tx.send_timeout(1, Duration::from_millis(30))
            .unwrap_err()
            .is_timeout()
    );
    kid.kill();
    disconnected_promptly(&tx, 2);
    assert_eq!(c.len().unwrap(), 0, "the offer was withdrawn");
}
