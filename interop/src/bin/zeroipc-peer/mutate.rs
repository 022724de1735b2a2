//! A fixed script of mutations on the standard scenario's structures, the same in both peers,
//! so that a segment written by one implementation and mutated by the other can be compared
//! (decoded and byte for byte) with one the reference crate handled alone.
//!
//! The script exercises what a plain write/read does not: queue and ring wrap-around, stack
//! pop/push, map update, remove and tombstone reuse, set removal and collisions, pool
//! free-list reuse, array element writes; semaphore acquire/release, mutex lock/unlock,
//! latch count-down, once call, event reset, signal set, stream read and emit, channel
//! receive and send (to full), a second future completion (refused), lazy force.

use serde_json::{Value, json};
use zeroipc_codata::{Channel, Future, Lazy, Stream};
use zeroipc_format::Segment;
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
use zeroipc_sync::{Event, Latch, Mutex, Once, Semaphore, Signal};

use crate::error::{PeerError, sent};

fn none_is_error<T>(v: Option<T>, what: &str) -> Result<T, PeerError> {
    v.ok_or_else(|| PeerError::new("Mutate", format!("{what}: nothing there")))
}

/// Applies the script; returns the result of every operation that returns something, in
/// order (popped/read values, removal and insertion flags, allocated indices).
///
/// # Errors
/// Open errors; a full structure where the script expects room.
pub fn run(seg: &Segment) -> Result<Vec<Value>, PeerError> {
    let mut out = Vec::new();

    let q = Queue::<i32>::open(seg, "q_i32")?;
    out.push(json!(q.pop()?));
    for v in [60, 70, 80, 90, 100] {
        q.push(v)?;
    }
    let q = Queue::<f64>::open(seg, "q_f64")?;
    out.push(json!(q.pop()?));
    q.push(3.5)?;

    let s = Stack::<i32>::open(seg, "stk_i32")?;
    out.push(json!(s.pop()?));
    s.push(10)?;
    s.push(11)?;
    let s = Stack::<u8>::open(seg, "stk_u8")?;
    out.push(json!(s.pop()?));
    out.push(json!(s.pop()?));
    s.push(200)?;

    let r = Ring::<i32>::open(seg, "ring_i32")?;
    out.push(json!(r.read()?));
    for v in [6, 7, 8, 9] {
        r.write(v)?;
    }

    let m = Map::<i32, f64>::open(seg, "map_i32_f64")?;
    out.push(json!(m.remove(&2)?.is_some()));
    for (k, v) in [(18, 9.0), (2, 7.0), (1, -1.5)] {
        out.push(json!(m.insert(k, v)?.is_none()));
    }
    let m = Map::<i32, i32>::open(seg, "map_i32_i32")?;
    for (k, v) in [(12, 120), (20, 200)] {
        out.push(json!(m.insert(k, v)?.is_none()));
    }
    out.push(json!(m.remove(&4)?.is_some()));
    out.push(json!(m.insert(-3, -30)?.is_none()));

    let set = Set::<i32>::open(seg, "set_i32")?;
    out.push(json!(set.remove(&5)?));
    for v in [7, 13, -1, 6] {
        out.push(json!(set.insert(v)?));
    }

    let p = Pool::<i32>::open(seg, "pool_i32")?;
    let i = none_is_error(p.allocate()?, "pool alloc")?;
    p.set(i, 333)?;
    out.push(json!(i));
    p.deallocate(0)?;
    let i = none_is_error(p.allocate()?, "pool alloc")?;
    p.set(i, 444)?;
    out.push(json!(i));

    Array::<i64>::open(seg, "arr_i64")?.set(2, -7)?;
    Array::<f32>::open(seg, "arr_f32")?.set(9, -9.25)?;

    // Synchronisation primitives and codata, through their non-blocking operations.
    let sem = Semaphore::open(seg, "sem")?;
    out.push(json!(sem.try_acquire()?));
    sem.release()?;
    sem.release()?;
    out.push(json!(sem.count()?));
    // Locked and unlocked again (the guard drops at the end of the statement).
    out.push(json!(Mutex::open(seg, "mtx")?.try_lock()?.is_some()));
    out.push(json!(Latch::open(seg, "lat")?.count_down(1)?));
    out.push(json!(Once::open(seg, "once_pend")?.call(|| {})?));
    Event::open(seg, "evt")?.reset()?;
    let sig = Signal::<i32>::open(seg, "sig_i32")?;
    sig.set(8)?;
    out.push(json!(sig.version()?));
    let st = Stream::<i32>::open(seg, "stream_i32")?;
    out.push(json!(st.try_next()?));
    for v in [4, 5] {
        out.push(json!(sent(st.try_emit(v))?));
    }
    let ch = Channel::<i32>::open(seg, "chan_i32")?;
    out.push(json!(ch.try_recv()?));
    for v in [300, 400, 500, 600] {
        out.push(json!(sent(ch.try_send(v))?));
    }
    let f = Future::<f64>::open(seg, "fut_f64")?;
    out.push(json!(matches!(
        f.set_value(1.0),
        Err(zeroipc_codata::Error::AlreadySet { .. })
    )));
    out.push(json!(Lazy::<f64>::open(seg, "lazy_f64")?.force()?));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    #[test]
    fn the_script_runs_on_the_standard_scenario() {
        let seg = Segment::anonymous(65536, 64).unwrap();
        let text = std::fs::read_to_string(crate::default_scenario()).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        for s in scenario::parse(&doc).unwrap() {
            scenario::write(&seg, &s).unwrap();
        }
        let results = run(&seg).unwrap();
        assert_eq!(
            Value::Array(results),
            json!([
                30, 1.5, 9, 3, 2, 3, true, true, true, false, true, true, true, true, true, true,
                true, true, false, 2, 0, true, 4, true, false, true, 1, 1, true, true, 100, true,
                true, true, false, true, 6.5
            ])
        );
        let q = Queue::<i32>::open(&seg, "q_i32").unwrap();
        assert_eq!(
            q.counters().unwrap(),
            (3, 10),
            "the queue wrapped around its 8 slots"
        );
        let r = Ring::<i32>::open(&seg, "ring_i32").unwrap();
        assert_eq!(r.snapshot().unwrap(), vec![4, 5, 6, 7, 8, 9]);
    }
}
