//! The `*_async` waits (feature `async`) on every runtime: tokio current-thread and
//! multi-thread, and smol. Peers are threads (the futex is shared, so the wake path is the
//! cross-process one) or a re-executed child process.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use zeroipc_format::Segment;
use zeroipc_format::atomic::Ordering;
use zeroipc_sync::reactor::{helper_threads, pending_waits};
use zeroipc_sync::{Barrier, Event, EventMode, Latch, Mutex, RwLock, Semaphore, Signal};
use zeroipc_testkit::{Runtime, role};

use crate::multiprocess::{child_open, segment, spawn_peer};

const LIMIT: Duration = Duration::from_secs(120);

/// The reactor's counters are per process: these tests run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `fut` once with a no-op waker.
fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Waits (yielding the CPU) until `n` registrations are pending in this process.
fn until_pending(n: usize) {
    while pending_waits() < n {
        std::thread::yield_now();
    }
}

#[test]
fn acquire_async_takes_every_permit_another_process_releases() {
    const N: usize = 2_000;
    if role().is_some() {
        let (_seg, sem) = child_open(Semaphore::open, "s");
        for _ in 0..N {
            // Keep at most a few permits outstanding, so the parent really waits.
            while sem.count().unwrap() > 2 {
                std::thread::yield_now();
            }
            sem.release().unwrap();
        }
        return;
    }
    let _serial = serial();
    for rt in Runtime::ALL {
        let (seg, _g, name) = segment("async-sem");
        let sem = Semaphore::create(&seg, "s", 0, 0).unwrap();
        let kid = spawn_peer(
            "asyncs::acquire_async_takes_every_permit_another_process_releases",
            "releaser",
            &name,
        );
        rt.block_on(async {
            for _ in 0..N {
                sem.acquire_async().await.unwrap();
            }
        });
        kid.wait_success(LIMIT);
        assert_eq!(sem.count().unwrap(), 0, "{rt:?}");
        assert_eq!(
            sem.waiting().unwrap(),
            0,
            "{rt:?}: no waiter left registered"
        );
    }
}

#[test]
fn dropping_a_pending_lock_async_leaves_the_mutex_free_and_unregistered() {
    let _serial = serial();
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let m = Mutex::create(&seg, "m").unwrap();
    let counters = Semaphore::open(&seg, "m").unwrap(); // the same 16 bytes
    let held = m.lock().unwrap();
    {
        let mut fut = pin!(m.lock_async());
        assert!(poll_once(fut.as_mut()).is_pending());
        assert_eq!(counters.waiting().unwrap(), 1, "registered as a waiter");
        assert_eq!(pending_waits(), 1);
    }
    assert_eq!(counters.waiting().unwrap(), 0, "the drop unregistered it");
    drop(held);
    assert!(!m.is_locked().unwrap());
    assert!(m.try_lock().unwrap().is_some(), "nobody took the lock");
}

