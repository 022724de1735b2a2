//! Live sync and codata structures created by the test (project layouts with their auxiliary
//! entries: `NAME_owner`, `NAME_subs`, `NAME_peers`).

use serde_json::{Value, json};
use zeroipc_codata::{Channel, Future, Lazy, Stream};
use zeroipc_format::Segment;
use zeroipc_sync::{Event, EventMode, Latch, Mutex, Semaphore, Signal};

use crate::common::{SegGuard, run, run_fail, run_json, unique};

/// A pid that belonged to a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[test]
fn mutex_owner_pid_and_liveness() {
    let name = unique("mtx");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 16).expect("segment");
    let m = Mutex::create(&seg, "lock_a").expect("mutex");
    let free = run_json(&["show", &name, "lock_a", "--json"]);
    assert_eq!(free["kind"], "mutex");
    assert_eq!(free["locked"], false);
    assert_eq!(free["tracks_owner"], true);
    assert_eq!(free["owner_pid"], Value::Null);
    assert_eq!(free["parts"][1]["name"], "lock_a_owner");

    let g = m.lock().expect("lock");
    let held = run_json(&["show", &name, "lock_a", "--json"]);
    assert_eq!(held["locked"], true);
    assert_eq!(held["count"], 0);
    assert_eq!(held["owner_pid"], std::process::id());
    assert_eq!(held["owner_alive"], true);

    // A holder that died: its pid stays in the owner word.
    let owner = seg.find("lock_a_owner").expect("owner entry");
    let gone = dead_pid();
    seg.region(&owner)
        .expect("region")
        .write(0, gone)
        .expect("write");
    let dead = run_json(&["show", &name, "lock_a", "--json"]);
    assert_eq!(dead["owner_pid"], gone);
    assert_eq!(dead["owner_alive"], false);
    seg.region(&owner)
        .expect("region")
        .write(0, std::process::id())
        .expect("write");
    drop(g);
    // The owner entry itself is labelled.
    let aux = run_json(&["show", &name, "lock_a_owner", "--json"]);
    assert_eq!(aux["kind"], "mutex (owner)");
}

#[test]
fn stream_subscriber_cursors_and_lag() {
    let name = unique("stream");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 16).expect("segment");
    let s = Stream::<i32>::create(&seg, "ticks", 8).expect("stream");
    let mut first = s.subscribe().expect("subscribe");
    for v in 1..=3 {
        s.emit(v).expect("emit");
    }
    assert_eq!(first.try_recv().expect("recv"), Some(1));
    let second = s.subscribe().expect("subscribe");
    s.emit(4).expect("emit");

    let got = run_json(&["show", &name, "ticks", "--json"]);
    assert_eq!(got["kind"], "stream");
    // No type token: the ring stores the element size.
    assert_eq!(got["dtype"], "int32");
    assert_eq!(got["dtype_source"], "size");
    assert_eq!(got["sequence"], 4);
    assert_eq!(got["subscribers"], 2);
    assert_eq!(got["multicast"], true);
    // The producer keeps what the slowest subscriber has not read.
    assert_eq!(got["items"], json!([2, 3, 4]));
    let slots = got["subscriber_slots"].as_array().expect("slots");
    let lags: Vec<&Value> = slots.iter().map(|s| &s["lag"]).collect();
    assert_eq!(lags, [&json!(3), &json!(1)]);
    for slot in slots {
        assert_eq!(slot["pid"], std::process::id());
        assert_eq!(slot["alive"], true);
    }
    assert_eq!(got["max_lag"], 3);
    assert_eq!(
        run_json(&["show", &name, "ticks_subs", "--json"])["kind"],
        "stream (subscribers)"
    );
    drop((first, second));
}

