//! Crash matrix (docs/RELIABILITY.md), the cells not in `crash`: a peer blocked in a channel
//! operation, a stream producer between writing an element and publishing it, a future
//! setter between claiming and publishing. The peer is SIGKILLed once its state is visible
//! in shared memory; the survivors must return within `BOUND` with acknowledged data intact.

use std::time::{Duration, Instant};

use zeroipc_codata::{Channel, Error, Future, FutureState, Receiver, Sender, Stream};
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Region, Segment};
use zeroipc_testkit::{park_forever, role};

use crate::{child_open, child_segment, eventually, segment, signal, spawn_one, spawn_ready};

/// How long a peer may take to start and reach its point.
const START: Duration = Duration::from_secs(30);
/// Bound for a survivor's operation (peer liveness is checked once per slice of at most
/// 10 ms; allow for a loaded 2-core machine).
const BOUND: Duration = Duration::from_secs(5);
/// Values the peer sends or emits (and has acknowledged) before it is killed.
const ACKED: u32 = 2;

fn raw(seg: &Segment, name: &str) -> Region {
    seg.region(&seg.find(name).unwrap()).unwrap()
}

/// Runs `op` and asserts it returns within `BOUND`.
fn bounded<R>(what: &str, op: impl FnOnce() -> R) -> R {
    let t = Instant::now();
    let r = op();
    assert!(t.elapsed() < BOUND, "{what} took {:?}", t.elapsed());
    r
}

/// What `rx` gives within BOUND (`None`: the end of the channel).
fn recv<T: bytemuck::Pod>(rx: &Receiver<T>) -> Option<T> {
    bounded("recv", || rx.recv_timeout(BOUND).unwrap())
}

/// Asserts that the counter of blocked peers at `at` of `header` reaches 1 within START: the
/// child is blocked there.
fn await_blocked(header: &Region, at: usize, who: &str) {
    let blocked = || header.atomic_u32(at).unwrap().load(Ordering::SeqCst) == 1;
    assert!(eventually(START, blocked), "{who} never blocked");
}

/// The rendezvous channel is still usable: `v`, sent by `tx` from another thread, arrives.
fn hands_over(tx: Sender<u64>, rx: &Receiver<u64>, v: u64) {
    std::thread::scope(|s| {
        s.spawn(move || tx.send_timeout(v, BOUND).unwrap());
        assert_eq!(recv(rx), Some(v));
    });
}

#[test]
fn channel_sender_killed_while_blocked_on_full_receiver_drains_then_ends() {
    const TEST: &str =
        "crash_matrix::channel_sender_killed_while_blocked_on_full_receiver_drains_then_ends";
    if role().is_some() {
        let (_seg, c) = child_open(Channel::<u32>::open, "c");
        let tx = c.sender().unwrap();
        for v in 1..=ACKED {
            tx.send(v).unwrap(); // acknowledged: `send` returned
        }
        tx.send(99).unwrap(); // blocks: the channel is full
        unreachable!("killed while blocked");
    }
    let (seg, _g, name) = segment("cmcs", 1 << 16);
    let c = Channel::<u32>::create(&seg, "c", ACKED as usize).unwrap();
    let rx = c.receiver().unwrap();
    let kid = spawn_one(TEST, "sender", &name);
    // The header's `senders` word counts senders blocked on a full buffer (spec §4.20).
    await_blocked(&raw(&seg, "c_header"), 4, "sender");
    kid.kill();
    for v in 1..=ACKED {
        assert_eq!(recv(&rx), Some(v));
    }
    // The only registered sender is dead: the end of the channel, not a hang; the value it
    // was blocked on was never sent.
    assert_eq!(recv(&rx), None);
    assert_eq!(c.live_senders().unwrap(), Some(0));
    // Still usable: a new sender revives it.
    let tx = c.sender().unwrap();
    tx.send_timeout(7, BOUND).unwrap();
    assert_eq!(recv(&rx), Some(7));
    drop(tx);
    assert_eq!(recv(&rx), None);
}

