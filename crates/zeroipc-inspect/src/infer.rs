//! Guessing a structure's kind and element type from what the format stores.
//!
//! The table records only a name, an offset and a size. Each kind's header stores its geometry
//! (capacity, element sizes) and its size follows a formula, so most structures are recognised
//! by checking every kind's header against the entry size and the header's own invariants.
//! The element *type* is not stored: only its size. A type token in the entry name (`_i32`,
//! `float64`, ...) of the right size is used when present, otherwise the signed integer of
//! that size (and the output says `dtype_source: "size"`). A kind token in the name (`q`,
//! `queue`, `stk`, `map`, ...) breaks ties. Entries of the sync and codata kinds (rwlock,
//! monitor, signal, stream, channel, ...) are labelled from their auxiliary entries but not
//! decoded.

use zeroipc_format::{Entry, Region};

use crate::dtype::{Dtype, Kind, Spec};

/// Where the element type of a guess comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtypeSource {
    /// Given with `--as`.
    Option,
    /// A type token in the entry name.
    Name,
    /// Only the element size is known; the signed integer of that size is shown.
    Size,
}

impl DtypeSource {
    /// Lower-case name for output.
    pub fn name(self) -> &'static str {
        match self {
            DtypeSource::Option => "option",
            DtypeSource::Name => "name",
            DtypeSource::Size => "size",
        }
    }
}

/// The outcome of inference for one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Guess {
    /// A decodable structure.
    Known {
        /// Kind and element type(s).
        spec: Spec,
        /// Where the type came from.
        source: DtypeSource,
    },
    /// A kind recognised by its name pattern but not decoded by this version.
    Label(String),
    /// Several kinds fit equally well.
    Ambiguous(Vec<Kind>),
    /// Nothing fits.
    Unknown,
}

impl Guess {
    /// Short label for tables: `queue<int32>`, `rwlock`, `?`.
    pub fn label(&self) -> String {
        match self {
            Guess::Known { spec, .. } => match spec.value {
                Some(v) => format!("{}<{},{}>", spec.kind, spec.dtype, v),
                None => format!("{}<{}>", spec.kind, spec.dtype),
            },
            Guess::Label(l) => l.clone(),
            Guess::Ambiguous(kinds) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
                format!("{}?", names.join("|"))
            }
            Guess::Unknown => "?".to_owned(),
        }
    }
}

/// A kind that fits the stored header, with its element sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fit {
    kind: Kind,
    es: u64,
    vs: u64,
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    let a = a.max(1);
    x.checked_add(a - 1).map(|v| v / a * a)
}

fn scalar_size(s: u64) -> bool {
    matches!(s, 1 | 2 | 4 | 8)
}

fn u32_at(r: &Region, off: usize) -> Option<u64> {
    r.read::<u32>(off).ok().map(u64::from)
}

fn u64_at(r: &Region, off: usize) -> Option<u64> {
    r.read::<u64>(off).ok()
}

/// `16 + align8(cap*es) + 4*cap` (queue, stack).
fn slotted_size(cap: u64, es: u64) -> Option<u64> {
    let data = align_up(cap.checked_mul(es)?, 8)?;
    16u64.checked_add(data)?.checked_add(cap.checked_mul(4)?)
}

/// Map entry stride for scalar key and value types (alignment = size).
pub fn map_entry_size(ks: u64, vs: u64) -> Option<u64> {
    let key_off = align_up(4, ks)?;
    let val_off = align_up(key_off.checked_add(ks)?, vs)?;
    align_up(val_off.checked_add(vs)?, ks.max(vs).max(4))
}

/// Set entry stride for a scalar element type.
pub fn set_entry_size(es: u64) -> Option<u64> {
    let val_off = align_up(4, es)?;
    align_up(val_off.checked_add(es)?, es.max(4))
}

/// Pool node size for a scalar element type.
pub fn pool_node_size(es: u64) -> Option<u64> {
    let next_off = align_up(es, 4)?;
    align_up(next_off.checked_add(4)?, es.max(4))
}

