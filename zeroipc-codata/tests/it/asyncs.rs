//! The async API (feature `async`) on every runtime (tokio current-thread and multi-thread,
//! smol), against peers in other processes (this binary re-executed as the child).

use std::future::poll_fn;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use zeroipc_codata::{Channel, Error, Future, Lazy, Receiver, Stream};
use zeroipc_format::Segment;
use zeroipc_format::atomic::Ordering;
use zeroipc_sync::reactor::{helper_threads, pending_waits};
use zeroipc_testkit::{Child, Runtime, ShmGuard, park_forever, role, unique_name};

use crate::{LIMIT, child_open, child_segment, signal};

/// The reactor's counters are per process: these tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn named(tag: &str, size: u64, entries: u32) -> (Segment, ShmGuard, String) {
    let name = unique_name(tag);
    let guard = ShmGuard::new(&name);
    let seg = Segment::create(&name, size, entries).unwrap();
    (seg, guard, name)
}

/// Spins until an await of this process is pending in the reactor.
fn until_an_await_is_pending() {
    while pending_waits() == 0 {
        std::thread::yield_now();
    }
}

/// Kills `kid` from another thread once an await of this process is pending.
fn kill_once_pending(kid: Child) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        until_an_await_is_pending();
        kid.kill();
    })
}

fn child(test: &str, role: &str, seg: &str) -> Child {
    Child::spawn(&format!("asyncs::{test}"), role, &[("SEG", seg)])
}

/// `StreamExt::next` without a futures-util dependency.
async fn next<S: futures_core::Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Polls `fut` once with a no-op waker.
fn poll_once<F: std::future::Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

const ITEMS: u64 = 100_000;

#[test]
fn recv_async_gets_100k_items_in_order_from_another_process() {
    if role().is_some() {
        let (_seg, ch) = child_open(Channel::<u64>::open, "ch");
        for i in 0..ITEMS {
            ch.send(i).unwrap();
        }
        ch.close().unwrap();
        return;
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = named("async-100k", 1 << 20, 64);
        let ch = Channel::<u64>::create(&seg, "ch", 1024).unwrap();
        let kid = child(
            "recv_async_gets_100k_items_in_order_from_another_process",
            "sender",
            &name,
        );
        let n = rt.block_on(async {
            let mut expect = 0u64;
            while let Some(v) = ch.recv_async().await.unwrap() {
                assert_eq!(v, expect, "{rt:?}: in order");
                expect += 1;
            }
            expect
        });
        kid.wait_success(LIMIT);
        assert_eq!(n, ITEMS, "{rt:?}");
    }
}

#[test]
fn receiver_stream_yields_100k_items_in_order_from_another_process() {
    if role().is_some() {
        let seg = child_segment();
        let tx = Channel::<u64>::open(&seg, "ch").unwrap().sender().unwrap();
        for i in 0..ITEMS {
            tx.send(i).unwrap();
        }
        // Dropping the only registered sender ends the receiver's stream.
        return;
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = named("async-stream", 1 << 20, 64);
        let ch = Channel::<u64>::create(&seg, "ch", 1024).unwrap();
        let mut rx: Receiver<u64> = ch.receiver().unwrap();
        let kid = child(
            "receiver_stream_yields_100k_items_in_order_from_another_process",
            "sender",
            &name,
        );
        // The stream ends when every registered sender is gone: wait for the child's
        // registration first, or an empty channel with no sender yet would be "the end" only
        // if one had registered before (it has not), so this is for a clean count.
        let n = rt.block_on(async {
            let mut expect = 0u64;
            while let Some(v) = next(&mut rx).await {
                assert_eq!(v.unwrap(), expect, "{rt:?}: in order");
                expect += 1;
            }
            expect
        });
        kid.wait_success(LIMIT);
        assert_eq!(n, ITEMS, "{rt:?}");
    }
}

const TASKS: usize = 1_000;

