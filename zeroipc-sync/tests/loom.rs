//! Loom models of the wait/wake protocols and of mutual exclusion, over the same algorithm
//! code the shared-memory types run. Run with
//! `RUSTFLAGS="--cfg zeroipc_loom" cargo test -p zeroipc-sync --test loom --release`.
#![cfg(zeroipc_loom)]
#![allow(clippy::unwrap_used)]

use loom::sync::Arc;
use loom::sync::atomic::AtomicU32;
use loom::thread;
use zeroipc_format::atomic::Ordering::{Relaxed, SeqCst};
use zeroipc_sync::model::{Barrier, Latch, ManualEvent, Once, RwLock, Semaphore};
use zeroipc_testkit::loom_bounded as bounded;

/// A non-atomic-style increment (load, then store, both Relaxed): without the lock's
/// happens-before edges loom finds a lost update.
fn bump(x: &AtomicU32) {
    let v = x.load(Relaxed);
    x.store(v + 1, Relaxed);
}

/// This thread and a second one each take `lock` with `enter`, [`bump`] a shared counter and
/// leave with `exit` (which must succeed); the counter once both are done.
fn two_lockers_bump<L: Send + Sync + 'static>(
    lock: &Arc<L>,
    enter: fn(&L),
    exit: fn(&L) -> bool,
) -> u32 {
    let data = Arc::new(AtomicU32::new(0));
    let (l2, d2) = (Arc::clone(lock), Arc::clone(&data));
    let t = thread::spawn(move || {
        enter(&l2);
        bump(&d2);
        assert!(exit(&l2));
    });
    enter(lock);
    bump(&data);
    assert!(exit(lock));
    t.join().unwrap();
    data.load(SeqCst)
}

#[test]
fn semaphore_release_wakes_a_waiter_and_no_permit_is_lost() {
    bounded(|| {
        let sem = Arc::new(Semaphore::new(0, 0));
        let s2 = Arc::clone(&sem);
        let t = thread::spawn(move || s2.acquire());
        assert!(sem.release());
        t.join().unwrap();
        assert_eq!(
            sem.snapshot(),
            (0, 0),
            "permit consumed, waiter deregistered"
        );
    });
}

#[test]
fn semaphore_respects_max_count() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1, 2));
        let s2 = Arc::clone(&sem);
        let t = thread::spawn(move || s2.release());
        let mine = sem.release();
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one release fits under max 2");
        assert_eq!(sem.snapshot().0, 2);
    });
}

#[test]
fn mutex_excludes_and_orders_two_lockers() {
    bounded(|| {
        let m = Arc::new(Semaphore::new(1, 1));
        let bumps = two_lockers_bump(&m, Semaphore::acquire, Semaphore::release);
        assert_eq!(bumps, 2, "no lost update");
        assert!(!m.release(), "unlocking an unlocked mutex overflows");
    });
}

#[test]
fn barrier_releases_both_and_elects_one_leader() {
    loom::model(|| {
        let b = Arc::new(Barrier::new(2));
        let before = Arc::new(AtomicU32::new(0));
        let (b2, x2) = (Arc::clone(&b), Arc::clone(&before));
        let t = thread::spawn(move || {
            x2.fetch_add(1, Relaxed);
            let leader = b2.wait();
            assert_eq!(x2.load(Relaxed), 2, "passed before the other arrived");
            leader
        });
        before.fetch_add(1, Relaxed);
        let leader = b.wait();
        assert_eq!(before.load(Relaxed), 2);
        assert!(leader ^ t.join().unwrap(), "exactly one leader");
    });
}

#[test]
fn latch_wait_sees_the_counters_writes() {
    loom::model(|| {
        let l = Arc::new(Latch::new(2));
        let data = Arc::new(AtomicU32::new(0));
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (l, d) = (Arc::clone(&l), Arc::clone(&data));
                thread::spawn(move || {
                    d.fetch_add(1, Relaxed);
                    l.count_down(1)
                })
            })
            .collect();
        l.wait();
        assert_eq!(data.load(Relaxed), 2);
        let released: u32 = ts.into_iter().map(|t| u32::from(t.join().unwrap())).sum();
        assert_eq!(released, 1, "exactly one count_down releases");
    });
}

#[test]
fn once_runs_once_and_losers_see_its_effect() {
    loom::model(|| {
        let o = Arc::new(Once::new());
        let data = Arc::new(AtomicU32::new(0));
        let (o2, d2) = (Arc::clone(&o), Arc::clone(&data));
        let t = thread::spawn(move || {
            let ran = o2.call(|| bump(&d2));
            assert_eq!(d2.load(Relaxed), 1);
            ran
        });
        let ran = o.call(|| bump(&data));
        assert_eq!(data.load(Relaxed), 1);
        assert!(ran ^ t.join().unwrap(), "exactly one executor");
    });
}

#[test]
fn manual_event_wakes_the_waiter_and_publishes() {
    loom::model(|| {
        let e = Arc::new(ManualEvent::new());
        let data = Arc::new(AtomicU32::new(0));
        let (e2, d2) = (Arc::clone(&e), Arc::clone(&data));
        let t = thread::spawn(move || {
            e2.wait();
            assert_eq!(d2.load(Relaxed), 7);
        });
        data.store(7, Relaxed);
        e.signal();
        t.join().unwrap();
    });
}

#[test]
fn auto_event_is_a_semaphore_of_signals() {
    // Auto-reset events run the semaphore protocol on `NAME_sem`: one signal, one waiter.
    bounded(|| {
        let sem = Arc::new(Semaphore::new(0, 0));
        let s2 = Arc::clone(&sem);
        let t = thread::spawn(move || s2.acquire());
        sem.release();
        t.join().unwrap();
        assert!(!sem.try_acquire(), "the signal was consumed once");
    });
}

