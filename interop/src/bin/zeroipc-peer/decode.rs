//! Reading a segment into the JSON schema of the golden `standard-cpp.json` (spec §8.2), with
//! the one decoder of the workspace (`zeroipc_inspect::golden_json`), and consuming what a
//! consumer would take (`--consume`).
//!
//! | kind | consumed |
//! |---|---|
//! | queue, channel | every element is popped / received (`size` → 0) |
//! | stack | every element is popped (`top` → -1) |
//! | ring | every element is read (`read_pos` → `write_pos`) |
//! | semaphore | every available permit is acquired (`count` → 0) |
//! | latch | counted down by its remaining count (`count` → 0) |
//! | once | a pending once is called (`state` 0 → 2) |
//! | stream | every buffered element is read as a competing consumer (`read_pos` → `write_pos`) |
//! | array, map, set, pool, mutex, barrier, rwlock, monitor, event, signal, future, lazy | nothing: reading them takes nothing away (locking, arriving or waiting would block or leave state behind) |

use serde_json::Value;
use zeroipc_codata::{Channel, Stream};
use zeroipc_format::Segment;
use zeroipc_inspect::{Dtype, Kind, golden_json, with_dtype};
use zeroipc_structures::{Queue, Ring, Stack};
use zeroipc_sync::{Latch, Once, OnceState, Semaphore};

use crate::error::PeerError;
use crate::scenario::Spec;

/// `header` and `entries` of the table.
///
/// # Errors
/// A corrupt table.
pub fn table(seg: &Segment) -> Result<(Value, Value), PeerError> {
    Ok(zeroipc_inspect::table_json(seg)?)
}

/// The kind of a scenario structure; `None` for a kind this peer does not know.
pub fn kind(s: &Spec<'_>) -> Option<Kind> {
    s.kind.parse().ok()
}

/// The decoder's spec (kind and element types) of a scenario structure of kind `kind`.
///
/// # Errors
/// A missing or unknown dtype.
fn decoder_spec(s: &Spec<'_>, kind: Kind) -> Result<zeroipc_inspect::Spec, PeerError> {
    Ok(match kind {
        Kind::Map => zeroipc_inspect::Spec {
            kind,
            dtype: Some(s.dtype("key_dtype")?),
            value: Some(s.dtype("value_dtype")?),
        },
        _ if kind.typing() == zeroipc_inspect::Typing::Untyped => {
            zeroipc_inspect::Spec::untyped(kind)
        }
        _ => zeroipc_inspect::Spec {
            kind,
            dtype: Some(s.dtype("dtype")?),
            value: None,
        },
    })
}

/// Decodes one structure; `Ok(None)` for a kind this peer does not know. With `consume`,
/// what a consumer would take is taken afterwards (see the table above); the JSON is the
/// state before.
///
/// # Errors
/// The open errors (`NotFound`, `LayoutMismatch`, `TypeMismatch`, `Corrupt`, ...).
pub fn structure(seg: &Segment, s: &Spec<'_>, consume: bool) -> Result<Option<Value>, PeerError> {
    let Some(kind) = kind(s) else {
        return Ok(None);
    };
    let spec = decoder_spec(s, kind)?;
    let v = golden_json(seg, s.name, spec)?;
    if consume {
        take(seg, s.name, kind, spec.dtype)?;
    }
    Ok(Some(v))
}

/// Takes what a consumer of `name` would take (see the table above).
fn take(seg: &Segment, name: &str, kind: Kind, dtype: Option<Dtype>) -> Result<(), PeerError> {
    match (kind, dtype) {
        (Kind::Semaphore, _) => {
            let sem = Semaphore::open(seg, name)?;
            while sem.try_acquire()? {}
        }
        (Kind::Latch, _) => {
            let l = Latch::open(seg, name)?;
            let count = l.count()?;
            if count > 0 {
                l.count_down(count)?;
            }
        }
        (Kind::Once, _) => {
            let o = Once::open(seg, name)?;
            if o.state()? == OnceState::Pending {
                o.call(|| {})?;
            }
        }
        (Kind::Queue | Kind::Stack | Kind::Ring | Kind::Stream | Kind::Channel, Some(d)) => {
            with_dtype!(d, T => drain::<T>(seg, name, kind))?;
        }
        _ => {}
    }
    Ok(())
}

/// Calls `take` on `s` until it gives nothing more.
fn take_all<S, V, E: Into<PeerError>>(
    s: &S,
    take: impl Fn(&S) -> Result<Option<V>, E>,
) -> Result<(), PeerError> {
    while take(s).map_err(Into::into)?.is_some() {}
    Ok(())
}