#[test]
fn a_dropped_pending_acquire_does_not_keep_the_permit_from_another() {
    // Two async acquirers sleep on one semaphore; the first is dropped (unpolled) after the
    // release: the second must still get the permit.
    let _serial = serial();
    for rt in Runtime::ALL {
        let seg = Segment::anonymous(1 << 16, 64).unwrap();
        let sem = Semaphore::create(&seg, "s", 0, 0).unwrap();
        let mut first = Box::pin(sem.acquire_async());
        assert!(poll_once(first.as_mut()).is_pending());
        let got = rt.block_on(async {
            let second = sem.acquire_async();
            let mut second = pin!(second);
            // Register the second, then release and drop the first without polling it.
            std::future::poll_fn(|cx| {
                assert!(second.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            sem.release().unwrap();
            drop(first);
            second.await
        });
        got.unwrap();
        assert_eq!(sem.count().unwrap(), 0);
        assert_eq!(sem.waiting().unwrap(), 0);
    }
}

#[test]
fn every_primitive_wait_async_completes_when_a_thread_releases_it() {
    let _serial = serial();
    for rt in Runtime::ALL {
        let seg = Segment::anonymous(1 << 18, 64).unwrap();
        let auto = Event::create(&seg, "auto", EventMode::AutoReset).unwrap();
        let manual = Event::create(&seg, "manual", EventMode::ManualReset).unwrap();
        let latch = Latch::create(&seg, "latch", 2).unwrap();
        let barrier = Barrier::create(&seg, "barrier", 2).unwrap();
        let signal = Signal::<u64>::create(&seg, "signal", 0).unwrap();
        let rw = RwLock::create(&seg, "rw").unwrap();
        let sem = Semaphore::create(&seg, "sem", 0, 0).unwrap();

        let (a, m, l, b, s, r, p) = (
            auto.clone(),
            manual.clone(),
            latch.clone(),
            barrier.clone(),
            signal.clone(),
            rw.clone(),
            sem.clone(),
        );
        let peer = std::thread::spawn(move || {
            // Each release happens once the async side is registered and waiting.
            until_pending(1);
            a.signal().unwrap();
            until_pending(1);
            m.signal().unwrap();
            until_pending(1);
            l.count_down(1).unwrap();
            l.count_down(1).unwrap();
            let peer_completed = b.wait().unwrap();
            until_pending(1);
            s.set(7).unwrap();
            let w = r.write().unwrap();
            until_pending(1);
            drop(w);
            until_pending(1);
            p.release().unwrap();
            peer_completed
        });
        let we_completed = rt.block_on(async {
            auto.wait_async().await.unwrap();
            assert!(
                !auto.is_signaled().unwrap(),
                "auto-reset consumed the signal"
            );
            manual.wait_async().await.unwrap();
            latch.wait_async().await.unwrap();
            let we_completed = barrier.wait_async().await.unwrap();
            assert_eq!(signal.wait_for_change_async(0).await.unwrap(), 1);
            assert_eq!(signal.get().unwrap(), 7);
            let g = rw.read_async().await.unwrap();
            assert_eq!(rw.readers().unwrap(), 1);
            drop(g);
            sem.acquire_async().await.unwrap();
            we_completed
        });
        let peer_completed = peer.join().unwrap();
        assert!(
            we_completed ^ peer_completed,
            "{rt:?}: exactly one arrival completes the phase"
        );
        assert_eq!(barrier.generation().unwrap(), 1, "{rt:?}");
        assert_eq!(pending_waits(), 0, "{rt:?}");
    }
}

#[test]
fn write_async_waits_for_readers_and_a_dropped_one_rolls_back() {
    let _serial = serial();
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let rw = RwLock::create(&seg, "rw").unwrap();
    let reader = rw.read().unwrap();
    {
        let mut fut = pin!(rw.write_async());
        assert!(poll_once(fut.as_mut()).is_pending());
        assert!(
            rw.writer_active().unwrap(),
            "the writer flag blocks new readers"
        );
        assert!(rw.try_read().unwrap().is_none());
    }
    assert!(!rw.writer_active().unwrap(), "dropped: flag rolled back");
    drop(reader);
    assert!(rw.try_write().unwrap().is_some(), "wmtx was released too");

    for rt in Runtime::ALL {
        let r2 = rw.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let reader = r2.read().unwrap();
            tx.send(()).unwrap();
            until_pending(1);
            drop(reader);
        });
        rx.recv().unwrap();
        rt.block_on(async {
            let g = rw.write_async().await.unwrap();
            assert_eq!(rw.readers().unwrap(), 0);
            drop(g);
        });
        t.join().unwrap();
    }
}

#[test]
fn a_dropped_barrier_wait_async_withdraws_its_arrival() {
    let _serial = serial();
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let b = Barrier::create(&seg, "b", 2).unwrap();
    {
        let mut fut = pin!(b.wait_async());
        assert!(poll_once(fut.as_mut()).is_pending());
        assert_eq!(b.arrived().unwrap(), 1);
    }
    assert_eq!(b.arrived().unwrap(), 0);
}

#[test]
fn wait_async_notices_a_peer_that_never_calls_futex_wake() {
    let _serial = serial();
    // An upstream peer changes the word without waking anyone: the helper's slice re-check
    // must still see it.
    for rt in Runtime::ALL {
        let seg = Segment::anonymous(1 << 16, 64).unwrap();
        let latch = Latch::create(&seg, "l", 1).unwrap();
        let region = seg.region(latch.entry()).unwrap();
        let t = std::thread::spawn(move || {
            until_pending(1);
            // The latch's count word, stored without FUTEX_WAKE (as upstream peers do).
            region.atomic_u32(0).unwrap().store(0, Ordering::SeqCst);
        });
        rt.block_on(latch.wait_async()).unwrap();
        t.join().unwrap();
    }
}

/// Restores the default slice cap when dropped (also when the test fails).
struct SliceCap;
impl Drop for SliceCap {
    fn drop(&mut self) {
        zeroipc_sync::futex::set_max_slice(zeroipc_sync::futex::DEFAULT_MAX_SLICE);
    }
}

#[test]
fn the_sweeper_notices_a_store_without_futex_wake_on_an_old_wait() {
    let _serial = serial();
    // With the slice cap at its floor every wait is "old" at once: its helper sleeps until
    // the kernel wakes it, and only the sweeper's pass by value can see a plain store.
    zeroipc_sync::futex::set_max_slice(zeroipc_sync::futex::SLICE);
    let _restore = SliceCap;
    for rt in Runtime::ALL {
        let seg = Segment::anonymous(1 << 16, 64).unwrap();
        let latch = Latch::create(&seg, "l", 1).unwrap();
        let region = seg.region(latch.entry()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            tx.send(rt.block_on(latch.wait_async())).unwrap();
        });
        until_pending(1);
        // The latch's count word, stored without FUTEX_WAKE (as upstream peers do).
        region.atomic_u32(0).unwrap().store(0, Ordering::SeqCst);
        // A liveness bound, not a timing figure: the sweeper passes once per 1 ms slice
        // here, while the helper's own safety-net wake-up comes only after 10 s, so an end
        // within 5 s (thousands of sweeps, ample on a loaded CI machine) is the sweeper's.
        let done = rx.recv_timeout(Duration::from_secs(5));
        assert!(
            matches!(done, Ok(Ok(()))),
            "{rt:?}: the old wait did not end: {done:?}"
        );
        waiter.join().unwrap();
    }
}

