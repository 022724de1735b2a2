//! The synchronisation kinds (spec §3.8, on `zeroipc-sync`) and the codata kinds (§3.9, on
//! `zeroipc-codata`) of the standard scenario: writing them as the scenario describes and
//! decoding them into the schema of the golden `standard-cpp.json`.
//!
//! `--consume` (the reader takes what a consumer would take; the JSON reports the state
//! before):
//!
//! | kind | consumed |
//! |---|---|
//! | semaphore | every available permit is acquired (`count` → 0) |
//! | latch | counted down by its remaining count (`count` → 0) |
//! | once | a pending once is called (`state` 0 → 2) |
//! | stream | every buffered element is read as a competing consumer (`read_pos` → `write_pos`) |
//! | channel | every buffered element is received (`size` → 0) |
//! | mutex, barrier, rwlock, monitor, event, signal, future, lazy | nothing: reading them takes nothing away (locking, arriving or waiting would block or leave state behind) |

use serde_json::Value;
use zeroipc_codata::{Channel, Future, FutureState, Lazy, LazyState, Stream};
use zeroipc_format::Segment;
use zeroipc_structures::Ring;
use zeroipc_sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, OnceState, RwLock, Semaphore, Signal,
};

use crate::elem::{Elem, vec_from_json, vec_to_json, with_elem};
use crate::error::{PeerError, sent};
use crate::scenario::Spec;

/// The entries a kind's canonical (upstream C++) layout has for base name `name`, in creation
/// order. Anything else a writer creates for the structure is a project auxiliary entry.
pub fn canonical_parts(kind: &str, name: &str) -> Vec<String> {
    let with = |suffixes: &[&str]| suffixes.iter().map(|s| format!("{name}{s}")).collect();
    match kind {
        "rwlock" => with(&["_state", "_rmtx", "_wmtx", ""]),
        "monitor" => with(&["_mtx", "_cond", "_count", ""]),
        "event" => with(&["", "_sem"]),
        "signal" => with(&["_state", "_mtx", ""]),
        "stream" | "channel" => with(&["_header", "_buffer"]),
        _ => vec![name.to_owned()],
    }
}

fn int(s: &Spec<'_>, key: &str) -> Result<i32, PeerError> {
    let v = s.field(key)?;
    i32::from_json(v)
}

fn flag(s: &Spec<'_>, key: &str) -> Result<bool, PeerError> {
    match s.json.get(key) {
        None => Ok(false),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| PeerError::scenario(format!("{}: {key} is not a boolean", s.name))),
    }
}

fn check(ok: bool, s: &Spec<'_>, what: &str) -> Result<(), PeerError> {
    if ok {
        Ok(())
    } else {
        Err(PeerError::new("Full", format!("{}: {what}", s.name)))
    }
}