#[test]
fn rendezvous_sender_killed_while_offering_receiver_gets_the_offer_then_the_end() {
    const TEST: &str = "crash_matrix::rendezvous_sender_killed_while_offering_receiver_gets_the_offer_then_the_end";
    if role().is_some() {
        let (_seg, c) = child_open(Channel::<u64>::open, "rv");
        let tx = c.sender().unwrap();
        tx.send(42).unwrap(); // offers, then waits for a receiver that never comes
        unreachable!("killed while offering");
    }
    let (seg, _g, name) = segment("cmrs", 1 << 16);
    let c = Channel::<u64>::create_unbuffered(&seg, "rv").unwrap();
    let kid = spawn_one(TEST, "sender", &name);
    // `ready` (byte 0 of the slot) is set once the value is offered (spec §4.20).
    let slot = raw(&seg, "rv_slot");
    assert!(
        eventually(START, || slot.read::<u8>(0).unwrap() == 1),
        "sender never offered"
    );
    kid.kill();
    let rx = c.receiver().unwrap();
    // The layout has no claim field: the dead sender's offer is still in the slot and is
    // delivered once (it was never acknowledged to the sender, so a restarted sender that
    // resends it makes a duplicate, not a loss).
    assert_eq!(recv(&rx), Some(42));
    assert_eq!(recv(&rx), None);
    // Still usable: the slot is free again for a new sender.
    hands_over(c.sender().unwrap(), &rx, 8);
}

