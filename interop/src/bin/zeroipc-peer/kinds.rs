//! The synchronisation kinds (spec §3.8, on `zeroipc-sync`) and the codata kinds (§3.9, on
//! `zeroipc-codata`) of the standard scenario: writing them as the scenario describes.
//! Reading them is `decode.rs` (the `zeroipc-inspect` decoder).

use zeroipc_codata::{Channel, Future, Lazy, Stream};
use zeroipc_format::Segment;
use zeroipc_inspect::with_dtype;
use zeroipc_sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, RwLock, Semaphore, Signal,
};

use crate::elem::{Elem, vec_from_json};
use crate::error::{PeerError, sent};
use crate::scenario::Spec;

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
        "signal" => with_dtype!(s.dtype("dtype")?, T => write_signal::<T>(seg, s))?,
        "future" => with_dtype!(s.dtype("dtype")?, T => write_future::<T>(seg, s))?,
        "lazy" => with_dtype!(s.dtype("dtype")?, T => write_lazy::<T>(seg, s))?,
        "stream" => with_dtype!(s.dtype("dtype")?, T => write_stream::<T>(seg, s))?,
        "channel" => with_dtype!(s.dtype("dtype")?, T => write_channel::<T>(seg, s))?,
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::decode::{error_kind, structure};

    fn roundtrip(seg: &Segment, v: &Value) -> Value {
        assert!(write(seg, &Spec::of(v)).unwrap(), "{v}");
        structure(seg, &Spec::of(v), false).unwrap().unwrap()
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
            let before = structure(&seg, &Spec::of(v), false).unwrap();
            assert_eq!(structure(&seg, &Spec::of(v), true).unwrap(), before, "{v}");
        }
        let after = |v: &Value| structure(&seg, &Spec::of(v), false).unwrap().unwrap();
        assert_eq!(after(&sem)["count"], 0);
        assert_eq!(after(&lat)["count"], 0);
        assert_eq!(after(&once)["state"], 2);
        assert_eq!(after(&held)["locked"], true, "a mutex is only read");

        let bad = json!({"name": "b", "kind": "event", "mode": "sometimes"});
        assert_eq!(write(&seg, &Spec::of(&bad)).unwrap_err().kind, "Scenario");
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
            let peeked = structure(&seg, &Spec::of(v), false).unwrap();
            assert_eq!(structure(&seg, &Spec::of(v), true).unwrap(), peeked);
            assert_eq!(
                structure(&seg, &Spec::of(v), false).unwrap().unwrap()["items"],
                json!([])
            );
        }
        let full = json!({"name": "f", "kind": "stream", "dtype": "int8", "capacity": 1,
                          "emit": [1, 2]});
        assert_eq!(write(&seg, &Spec::of(&full)).unwrap_err().kind, "Full");
        let wrong = json!({"name": "ch", "kind": "channel", "dtype": "uint32"});
        assert_eq!(error_kind(&seg, &wrong), "TypeMismatch");
        let missing = json!({"name": "zz", "kind": "lazy", "dtype": "int16"});
        assert_eq!(error_kind(&seg, &missing), "NotFound");
    }
}