#[test]
fn a_thousand_tasks_each_awaiting_its_own_channel_all_complete() {
    if role().is_some() {
        let (seg, go) = child_open(Future::<u8>::open, "go");
        go.get_timeout(LIMIT).unwrap();
        for i in 0..TASKS {
            let ch = Channel::<u64>::open(&seg, &format!("c{i}")).unwrap();
            ch.send(i as u64 * 3).unwrap();
        }
        return;
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = named("async-1k", 16 << 20, 3 * TASKS as u32 + 16);
        let chans: Vec<Channel<u64>> = (0..TASKS)
            .map(|i| Channel::<u64>::create(&seg, &format!("c{i}"), 2).unwrap())
            .collect();
        let go = Future::<u8>::create(&seg, "go").unwrap();
        let kid = child(
            "a_thousand_tasks_each_awaiting_its_own_channel_all_complete",
            "sender",
            &name,
        );
        let before = zeroipc_testkit::threads();
        let (sum, peak_helpers, peak_threads) = rt.block_on(async {
            let tasks: Vec<_> = chans
                .iter()
                .cloned()
                .map(|c| rt.spawn(async move { c.recv_async().await.unwrap().unwrap() }))
                .collect();
            // Every task registered and waiting, none can have completed: the child only
            // sends after `go`.
            let mut peak = (0, 0);
            while pending_waits() < TASKS {
                peak = (
                    peak.0.max(helper_threads()),
                    peak.1.max(zeroipc_testkit::threads()),
                );
                rt.yield_now().await;
            }
            peak = (
                peak.0.max(helper_threads()),
                peak.1.max(zeroipc_testkit::threads()),
            );
            go.set_value(1).unwrap();
            let mut sum = 0;
            for t in tasks {
                sum += t.await;
            }
            (sum, peak.0, peak.1)
        });
        kid.wait_success(LIMIT);
        let n = TASKS as u64;
        assert_eq!(sum, 3 * n * (n - 1) / 2, "{rt:?}: every task got its item");
        assert!(
            peak_helpers <= TASKS.div_ceil(100),
            "{rt:?}: {peak_helpers} helper threads for {TASKS} waits"
        );
        // The test harness and runtime threads (2 tokio workers, smol's executor) + helpers.
        assert!(
            peak_threads <= before + 3 + TASKS.div_ceil(100),
            "{rt:?}: {peak_threads} threads (before the tasks: {before})"
        );
    }
}