#[test]
fn a_thousand_pending_waits_share_a_few_helper_threads() {
    const N: usize = 1_000;
    let _serial = serial();
    let seg = Segment::anonymous(4 << 20, 1100).unwrap();
    let latches: Vec<Latch> = (0..N)
        .map(|i| Latch::create(&seg, &format!("l{i}"), 1).unwrap())
        .collect();
    for rt in Runtime::ALL {
        for l in &latches {
            l.reset().unwrap();
        }
        let before = zeroipc_testkit::threads();
        let done = rt.block_on(async {
            let tasks: Vec<_> = latches
                .iter()
                .cloned()
                .map(|l| rt.spawn(async move { l.wait_async().await }))
                .collect();
            let mut peak = (helper_threads(), zeroipc_testkit::threads());
            // Let the tasks register (they run on the runtime's threads).
            while pending_waits() < N {
                tokio_or_smol_yield(rt).await;
                peak = (
                    peak.0.max(helper_threads()),
                    peak.1.max(zeroipc_testkit::threads()),
                );
            }
            assert!(
                helper_threads() <= N.div_ceil(100),
                "{rt:?}: {} helpers for {N} waits",
                helper_threads()
            );
            for l in &latches {
                l.count_down(1).unwrap();
            }
            let mut n = 0;
            for t in tasks {
                t.await.unwrap();
                n += 1;
            }
            (n, peak)
        });
        let (n, (helpers, threads)) = done;
        assert_eq!(n, N);
        assert!(helpers <= N.div_ceil(100), "{rt:?}: peak {helpers} helpers");
        // Runtime workers (2 for tokio multi-thread, smol's executor) + helpers + slack for
        // the test harness.
        assert!(
            threads <= before + 4 + N.div_ceil(100),
            "{rt:?}: {threads} threads (before: {before})"
        );
    }
}