#[test]
fn rwlock_writer_excludes_reader() {
    bounded(|| {
        let rw = Arc::new(RwLock::new());
        let inside = Arc::new(AtomicU32::new(0));
        let data = Arc::new(AtomicU32::new(0));
        let (rw2, in2, d2) = (Arc::clone(&rw), Arc::clone(&inside), Arc::clone(&data));
        let t = thread::spawn(move || {
            rw2.write();
            assert_eq!(in2.fetch_add(1, SeqCst), 0, "writer with a reader inside");
            bump(&d2);
            in2.fetch_sub(1, SeqCst);
            assert!(rw2.write_unlock());
        });
        rw.read();
        assert_eq!(
            inside.fetch_add(1, SeqCst),
            0,
            "reader with the writer inside"
        );
        let seen = data.load(Relaxed);
        inside.fetch_sub(1, SeqCst);
        assert!(rw.read_unlock());
        t.join().unwrap();
        assert!(seen <= 1);
        assert!(!rw.read_unlock(), "no reader left");
        assert_eq!(data.load(SeqCst), 1);
    });
}

#[test]
fn rwlock_two_writers_do_not_lose_updates() {
    bounded(|| {
        let rw = Arc::new(RwLock::new());
        let bumps = two_lockers_bump(&rw, RwLock::write, RwLock::write_unlock);
        assert_eq!(bumps, 2, "no lost update");
    });
}

/// A model of the reactor's register → re-check → sleep hand-off (`reactor/helper.rs`):
/// the kernel's `futex_waitv` is modelled as "compare every word and enqueue, atomically
/// under the bucket lock", `FUTEX_WAKE` as "under the same lock, wake a queued waiter of
/// this word". No timeouts: a lost wake-up leaves the helper asleep and the future
/// neither completed nor fired, which the final assertion catches.
mod reactor_handoff {
    use loom::sync::atomic::{AtomicBool, AtomicU32};
    use loom::sync::{Arc, Condvar, Mutex};
    use loom::thread;
    use zeroipc_format::atomic::Ordering::SeqCst;

    const DATA: usize = 0;
    const SEQ: usize = 1;

    #[derive(Default)]
    struct Queue {
        /// The words the helper sleeps on, while it sleeps.
        asleep_on: Option<Vec<usize>>,
        woken: bool,
    }

    struct World {
        words: [AtomicU32; 2],
        kernel: Mutex<Queue>,
        cv: Condvar,
        /// The helper's registrations (expected values of DATA).
        entries: Mutex<Vec<u32>>,
        fired: AtomicBool,
        stop: AtomicBool,
    }

    impl World {
        fn waitv(&self, waits: &[(usize, u32)]) {
            let mut q = self.kernel.lock().unwrap();
            if waits.iter().any(|&(w, v)| self.words[w].load(SeqCst) != v) {
                return; // EAGAIN
            }
            q.asleep_on = Some(waits.iter().map(|&(w, _)| w).collect());
            q.woken = false;
            while !q.woken {
                q = self.cv.wait(q).unwrap();
            }
            q.asleep_on = None;
        }

        fn wake(&self, word: usize) {
            let mut q = self.kernel.lock().unwrap();
            if q.asleep_on.as_ref().is_some_and(|ws| ws.contains(&word)) {
                q.woken = true;
                self.cv.notify_all();
            }
        }

        /// `helper::register` + `Helper::poke`.
        fn register(&self, seen: u32) {
            self.entries.lock().unwrap().push(seen);
            self.words[SEQ].fetch_add(1, SeqCst);
            self.wake(SEQ);
        }

        /// `helper::run`: sequence before snapshot, sleep on all, fire changed entries.
        fn helper(&self) {
            loop {
                let seq = self.words[SEQ].load(SeqCst);
                if self.stop.load(SeqCst) {
                    return;
                }
                let snap = self.entries.lock().unwrap().clone();
                let mut waits: Vec<(usize, u32)> = snap.iter().map(|&e| (DATA, e)).collect();
                waits.push((SEQ, seq));
                self.waitv(&waits);
                let data = self.words[DATA].load(SeqCst);
                let mut entries = self.entries.lock().unwrap();
                if snap.iter().any(|&e| e != data) {
                    self.fired.store(true, SeqCst);
                    entries.retain(|&e| e == data);
                }
            }
        }
    }

    #[test]
    fn a_wake_between_register_and_sleep_is_never_lost() {
        super::bounded(|| {
            let w = Arc::new(World {
                words: [AtomicU32::new(1), AtomicU32::new(0)],
                kernel: Mutex::new(Queue::default()),
                cv: Condvar::new(),
                entries: Mutex::new(Vec::new()),
                fired: AtomicBool::new(false),
                stop: AtomicBool::new(false),
            });
            let helper = {
                let w = Arc::clone(&w);
                thread::spawn(move || w.helper())
            };
            let peer = {
                let w = Arc::clone(&w);
                thread::spawn(move || {
                    w.words[DATA].store(0, SeqCst); // the event
                    w.wake(DATA);
                })
            };
            // The future's poll: load, attempt, register, re-check.
            let ready = {
                let seen = w.words[DATA].load(SeqCst);
                if seen == 0 {
                    true
                } else {
                    w.register(seen);
                    w.words[DATA].load(SeqCst) == 0
                }
            };
            peer.join().unwrap();
            // Pending: only the helper can complete us. Wait for it to fire.
            if !ready {
                while !w.fired.load(SeqCst) {
                    thread::yield_now();
                }
            }
            w.stop.store(true, SeqCst);
            w.words[SEQ].fetch_add(1, SeqCst);
            w.wake(SEQ);
            helper.join().unwrap();
        });
    }
}
