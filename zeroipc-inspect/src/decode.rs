//! Decoding a structure into ordered fields, with the keys of the golden JSON (spec §8.2).

use std::collections::BTreeSet;
use std::ops::Range;

use bytemuck::Pod;
use serde_json::{Map as JsonMap, Value};
use zeroipc_format::{Entry, Segment};
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};

use crate::dtype::{Dtype, Kind, Spec};
use crate::error::Result;

/// A Pod scalar that converts to a JSON number.
pub trait Scalar: Pod + Into<Value> {}
impl<T: Pod + Into<Value>> Scalar for T {}

/// How many elements of each list to show.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Elements shown at each end of a long list.
    pub edge: usize,
    /// Show everything.
    pub all: bool,
}

impl Limit {
    /// The ranges shown: the head, and a tail that is empty unless the list is truncated.
    fn window(&self, len: usize) -> (Range<usize>, Range<usize>) {
        if self.all || len <= self.edge.saturating_mul(2) {
            (0..len, len..len)
        } else {
            (0..self.edge, len - self.edge..len)
        }
    }
}

/// Decoded fields in display order.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, Value)>);

impl Fields {
    /// Appends a field.
    pub fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.push((key.to_owned(), value.into()));
    }

    /// Appends the list `key` of `len` elements produced by `get`, truncated by `lim`: the
    /// head under `key`, then (only when truncated) the tail under `KEY_tail` and the number
    /// left out under `KEY_omitted`.
    pub fn list(
        &mut self,
        key: &str,
        len: usize,
        lim: &Limit,
        mut get: impl FnMut(usize) -> Result<Value>,
    ) -> Result<()> {
        let (head, tail) = lim.window(len);
        let omitted = tail.start - head.end;
        let head: Vec<Value> = head.map(&mut get).collect::<Result<_>>()?;
        self.put(key, head);
        if !tail.is_empty() {
            let tail: Vec<Value> = tail.map(&mut get).collect::<Result<_>>()?;
            self.put(&format!("{key}_tail"), tail);
            self.put(&format!("{key}_omitted"), omitted);
        }
        Ok(())
    }

    /// The fields as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.iter().cloned().collect::<JsonMap<_, _>>())
    }
}