/// Polls `fut` until it completes, or drops it after `polls` pending polls (each pending
/// poll wakes itself, so the future is re-polled at once, registered or not).
async fn cancel_after<F: std::future::Future>(fut: F, polls: u32) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut n = 0;
    poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(v) => Poll::Ready(Some(v)),
        Poll::Pending if n >= polls => Poll::Ready(None),
        Poll::Pending => {
            n += 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

const CANCEL_ITEMS: u64 = 10_000;
/// The sender pauses after every chunk until the receiver acknowledges it, so each chunk
/// boundary has a `recv_async` that is surely pending (the channel is empty) when dropped.
const CANCEL_CHUNK: u64 = 100;

#[test]
fn dropping_pending_recv_async_loses_nothing_exactly_once_over_10k_items() {
    if role().is_some() {
        let (seg, ch) = child_open(Channel::<u64>::open, "ch");
        let ack = Channel::<u64>::open(&seg, "ack").unwrap();
        for i in 0..CANCEL_ITEMS {
            ch.send(i).unwrap();
            if (i + 1) % CANCEL_CHUNK == 0 {
                assert_eq!(
                    ack.recv().unwrap(),
                    Some(i),
                    "the receiver acknowledged the chunk"
                );
            }
        }
        ch.close().unwrap();
        return;
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = named("async-cancel", 1 << 20, 64);
        let ch = Channel::<u64>::create(&seg, "ch", 8).unwrap();
        let ack = Channel::<u64>::create(&seg, "ack", 1).unwrap();
        let kid = child(
            "dropping_pending_recv_async_loses_nothing_exactly_once_over_10k_items",
            "sender",
            &name,
        );
        let (got, cancelled, at_boundaries) = rt.block_on(async {
            let mut rng = 0x9e37_79b9_7f4a_7c15u64;
            let mut got = Vec::with_capacity(CANCEL_ITEMS as usize);
            let (mut cancelled, mut at_boundaries) = (0u64, 0u64);
            loop {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Half the receives are dropped after 0..=2 pending polls (whether one is
                // pending depends on timing).
                let r = if rng.is_multiple_of(2) {
                    cancel_after(ch.recv_async(), (rng >> 8) as u32 % 3).await
                } else {
                    Some(ch.recv_async().await)
                };
                match r {
                    None => cancelled += 1,
                    Some(Ok(Some(v))) => {
                        got.push(v);
                        if (v + 1) % CANCEL_CHUNK == 0 {
                            // The sender waits for the ack: nothing can arrive, so this
                            // receive is pending when it is dropped.
                            if cancel_after(ch.recv_async(), 1).await.is_none() {
                                at_boundaries += 1;
                            }
                            ack.send_async(v).await.unwrap();
                        }
                    }
                    Some(Ok(None)) => break,
                    Some(Err(e)) => panic!("{rt:?}: {e}"),
                }
            }
            (got, cancelled, at_boundaries)
        });
        kid.wait_success(LIMIT);
        let want: Vec<u64> = (0..CANCEL_ITEMS).collect();
        assert_eq!(
            got, want,
            "{rt:?}: every item exactly once, in order ({cancelled} random cancellations)"
        );
        assert_eq!(
            at_boundaries,
            CANCEL_ITEMS / CANCEL_CHUNK,
            "{rt:?}: a receive on an empty channel stays pending until dropped"
        );
        assert_eq!(pending_waits(), 0, "{rt:?}: no registration left behind");
    }
}

#[test]
fn a_dropped_pending_send_async_did_not_send() {
    let _serial = serial();
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let ch = Channel::<u32>::create(&seg, "ch", 2).unwrap();
    ch.send(1).unwrap();
    ch.send(2).unwrap();
    {
        let mut fut = pin!(ch.send_async(3));
        assert!(poll_once(fut.as_mut()).is_pending());
    }
    assert_eq!(ch.try_recv().unwrap(), Some(1));
    assert_eq!(ch.try_recv().unwrap(), Some(2));
    assert_eq!(
        ch.try_recv().unwrap(),
        None,
        "the dropped send left nothing"
    );
    for rt in Runtime::ALL {
        ch.send(1).unwrap();
        ch.send(2).unwrap();
        let c2 = ch.clone();
        let t = std::thread::spawn(move || {
            until_an_await_is_pending();
            c2.recv().unwrap()
        });
        rt.block_on(ch.send_async(3)).unwrap();
        assert_eq!(t.join().unwrap(), Some(1));
        assert_eq!(ch.try_recv().unwrap(), Some(2));
        assert_eq!(ch.try_recv().unwrap(), Some(3), "{rt:?}");
    }
}

#[test]
fn a_killed_receiver_process_ends_a_pending_send_async_with_disconnected() {
    if role().is_some() {
        let seg = child_segment();
        let _rx = Channel::<u64>::open(&seg, "ch")
            .unwrap()
            .receiver()
            .unwrap();
        signal(&seg, "registered");
        // Never receive; wait to be killed.
        park_forever();
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = named("async-kill-rx", 1 << 16, 64);
        let ch = Channel::<u64>::create(&seg, "ch", 2).unwrap();
        let registered = Future::<u8>::create(&seg, "registered").unwrap();
        let tx = ch.sender().unwrap();
        tx.send(1).unwrap();
        tx.send(2).unwrap(); // full
        let kid = child(
            "a_killed_receiver_process_ends_a_pending_send_async_with_disconnected",
            "receiver",
            &name,
        );
        registered.get_timeout(LIMIT).unwrap();
        let killer = kill_once_pending(kid);
        let r = rt.block_on(tx.send_async(3));
        killer.join().unwrap();
        assert!(
            matches!(r, Err(Error::Disconnected { .. })),
            "{rt:?}: got {r:?}, the blocking send's error is Disconnected"
        );
    }
}

#[test]
fn a_killed_sender_process_ends_a_pending_recv_async_as_recv_does() {
    if role().is_some() {
        let seg = child_segment();
        let tx = Channel::<u64>::open(&seg, "ch").unwrap().sender().unwrap();
        tx.send(7).unwrap(); // `tx` stays registered while this child waits to be killed
        park_forever();
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = named("async-kill-tx", 1 << 16, 64);
        let ch = Channel::<u64>::create(&seg, "ch", 4).unwrap();
        let rx = ch.receiver().unwrap();
        let kid = child(
            "a_killed_sender_process_ends_a_pending_recv_async_as_recv_does",
            "sender",
            &name,
        );
        // The child's value proves its sender is registered (a channel whose senders never
        // registered does not end when they die, for blocking `recv` either).
        let first = rt.block_on(rx.recv_async()).unwrap();
        let killer = kill_once_pending(kid);
        let end = rt.block_on(rx.recv_async()).unwrap();
        killer.join().unwrap();
        assert_eq!(first, Some(7), "{rt:?}");
        assert_eq!(
            end, None,
            "{rt:?}: every sender gone and drained ends the channel"
        );
    }
}

#[test]
fn future_lazy_and_subscription_await_a_thread() {
    let _serial = serial();
    for rt in Runtime::ALL {
        let seg = Segment::anonymous(1 << 20, 64).unwrap();
        let fut = Future::<f64>::create(&seg, "f").unwrap();
        let failed = Future::<u32>::create(&seg, "failed").unwrap();
        let lazy = Lazy::<u64>::create_add(&seg, "l", 40, 2).unwrap();
        let stream = Stream::<u32>::create(&seg, "s", 256).unwrap();
        let mut sub = stream.subscribe().unwrap();
        // Room for all 100 elements: `sub2` is only read after `sub` (multicast backpressure).
        let mut sub2 = stream.subscribe().unwrap();
        let f2 = Future::<f64>::open(&seg, "f").unwrap();
        let e2 = Future::<u32>::open(&seg, "failed").unwrap();
        let s2 = stream.clone();
        let peer = std::thread::spawn(move || {
            until_an_await_is_pending();
            f2.set_value(2.5).unwrap();
            until_an_await_is_pending();
            e2.set_error("boom").unwrap();
            for i in 0..100 {
                s2.emit(i).unwrap();
            }
            s2.close().unwrap();
        });
        rt.block_on(async {
            assert_eq!(fut.get_async().await.unwrap(), 2.5);
            let e = failed.get_async().await.unwrap_err();
            assert_eq!(e.failure_message(), Some("boom"));
            assert_eq!(lazy.force_async().await.unwrap(), 42);
            for i in 0..50 {
                assert_eq!(sub.recv_async().await.unwrap(), Some(i));
            }
            for i in 50..100 {
                assert_eq!(next(&mut sub).await.unwrap().unwrap(), i);
            }
            assert!(next(&mut sub).await.is_none(), "closed and drained");
            let mut n = 0;
            while let Some(v) = sub2.recv_async().await.unwrap() {
                assert_eq!(v, n);
                n += 1;
            }
            assert_eq!(n, 100);
        });
        peer.join().unwrap();
    }
}

#[test]
fn closing_ends_a_thousand_pending_recv_async_with_none() {
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, _name) = named("async-close", 16 << 20, 3 * TASKS as u32 + 16);
        let chans: Vec<Channel<u64>> = (0..TASKS)
            .map(|i| Channel::<u64>::create(&seg, &format!("c{i}"), 2).unwrap())
            .collect();
        let ended = rt.block_on(async {
            let tasks: Vec<_> = chans
                .iter()
                .cloned()
                .map(|c| rt.spawn(async move { c.recv_async().await.unwrap() }))
                .collect();
            while pending_waits() < TASKS {
                rt.yield_now().await;
            }
            for c in &chans {
                c.close().unwrap();
            }
            let mut ended = 0;
            for t in tasks {
                assert_eq!(
                    t.await,
                    None,
                    "{rt:?}: a closed, empty channel ends the wait"
                );
                ended += 1;
            }
            ended
        });
        assert_eq!(ended, TASKS, "{rt:?}");
    }
}