/// Writes one structure of a synchronisation or codata kind; `Ok(false)` for any other kind.
///
/// # Errors
/// Segment and structure errors; a full stream or channel.
pub fn write(seg: &Segment, s: &Spec<'_>) -> Result<bool, PeerError> {
    match s.kind {
        "semaphore" => {
            Semaphore::create(seg, s.name, int(s, "initial")?, int(s, "max")?)?;
        }
        "mutex" => {
            let m = Mutex::create(seg, s.name)?;
            if flag(s, "locked")? {
                // Held on exit: the count stays 0 and the owner entry keeps this pid.
                std::mem::forget(m.lock()?);
            }
        }
        "barrier" => {
            Barrier::create(seg, s.name, int(s, "participants")?)?;
        }
        "latch" => {
            let l = Latch::create(seg, s.name, int(s, "count")?)?;
            let n = match s.json.get("count_down") {
                Some(v) => i32::from_json(v)?,
                None => 0,
            };
            if n > 0 {
                l.count_down(n)?;
            }
        }
        "once" => {
            let o = Once::create(seg, s.name)?;
            if flag(s, "call")? {
                o.call(|| {})?;
            }
        }
        "rwlock" => {
            RwLock::create(seg, s.name)?;
        }
        "monitor" => {
            Monitor::create(seg, s.name)?;
        }
        "event" => {
            let mode = match s.str("mode")? {
                "manual" => EventMode::ManualReset,
                "auto" => EventMode::AutoReset,
                other => {
                    return Err(PeerError::scenario(format!(
                        "{}: event mode {other:?} (manual or auto)",
                        s.name
                    )));
                }
            };
            let e = Event::create(seg, s.name, mode)?;
            if flag(s, "signal")? {
                e.signal()?;
            }
        }
        "signal" => with_elem!(s.str("dtype")?, T, write_signal::<T>(seg, s))?,
        "future" => with_elem!(s.str("dtype")?, T, write_future::<T>(seg, s))?,
        "lazy" => with_elem!(s.str("dtype")?, T, write_lazy::<T>(seg, s))?,
        "stream" => with_elem!(s.str("dtype")?, T, write_stream::<T>(seg, s))?,
        "channel" => with_elem!(s.str("dtype")?, T, write_channel::<T>(seg, s))?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn write_signal<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let sig = Signal::<T>::create(seg, s.name, T::from_json(s.field("initial")?)?)?;
    let set = match s.json.get("set") {
        Some(v) => vec_from_json::<T>(v)?,
        None => Vec::new(),
    };
    for v in set {
        sig.set(v)?;
    }
    Ok(())
}

fn write_future<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let f = Future::<T>::create(seg, s.name)?;
    match (s.json.get("value"), s.json.get("error")) {
        (Some(v), None) => f.set_value(T::from_json(v)?)?,
        (None, Some(e)) => f.set_error(
            e.as_str()
                .ok_or_else(|| PeerError::scenario(format!("{}: error is not text", s.name)))?,
        )?,
        (None, None) => {} // left pending
        _ => {
            return Err(PeerError::scenario(format!(
                "{}: a future has a value or an error, not both",
                s.name
            )));
        }
    }
    Ok(())
}

fn write_lazy<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    Lazy::<T>::create_constant(seg, s.name, T::from_json(s.field("value")?)?)?;
    Ok(())
}

fn write_stream<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let st = Stream::<T>::create(seg, s.name, s.usize("capacity")?)?;
    for v in vec_from_json::<T>(s.field("emit")?)? {
        check(sent(st.try_emit(v))?, s, "stream buffer full")?;
    }
    Ok(())
}

fn write_channel<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let c = Channel::<T>::create(seg, s.name, s.usize("capacity")?)?;
    for v in vec_from_json::<T>(s.field("send")?)? {
        check(sent(c.try_send(v))?, s, "channel buffer full")?;
    }
    Ok(())
}