macro_rules! with_dtype {
    ($d:expr, $T:ident => $body:expr) => {
        match $d {
            Dtype::I8 => {
                type $T = i8;
                $body
            }
            Dtype::I16 => {
                type $T = i16;
                $body
            }
            Dtype::I32 => {
                type $T = i32;
                $body
            }
            Dtype::I64 => {
                type $T = i64;
                $body
            }
            Dtype::U8 => {
                type $T = u8;
                $body
            }
            Dtype::U16 => {
                type $T = u16;
                $body
            }
            Dtype::U32 => {
                type $T = u32;
                $body
            }
            Dtype::U64 => {
                type $T = u64;
                $body
            }
            Dtype::F32 => {
                type $T = f32;
                $body
            }
            Dtype::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

pub(crate) use with_dtype;

/// Decodes the structure `name` of `seg` as `spec`, appending its fields to `f` (after the
/// `kind` and dtype fields). `name` is a table entry, or the base name of a composite sync or
/// codata structure.
///
/// # Errors
/// The structure's `open` errors (layout or type mismatch, corrupt header) and read errors.
pub fn decode(seg: &Segment, name: &str, spec: Spec, lim: &Limit, f: &mut Fields) -> Result<()> {
    f.put("kind", spec.kind.name());
    if !spec.kind.is_structure() {
        return crate::prim::decode(seg, name, spec, lim, f);
    }
    let entry = &seg.find(name)?;
    let dtype = spec
        .dtype
        .ok_or_else(|| crate::error::CliError::other(format!("a {} needs a type", spec.kind)))?;
    match (spec.kind, spec.value) {
        (Kind::Map, Some(v)) => {
            f.put("key_dtype", dtype.numpy());
            f.put("value_dtype", v.numpy());
            with_dtype!(dtype, K => with_dtype!(v, V => map::<K, V>(seg, name, lim, f)))
        }
        (Kind::Map, None) => Err(crate::error::CliError::other("a map needs a value type")),
        (kind, _) => {
            f.put("dtype", dtype.numpy());
            with_dtype!(dtype, T => match kind {
                Kind::Array => array::<T>(seg, name, lim, f),
                Kind::Queue => queue::<T>(seg, entry, lim, f),
                Kind::Stack => stack::<T>(seg, entry, lim, f),
                Kind::Ring => ring::<T>(seg, name, lim, f),
                Kind::Set => set::<T>(seg, name, lim, f),
                Kind::Pool => pool::<T>(seg, name, lim, f),
                _ => unreachable_map(),
            })
        }
    }
}

fn unreachable_map() -> Result<()> {
    Err(crate::error::CliError::other(
        "a map needs a value type (internal: or an unexpected kind)",
    ))
}

/// A scalar as JSON. An `f32` is written as the shortest decimal that reads back as the same
/// `f32` (`21.1`, not its exact binary value `21.100000381469727`); non-finite floats are null.
pub fn value<T: Scalar>(x: T) -> Value {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && let Ok(f) = bytemuck::try_cast::<T, f32>(x)
        && let Ok(d) = f.to_string().parse::<f64>()
    {
        return Value::from(d);
    }
    x.into()
}

/// A map key or set value as a JSON object key (`"1"`, `"2.5"`), as in the golden files.
fn key_string<T: Scalar>(x: T) -> String {
    match value(x) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn array<T: Scalar>(seg: &Segment, name: &str, lim: &Limit, f: &mut Fields) -> Result<()> {
    let a = Array::<T>::open(seg, name)?;
    f.put("capacity", a.len());
    f.list("values", a.len(), lim, |i| {
        Ok(a.get(i).map_or(Value::Null, value))
    })
}

fn queue<T: Scalar>(seg: &Segment, entry: &Entry, lim: &Limit, f: &mut Fields) -> Result<()> {
    let q = Queue::<T>::open(seg, entry.name())?;
    let (head, tail) = q.counters()?;
    let cap = q.capacity();
    let size = (tail.wrapping_sub(head) as usize).min(cap);
    f.put("capacity", cap);
    f.put("elem_size", size_of::<T>());
    f.put("head", head);
    f.put("tail", tail);
    f.put("size", size);
    let region = seg.region(q.entry())?;
    let mask = cap.saturating_sub(1);
    f.list("items", size, lim, |i| {
        let slot = (head as usize).wrapping_add(i) & mask;
        Ok(value(region.read::<T>(16 + slot * size_of::<T>())?))
    })
}

fn stack<T: Scalar>(seg: &Segment, entry: &Entry, lim: &Limit, f: &mut Fields) -> Result<()> {
    let s = Stack::<T>::open(seg, entry.name())?;
    let size = s.len()?;
    let region = seg.region(s.entry())?;
    f.put("capacity", s.capacity());
    f.put("elem_size", size_of::<T>());
    f.put("top", region.read::<i32>(0)?);
    f.put("size", size);
    f.list("items", size, lim, |i| {
        Ok(value(region.read::<T>(16 + i * size_of::<T>())?))
    })?;
    let states = s.slot_states()?;
    f.list("slot_states", states.len(), lim, |i| {
        Ok(states.get(i).copied().map_or(Value::Null, Value::from))
    })
}

fn ring<T: Scalar>(seg: &Segment, name: &str, lim: &Limit, f: &mut Fields) -> Result<()> {
    let r = Ring::<T>::open(seg, name)?;
    let (w, rd) = r.positions_snapshot()?;
    let items = r.snapshot()?;
    f.put("capacity_bytes", r.capacity_bytes());
    f.put("elem_size", size_of::<T>());
    f.put("write_pos", w);
    f.put("read_pos", rd);
    f.put("size", items.len());
    f.list("items", items.len(), lim, |i| {
        Ok(items.get(i).copied().map_or(Value::Null, value))
    })
}

fn map<K: Scalar, V: Scalar>(seg: &Segment, name: &str, lim: &Limit, f: &mut Fields) -> Result<()> {
    let m = Map::<K, V>::open(seg, name)?;
    let items = m.snapshot()?;
    f.put("capacity", m.capacity());
    f.put("size", m.len()?);
    f.put("key_size", size_of::<K>());
    f.put("value_size", size_of::<V>());
    f.put("entry_size", Map::<K, V>::ENTRY_SIZE);
    let mut shown = Vec::new();
    f.list("items", items.len(), lim, |i| {
        let (k, v) = items.get(i).copied().ok_or_else(gone)?;
        shown.push(k);
        Ok(Value::Array(vec![value(k), value(v)]))
    })?;
    // What a canonical (C++ hash) lookup of each shown key finds.
    let mut lookup = JsonMap::new();
    for k in shown {
        lookup.insert(key_string(k), m.get(&k)?.map_or(Value::Null, value));
    }
    f.put("lookup", lookup);
    Ok(())
}

fn set<T: Scalar>(seg: &Segment, name: &str, lim: &Limit, f: &mut Fields) -> Result<()> {
    let s = Set::<T>::open(seg, name)?;
    let items = s.snapshot()?;
    f.put("capacity", s.capacity());
    f.put("size", s.len()?);
    f.put("entry_size", Set::<T>::ENTRY_SIZE);
    let mut shown = Vec::new();
    f.list("items", items.len(), lim, |i| {
        let x = items.get(i).copied().ok_or_else(gone)?;
        shown.push(x);
        Ok(value(x))
    })?;
    let mut contains = JsonMap::new();
    for x in shown {
        contains.insert(key_string(x), Value::Bool(s.contains(&x)?));
    }
    f.put("contains", contains);
    Ok(())
}

fn pool<T: Scalar>(seg: &Segment, name: &str, lim: &Limit, f: &mut Fields) -> Result<()> {
    let p = Pool::<T>::open(seg, name)?;
    let (idx, generation) = p.free_head()?;
    let free = p.free_list()?;
    f.put("capacity", p.capacity());
    f.put("elem_size", size_of::<T>());
    f.put("allocated", p.len()?);
    f.put("free_head_index", idx);
    f.put("free_head_generation", generation);
    f.put("node_size", Pool::<T>::NODE_SIZE);
    f.list("free_list", free.len(), lim, |i| {
        Ok(free.get(i).copied().map_or(Value::Null, Value::from))
    })?;
    let free: BTreeSet<u32> = free.into_iter().collect();
    let used: Vec<u32> = (0..u32::try_from(p.capacity()).unwrap_or(u32::MAX))
        .filter(|i| !free.contains(i))
        .collect();
    let (head, tail) = lim.window(used.len());
    let mut values = JsonMap::new();
    for i in head.chain(tail.clone()) {
        let index = used.get(i).copied().ok_or_else(gone)?;
        values.insert(index.to_string(), value(p.get(index)?));
    }
    f.put("allocated_values", values);
    if !tail.is_empty() {
        f.put("allocated_values_omitted", tail.start - lim.edge);
    }
    Ok(())
}

fn gone() -> crate::error::CliError {
    crate::error::CliError::other("internal: index outside a snapshot")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_values_are_their_shortest_decimal() {
        assert_eq!(value(21.1f32).to_string(), "21.1");
        assert_eq!(value(-0.5f32).to_string(), "-0.5");
        assert_eq!(value(f32::NAN), Value::Null);
        assert_eq!(value(f32::INFINITY), Value::Null);
        assert_eq!(value(21.1f64).to_string(), "21.1");
        assert_eq!(value(7u8).to_string(), "7");
    }

    #[test]
    fn window_truncates_long_lists_only() {
        let lim = Limit {
            edge: 3,
            all: false,
        };
        assert_eq!(lim.window(6), (0..6, 6..6));
        assert_eq!(lim.window(10), (0..3, 7..10));
        let all = Limit { edge: 3, all: true };
        assert_eq!(all.window(10), (0..10, 10..10));
    }
}
