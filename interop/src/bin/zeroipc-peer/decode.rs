//! Decoding a segment into the JSON schema of the golden `standard-cpp.json` (spec §8.2).

use serde_json::{Map as JsonMap, Value, json};
use zeroipc_format::Segment;
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};

use crate::elem::{Elem, key_text, vec_to_json, with_elem, with_map_elem};
use crate::error::PeerError;
use crate::scenario::Spec;

/// `header` and `entries` of the table.
///
/// # Errors
/// A corrupt table.
pub fn table(seg: &Segment) -> Result<(Value, Value), PeerError> {
    let h = seg.header()?;
    let header = json!({
        "magic": h.magic, "version": h.version, "entry_count": h.entry_count,
        "max_entries": h.max_entries, "memory_size": h.memory_size, "next_offset": h.next_offset,
    });
    let entries = seg
        .entries()?
        .iter()
        .map(|e| json!({"name": e.name(), "offset": e.offset(), "size": e.size()}))
        .collect();
    Ok((header, Value::Array(entries)))
}

/// Decodes one structure (the synchronisation and codata kinds in `kinds.rs`); `Ok(None)`
/// for a kind this peer does not know. With `consume`, queue, stack and ring items are taken
/// out (popped/read) instead of peeked, and `kinds.rs` says what is consumed of the other
/// kinds; the counters reported are those before consuming.
///
/// # Errors
/// The open errors (`NotFound`, `LayoutMismatch`, `TypeMismatch`, `Corrupt`, ...).
pub fn structure(seg: &Segment, s: &Spec<'_>, consume: bool) -> Result<Option<Value>, PeerError> {
    let v = match s.kind {
        "array" => with_elem!(s.str("dtype")?, T, array::<T>(seg, s.name))?,
        "queue" => with_elem!(s.str("dtype")?, T, queue::<T>(seg, s.name, consume))?,
        "stack" => with_elem!(s.str("dtype")?, T, stack::<T>(seg, s.name, consume))?,
        "ring" => with_elem!(s.str("dtype")?, T, ring::<T>(seg, s.name, consume))?,
        "set" => with_map_elem!(s.str("dtype")?, T, set::<T>(seg, s.name))?,
        "pool" => with_elem!(s.str("dtype")?, T, pool::<T>(seg, s.name))?,
        "map" => with_map_elem!(
            s.str("key_dtype")?,
            K,
            with_map_elem!(s.str("value_dtype")?, V, map::<K, V>(seg, s.name))
        )?,
        _ => return crate::kinds::decode(seg, s, consume),
    };
    Ok(Some(v))
}

/// A JSON object from its fields, in order. Kept out of the generic decoders so that the
/// object building is compiled once, not once per element type.
fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn array<T: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let a = Array::<T>::open(seg, name)?;
    Ok(obj([
        ("kind", "array".into()),
        ("dtype", T::DTYPE.into()),
        ("capacity", a.len().into()),
        ("values", vec_to_json(&a.to_vec())),
    ]))
}

fn queue<T: Elem>(seg: &Segment, name: &str, consume: bool) -> Result<Value, PeerError> {
    let live = Queue::<T>::open(seg, name)?;
    let (head, tail) = live.counters()?;
    let size = live.len()?;
    // The crate has no non-destructive iteration of a queue: peek by popping from a private
    // copy of the segment, through the same (validating) algorithm.
    let copy;
    let q = if consume {
        live
    } else {
        copy = Segment::from_bytes(&seg.raw().to_vec())?;
        Queue::<T>::open(&copy, name)?
    };
    let mut items = Vec::new();
    while let Some(v) = q.pop()? {
        items.push(v);
    }
    Ok(obj([
        ("kind", "queue".into()),
        ("dtype", T::DTYPE.into()),
        ("capacity", q.capacity().into()),
        ("elem_size", size_of::<T>().into()),
        ("head", head.into()),
        ("tail", tail.into()),
        ("size", size.into()),
        ("items", vec_to_json(&items)),
    ]))
}

fn stack<T: Elem>(seg: &Segment, name: &str, consume: bool) -> Result<Value, PeerError> {
    let st = Stack::<T>::open(seg, name)?;
    let size = st.len()?;
    let states = st.slot_states()?;
    let items = if consume {
        let mut popped = Vec::new();
        while let Some(v) = st.pop()? {
            popped.push(v);
        }
        popped.reverse(); // bottom → top, like the peeked form
        popped
    } else {
        st.snapshot()?
    };
    Ok(obj([
        ("kind", "stack".into()),
        ("dtype", T::DTYPE.into()),
        ("capacity", st.capacity().into()),
        ("elem_size", size_of::<T>().into()),
        // len() is max(top + 1, 0) and top is validated to be >= -1.
        ("top", (size as i64 - 1).into()),
        ("size", size.into()),
        ("items", vec_to_json(&items)),
        ("slot_states", states.into()),
    ]))
}

fn ring<T: Elem>(seg: &Segment, name: &str, consume: bool) -> Result<Value, PeerError> {
    let r = Ring::<T>::open(seg, name)?;
    let (write_pos, read_pos) = r.positions_snapshot()?;
    let items = if consume {
        let mut read = Vec::new();
        while let Some(v) = r.read()? {
            read.push(v);
        }
        read
    } else {
        r.snapshot()?
    };
    Ok(obj([
        ("kind", "ring".into()),
        ("dtype", T::DTYPE.into()),
        ("capacity_bytes", r.capacity_bytes().into()),
        ("elem_size", size_of::<T>().into()),
        ("write_pos", write_pos.into()),
        ("read_pos", read_pos.into()),
        ("items", vec_to_json(&items)),
    ]))
}

