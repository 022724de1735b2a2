//! The golden JSON (spec §8.2): a segment's `header` and `entries`, and each structure as the
//! golden files `interop/golden/zeroipc/*.json` hold it. It is [`decode`](crate::decode())
//! in the [`View::GOLDEN`] form, keeping the keys the golden schema has (the CLI shows more).

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use serde_json::{Value, json};
use zeroipc_format::{Header, Segment};

use crate::decode::{Fields, View, decode};
use crate::dtype::{Kind, Spec};
use crate::error::Result;

/// The keys of a structure of kind `kind` in the golden JSON, in the golden files' order.
pub fn golden_keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Array => &["kind", "dtype", "capacity", "values"],
        Kind::Queue => &[
            "kind",
            "dtype",
            "capacity",
            "elem_size",
            "head",
            "tail",
            "size",
            "items",
        ],
        Kind::Stack => &[
            "kind",
            "dtype",
            "capacity",
            "elem_size",
            "top",
            "size",
            "items",
            "slot_states",
        ],
        Kind::Ring => &[
            "kind",
            "dtype",
            "capacity_bytes",
            "elem_size",
            "write_pos",
            "read_pos",
            "items",
        ],
        Kind::Map => &[
            "kind",
            "key_dtype",
            "value_dtype",
            "capacity",
            "size",
            "key_size",
            "value_size",
            "entry_size",
            "items",
            "lookup",
        ],
        Kind::Set => &["kind", "dtype", "capacity", "size", "items", "contains"],
        Kind::Pool => &[
            "kind",
            "dtype",
            "capacity",
            "elem_size",
            "allocated",
            "free_head_index",
            "free_head_generation",
            "node_size",
            "free_list",
            "allocated_values",
        ],
        Kind::Semaphore => &["kind", "count", "waiting", "max_count"],
        Kind::Mutex => &["kind", "count", "waiting", "max_count", "locked"],
        Kind::RwLock => &["kind", "readers", "writer_active"],
        Kind::Monitor => &["kind", "waiting_count"],
        Kind::Barrier => &["kind", "arrived", "generation", "num_participants"],
        Kind::Latch => &["kind", "count", "initial_count"],
        Kind::Once => &["kind", "state"],
        Kind::Event => &["kind", "signaled", "mode", "waiting"],
        Kind::Signal => &["kind", "dtype", "version", "value"],
        Kind::Future => &["kind", "dtype", "state", "waiters", "value", "error_msg"],
        Kind::Lazy => &["kind", "dtype", "state", "value"],
        Kind::Stream => &[
            "kind",
            "dtype",
            "sequence",
            "closed",
            "buffer_capacity",
            "items",
        ],
        Kind::Channel => &["kind", "dtype", "closed", "capacity", "size", "items"],
    }
}

/// The structure `name` of `seg` decoded as `spec`, in the golden JSON's schema: every
/// element, `f32` widened exactly, the keys of [`golden_keys`] in their order.
///
/// # Errors
/// As [`decode`](crate::decode()): the structure's `open` errors (see
/// [`CliError::kind`](crate::CliError::kind) for the spec's kind names) and read errors.
///
/// # Examples
/// ```
/// use zeroipc_format::{Header, Segment};
/// use zeroipc_inspect::{Spec, golden_json};
/// use zeroipc_structures::Queue;
///
/// let seg = Segment::anonymous(65536, 16)?;
/// let q = Queue::<i32>::create(&seg, "q", 4)?;
/// q.push(7).unwrap();
/// let spec: Spec = "queue:i32".parse()?;
/// let v = golden_json(&seg, "q", spec)?;
/// assert_eq!(v["items"], serde_json::json!([7]));
/// assert_eq!(v["dtype"], "int32");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn golden_json(seg: &Segment, name: &str, spec: Spec) -> Result<Value> {
    let mut f = Fields::default();
    decode(seg, name, spec, &View::GOLDEN, &mut f)?;
    let mut all = f.to_json();
    let mut out = serde_json::Map::new();
    for &key in golden_keys(spec.kind) {
        if let Some(v) = all.get_mut(key) {
            out.insert(key.to_owned(), v.take());
        }
    }
    Ok(Value::Object(out))
}

/// The golden JSON's `header` object of a segment's table header.
pub fn header_json(h: &Header) -> Value {
    json!({
        "magic": h.magic,
        "version": h.version,
        "entry_count": h.entry_count,
        "max_entries": h.max_entries,
        "memory_size": h.memory_size,
        "next_offset": h.next_offset,
    })
}

/// The golden JSON's `header` and `entries` of a segment's table.
///
/// # Errors
/// A corrupt table.
pub fn table_json(seg: &Segment) -> Result<(Value, Value)> {
    let header = header_json(&seg.header()?);
    let entries = seg
        .entries()?
        .iter()
        .map(|e| json!({"name": e.name(), "offset": e.offset(), "size": e.size()}))
        .collect();
    Ok((header, Value::Array(entries)))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::dtype::Dtype;

    fn golden(stem: &str) -> (Segment, Value) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/golden/zeroipc");
        let bytes = std::fs::read(dir.join(format!("{stem}.seg"))).expect("golden image");
        let text = std::fs::read_to_string(dir.join(format!("{stem}.json"))).expect("json");
        (
            Segment::from_bytes(&bytes).expect("segment"),
            serde_json::from_str(&text).expect("golden json"),
        )
    }

    fn dtype(s: &Value, key: &str) -> Option<Dtype> {
        s.get(key)
            .map(|d| d.as_str().expect("dtype").parse().expect("dtype"))
    }

    /// Map items in a canonical order (their order is not significant).
    fn sorted(mut v: Value) -> Value {
        let map = v.get("kind").and_then(Value::as_str) == Some("map");
        if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut)
            && map
        {
            items.sort_by_key(Value::to_string);
        }
        v
    }

    #[test]
    fn the_cpp_image_decodes_as_its_golden_json_key_for_key() {
        let (seg, want) = golden("standard-cpp");
        let (header, entries) = table_json(&seg).unwrap();
        assert_eq!(header, want["header"]);
        assert_eq!(entries, want["entries"]);
        let structures = want["structures"].as_object().unwrap();
        assert_eq!(structures.len(), 27);
        let mut kinds = std::collections::BTreeSet::new();
        for (name, w) in structures {
            let kind: Kind = w["kind"].as_str().unwrap().parse().unwrap();
            kinds.insert(kind.name());
            let keys: Vec<&str> = w.as_object().unwrap().keys().map(String::as_str).collect();
            let mut table = golden_keys(kind).to_vec();
            let mut keys_sorted = keys.clone();
            table.sort_unstable();
            keys_sorted.sort_unstable();
            assert_eq!(keys_sorted, table, "{name}: the golden file's keys");
            let spec = Spec {
                kind,
                dtype: dtype(w, "dtype").or(dtype(w, "key_dtype")),
                value: dtype(w, "value_dtype"),
            };
            let got = golden_json(&seg, name, spec).unwrap();
            assert_eq!(sorted(got), sorted(w.clone()), "{name}");
        }
        assert_eq!(kinds.len(), Kind::ALL.len(), "every kind: {kinds:?}");
    }
}