/// The error kind `structure` gives for the spec `v` (tests).
#[cfg(test)]
pub fn error_kind(seg: &Segment, v: &Value) -> String {
    structure(seg, &Spec::of(v), false).unwrap_err().kind
}

/// Pops, reads or receives every element of a queue, stack, ring, stream or channel.
fn drain<T: bytemuck::Pod>(seg: &Segment, name: &str, kind: Kind) -> Result<(), PeerError> {
    match kind {
        Kind::Queue => take_all(&Queue::<T>::open(seg, name)?, Queue::pop)?,
        Kind::Stack => take_all(&Stack::<T>::open(seg, name)?, Stack::pop)?,
        Kind::Ring => take_all(&Ring::<T>::open(seg, name)?, Ring::read)?,
        Kind::Stream => take_all(&Stream::<T>::open(seg, name)?, Stream::try_next)?,
        Kind::Channel => {
            let c = Channel::<T>::open(seg, name)?;
            loop {
                match c.try_recv() {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(zeroipc_codata::Error::Closed { .. }) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scenario;

    #[test]
    fn written_structures_decode_in_the_golden_schema() {
        let seg = Segment::anonymous(65536, 64).unwrap();
        let q = json!({"name": "q", "kind": "queue", "dtype": "int32", "capacity": 3,
                       "push": [10, 20, 30], "pop": 1});
        let m = json!({"name": "m", "kind": "map", "key_dtype": "int32", "value_dtype": "float64",
                       "capacity": 16, "items": [[1, 1.5], [-1, 2.0]]});
        let p = json!({"name": "p", "kind": "pool", "dtype": "int32", "capacity": 3, "alloc": [7]});
        let st =
            json!({"name": "s", "kind": "stack", "dtype": "uint8", "capacity": 3, "push": [1, 2]});
        let lat = json!({"name": "l", "kind": "hologram", "count": 1});
        for v in [&q, &m, &p, &st] {
            assert!(scenario::write(&seg, &Spec::of(v)).unwrap());
        }
        assert!(
            !scenario::write(&seg, &Spec::of(&lat)).unwrap(),
            "an unknown kind is skipped"
        );
        assert_eq!(structure(&seg, &Spec::of(&lat), false).unwrap(), None);

        let got = structure(&seg, &Spec::of(&q), false).unwrap().unwrap();
        assert_eq!(
            got,
            json!({"kind": "queue", "dtype": "int32", "capacity": 4, "elem_size": 4, "head": 1,
                   "tail": 3, "size": 2, "items": [20, 30]})
        );
        // Peeking left the queue alone; consuming empties it but reports the counters before.
        let got = structure(&seg, &Spec::of(&q), true).unwrap().unwrap();
        assert_eq!(got["items"], json!([20, 30]));
        assert_eq!(got["head"], 1);
        let got = structure(&seg, &Spec::of(&q), false).unwrap().unwrap();
        assert_eq!(
            (got["head"].clone(), got["items"].clone()),
            (json!(3), json!([]))
        );

        let got = structure(&seg, &Spec::of(&m), false).unwrap().unwrap();
        assert_eq!(got["entry_size"], 16);
        assert_eq!(got["lookup"], json!({"1": 1.5, "-1": 2.0}));
        assert_eq!(got["size"], 2);

        let got = structure(&seg, &Spec::of(&p), false).unwrap().unwrap();
        assert_eq!(got["free_list"], json!([1, 2]));
        assert_eq!(got["allocated_values"], json!({"0": 7}));
        assert_eq!(
            (
                got["free_head_index"].clone(),
                got["free_head_generation"].clone()
            ),
            (json!(1), json!(1))
        );

        let got = structure(&seg, &Spec::of(&st), true).unwrap().unwrap();
        assert_eq!(
            (got["top"].clone(), got["items"].clone()),
            (json!(1), json!([1, 2]))
        );
        assert_eq!(got["slot_states"], json!([2, 2, 0]));
        let got = structure(&seg, &Spec::of(&st), false).unwrap().unwrap();
        assert_eq!(
            (got["top"].clone(), got["size"].clone()),
            (json!(-1), json!(0))
        );
    }

    #[test]
    fn open_errors_carry_the_spec_kind() {
        let seg = Segment::anonymous(65536, 64).unwrap();
        let a =
            json!({"name": "a", "kind": "array", "dtype": "int32", "capacity": 4, "values": []});
        scenario::write(&seg, &Spec::of(&a)).unwrap();
        let as_i64 = json!({"name": "a", "kind": "array", "dtype": "int64"});
        assert_eq!(error_kind(&seg, &as_i64), "LayoutMismatch");
        let missing = json!({"name": "nope", "kind": "ring", "dtype": "int32"});
        assert_eq!(error_kind(&seg, &missing), "NotFound");
    }
}