/// A JSON object from its fields, in order.
fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Decodes one structure of a synchronisation or codata kind; `Ok(None)` for any other kind.
///
/// # Errors
/// The open errors (`NotFound`, `LayoutMismatch`, `TypeMismatch`, `Corrupt`, `Incomplete`).
pub fn decode(seg: &Segment, s: &Spec<'_>, consume: bool) -> Result<Option<Value>, PeerError> {
    let name = s.name;
    let v = match s.kind {
        "semaphore" => {
            let sem = Semaphore::open(seg, name)?;
            let v = obj([
                ("kind", "semaphore".into()),
                ("count", sem.count()?.into()),
                ("waiting", sem.waiting()?.into()),
                ("max_count", sem.max_count().into()),
            ]);
            if consume {
                while sem.try_acquire()? {}
            }
            v
        }
        "mutex" => {
            let m = Mutex::open(seg, name)?;
            // A mutex is a semaphore with max_count 1: its words read through that view.
            let sem = Semaphore::open(seg, name)?;
            obj([
                ("kind", "mutex".into()),
                ("count", sem.count()?.into()),
                ("waiting", sem.waiting()?.into()),
                ("max_count", sem.max_count().into()),
                ("locked", m.is_locked()?.into()),
            ])
        }
        "barrier" => {
            let b = Barrier::open(seg, name)?;
            obj([
                ("kind", "barrier".into()),
                ("arrived", b.arrived()?.into()),
                ("generation", b.generation()?.into()),
                ("num_participants", b.participants().into()),
            ])
        }
        "latch" => {
            let l = Latch::open(seg, name)?;
            let count = l.count()?;
            let v = obj([
                ("kind", "latch".into()),
                ("count", count.into()),
                ("initial_count", l.initial_count()?.into()),
            ]);
            if consume && count > 0 {
                l.count_down(count)?;
            }
            v
        }
        "once" => {
            let o = Once::open(seg, name)?;
            let state = o.state()?;
            let code: u32 = match state {
                OnceState::Pending => 0,
                OnceState::Executing => 1,
                OnceState::Done => 2,
            };
            if consume && state == OnceState::Pending {
                o.call(|| {})?;
            }
            obj([("kind", "once".into()), ("state", code.into())])
        }
        "rwlock" => {
            let rw = RwLock::open(seg, name)?;
            obj([
                ("kind", "rwlock".into()),
                ("readers", rw.readers()?.into()),
                ("writer_active", u32::from(rw.writer_active()?).into()),
            ])
        }
        "monitor" => {
            let m = Monitor::open(seg, name)?;
            obj([
                ("kind", "monitor".into()),
                ("waiting_count", m.waiters()?.into()),
            ])
        }
        "event" => {
            let e = Event::open(seg, name)?;
            obj([
                ("kind", "event".into()),
                ("signaled", u32::from(e.is_signaled()?).into()),
                ("mode", u32::from(e.mode() == EventMode::ManualReset).into()),
                ("waiting", e.waiting()?.into()),
            ])
        }
        "signal" => with_elem!(s.str("dtype")?, T, signal::<T>(seg, name))?,
        "future" => with_elem!(s.str("dtype")?, T, future::<T>(seg, name))?,
        "lazy" => with_elem!(s.str("dtype")?, T, lazy::<T>(seg, name))?,
        "stream" => with_elem!(s.str("dtype")?, T, stream::<T>(seg, name, consume))?,
        "channel" => with_elem!(s.str("dtype")?, T, channel::<T>(seg, name, consume))?,
        _ => return Ok(None),
    };
    Ok(Some(v))
}

fn signal<T: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let sig = Signal::<T>::open(seg, name)?;
    // `get` takes the signal's mutex; a bounded wait keeps a stuck holder from hanging us.
    let value = sig.get_timeout(std::time::Duration::from_millis(200))?;
    Ok(obj([
        ("kind", "signal".into()),
        ("dtype", T::DTYPE.into()),
        ("version", sig.version()?.into()),
        ("value", value.to_json()),
    ]))
}

fn future<T: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let f = Future::<T>::open(seg, name)?;
    let state = f.state()?;
    let code: u32 = match state {
        FutureState::Pending => 0,
        FutureState::Computing => 1,
        FutureState::Ready => 2,
        FutureState::Error => 3,
    };
    let (value, error) = match f.try_get() {
        Ok(v) => (v.map_or(Value::Null, Elem::to_json), Value::Null),
        Err(e) => match e.failure_message() {
            Some(m) => (Value::Null, m.into()),
            None => return Err(e.into()),
        },
    };
    Ok(obj([
        ("kind", "future".into()),
        ("dtype", T::DTYPE.into()),
        ("state", code.into()),
        ("waiters", f.waiters()?.into()),
        ("value", value),
        ("error_msg", error),
    ]))
}

fn lazy<T: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let l = Lazy::<T>::open(seg, name)?;
    let code: u32 = match l.state()? {
        LazyState::NotComputed => 0,
        LazyState::Computing => 1,
        LazyState::Computed => 2,
        LazyState::Error => 3,
    };
    let value = match l.try_get() {
        Ok(v) => v.map_or(Value::Null, Elem::to_json),
        Err(e) if e.failure_message().is_some() => Value::Null,
        Err(e) => return Err(e.into()),
    };
    Ok(obj([
        ("kind", "lazy".into()),
        ("dtype", T::DTYPE.into()),
        ("state", code.into()),
        ("value", value),
    ]))
}