/// Counts states in `[0, 4)`-valued u32 words; `None` if any word is above 3.
fn states(r: &Region, first: u64, stride: u64, count: u64) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for i in 0..count {
        let off = usize::try_from(first.checked_add(i.checked_mul(stride)?)?).ok()?;
        let s = r.read::<u32>(off).ok()?;
        if s > 3 {
            return None;
        }
        out.push(s);
    }
    Some(out)
}

fn near(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= 1
}

fn fit_array(r: &Region, size: u64) -> Option<Fit> {
    let cap = u64_at(r, 0)?;
    let data = size.checked_sub(8)?;
    if cap == 0 || data % cap != 0 || !scalar_size(data / cap) {
        return None;
    }
    Some(Fit {
        kind: Kind::Array,
        es: data / cap,
        vs: 0,
    })
}

fn fit_queue(r: &Region, size: u64) -> Option<Fit> {
    let (head, tail) = (u32_at(r, 0)?, u32_at(r, 4)?);
    let (cap, es) = (u32_at(r, 8)?, u32_at(r, 12)?);
    let ok = cap.is_power_of_two()
        && cap <= 1 << 31
        && scalar_size(es)
        && slotted_size(cap, es)? == size
        && u64::from((tail as u32).wrapping_sub(head as u32)) <= cap;
    ok.then_some(Fit {
        kind: Kind::Queue,
        es,
        vs: 0,
    })
}

fn fit_stack(r: &Region, size: u64) -> Option<Fit> {
    let top = i64::from(r.read::<i32>(0).ok()?);
    let (cap, es, reserved) = (u32_at(r, 4)?, u32_at(r, 8)?, u32_at(r, 12)?);
    if cap == 0
        || reserved != 0
        || !scalar_size(es)
        || slotted_size(cap, es)? != size
        || top < -1
        || top >= i64::try_from(cap).ok()?
    {
        return None;
    }
    let st = states(r, 16 + align_up(cap * es, 8)?, 4, cap)?;
    let busy = st.iter().filter(|&&s| s != 0).count() as u64;
    near(busy, u64::try_from(top + 1).ok()?).then_some(Fit {
        kind: Kind::Stack,
        es,
        vs: 0,
    })
}

fn fit_ring(r: &Region, size: u64) -> Option<Fit> {
    let (w, rd) = (u64_at(r, 0)?, u64_at(r, 8)?);
    let (cap, es) = (u32_at(r, 16)?, u32_at(r, 20)?);
    let ok = cap > 0
        && scalar_size(es)
        && cap % es == 0
        && size == 24 + cap
        && w >= rd
        && w - rd <= cap
        && w % es == 0
        && rd % es == 0;
    ok.then_some(Fit {
        kind: Kind::Ring,
        es,
        vs: 0,
    })
}

fn fit_map(r: &Region, size: u64) -> Option<Fit> {
    let (count, cap, ks, vs) = (u32_at(r, 0)?, u32_at(r, 4)?, u32_at(r, 8)?, u32_at(r, 12)?);
    if cap == 0 || !scalar_size(ks) || !scalar_size(vs) {
        return None;
    }
    let stride = map_entry_size(ks, vs)?;
    if 16u64.checked_add(cap.checked_mul(stride)?)? != size || count > cap {
        return None;
    }
    let st = states(r, 16, stride, cap)?;
    let used = st.iter().filter(|&&s| s == 1 || s == 3).count() as u64;
    near(used, count).then_some(Fit {
        kind: Kind::Map,
        es: ks,
        vs,
    })
}

fn fit_set(r: &Region, size: u64) -> Option<Fit> {
    let (count, cap, es, reserved) = (u32_at(r, 0)?, u32_at(r, 4)?, u32_at(r, 8)?, u32_at(r, 12)?);
    if cap == 0 || reserved != 0 || !scalar_size(es) || count > cap {
        return None;
    }
    let stride = set_entry_size(es)?;
    if 16u64.checked_add(cap.checked_mul(stride)?)? != size {
        return None;
    }
    let st = states(r, 16, stride, cap)?;
    let used = st.iter().filter(|&&s| s == 1 || s == 3).count() as u64;
    near(used, count).then_some(Fit {
        kind: Kind::Set,
        es,
        vs: 0,
    })
}