#[test]
fn a_closed_byte_stored_without_a_wake_ends_an_old_pending_recv_async() {
    let _serial = serial();
    // An upstream peer closes by storing the header's `closed` byte and wakes nobody. With
    // the slice cap at its floor every wait is old at once, so its helper sleeps until the
    // kernel wakes it: only the sweeper's pass (which reads the flag byte) can end the wait.
    zeroipc_sync::futex::set_max_slice(zeroipc_sync::futex::SLICE);
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            zeroipc_sync::futex::set_max_slice(zeroipc_sync::futex::DEFAULT_MAX_SLICE);
        }
    }
    let _restore = Restore;
    for rt in Runtime::ALL {
        let (seg, _g, _name) = named("async-upclose", 1 << 20, 16);
        let chan = Channel::<u64>::create(&seg, "c", 4).unwrap();
        let header = seg.region(&seg.find("c_header").unwrap()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            tx.send(rt.block_on(chan.recv_async())).unwrap();
        });
        while pending_waits() < 1 {
            std::thread::yield_now();
        }
        header
            .atomic_u8(zeroipc_codata::layout::ChannelHeader::CLOSED)
            .unwrap()
            .store(1, Ordering::Release);
        // A liveness bound, not a timing figure: the sweeper passes once per 1 ms slice
        // here, while the helper's own safety-net wake-up comes only after 10 s, so an end
        // within 5 s (thousands of sweeps, ample on a loaded CI machine) is the sweeper's.
        let got = rx.recv_timeout(Duration::from_secs(5));
        assert!(
            matches!(got, Ok(Ok(None))),
            "{rt:?}: a closed, empty channel ends the wait with None, got {got:?}"
        );
        waiter.join().unwrap();
    }
}

