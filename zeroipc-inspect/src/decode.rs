//! Decoding a structure into ordered fields, with the keys of the golden JSON (spec §8.2).

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::ops::Range;

use bytemuck::Pod;
use serde_json::{Map as JsonMap, Value};
use zeroipc_format::{Entry, Segment};
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};

use crate::dtype::{Kind, Spec};
use crate::error::Result;

/// A Pod scalar that converts to a JSON number.
pub trait Scalar: Pod + Into<Value> {}
impl<T: Pod + Into<Value>> Scalar for T {}

/// How a structure is written out: how many elements of each list, and how an `f32` is
/// written.
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// Elements shown at each end of a long list.
    pub edge: usize,
    /// Show everything.
    pub all: bool,
    /// How an `f32` becomes a JSON number.
    pub f32: F32Form,
}

/// How an `f32` becomes a JSON number (an `f64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F32Form {
    /// The shortest decimal that reads back as the same `f32` (`21.1`), for people.
    Shortest,
    /// The `f32` widened exactly (`21.100000381469727`), as Python's `float(numpy.float32)`
    /// and the golden JSON files give it.
    Exact,
}

impl View {
    /// Every element, `f32` widened exactly: the golden JSON's form (spec §8.2).
    pub const GOLDEN: View = View {
        edge: 0,
        all: true,
        f32: F32Form::Exact,
    };

    /// The ranges shown: the head, and a tail that is empty unless the list is truncated.
    fn window(&self, len: usize) -> (Range<usize>, Range<usize>) {
        match len.checked_sub(self.edge) {
            Some(tail) if !self.all && len > self.edge.saturating_mul(2) => {
                (0..self.edge, tail..len)
            }
            _ => (0..len, len..len),
        }
    }

    /// A scalar as JSON, in this view's `f32` form; non-finite floats are null.
    pub fn value<T: Scalar>(&self, x: T) -> Value {
        if self.f32 == F32Form::Shortest
            && std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && let Ok(f) = bytemuck::try_cast::<T, f32>(x)
            && let Ok(d) = f.to_string().parse::<f64>()
        {
            return Value::from(d);
        }
        x.into()
    }

