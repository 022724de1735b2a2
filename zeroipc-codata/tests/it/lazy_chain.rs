//! Derived lazy values (op CHAIN, project extension) across processes: forced once by
//! whichever process asks first, inputs forced exactly once, `map` computed by the
//! declaring process; a CHAIN entry without `NAME_chain` (as upstream writes one) fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use zeroipc_codata::{Lazy, LazyOp};
use zeroipc_testkit::role;

use crate::{LIMIT, child_open, race_eight, racer, segment, spawn};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn chain_raced_by_8_processes_forces_every_input_once() {
    if let Some(r) = role() {
        return racer(&r, |seg, _| {
            let total = Lazy::<i64>::open(seg, "total").unwrap();
            total.force_timeout(LONG).unwrap()
        });
    }
    let (seg, _g, name) = segment("cdchain8", 1 << 16);
    let a = Lazy::<i64>::create_add(&seg, "a", 20, 22).unwrap();
    let b = Lazy::<i64>::create_multiply(&seg, "b", 3, 5).unwrap();
    let sum = Lazy::add(&seg, "sum", &a, &b).unwrap(); // 57
    let c = Lazy::<i64>::create_negate(&seg, "c", 2).unwrap();
    let total = Lazy::mul(&seg, "total", &sum, &c).unwrap(); // -114, a chain of chains
    assert!(matches!(total.op().unwrap(), LazyOp::Chain(0, 0)));
    let results = race_eight::<i64>(
        "lazy_chain::chain_raced_by_8_processes_forces_every_input_once",
        &seg,
        &name,
    );
    for r in &results {
        assert_eq!(r.get_timeout(LONG).unwrap(), -114);
    }
    for (l, what) in [
        (&a, "a"),
        (&b, "b"),
        (&c, "c"),
        (&sum, "sum"),
        (&total, "total"),
    ] {
        assert_eq!(l.compute_count().unwrap(), 1, "{what} computed once");
    }
}

#[test]
fn map_is_computed_by_the_declaring_process_when_another_forces_it() {
    if role().is_some() {
        let (_seg, f) = child_open(Lazy::<f64>::open, "fahrenheit");
        assert_eq!(f.force_timeout(LONG).unwrap(), 212.0);
        return;
    }
    let (seg, _g, name) = segment("cdchainmap", 1 << 16);
    let celsius = Lazy::<f64>::create_add(&seg, "celsius", 60.0, 40.0).unwrap();
    let ran_in = Arc::new(Mutex::new(None));
    let r2 = Arc::clone(&ran_in);
    let f = Lazy::map(&seg, "fahrenheit", &celsius, move |c| {
        *r2.lock().unwrap() = Some(std::process::id());
        c * 9.0 / 5.0 + 32.0
    })
    .unwrap();
    assert_eq!(
        f.try_get().unwrap(),
        None,
        "lazy: nothing computed before a force"
    );
    let kids = spawn(
        "lazy_chain::map_is_computed_by_the_declaring_process_when_another_forces_it",
        &["forcer"],
        &name,
    );
    for k in kids {
        k.wait_success(LIMIT);
    }
    assert_eq!(*ran_in.lock().unwrap(), Some(std::process::id()));
    assert_eq!(f.force().unwrap(), 212.0);
    assert_eq!(f.compute_count().unwrap(), 1);
    assert_eq!(celsius.compute_count().unwrap(), 1);
}

#[test]
fn a_failed_input_fails_the_derived_value_with_its_name() {
    let (seg, _g, _name) = segment("cdchainerr", 1 << 16);
    let ext = Lazy::<u32>::create(&seg, "ext").unwrap(); // EXTERNAL: not forceable
    let one = Lazy::<u32>::create_constant(&seg, "one", 1).unwrap();
    let s = Lazy::add(&seg, "s", &ext, &one).unwrap();
    let e = s.force_timeout(LONG).unwrap_err();
    let msg = e.failure_message().unwrap_or_default().to_owned();
    assert!(
        msg.contains("\"ext\"") && msg.contains("not yet implemented"),
        "{msg}"
    );
    assert!(Lazy::add(&seg, "s", &one, &one).is_err(), "name taken");
    assert!(
        Lazy::add(&seg, "a_name_of_26_bytes_abcdefg", &one, &one).is_err(),
        "NAME_chain would not fit"
    );
}

#[test]
fn a_chain_entry_without_its_chain_entry_fails_as_upstream() {
    // What an upstream peer leaves (op CHAIN, no `NAME_chain`): forcing fails with
    // upstream's message and never yields a value.
    let (seg, _g, _name) = segment("cdchainup", 1 << 16);
    let l = Lazy::<i32>::create_add(&seg, "up", 1, 2).unwrap();
    let e = seg.find("up").unwrap();
    let op = Lazy::<i32>::layout().op;
    seg.raw().write::<u32>(e.offset() as usize + op, 4).unwrap();
    assert!(matches!(l.op().unwrap(), LazyOp::Chain(..)));
    let err = l.force().unwrap_err();
    assert_eq!(
        err.failure_message(),
        Some("Chain computation not yet implemented")
    );
}

#[test]
fn map_recomputes_after_a_reset() {
    let (seg, _g, _name) = segment("cdchainreset", 1 << 16);
    let input = Lazy::<u32>::create_constant(&seg, "in", 5).unwrap();
    let calls = Arc::new(Mutex::new(0u32));
    let c2 = Arc::clone(&calls);
    let m = Lazy::map(&seg, "m", &input, move |v| {
        *c2.lock().unwrap() += 1;
        v + 1
    })
    .unwrap();
    assert_eq!(m.force_timeout(LONG).unwrap(), 6);
    assert_eq!(m.force_timeout(LONG).unwrap(), 6, "cached");
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(m.reset().unwrap());
    assert_eq!(m.force_timeout(LONG).unwrap(), 6);
    assert_eq!(*calls.lock().unwrap(), 2);
    assert_eq!(m.compute_count().unwrap(), 2);
}