fn fit_pool(r: &Region, size: u64) -> Option<Fit> {
    let head = u64_at(r, 0)?;
    let (allocated, pad, cap, es) = (
        u32_at(r, 8)?,
        u32_at(r, 12)?,
        u32_at(r, 16)?,
        u32_at(r, 20)?,
    );
    let idx = head & 0xFFFF_FFFF;
    let ok = cap > 0
        && pad == 0
        && scalar_size(es)
        && 24u64.checked_add(cap.checked_mul(pool_node_size(es)?)?)? == size
        && allocated <= cap
        && (idx == 0xFFFF_FFFF || idx < cap);
    ok.then_some(Fit {
        kind: Kind::Pool,
        es,
        vs: 0,
    })
}

/// Lower-case name tokens split at `_`, `-`, `.` and `/`.
fn tokens(name: &str) -> Vec<String> {
    name.split(['_', '-', '.', '/', ' '])
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn kind_hint(tokens: &[String]) -> Option<Kind> {
    tokens.iter().find_map(|t| match t.as_str() {
        "arr" | "array" => Some(Kind::Array),
        "q" | "queue" => Some(Kind::Queue),
        "stk" | "stack" => Some(Kind::Stack),
        "ring" | "rb" => Some(Kind::Ring),
        "map" | "dict" => Some(Kind::Map),
        "set" => Some(Kind::Set),
        "pool" => Some(Kind::Pool),
        _ => None,
    })
}

/// The type tokens of a name, in order.
fn dtype_tokens(tokens: &[String]) -> Vec<Dtype> {
    tokens
        .iter()
        .filter_map(|t| t.parse::<Dtype>().ok())
        .collect()
}

/// Picks element types for the sizes `sizes` from the name's type tokens (in order), falling
/// back to signed integers.
fn pick_dtypes(name: &str, sizes: &[u64]) -> Option<(Vec<Dtype>, DtypeSource)> {
    let hints = dtype_tokens(&tokens(name));
    let mut from_name = Vec::new();
    let mut rest = hints.as_slice();
    for &s in sizes {
        let pos = rest.iter().position(|d| d.size() == s);
        match pos {
            Some(p) => {
                from_name.push(*rest.get(p)?);
                rest = rest.get(p + 1..)?;
            }
            None => break,
        }
    }
    if from_name.len() == sizes.len() {
        return Some((from_name, DtypeSource::Name));
    }
    let fallback = sizes
        .iter()
        .map(|&s| Dtype::signed_of_size(s))
        .collect::<Option<Vec<_>>>()?;
    Some((fallback, DtypeSource::Size))
}

fn spec_of(fit: Fit, name: &str) -> Option<Guess> {
    let sizes: Vec<u64> = if fit.kind == Kind::Map {
        vec![fit.es, fit.vs]
    } else {
        vec![fit.es]
    };
    let (d, source) = pick_dtypes(name, &sizes)?;
    Some(Guess::Known {
        spec: Spec {
            kind: fit.kind,
            dtype: *d.first()?,
            value: d.get(1).copied(),
        },
        source,
    })
}

/// The sync/codata kind of the structure called `base`, recognised by the auxiliary entries
/// its kind creates (spec §5); `size_of` gives an entry's size by name.
fn composite_of(base: &str, size_of: &dyn Fn(&str) -> Option<u64>) -> Option<&'static str> {
    let has = |suffix: &str| size_of(&format!("{base}{suffix}")).is_some();
    if has("_rmtx") && has("_wmtx") {
        Some("rwlock")
    } else if has("_mtx") && has("_cond") {
        Some("monitor")
    } else if has("_state") && has("_mtx") {
        Some("signal")
    } else if has("_sem") && size_of(base) == Some(12) {
        Some("event")
    } else if has("_header") && (has("_buffer") || has("_slot")) {
        match size_of(&format!("{base}_header")) {
            Some(56) => Some("stream"),
            Some(32) => Some("channel"),
            _ => Some("stream/channel"),
        }
    } else {
        None
    }
}

