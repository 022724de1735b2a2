//! Loom models of the Future state machine and of the rendezvous slot, over the same protocol
//! code the shared-memory types run. Run with
//! `RUSTFLAGS="--cfg zeroipc_loom" cargo test -p zeroipc-codata --test loom --release`.
#![cfg(zeroipc_loom)]
#![allow(clippy::unwrap_used)]

use loom::sync::Arc;
use loom::thread;
use zeroipc_codata::model::{Future, Rendezvous};
use zeroipc_testkit::loom_bounded as bounded;

#[test]
fn future_set_wakes_the_getter_with_the_value() {
    bounded(|| {
        let f = Arc::new(Future::new());
        let f2 = Arc::clone(&f);
        let t = thread::spawn(move || f2.get());
        assert!(f.set(42));
        assert_eq!(t.join().unwrap(), 42, "no lost wake-up, value published");
        assert_eq!(f.snapshot(), (2, 0), "READY, waiter deregistered");
    });
}

#[test]
fn future_two_setters_exactly_one_wins() {
    loom::model(|| {
        let f = Arc::new(Future::new());
        let f2 = Arc::clone(&f);
        let t = thread::spawn(move || f2.set(1));
        let mine = f.set(2);
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "exactly one set succeeds");
        assert_eq!(f.get(), if mine { 2 } else { 1 });
    });
}

#[test]
fn rendezvous_hands_over_the_value_and_the_sender_waits_for_it() {
    bounded(|| {
        let r = Arc::new(Rendezvous::new());
        let r2 = Arc::clone(&r);
        let t = thread::spawn(move || r2.recv());
        assert!(r.send(7));
        // `send` returned: the receiver has taken the value (consumed set before ready cleared).
        assert_eq!(t.join().unwrap(), Some(7));
        let (ready, consumed, senders, receivers) = r.snapshot();
        assert_eq!((ready, consumed, senders, receivers), (0, 1, 0, 0));
    });
}

#[test]
fn rendezvous_reuses_the_slot_for_consecutive_values() {
    bounded(|| {
        let r = Arc::new(Rendezvous::new());
        let r2 = Arc::clone(&r);
        let t = thread::spawn(move || {
            assert!(r2.send(1));
            assert!(r2.send(2));
        });
        assert_eq!(r.recv(), Some(1));
        assert_eq!(r.recv(), Some(2), "in order, none lost or repeated");
        t.join().unwrap();
    });
}

// `close` is not modelled racing a blocked party: `closed` is not part of the slot's futex
// word, so a waiter that checked `closed` just before the close and then sleeps is not woken
// by the close's wake (loom finds this as a deadlock, since models have no timeouts). In
// production the waiter notices at the end of its sleep slice (1-10 ms); see
// docs/SPECIFICATION.md section 3.9.