#[test]
fn rendezvous_receiver_killed_while_blocked_in_recv_sender_gets_disconnected() {
    const TEST: &str =
        "crash_matrix::rendezvous_receiver_killed_while_blocked_in_recv_sender_gets_disconnected";
    if role().is_some() {
        let (_seg, c) = child_open(Channel::<u64>::open, "rv");
        let rx = c.receiver().unwrap();
        let _ = rx.recv(); // blocks: nobody sends
        unreachable!("killed while blocked");
    }
    let (seg, _g, name) = segment("cmrr", 1 << 16);
    let c = Channel::<u64>::create_unbuffered(&seg, "rv").unwrap();
    let kid = spawn_one(TEST, "receiver", &name);
    // The header's `receivers` word counts receivers blocked in `recv`.
    await_blocked(&raw(&seg, "rv_header"), 8, "receiver");
    kid.kill();
    let tx = c.sender().unwrap();
    let r = bounded("send", || tx.send_timeout(5, Duration::from_secs(3)));
    assert!(
        matches!(
            r,
            Err(Error::Disconnected {
                side: "receiver",
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(c.len().unwrap(), 0, "the offer was withdrawn");
    // Still usable with a live receiver.
    hands_over(tx, &c.receiver().unwrap(), 6);
}

#[test]
fn stream_producer_killed_mid_emit_subscriber_keeps_committed_and_times_out() {
    const TEST: &str =
        "crash_matrix::stream_producer_killed_mid_emit_subscriber_keeps_committed_and_times_out";
    if role().is_some() {
        let (seg, st) = child_open(Stream::<u32>::open, "st");
        for v in 1..=ACKED {
            st.emit(v * 10).unwrap();
        }
        // Mid-emit: the element's bytes are copied into the ring at `write_pos` (spec §4.19,
        // §4.4), then killed before `write_pos` is published.
        let ring = raw(&seg, "st_buffer");
        let w = ring.atomic_u64(0).unwrap().load(Ordering::Relaxed);
        let cap = u64::from(ring.read::<u32>(16).unwrap());
        ring.write::<u32>(24 + (w % cap) as usize, 0xdead_beef)
            .unwrap();
        signal(&seg, "ready");
        park_forever();
    }
    let (seg, _g, name) = segment("cmsp", 1 << 16);
    let st = Stream::<u32>::create(&seg, "st", 8).unwrap();
    let mut sub = st.subscribe().unwrap();
    let kid = spawn_ready(TEST, "producer", &seg, &name, "ready");
    kid.kill();
    for v in 1..=ACKED {
        assert_eq!(
            bounded("recv", || sub.recv_timeout(BOUND).unwrap()),
            Some(v * 10)
        );
    }
    // The unpublished element is invisible; with no producer the subscriber times out (the
    // stream records no producer, so there is nothing to detect the death by).
    let r = bounded("recv", || sub.recv_timeout(Duration::from_millis(200)));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert_eq!(st.sequence().unwrap(), u64::from(ACKED));
    // Still usable: a new producer overwrites the dead one's bytes, and closing ends the
    // subscription after the drain.
    st.emit_timeout(30, BOUND).unwrap();
    st.close().unwrap();
    assert_eq!(
        bounded("recv", || sub.recv_timeout(BOUND).unwrap()),
        Some(30)
    );
    assert_eq!(bounded("recv", || sub.recv_timeout(BOUND).unwrap()), None);
}

#[test]
fn future_setter_killed_after_claiming_getters_time_out() {
    const TEST: &str = "crash_matrix::future_setter_killed_after_claiming_getters_time_out";
    if let Some(r) = role() {
        let seg = child_segment();
        if r == "getter" {
            let f = Future::<u64>::open(&seg, "f").unwrap();
            let t = Instant::now();
            let r = f.get_timeout(Duration::from_millis(300));
            assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
            assert!(t.elapsed() < BOUND);
            return;
        }
        // §4.17 set_value: claim (state PENDING -> COMPUTING), write the value, publish;
        // killed after the claim and half the value.
        let f = raw(&seg, "f");
        f.atomic_u32(0)
            .unwrap()
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .unwrap();
        f.write::<u32>(16, 0xdead).unwrap();
        signal(&seg, "ready");
        park_forever();
    }
    let (seg, _g, name) = segment("cmfs", 1 << 16);
    let f = Future::<u64>::create(&seg, "f").unwrap();
    let setter = spawn_ready(TEST, "setter", &seg, &name, "ready");
    let getter = spawn_one(TEST, "getter", &name);
    setter.kill();
    let r = bounded("get", || f.get_timeout(Duration::from_millis(300)));
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    getter.wait_success(START);
    // The half-written value is never exposed, and the claim cannot be taken over (the
    // layout records no setter; spec §4.17: completed once).
    assert_eq!(f.state().unwrap(), FutureState::Computing);
    assert_eq!(f.try_get().unwrap(), None);
    assert!(matches!(f.set_value(1), Err(Error::AlreadySet { .. })));
    assert_eq!(f.waiters().unwrap(), 0, "timed-out getters unregistered");
}

/// A producer (consumer) SIGKILLed between claiming a queue position and publishing
/// (emptying) its slot leaves the claim behind: the queue's `tail` (`head`) moved, the slot
/// did not. Waiters that see such a claim poll again instead of sleeping, since the claimer
/// decides on wake-ups right after its claim (docs/SPECIFICATION.md, "Channel waits"); a
/// claim that never completes must still end their timed waits with `Timeout`, not a hang or
/// a corruption error. The claims are made here by hand on the queue's counters, as the dead
/// peer left them.
#[test]
fn channel_claim_left_by_a_killed_peer_ends_timed_waits_with_timeout() {
    use zeroipc_structures::layout::QueueHeader;
    let (seg, _guard, _) = segment("cm_claim", 1 << 20);
    let c = Channel::<u64>::create(&seg, "c", 2).unwrap();
    let queue = raw(&seg, "c_buffer");
    let counter = |at: usize| queue.atomic_u32(at).unwrap();

    // A producer claimed position 0 and died before publishing it.
    counter(QueueHeader::TAIL).fetch_add(1, Ordering::SeqCst);
    let r = bounded("recv over a dead claim", || {
        c.recv_timeout(Duration::from_millis(50))
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");

    // A fresh channel: two values fill it, then a consumer claims the first and dies before
    // emptying its slot; a sender waiting for room must time out.
    let c = Channel::<u64>::create(&seg, "d", 2).unwrap();
    let queue = raw(&seg, "d_buffer");
    c.send(1).unwrap();
    c.send(2).unwrap();
    queue
        .atomic_u32(QueueHeader::HEAD)
        .unwrap()
        .fetch_add(1, Ordering::SeqCst);
    let r = bounded("send over a dead claim", || {
        c.send_timeout(3, Duration::from_millis(50))
    });
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    // The value behind the dead claim is still delivered.
    assert_eq!(c.recv_timeout(BOUND).unwrap(), Some(2));
}