fn map<K: Elem, V: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let m = Map::<K, V>::open(seg, name)?;
    let items = m.snapshot()?;
    let mut lookup = JsonMap::new();
    let mut pairs = Vec::with_capacity(items.len());
    for (k, v) in &items {
        lookup.insert(key_text(*k), m.get(k)?.map_or(Value::Null, Elem::to_json));
        pairs.push(Value::Array(vec![k.to_json(), v.to_json()]));
    }
    Ok(obj([
        ("kind", "map".into()),
        ("key_dtype", K::DTYPE.into()),
        ("value_dtype", V::DTYPE.into()),
        ("capacity", m.capacity().into()),
        ("size", m.len()?.into()),
        ("key_size", size_of::<K>().into()),
        ("value_size", size_of::<V>().into()),
        ("entry_size", Map::<K, V>::ENTRY_SIZE.into()),
        ("items", pairs.into()),
        ("lookup", lookup.into()),
    ]))
}

fn set<T: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let s = Set::<T>::open(seg, name)?;
    let items = s.snapshot()?;
    let mut contains = JsonMap::new();
    for v in &items {
        contains.insert(key_text(*v), s.contains(v)?.into());
    }
    Ok(obj([
        ("kind", "set".into()),
        ("dtype", T::DTYPE.into()),
        ("capacity", s.capacity().into()),
        ("size", s.len()?.into()),
        ("items", vec_to_json(&items)),
        ("contains", contains.into()),
    ]))
}

fn pool<T: Elem>(seg: &Segment, name: &str) -> Result<Value, PeerError> {
    let p = Pool::<T>::open(seg, name)?;
    let (head_index, head_generation) = p.free_head()?;
    let free = p.free_list()?;
    let mut values = JsonMap::new();
    for i in 0..p.capacity() as u32 {
        if !free.contains(&i) {
            values.insert(i.to_string(), p.get(i)?.to_json());
        }
    }
    Ok(obj([
        ("kind", "pool".into()),
        ("dtype", T::DTYPE.into()),
        ("capacity", p.capacity().into()),
        ("elem_size", size_of::<T>().into()),
        ("allocated", p.len()?.into()),
        ("free_head_index", head_index.into()),
        ("free_head_generation", head_generation.into()),
        ("node_size", Pool::<T>::NODE_SIZE.into()),
        ("free_list", free.into()),
        ("allocated_values", values.into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    fn spec(v: &Value) -> Spec<'_> {
        Spec {
            json: v,
            name: v["name"].as_str().unwrap(),
            kind: v["kind"].as_str().unwrap(),
        }
    }

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
            assert!(scenario::write(&seg, &spec(v)).unwrap());
        }
        assert!(
            !scenario::write(&seg, &spec(&lat)).unwrap(),
            "an unknown kind is skipped"
        );
        assert_eq!(structure(&seg, &spec(&lat), false).unwrap(), None);

        let got = structure(&seg, &spec(&q), false).unwrap().unwrap();
        assert_eq!(
            got,
            json!({"kind": "queue", "dtype": "int32", "capacity": 4, "elem_size": 4, "head": 1,
                   "tail": 3, "size": 2, "items": [20, 30]})
        );
        // Peeking left the queue alone; consuming empties it but reports the counters before.
        let got = structure(&seg, &spec(&q), true).unwrap().unwrap();
        assert_eq!(got["items"], json!([20, 30]));
        assert_eq!(got["head"], 1);
        let got = structure(&seg, &spec(&q), false).unwrap().unwrap();
        assert_eq!(
            (got["head"].clone(), got["items"].clone()),
            (json!(3), json!([]))
        );

        let got = structure(&seg, &spec(&m), false).unwrap().unwrap();
        assert_eq!(got["entry_size"], 16);
        assert_eq!(got["lookup"], json!({"1": 1.5, "-1": 2.0}));
        assert_eq!(got["size"], 2);

        let got = structure(&seg, &spec(&p), false).unwrap().unwrap();
        assert_eq!(got["free_list"], json!([1, 2]));
        assert_eq!(got["allocated_values"], json!({"0": 7}));
        assert_eq!(
            (
                got["free_head_index"].clone(),
                got["free_head_generation"].clone()
            ),
            (json!(1), json!(1))
        );

        let got = structure(&seg, &spec(&st), true).unwrap().unwrap();
        assert_eq!(
            (got["top"].clone(), got["items"].clone()),
            (json!(1), json!([1, 2]))
        );
        assert_eq!(got["slot_states"], json!([2, 2, 0]));
        let got = structure(&seg, &spec(&st), false).unwrap().unwrap();
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
        scenario::write(&seg, &spec(&a)).unwrap();
        let as_i64 = json!({"name": "a", "kind": "array", "dtype": "int64"});
        assert_eq!(
            structure(&seg, &spec(&as_i64), false).unwrap_err().kind,
            "LayoutMismatch"
        );
        let missing = json!({"name": "nope", "kind": "ring", "dtype": "int32"});
        assert_eq!(
            structure(&seg, &spec(&missing), false).unwrap_err().kind,
            "NotFound"
        );
    }
}
