//! Derived futures across processes: `Future::map`, `Future::then`,
//! `Future::when_all(..).map(..)`. The parent declares the derived future (its thread
//! completes it); children open it by name and wait, or complete the sources.

use std::time::Duration;

use zeroipc_codata::{DerivedFuture, Future};
use zeroipc_format::Segment;
use zeroipc_testkit::role;

use crate::{LIMIT, child_gets, child_open, child_segment, eventually, segment, spawn};

const LONG: Duration = Duration::from_secs(60);

/// `id.then(..)` as the derived future `chained`: the future `{prefix}_{id}` of `seg`.
fn then_open(seg: &Segment, id: &Future<u32>, prefix: &'static str) -> DerivedFuture<u64> {
    let s = seg.clone();
    id.then(seg, "chained", move |id| {
        Future::<u64>::open(&s, &format!("{prefix}_{id}"))
    })
    .unwrap()
}

#[test]
fn map_is_completed_by_the_declaring_process_and_read_by_another() {
    if role().is_some() {
        return child_gets("fahrenheit", 212.0);
    }
    let (seg, _g, name) = segment("cdfmap", 1 << 16);
    let celsius = Future::<f64>::create(&seg, "celsius").unwrap();
    let derived = celsius
        .map(&seg, "fahrenheit", |c| c * 9.0 / 5.0 + 32.0)
        .unwrap();
    let kids = spawn(
        "derived::map_is_completed_by_the_declaring_process_and_read_by_another",
        &["reader"],
        &name,
    );
    assert!(eventually(LONG, || derived.waiters().unwrap() == 1));
    celsius.set_value(100.0).unwrap();
    for k in kids {
        k.wait_success(LIMIT);
    }
    derived.join().unwrap();
}

#[test]
fn map_fails_with_the_source_error_in_another_process() {
    if role().is_some() {
        let (_seg, f) = child_open(Future::<u32>::open, "doubled");
        let e = f.get_timeout(LONG).unwrap_err();
        assert_eq!(e.failure_message(), Some("sensor offline"), "{e:?}");
        return;
    }
    let (seg, _g, name) = segment("cdfmaperr", 1 << 16);
    let src = Future::<u32>::create(&seg, "src").unwrap();
    let derived = src.map(&seg, "doubled", |v| v * 2).unwrap();
    let kids = spawn(
        "derived::map_fails_with_the_source_error_in_another_process",
        &["reader"],
        &name,
    );
    src.set_error("sensor offline").unwrap();
    for k in kids {
        k.wait_success(LIMIT);
    }
    derived.join().unwrap();
}

#[test]
fn then_chains_to_the_future_the_function_returns_across_processes() {
    if let Some(r) = role() {
        let seg = child_segment();
        if r == "worker" {
            // Completes the future the chain points to.
            let job = Future::<u64>::open(&seg, "job_42").unwrap();
            job.set_value(4200).unwrap();
        } else {
            let f = Future::<u64>::open(&seg, "chained").unwrap();
            assert_eq!(f.get_timeout(LONG).unwrap(), 4200);
        }
        return;
    }
    let (seg, _g, name) = segment("cdfthen", 1 << 16);
    let id = Future::<u32>::create(&seg, "id").unwrap();
    let _job = Future::<u64>::create(&seg, "job_42").unwrap();
    let chained = then_open(&seg, &id, "job");
    let reader = spawn(
        "derived::then_chains_to_the_future_the_function_returns_across_processes",
        &["reader"],
        &name,
    );
    id.set_value(42).unwrap();
    assert_eq!(chained.try_get().unwrap(), None, "waits for the job");
    let worker = spawn(
        "derived::then_chains_to_the_future_the_function_returns_across_processes",
        &["worker"],
        &name,
    );
    for k in reader.into_iter().chain(worker) {
        k.wait_success(LIMIT);
    }
    assert_eq!(chained.get_timeout(LONG).unwrap(), 4200);
    chained.join().unwrap();
}

#[test]
fn then_fails_when_the_function_fails() {
    let (seg, _g, _name) = segment("cdfthenerr", 1 << 16);
    let id = Future::<u32>::create(&seg, "id").unwrap();
    let chained = then_open(&seg, &id, "missing");
    id.set_value(1).unwrap();
    let e = chained.get_timeout(LONG).unwrap_err();
    assert!(
        e.failure_message().is_some_and(|m| m.contains("missing_1")),
        "{e:?}"
    );
}

#[test]
fn map_function_panic_fails_the_derived_future() {
    let (seg, _g, _name) = segment("cdfpanic", 1 << 16);
    let src = Future::<u8>::create(&seg, "src").unwrap();
    let d = src
        .map(&seg, "d", |v: u8| -> u8 { panic!("bad value {v}") })
        .unwrap();
    src.set_value(3).unwrap();
    let e = d.get_timeout(LONG).unwrap_err();
    assert!(
        e.failure_message().is_some_and(|m| m.contains("panicked")),
        "{e:?}"
    );
    assert!(
        src.map(&seg, "d", |v| v).is_err(),
        "a derived future's name is taken like any other"
    );
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct State {
    energy: f64,
    steps: u64,
}

/// The seed's distributed simulation: N processes each complete `state_i`; the declaring
/// process combines them with `Future::when_all(..).map(..)`; another process waits on the
/// combined state by name.
#[test]
fn when_all_map_combines_states_completed_by_other_processes() {
    const N: usize = 4;
    if let Some(r) = role() {
        let seg = child_segment();
        if let Ok(i) = r.parse::<u64>() {
            let f = Future::<State>::open(&seg, &format!("state_{i}")).unwrap();
            f.set_value(State {
                energy: 1.5 * (i + 1) as f64,
                steps: 100 + i,
            })
            .unwrap();
        } else {
            let f = Future::<State>::open(&seg, "final_state").unwrap();
            let s = f.get_timeout(LONG).unwrap();
            assert_eq!(s.energy, 1.5 * (1 + 2 + 3 + 4) as f64);
            assert_eq!(s.steps, 100 + 101 + 102 + 103);
        }
        return;
    }
    let (seg, _g, name) = segment("cdfall", 1 << 16);
    let states: Vec<Future<State>> = (0..N)
        .map(|i| Future::create(&seg, &format!("state_{i}")).unwrap())
        .collect();
    let combine = |all: Vec<State>| State {
        energy: all.iter().map(|s| s.energy).sum(),
        steps: all.iter().map(|s| s.steps).sum(),
    };
    let final_state = Future::when_all(&states)
        .unwrap()
        .map(&seg, "final_state", combine)
        .unwrap();
    let test = "derived::when_all_map_combines_states_completed_by_other_processes";
    let waiter = spawn(test, &["final"], &name);
    assert!(eventually(LONG, || final_state.waiters().unwrap() == 1));
    assert_eq!(final_state.try_get().unwrap(), None);
    let workers = spawn(test, &["0", "1", "2", "3"], &name);
    for k in workers.into_iter().chain(waiter) {
        k.wait_success(LIMIT);
    }
    assert_eq!(final_state.get_timeout(LONG).unwrap().steps, 406);
    final_state.join().unwrap();
}