fn stream<T: Elem>(seg: &Segment, name: &str, consume: bool) -> Result<Value, PeerError> {
    let st = Stream::<T>::open(seg, name)?;
    let items = if consume {
        let mut got = Vec::new();
        while let Some(v) = st.try_next()? {
            got.push(v);
        }
        got
    } else {
        // The buffer is a Ring (spec §3.4): its unread elements, in place.
        Ring::<T>::open(seg, &format!("{name}_buffer"))?.snapshot()?
    };
    Ok(obj([
        ("kind", "stream".into()),
        ("dtype", T::DTYPE.into()),
        ("sequence", st.sequence()?.into()),
        ("closed", st.is_closed()?.into()),
        ("buffer_capacity", st.capacity().into()),
        ("items", vec_to_json(&items)),
    ]))
}

fn channel<T: Elem>(seg: &Segment, name: &str, consume: bool) -> Result<Value, PeerError> {
    let live = Channel::<T>::open(seg, name)?;
    let size = live.len()?;
    // Peek by receiving from a private copy, through the same (validating) algorithm.
    let copy;
    let c = if consume {
        live
    } else {
        copy = Segment::from_bytes(&seg.raw().to_vec())?;
        Channel::<T>::open(&copy, name)?
    };
    let mut items = Vec::new();
    loop {
        match c.try_recv() {
            Ok(Some(v)) => items.push(v),
            Ok(None) | Err(zeroipc_codata::Error::Closed { .. }) => break, // drained
            Err(e) => return Err(e.into()),
        }
    }
    Ok(obj([
        ("kind", "channel".into()),
        ("dtype", T::DTYPE.into()),
        ("closed", c.is_closed()?.into()),
        ("capacity", c.capacity().into()),
        ("size", size.into()),
        ("items", vec_to_json(&items)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: &Value) -> Spec<'_> {
        Spec {
            json: v,
            name: v["name"].as_str().unwrap(),
            kind: v["kind"].as_str().unwrap(),
        }
    }

    fn roundtrip(seg: &Segment, v: &Value) -> Value {
        assert!(write(seg, &spec(v)).unwrap(), "{v}");
        decode(seg, &spec(v), false).unwrap().unwrap()
    }

    #[test]
    fn sync_kinds_decode_as_written_and_consume_what_they_say() {
        let seg = Segment::anonymous(65536, 64).unwrap();
        let sem = json!({"name": "s", "kind": "semaphore", "initial": 2, "max": 0});
        assert_eq!(
            roundtrip(&seg, &sem),
            json!({"kind": "semaphore", "count": 2, "waiting": 0, "max_count": 0})
        );
        let held = json!({"name": "m", "kind": "mutex", "locked": true});
        let got = roundtrip(&seg, &held);
        assert_eq!(
            (got["count"].clone(), got["locked"].clone()),
            (json!(0), json!(true))
        );
        assert_eq!(
            Mutex::open(&seg, "m").unwrap().owner_pid().unwrap(),
            Some(std::process::id()),
            "a mutex held on exit records the writer"
        );
        let lat = json!({"name": "l", "kind": "latch", "count": 4, "count_down": 1});
        assert_eq!(
            roundtrip(&seg, &lat),
            json!({"kind": "latch", "count": 3, "initial_count": 4})
        );
        let once = json!({"name": "o", "kind": "once", "call": false});
        assert_eq!(roundtrip(&seg, &once)["state"], 0);
        let auto = json!({"name": "e", "kind": "event", "mode": "auto", "signal": true});
        assert_eq!(
            roundtrip(&seg, &auto),
            json!({"kind": "event", "signaled": 1, "mode": 0, "waiting": 0})
        );
        let sig = json!({"name": "g", "kind": "signal", "dtype": "int64", "initial": -1,
                         "set": [5, 1_099_511_627_776_i64]});
        assert_eq!(
            roundtrip(&seg, &sig),
            json!({"kind": "signal", "dtype": "int64", "version": 2, "value": 1_099_511_627_776_i64})
        );

        // --consume reports the state before and leaves the consumed state behind.
        for v in [&sem, &lat, &once, &held] {
            let before = decode(&seg, &spec(v), false).unwrap();
            assert_eq!(decode(&seg, &spec(v), true).unwrap(), before, "{v}");
        }
        let after = |v: &Value| decode(&seg, &spec(v), false).unwrap().unwrap();
        assert_eq!(after(&sem)["count"], 0);
        assert_eq!(after(&lat)["count"], 0);
        assert_eq!(after(&once)["state"], 2);
        assert_eq!(after(&held)["locked"], true, "a mutex is only read");

        let bad = json!({"name": "b", "kind": "event", "mode": "sometimes"});
        assert_eq!(write(&seg, &spec(&bad)).unwrap_err().kind, "Scenario");
    }

    #[test]
    fn codata_kinds_decode_as_written() {
        let seg = Segment::anonymous(65536, 64).unwrap();
        let pending = json!({"name": "p", "kind": "future", "dtype": "uint8"});
        assert_eq!(
            roundtrip(&seg, &pending),
            json!({"kind": "future", "dtype": "uint8", "state": 0, "waiters": 0,
                   "value": null, "error_msg": null})
        );
        let lazy = json!({"name": "z", "kind": "lazy", "dtype": "int16", "value": -7});
        assert_eq!(
            roundtrip(&seg, &lazy),
            json!({"kind": "lazy", "dtype": "int16", "state": 2, "value": -7})
        );
        let st = json!({"name": "st", "kind": "stream", "dtype": "float32", "capacity": 2,
                        "emit": [0.5, -1.0]});
        assert_eq!(
            roundtrip(&seg, &st),
            json!({"kind": "stream", "dtype": "float32", "sequence": 2, "closed": false,
                   "buffer_capacity": 2, "items": [0.5, -1.0]})
        );
        let ch = json!({"name": "ch", "kind": "channel", "dtype": "uint64", "capacity": 3,
                        "send": [1, 2, 3]});
        assert_eq!(
            roundtrip(&seg, &ch),
            json!({"kind": "channel", "dtype": "uint64", "closed": false, "capacity": 4,
                   "size": 3, "items": [1, 2, 3]})
        );
        // Peeking left them alone; consuming takes the elements.
        for v in [&st, &ch] {
            let peeked = decode(&seg, &spec(v), false).unwrap();
            assert_eq!(decode(&seg, &spec(v), true).unwrap(), peeked);
            assert_eq!(
                decode(&seg, &spec(v), false).unwrap().unwrap()["items"],
                json!([])
            );
        }
        let full = json!({"name": "f", "kind": "stream", "dtype": "int8", "capacity": 1,
                          "emit": [1, 2]});
        assert_eq!(write(&seg, &spec(&full)).unwrap_err().kind, "Full");
        let wrong = json!({"name": "ch", "kind": "channel", "dtype": "uint32"});
        assert_eq!(
            decode(&seg, &spec(&wrong), false).unwrap_err().kind,
            "TypeMismatch"
        );
        let missing = json!({"name": "zz", "kind": "lazy", "dtype": "int16"});
        assert_eq!(
            decode(&seg, &spec(&missing), false).unwrap_err().kind,
            "NotFound"
        );
    }

    #[test]
    fn canonical_parts_are_the_cpp_entries() {
        assert_eq!(
            canonical_parts("rwlock", "rw"),
            ["rw_state", "rw_rmtx", "rw_wmtx", "rw"]
        );
        assert_eq!(canonical_parts("channel", "c"), ["c_header", "c_buffer"]);
        assert_eq!(canonical_parts("mutex", "m"), ["m"]);
    }
}