#[test]
fn channels_with_registered_peers_and_rendezvous() {
    let name = unique("chan");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 16).expect("segment");
    let ch = Channel::<u32>::create(&seg, "jobs", 4).expect("channel");
    let tx = ch.sender().expect("sender");
    let rx = ch.receiver().expect("receiver");
    tx.send(5).expect("send");
    tx.send(6).expect("send");
    let got = run_json(&["show", &name, "jobs", "--as", "channel:u32", "--json"]);
    assert_eq!(got["buffered"], true);
    assert_eq!(got["capacity"], 4);
    assert_eq!(got["size"], 2);
    assert_eq!(got["items"], json!([5, 6]));
    assert_eq!(got["live_senders"], 1);
    assert_eq!(got["live_receivers"], 1);
    assert_eq!(got["senders_ever"], 1);
    assert_eq!(got["receivers_ever"], 1);
    let roles: Vec<&Value> = got["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| &p["role"])
        .collect();
    assert_eq!(roles, [&json!("sender"), &json!("receiver")]);
    drop((tx, rx));

    let sync = Channel::<i64>::create_unbuffered(&seg, "handoff").expect("rendezvous");
    let got = run_json(&["show", &name, "handoff", "--json"]);
    assert_eq!(got["kind"], "channel");
    assert_eq!(got["dtype"], "int64");
    assert_eq!(got["buffered"], false);
    assert_eq!(got["capacity"], 0);
    assert_eq!(got["size"], 0);
    assert_eq!(got["items"], json!([]));
    assert_eq!(got["live_senders"], 0);
    // A sender offering a value on the rendezvous slot: shown until a receiver takes it.
    std::thread::scope(|scope| {
        let sender = sync.clone();
        scope.spawn(move || sender.send_timeout(77, std::time::Duration::from_secs(10)));
        let mut offered = Value::Null;
        for _ in 0..500 {
            offered = run_json(&["show", &name, "handoff", "--json"]);
            if offered["size"] == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(offered["size"], 1, "{offered}");
        assert_eq!(offered["items"], json!([77]));
        assert_eq!(offered["ready"], 1);
        assert_eq!(
            sync.recv_timeout(std::time::Duration::from_secs(10))
                .expect("recv"),
            Some(77)
        );
    });
    drop(sync);
}

#[test]
fn futures_lazies_signals_and_primitives() {
    let name = unique("prim");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 64).expect("segment");
    // A pending future's zero words are also those of a fresh Lazy: the name decides.
    Future::<i32>::create(&seg, "answer").expect("future");
    let (code, err) = run_fail(&["show", &name, "answer"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("future|lazy"), "{err}");
    // No type token and a 280-byte entry: any element size fits, the value is shown raw.
    let answer = Future::<i64>::create(&seg, "answer_fut").expect("future");
    let got = run_json(&["show", &name, "answer_fut", "--json"]);
    assert_eq!(got["state_name"], "pending");
    assert_eq!(got["dtype_source"], "unknown");
    answer.set_value(42).expect("set");
    let got = run_json(&["show", &name, "answer_fut", "--json"]);
    assert_eq!(got["dtype"], Value::Null);
    assert_eq!(got["value"], Value::Null);
    assert_eq!(got["value_hex"], "2a00000000000000");
    let got = run_json(&["show", &name, "answer_fut", "--as", "future:i64", "--json"]);
    assert_eq!(got["value"], 42);

    let cfg = Lazy::<u64>::create(&seg, "cfg_u64").expect("lazy");
    let got = run_json(&["show", &name, "cfg_u64", "--json"]);
    assert_eq!(got["kind"], "lazy");
    assert_eq!(got["state_name"], "not_computed");
    assert_eq!(got["op"], json!({"type": "external", "id": 0}));
    assert_eq!(got["detects_dead_computer"], true);
    assert_eq!(cfg.get_or_compute(|| 7).expect("compute"), 7);
    let got = run_json(&["show", &name, "cfg_u64", "--json"]);
    assert_eq!(got["value"], 7);
    assert_eq!(got["compute_count"], 1);
    assert_eq!(got["owner_pid"], Value::Null);

    let temp = Signal::<f32>::create(&seg, "temp_f32", 1.5).expect("signal");
    temp.set(2.25).expect("set");
    let got = run_json(&["show", &name, "temp_f32", "--json"]);
    assert_eq!(
        (got["version"].as_u64(), got["value"].as_f64()),
        (Some(1), Some(2.25))
    );

    Event::create(&seg, "wake", EventMode::AutoReset).expect("event");
    let got = run_json(&["show", &name, "wake", "--json"]);
    assert_eq!(
        (&got["kind"], &got["mode_name"]),
        (&json!("event"), &json!("auto"))
    );

    let l = Latch::create(&seg, "done_latch", 4).expect("latch");
    l.count_down(1).expect("count down");
    let got = run_json(&["show", &name, "done_latch", "--json"]);
    assert_eq!(
        (got["count"].as_i64(), got["initial_count"].as_i64()),
        (Some(3), Some(4))
    );

    // A name without a kind token: words [2, 0, 0, 0] fit only a semaphore ...
    Semaphore::create(&seg, "tokens", 2, 0).expect("semaphore");
    let got = run_json(&["show", &name, "tokens", "--json"]);
    assert_eq!(
        (&got["kind"], &got["count"]),
        (&json!("semaphore"), &json!(2))
    );
    // ... but [0, 0, 0, 0] is also a released latch of 0: the name (or --as) must decide.
    Semaphore::create(&seg, "permits", 0, 0).expect("semaphore");
    let (code, err) = run_fail(&["show", &name, "permits"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("semaphore|latch") && err.contains("--as"),
        "{err}"
    );
    let got = run_json(&["show", &name, "permits", "--as", "semaphore", "--json"]);
    assert_eq!(got["max_count"], 0);
}

#[test]
fn inspecting_never_writes_to_the_segment() {
    let name = unique("ro");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 32).expect("segment");
    let m = Mutex::create(&seg, "mtx_a").expect("mutex");
    let s = Stream::<u16>::create(&seg, "feed", 4).expect("stream");
    let sub = s.subscribe().expect("subscribe");
    s.emit(9).expect("emit");
    let ch = Channel::<u8>::create(&seg, "chan", 2).expect("channel");
    let rx = ch.receiver().expect("receiver");
    Signal::<i32>::create(&seg, "sig_i32", 3).expect("signal");
    Lazy::<f64>::create_add(&seg, "sum_f64", 1.0, 2.0).expect("lazy");
    let guard = m.lock().expect("lock");
    let path = format!("/dev/shm/{name}");
    let before = std::fs::read(&path).expect("read");
    for target in ["mtx_a", "feed", "chan", "sig_i32", "sum_f64"] {
        let out = run(&["show", &name, target, "--json"]);
        assert!(
            out.status.success(),
            "{target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(run(&["show", &name]).status.success());
    let out = run(&["monitor", &name, "feed", "--count", "2", "--interval", "10"]);
    assert!(out.status.success());
    let after = std::fs::read(&path).expect("read");
    assert!(before == after, "the segment changed while being inspected");
    drop((guard, sub, rx));
}

#[test]
fn a_derived_lazy_lists_its_chain_entry() {
    let name = unique("chain");
    let _guard = SegGuard(name.clone());
    let seg = Segment::create(&name, 1 << 16, 16).expect("segment");
    let a = Lazy::<i32>::create_constant(&seg, "a_i32", 20).expect("a");
    let b = Lazy::<i32>::create_constant(&seg, "b_i32", 22).expect("b");
    Lazy::add(&seg, "sum_i32", &a, &b).expect("derived");
    let sum = run_json(&["show", &name, "sum_i32", "--json"]);
    assert_eq!(sum["kind"], "lazy");
    assert_eq!(sum["state_name"], "not_computed");
    assert_eq!(sum["parts"][0]["name"], "sum_i32_chain");
    assert_eq!(sum["parts"][1]["name"], "sum_i32");
    let chain = run_json(&["show", &name, "sum_i32_chain", "--json"]);
    assert_eq!(chain["kind"], "lazy (chain)");
    assert_eq!(chain["decoded"], false);
}