/// Labels for entries of kinds this version does not decode: the base and auxiliary entries
/// of sync/codata structures, and single entries whose size is that of a sync primitive.
fn label(name: &str, size_of: &dyn Fn(&str) -> Option<u64>) -> Option<String> {
    if let Some(kind) = composite_of(name, size_of) {
        return Some(kind.to_owned());
    }
    const PARTS: [(&str, &str); 10] = [
        ("_state", " (state)"),
        ("_rmtx", " (read mutex)"),
        ("_wmtx", " (write mutex)"),
        ("_mtx", " (mutex)"),
        ("_cond", " (condition)"),
        ("_count", " (count)"),
        ("_sem", " (semaphore)"),
        ("_header", " (header)"),
        ("_buffer", " (buffer)"),
        ("_slot", " (slot)"),
    ];
    for (suffix, part) in PARTS {
        if let Some(base) = name.strip_suffix(suffix)
            && let Some(kind) = composite_of(base, size_of)
        {
            return Some(format!("{kind}{part}"));
        }
    }
    None
}

/// A label by size alone, for an entry no decodable layout fits.
fn size_label(size: u64) -> Option<&'static str> {
    match size {
        16 => Some("semaphore|mutex|barrier|latch?"),
        4 => Some("once?"),
        280 => Some("future|lazy?"),
        304 => Some("lazy?"),
        _ => None,
    }
}

/// Infers the kind of `entry` (whose bytes are `region`) in a segment whose table is `table`.
pub fn infer(entry: &Entry, region: &Region, table: &[Entry]) -> Guess {
    let name = entry.name();
    let size = entry.size();
    let size_of = |n: &str| table.iter().find(|e| e.name() == n).map(Entry::size);
    if let Some(l) = label(name, &size_of) {
        return Guess::Label(l);
    }
    let fits: Vec<Fit> = [fit_queue, fit_stack, fit_ring, fit_map, fit_set, fit_pool]
        .iter()
        .filter_map(|f| f(region, size))
        .collect();
    let hint = kind_hint(&tokens(name));
    let chosen = match fits.as_slice() {
        [one] => Some(*one),
        [] if hint == Some(Kind::Array) || size_label(size).is_none() => fit_array(region, size),
        [] => return size_label(size).map_or(Guess::Unknown, |l| Guess::Label(l.to_owned())),
        many => match hint.and_then(|h| many.iter().find(|f| f.kind == h)) {
            Some(f) => Some(*f),
            None => return Guess::Ambiguous(many.iter().map(|f| f.kind).collect()),
        },
    };
    // A name that says "array" wins over a coincidental header fit.
    let chosen = match (hint, chosen) {
        (Some(Kind::Array), Some(f)) if f.kind != Kind::Array => {
            fit_array(region, size).or(Some(f))
        }
        (_, c) => c,
    };
    match chosen.and_then(|f| spec_of(f, name)) {
        Some(g) => g,
        None => Guess::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_match_the_spec_tables() {
        let cases = [
            (4, 4, 12),
            (4, 8, 16),
            (8, 8, 24),
            (1, 1, 8),
            (2, 4, 12),
            (8, 4, 24),
            (8, 1, 24),
            (1, 8, 16),
        ];
        for (k, v, e) in cases {
            assert_eq!(map_entry_size(k, v), Some(e), "map {k},{v}");
        }
        assert_eq!(set_entry_size(4), Some(8));
        assert_eq!(set_entry_size(8), Some(16));
        assert_eq!(set_entry_size(1), Some(8));
        assert_eq!(pool_node_size(4), Some(8));
        assert_eq!(pool_node_size(8), Some(16));
        assert_eq!(pool_node_size(1), Some(8));
        assert_eq!(slotted_size(8, 4), Some(80));
        assert_eq!(slotted_size(5, 1), Some(44));
    }

    #[test]
    fn name_tokens_give_types_in_order() {
        let (d, s) = pick_dtypes("map_i32_f64", &[4, 8]).expect("types");
        assert_eq!((d, s), (vec![Dtype::I32, Dtype::F64], DtypeSource::Name));
        let (d, s) = pick_dtypes("samples", &[8]).expect("types");
        assert_eq!((d, s), (vec![Dtype::I64], DtypeSource::Size));
        let (d, _) = pick_dtypes("arr_float32", &[4]).expect("types");
        assert_eq!(d, vec![Dtype::F32]);
        assert_eq!(kind_hint(&tokens("stk_u8")), Some(Kind::Stack));
    }
}