    /// A map key or set value as a JSON object key (`"1"`, `"2.5"`), as in the golden files.
    fn key_string<T: Scalar>(&self, x: T) -> String {
        match self.value(x) {
            Value::String(s) => s,
            other => other.to_string(),
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

    /// Appends the list `key` of `len` elements produced by `get`, truncated by `view`: the
    /// head under `key`, then (only when truncated) the tail under `KEY_tail` and the number
    /// left out under `KEY_omitted`.
    pub fn list(
        &mut self,
        key: &str,
        len: usize,
        view: &View,
        mut get: impl FnMut(usize) -> Result<Value>,
    ) -> Result<()> {
        let (head, tail) = view.window(len);
        let omitted = tail.start.saturating_sub(head.end);
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

/// Runs `$body` with the type alias `$T` bound to the Rust type of the [`Dtype`](crate::dtype::Dtype) `$d` (every
/// integer width and both float widths): the one table from element type to Rust type.
///
/// # Examples
/// ```
/// use zeroipc_inspect::{Dtype, with_dtype};
///
/// let d: Dtype = "uint16".parse().unwrap();
/// assert_eq!(with_dtype!(d, T => size_of::<T>()), 2);
/// ```
#[macro_export]
macro_rules! with_dtype {
    ($d:expr, $T:ident => $body:expr) => {
        $crate::with_dtype!(@each $d, $T => $body;
            I8 = i8,
            I16 = i16,
            I32 = i32,
            I64 = i64,
            U8 = u8,
            U16 = u16,
            U32 = u32,
            U64 = u64,
            F32 = f32,
            F64 = f64,
        )
    };
    (@each $d:expr, $T:ident => $body:expr; $($variant:ident = $t:ty,)+) => {
        match $d {
            $(
                $crate::dtype::Dtype::$variant => {
                    type $T = $t;
                    $body
                }
            )+
        }
    };
}

/// Decodes the structure `name` of `seg` as `spec`, appending its fields to `f` (after the
/// `kind` and dtype fields). `name` is a table entry, or the base name of a composite sync or
/// codata structure.
///
/// # Errors
/// The structure's `open` errors (layout or type mismatch, corrupt header) and read errors.
pub fn decode(seg: &Segment, name: &str, spec: Spec, view: &View, f: &mut Fields) -> Result<()> {
    f.put("kind", spec.kind.name());
    if !spec.kind.is_structure() {
        return crate::prim::decode(seg, name, spec, view, f);
    }
    let entry = &seg.find(name)?;
    let dtype = spec
        .dtype
        .ok_or_else(|| crate::error::CliError::other(format!("a {} needs a type", spec.kind)))?;
    match (spec.kind, spec.value) {
        (Kind::Map, Some(v)) => {
            f.put("key_dtype", dtype.numpy());
            f.put("value_dtype", v.numpy());
            with_dtype!(dtype, K => with_dtype!(v, V => map::<K, V>(seg, name, view, f)))
        }
        (Kind::Map, None) => Err(crate::error::CliError::other("a map needs a value type")),
        (kind, _) => {
            f.put("dtype", dtype.numpy());
            with_dtype!(dtype, T => match kind {
                Kind::Array => array::<T>(seg, name, view, f),
                Kind::Queue => queue::<T>(seg, entry, view, f),
                Kind::Stack => stack::<T>(seg, entry, view, f),
                Kind::Ring => ring::<T>(seg, name, view, f),
                Kind::Set => set::<T>(seg, name, view, f),
                Kind::Pool => pool::<T>(seg, name, view, f),
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

fn array<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let a = Array::<T>::open(seg, name)?;
    f.put("capacity", a.len());
    f.list("values", a.len(), view, |i| {
        Ok(a.get(i).map_or(Value::Null, |x| view.value(x)))
    })
}

fn queue<T: Scalar>(seg: &Segment, entry: &Entry, view: &View, f: &mut Fields) -> Result<()> {
    let q = Queue::<T>::open(seg, entry.name())?;
    let s = QueueState::of(&q)?;
    f.put("capacity", q.capacity());
    f.put("elem_size", size_of::<T>());
    f.put("head", s.head);
    f.put("tail", s.tail);
    f.put("size", s.size);
    s.items_list(view, f)
}

/// What a queue (also a buffered channel's buffer) holds, read without popping.
pub(crate) struct QueueState<T> {
    /// The pop counter.
    pub head: u32,
    /// The push counter.
    pub tail: u32,
    /// `tail - head`, clamped to the capacity.
    pub size: usize,
    /// The published elements from `head` on (fewer than `size` while a push is under way).
    pub items: Vec<T>,
}

impl<T: Scalar> QueueState<T> {
    pub(crate) fn of(q: &Queue<T>) -> Result<Self> {
        let (head, tail) = q.counters()?;
        let cap = q.capacity();
        let size = usize::try_from(tail.wrapping_sub(head)).map_or(cap, |n| n.min(cap));
        Ok(Self {
            head,
            tail,
            size,
            items: q.snapshot()?,
        })
    }

    /// Appends the list `items`.
    pub(crate) fn items_list(&self, view: &View, f: &mut Fields) -> Result<()> {
        f.list("items", self.items.len(), view, |i| {
            Ok(self
                .items
                .get(i)
                .copied()
                .map_or(Value::Null, |x| view.value(x)))
        })
    }
}

fn stack<T: Scalar>(seg: &Segment, entry: &Entry, view: &View, f: &mut Fields) -> Result<()> {
    let s = Stack::<T>::open(seg, entry.name())?;
    let items = s.snapshot()?;
    f.put("capacity", s.capacity());
    f.put("elem_size", size_of::<T>());
    // `len` is `top + 1`, `top` validated to be at least -1.
    let top = i64::try_from(items.len()).map_or(i64::MAX, |n| n.saturating_sub(1));
    f.put("top", top);
    f.put("size", items.len());
    f.list("items", items.len(), view, |i| {
        Ok(items.get(i).copied().map_or(Value::Null, |x| view.value(x)))
    })?;
    let states = s.slot_states()?;
    f.list("slot_states", states.len(), view, |i| {
        Ok(states.get(i).copied().map_or(Value::Null, Value::from))
    })
}

fn ring<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let r = Ring::<T>::open(seg, name)?;
    let (w, rd) = r.positions_snapshot()?;
    let items = r.snapshot()?;
    f.put("capacity_bytes", r.capacity_bytes());
    f.put("elem_size", size_of::<T>());
    f.put("write_pos", w);
    f.put("read_pos", rd);
    f.put("size", items.len());
    f.list("items", items.len(), view, |i| {
        Ok(items.get(i).copied().map_or(Value::Null, |x| view.value(x)))
    })
}

fn map<K: Scalar, V: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let m = Map::<K, V>::open(seg, name)?;
    let items = m.snapshot()?;
    f.put("capacity", m.capacity());
    f.put("size", m.len()?);
    f.put("key_size", size_of::<K>());
    f.put("value_size", size_of::<V>());
    f.put("entry_size", Map::<K, V>::ENTRY_SIZE);
    let mut shown = Vec::new();
    f.list("items", items.len(), view, |i| {
        let (k, v) = items.get(i).copied().ok_or_else(gone)?;
        shown.push(k);
        Ok(Value::Array(vec![view.value(k), view.value(v)]))
    })?;
    // What a canonical (C++ hash) lookup of each shown key finds.
    let mut lookup = JsonMap::new();
    for k in shown {
        lookup.insert(
            view.key_string(k),
            m.get(&k)?.map_or(Value::Null, |x| view.value(x)),
        );
    }
    f.put("lookup", lookup);
    Ok(())
}

fn set<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let s = Set::<T>::open(seg, name)?;
    let items = s.snapshot()?;
    f.put("capacity", s.capacity());
    f.put("size", s.len()?);
    f.put("entry_size", Set::<T>::ENTRY_SIZE);
    let mut shown = Vec::new();
    f.list("items", items.len(), view, |i| {
        let x = items.get(i).copied().ok_or_else(gone)?;
        shown.push(x);
        Ok(view.value(x))
    })?;
    let mut contains = JsonMap::new();
    for x in shown {
        contains.insert(view.key_string(x), Value::Bool(s.contains(&x)?));
    }
    f.put("contains", contains);
    Ok(())
}

fn pool<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let p = Pool::<T>::open(seg, name)?;
    let (idx, generation) = p.free_head()?;
    let free = p.free_list()?;
    f.put("capacity", p.capacity());
    f.put("elem_size", size_of::<T>());
    f.put("allocated", p.len()?);
    f.put("free_head_index", idx);
    f.put("free_head_generation", generation);
    f.put("node_size", Pool::<T>::NODE_SIZE);
    f.list("free_list", free.len(), view, |i| {
        Ok(free.get(i).copied().map_or(Value::Null, Value::from))
    })?;
    let free: BTreeSet<u32> = free.into_iter().collect();
    let used: Vec<u32> = (0..u32::try_from(p.capacity()).unwrap_or(u32::MAX))
        .filter(|i| !free.contains(i))
        .collect();
    let (head, tail) = view.window(used.len());
    let mut values = JsonMap::new();
    for i in head.chain(tail.clone()) {
        let index = used.get(i).copied().ok_or_else(gone)?;
        values.insert(index.to_string(), view.value(p.get(index)?));
    }
    f.put("allocated_values", values);
    if !tail.is_empty() {
        f.put(
            "allocated_values_omitted",
            tail.start.saturating_sub(view.edge),
        );
    }
    Ok(())
}

fn gone() -> crate::error::CliError {
    crate::error::CliError::other("internal: index outside a snapshot")
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn f32_values_are_their_shortest_decimal_or_exact() {
        let view = View {
            edge: 3,
            all: false,
            f32: F32Form::Shortest,
        };
        assert_eq!(view.value(21.1f32).to_string(), "21.1");
        assert_eq!(view.value(-0.5f32).to_string(), "-0.5");
        assert_eq!(view.value(f32::NAN), Value::Null);
        assert_eq!(view.value(f32::INFINITY), Value::Null);
        assert_eq!(view.value(21.1f64).to_string(), "21.1");
        assert_eq!(view.value(7u8).to_string(), "7");
        let golden = View::GOLDEN;
        assert_eq!(golden.value(21.1f32).to_string(), "21.100000381469727");
        assert_eq!(golden.value(-0.5f32).to_string(), "-0.5");
        assert_eq!(golden.value(f32::NAN), Value::Null);
        assert_eq!(golden.key_string(1.5f32), "1.5");
        assert_eq!(golden.key_string(-3i32), "-3");
    }

    #[test]
    fn window_truncates_long_lists_only() {
        let view = View {
            edge: 3,
            all: false,
            f32: F32Form::Shortest,
        };
        assert_eq!(view.window(6), (0..6, 6..6));
        assert_eq!(view.window(10), (0..3, 7..10));
        let all = View { all: true, ..view };
        assert_eq!(all.window(10), (0..10, 10..10));
        assert_eq!(View::GOLDEN.window(10), (0..10, 10..10));
    }
}
