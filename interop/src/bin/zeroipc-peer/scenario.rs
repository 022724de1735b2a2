//! The standard scenario (spec §8.2): reading its JSON and writing its structures.

use serde_json::Value;
use zeroipc_format::Segment;
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};

use zeroipc_inspect::{Dtype, with_dtype};

use crate::elem::{Elem, vec_from_json};
use crate::error::PeerError;

/// One structure of the scenario: `name`, `kind` and the kind's fields.
pub struct Spec<'a> {
    /// The whole JSON object.
    pub json: &'a Value,
    /// Entry name.
    pub name: &'a str,
    /// Structure kind (`array`, `queue`, ...).
    pub kind: &'a str,
}

impl<'a> Spec<'a> {
    /// The structure described by the JSON object `v` (tests: `name` and `kind` must be
    /// strings).
    #[cfg(test)]
    pub fn of(v: &'a Value) -> Self {
        Spec {
            json: v,
            name: v["name"].as_str().expect("a name"),
            kind: v["kind"].as_str().expect("a kind"),
        }
    }

    /// Field `key` as a string.
    pub fn str(&self, key: &str) -> Result<&'a str, PeerError> {
        self.json[key].as_str().ok_or_else(|| self.missing(key))
    }

    /// Field `key` as an element type (a numpy name such as `int32`).
    pub fn dtype(&self, key: &str) -> Result<Dtype, PeerError> {
        self.str(key)?
            .parse()
            .map_err(|e| PeerError::scenario(format!("{}: {key}: {e}", self.name)))
    }

    /// Field `key` as an unsigned integer.
    pub fn usize(&self, key: &str) -> Result<usize, PeerError> {
        self.json[key]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.missing(key))
    }

    /// Field `key` (any JSON).
    pub fn field(&self, key: &str) -> Result<&'a Value, PeerError> {
        self.json.get(key).ok_or_else(|| self.missing(key))
    }

    fn missing(&self, key: &str) -> PeerError {
        PeerError::scenario(format!(
            "{}: field {key:?} missing or of the wrong type",
            self.name
        ))
    }
}

/// The structures of a scenario file, in order.
///
/// # Errors
/// If the JSON is not `{"structures": [{"name": .., "kind": ..}, ..]}`.
pub fn parse(doc: &Value) -> Result<Vec<Spec<'_>>, PeerError> {
    let list = doc["structures"]
        .as_array()
        .ok_or_else(|| PeerError::scenario("scenario has no \"structures\" array"))?;
    list.iter()
        .map(|json| {
            let name = json["name"]
                .as_str()
                .ok_or_else(|| PeerError::scenario(format!("structure without a name: {json}")))?;
            let kind = json["kind"]
                .as_str()
                .ok_or_else(|| PeerError::scenario(format!("{name}: no kind")))?;
            Ok(Spec { json, name, kind })
        })
        .collect()
}

/// Writes one structure as the scenario describes (the synchronisation and codata kinds in
/// `kinds.rs`); `Ok(false)` for a kind this peer does not know (nothing is created).
///
/// # Errors
/// Segment and structure errors; a value that does not fit (the scenario overfills a
/// structure); a pop/read that does not give back what was pushed.
pub fn write(seg: &Segment, s: &Spec<'_>) -> Result<bool, PeerError> {
    match s.kind {
        "array" => with_dtype!(s.dtype("dtype")?, T => write_array::<T>(seg, s))?,
        "queue" => with_dtype!(s.dtype("dtype")?, T => write_queue::<T>(seg, s))?,
        "stack" => with_dtype!(s.dtype("dtype")?, T => write_stack::<T>(seg, s))?,
        "ring" => with_dtype!(s.dtype("dtype")?, T => write_ring::<T>(seg, s))?,
        "set" => with_dtype!(s.dtype("dtype")?, T => write_set::<T>(seg, s))?,
        "pool" => with_dtype!(s.dtype("dtype")?, T => write_pool::<T>(seg, s))?,
        "map" => with_dtype!(s.dtype("key_dtype")?, K => {
            with_dtype!(s.dtype("value_dtype")?, V => write_map::<K, V>(seg, s))
        })?,
        _ => return crate::kinds::write(seg, s),
    }
    Ok(true)
}

/// Puts every value in order, then takes the first `taken` back and checks each against the
/// value put (`verbs` name the two operations in a mismatch: put, take).
fn put_then_take<T: Elem>(
    name: &str,
    values: &[T],
    mut put: impl FnMut(T) -> Result<(), PeerError>,
    taken: usize,
    mut take: impl FnMut() -> Result<Option<T>, PeerError>,
    (put_verb, take_verb): (&str, &str),
) -> Result<(), PeerError> {
    for v in values {
        put(*v)?;
    }
    for want in values.iter().take(taken) {
        let got = take()?;
        if got.as_ref() != Some(want) {
            return Err(PeerError::new(
                "Mismatch",
                format!("{name}: {take_verb} {got:?}, {put_verb} {want:?}"),
            ));
        }
    }
    Ok(())
}

fn write_array<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let a = Array::<T>::create(seg, s.name, s.usize("capacity")?)?;
    a.write(0, &vec_from_json::<T>(s.field("values")?)?)?;
    Ok(())
}

fn write_queue<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let q = Queue::<T>::create(seg, s.name, s.usize("capacity")?)?;
    let pushed = vec_from_json::<T>(s.field("push")?)?;
    put_then_take(
        s.name,
        &pushed,
        |v| Ok(q.push(v)?),
        s.usize("pop")?,
        || Ok(q.pop()?),
        ("pushed", "popped"),
    )
}

fn write_stack<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let st = Stack::<T>::create(seg, s.name, s.usize("capacity")?)?;
    for v in vec_from_json::<T>(s.field("push")?)? {
        st.push(v)?;
    }
    Ok(())
}

fn write_ring<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    // The scenario gives the capacity in elements, as the project API takes it.
    let r = Ring::<T>::create(seg, s.name, s.usize("capacity")?)?;
    let written = vec_from_json::<T>(s.field("write")?)?;
    put_then_take(
        s.name,
        &written,
        |v| Ok(r.write(v)?),
        s.usize("read")?,
        || Ok(r.read()?),
        ("wrote", "read"),
    )
}

fn write_map<K: Elem, V: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let m = Map::<K, V>::create(seg, s.name, s.usize("capacity")?)?;
    let items = s.field("items")?.as_array().ok_or_else(|| {
        PeerError::scenario(format!("{}: items is not an array of pairs", s.name))
    })?;
    for pair in items {
        let (k, v) = match pair.as_array().map(Vec::as_slice) {
            Some([k, v]) => (K::from_json(k)?, V::from_json(v)?),
            _ => return Err(PeerError::scenario(format!("{}: bad pair {pair}", s.name))),
        };
        m.insert(k, v)?;
    }
    Ok(())
}

fn write_set<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let set = Set::<T>::create(seg, s.name, s.usize("capacity")?)?;
    for v in vec_from_json::<T>(s.field("items")?)? {
        set.insert(v)?;
    }
    Ok(())
}

fn write_pool<T: Elem>(seg: &Segment, s: &Spec<'_>) -> Result<(), PeerError> {
    let p = Pool::<T>::create(seg, s.name, s.usize("capacity")?)?;
    for v in vec_from_json::<T>(s.field("alloc")?)? {
        let i = p
            .allocate()?
            .ok_or_else(|| PeerError::new("Full", format!("{}: pool exhausted", s.name)))?;
        p.set(i, v)?;
    }
    Ok(())
}