#[test]
fn closing_a_stream_ends_a_pending_subscription_recv_async_with_none() {
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, _name) = named("async-sclose", 1 << 20, 16);
        let stream = Stream::<u64>::create(&seg, "s", 8).unwrap();
        let mut sub = stream.subscribe().unwrap();
        let closer = stream.clone();
        let end = rt.block_on(async move {
            let peer = std::thread::spawn(move || {
                while pending_waits() < 1 {
                    std::thread::yield_now();
                }
                closer.close().unwrap();
            });
            let end = sub.recv_async().await.unwrap();
            peer.join().unwrap();
            end
        });
        assert_eq!(end, None, "{rt:?}: a closed stream ends the subscription");
    }
}

/// Every async future is `Send` (the handles are), so a multi-thread runtime may move it
/// between workers; this fails to compile otherwise. Dropping them unpolled registers nothing.
#[test]
fn every_async_future_is_send_and_an_unpolled_one_registers_nothing() {
    fn send<F: std::future::Future + Send>(f: F) -> F {
        f
    }
    let _serial = serial();
    let (seg, _g, _name) = named("async-send", 1 << 20, 32);
    let ch = Channel::<u64>::create(&seg, "c", 4).unwrap();
    let (tx, rx) = (ch.sender().unwrap(), ch.receiver().unwrap());
    let stream = Stream::<u64>::create(&seg, "s", 8).unwrap();
    let mut sub = stream.subscribe().unwrap();
    let fut = Future::<u64>::create(&seg, "f").unwrap();
    let lazy = Lazy::<u64>::create_add(&seg, "l", 1, 2).unwrap();
    {
        let futures = (
            send(ch.recv_async()),
            send(ch.send_async(1)),
            send(tx.send_async(2)),
            send(rx.recv_async()),
            send(fut.get_async()),
            send(lazy.force_async()),
        );
        drop(futures);
    }
    drop(send(sub.recv_async()));
    assert_eq!(pending_waits(), 0);
    assert_eq!(ch.len().unwrap(), 0, "an unpolled send_async sent nothing");
}