/// Yields once to the runtime's scheduler.
async fn tokio_or_smol_yield(rt: Runtime) {
    match rt {
        Runtime::Smol => smol::future::yield_now().await,
        _ => tokio::task::yield_now().await,
    }
}

/// Every wait's future is `Send` (the handles are), so a multi-thread runtime may move it
/// between workers; this fails to compile otherwise. Dropping them unpolled registers nothing.
#[test]
fn every_wait_future_is_send_and_an_unpolled_one_registers_nothing() {
    fn send<F: Future + Send>(f: F) -> F {
        f
    }
    let _serial = serial();
    let seg = Segment::anonymous(1 << 18, 64).unwrap();
    let sem = Semaphore::create(&seg, "sem", 0, 0).unwrap();
    let mutex = Mutex::create(&seg, "mutex").unwrap();
    let rw = RwLock::create(&seg, "rw").unwrap();
    let event = Event::create(&seg, "event", EventMode::AutoReset).unwrap();
    let latch = Latch::create(&seg, "latch", 1).unwrap();
    let barrier = Barrier::create(&seg, "barrier", 2).unwrap();
    let signal = Signal::<u64>::create(&seg, "signal", 0).unwrap();
    let futures = (
        send(sem.acquire_async()),
        send(mutex.lock_async()),
        send(rw.read_async()),
        send(rw.write_async()),
        send(event.wait_async()),
        send(latch.wait_async()),
        send(barrier.wait_async()),
        send(signal.wait_for_change_async(0)),
    );
    drop(futures);
    assert_eq!(pending_waits(), 0);
    assert_eq!(
        barrier.arrived().unwrap(),
        0,
        "an unpolled wait did not arrive"
    );
}

/// A condition that becomes true without its word changing or anyone waking (a queue slot
/// claimed, which moved the word, then published): `poll_until_busy` re-checks while the
/// `busy` check holds, so the wait ends; `poll_until` alone would wait for a change.
#[test]
fn poll_until_busy_notices_a_condition_that_changes_no_word() {
    use std::sync::Arc;
    use zeroipc_sync::reactor::{RegionWord, Waiter, block_on};

    let _serial = serial();
    let seg = Segment::anonymous(1 << 16, 8).unwrap();
    let (_, region) = seg
        .add("w", 8, |_| Ok::<_, zeroipc_format::Error>(()))
        .unwrap();
    let word = Arc::new(RegionWord::new(&region, 0).unwrap());
    // 0: nothing yet; 1: half-way (claimed, not published); 2: done. Only this flag
    // changes (no futex word, no wake), as a slot's publication after its claim.
    let state = Arc::new(std::sync::Mutex::new(1u8));
    let get = |s: &std::sync::Mutex<u8>| *s.lock().unwrap_or_else(|p| p.into_inner());
    let s2 = Arc::clone(&state);
    let setter = std::thread::spawn(move || {
        until_pending(1);
        *s2.lock().unwrap() = 2;
    });
    let (tx, rx) = std::sync::mpsc::channel();
    // The wait runs on its own thread, so that a wait that never ends fails the test.
    std::thread::spawn(move || {
        let mut waiter = Waiter::new(word);
        let done = block_on(std::future::poll_fn(|cx| {
            waiter.poll_until_busy(
                cx,
                || Ok::<_, std::io::Error>((get(&state) == 2).then_some(())),
                || get(&state) == 1,
            )
        }));
        let _ = tx.send(done.is_ok());
    });
    assert_eq!(
        rx.recv_timeout(LIMIT),
        Ok(true),
        "the wait ends once the condition holds"
    );
    setter.join().unwrap();
}
