//! Guessing a structure's kind and element type from what the format stores.
//!
//! The table records only a name, an offset and a size. Each kind's header stores its geometry
//! (capacity, element sizes) and its size follows a formula, so most structures are recognised
//! by checking every kind's header against the entry size and the header's own invariants.
//! The element *type* is not stored: only its size. A type token in the entry name (`_i32`,
//! `float64`, ...) of the right size is used when present, otherwise the signed integer of
//! that size (and the output says `dtype_source: "size"`). A kind token in the name (`q`,
//! `queue`, `stk`, `map`, `sem`, `mtx`, `fut`, ...) breaks ties.
//!
//! The composite sync and codata kinds (rwlock, monitor, signal, event, stream, channel) are
//! recognised from their auxiliary entries (spec §3.8, §3.9) under their base name; the
//! auxiliary entries themselves are labelled (`rwlock (state)`, `stream (header)`, ...). The
//! single-entry kinds are recognised by size and header invariants: 16 bytes are a semaphore,
//! mutex, barrier or latch, 4 bytes a once, 273–280 bytes a future or lazy, 304 bytes a lazy.
//! Several of these layouts can hold the same words, so the name (or a project auxiliary entry
//! such as `NAME_owner`) decides; otherwise the entry is reported as ambiguous.

use zeroipc_format::{Entry, Region, Segment};

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
    /// The layout does not store the element size and the name has no type token: values are
    /// shown as raw bytes.
    Unknown,
    /// The kind has no element type (synchronisation primitives).
    Untyped,
}

impl DtypeSource {
    /// Lower-case name for output.
    pub fn name(self) -> &'static str {
        match self {
            DtypeSource::Option => "option",
            DtypeSource::Name => "name",
            DtypeSource::Size => "size",
            DtypeSource::Unknown => "unknown",
            DtypeSource::Untyped => "untyped",
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
            Guess::Known { spec, .. } => match (spec.kind.typing(), spec.dtype, spec.value) {
                (_, Some(d), Some(v)) => format!("{}<{d},{v}>", spec.kind),
                (_, Some(d), None) => format!("{}<{d}>", spec.kind),
                (crate::dtype::Typing::Untyped, None, _) => spec.kind.to_string(),
                (_, None, _) => format!("{}<?>", spec.kind),
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
            dtype: Some(*d.first()?),
            value: d.get(1).copied(),
        },
        source,
    })
}

/// A typed codata/sync kind whose element size is one of `sizes`: the first type token of the
/// name with such a size, else the signed integer if only one size is possible, else unknown.
fn typed(kind: Kind, name: &str, sizes: &[u64]) -> Guess {
    let from_name = dtype_tokens(&tokens(name))
        .into_iter()
        .find(|d| sizes.contains(&d.size()));
    let (dtype, source) = match (from_name, sizes) {
        (Some(d), _) => (Some(d), DtypeSource::Name),
        (None, [one]) => (Dtype::signed_of_size(*one), DtypeSource::Size),
        (None, _) => (None, DtypeSource::Unknown),
    };
    let source = if dtype.is_none() {
        DtypeSource::Unknown
    } else {
        source
    };
    Guess::Known {
        spec: Spec {
            kind,
            dtype,
            value: None,
        },
        source,
    }
}

fn untyped(kind: Kind) -> Guess {
    Guess::Known {
        spec: Spec::untyped(kind),
        source: DtypeSource::Untyped,
    }
}

/// Every element size a scalar can have.
const ALL_SIZES: [u64; 4] = [1, 2, 4, 8];

/// Element size of a rendezvous slot of `size` bytes (`{u8 ready; u8 consumed; T data}`).
pub fn slot_elem_size(size: u64) -> Option<u64> {
    match size {
        3 => Some(1),
        4 => Some(2),
        8 => Some(4),
        16 => Some(8),
        _ => None,
    }
}

/// Table lookups by name.
struct Table<'a> {
    seg: &'a Segment,
    entries: &'a [Entry],
}

impl Table<'_> {
    fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name() == name)
    }

    fn size_of(&self, name: &str) -> Option<u64> {
        self.get(name).map(Entry::size)
    }

    fn has(&self, base: &str, suffix: &str) -> bool {
        self.get(&format!("{base}{suffix}")).is_some()
    }

    /// The u32 at `off` of entry `name`.
    fn u32_of(&self, name: &str, off: usize) -> Option<u64> {
        let r = self.seg.region(self.get(name)?).ok()?;
        u32_at(&r, off)
    }
}

/// The composite kind of the structure called `base`, recognised by the auxiliary entries its
/// kind creates (spec §3.8, §3.9). `Err(label)` for a header/buffer pair of neither known size.
fn composite_kind(base: &str, t: &Table<'_>) -> Option<Result<Kind, &'static str>> {
    if t.has(base, "_rmtx") && t.has(base, "_wmtx") && t.has(base, "_state") {
        Some(Ok(Kind::RwLock))
    } else if t.has(base, "_mtx") && t.has(base, "_cond") {
        Some(Ok(Kind::Monitor))
    } else if t.has(base, "_state") && t.has(base, "_mtx") {
        Some(Ok(Kind::Signal))
    } else if t.has(base, "_sem") && t.size_of(base) == Some(12) {
        Some(Ok(Kind::Event))
    } else if t.has(base, "_header") && (t.has(base, "_buffer") || t.has(base, "_slot")) {
        match t.size_of(&format!("{base}_header")) {
            Some(56) => Some(Ok(Kind::Stream)),
            Some(32) => Some(Ok(Kind::Channel)),
            _ => Some(Err("stream/channel")),
        }
    } else {
        None
    }
}

/// The guess for a composite structure `base` of kind `kind` (element size from its parts).
fn composite_guess(base: &str, kind: Kind, t: &Table<'_>) -> Guess {
    match kind {
        Kind::Signal => {
            // `align8(8 + es)` (C++, Rust) or `8 + es` (upstream Python).
            let sizes: Vec<u64> = match t.size_of(&format!("{base}_state")) {
                Some(16) => ALL_SIZES.to_vec(),
                Some(s) if matches!(s, 9 | 10 | 12) => vec![s - 8],
                _ => Vec::new(),
            };
            typed(kind, base, &sizes)
        }
        Kind::Stream => {
            let es = t.u32_of(&format!("{base}_buffer"), 20);
            typed(kind, base, &es.into_iter().collect::<Vec<_>>())
        }
        Kind::Channel => {
            let es = match t.size_of(&format!("{base}_slot")) {
                Some(size) => slot_elem_size(size),
                None => t.u32_of(&format!("{base}_buffer"), 12),
            };
            typed(kind, base, &es.into_iter().collect::<Vec<_>>())
        }
        _ => untyped(kind),
    }
}

/// Labels for the auxiliary entries of composite structures (and the owner entries of
/// mutexes and lazies).
fn part_label(name: &str, t: &Table<'_>) -> Option<String> {
    const PARTS: [(&str, &str); 13] = [
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
        ("_subs", " (subscribers)"),
        ("_peers", " (peers)"),
        ("_owner", " (owner)"),
    ];
    for (suffix, part) in PARTS {
        let Some(base) = name.strip_suffix(suffix) else {
            continue;
        };
        let kind = match composite_kind(base, t) {
            Some(Ok(k)) => k.name(),
            Some(Err(label)) => label,
            None if suffix == "_owner" && t.size_of(name) == Some(8) => match t.size_of(base) {
                Some(16) => "mutex",
                Some(273..=280 | 304) => "lazy",
                _ => continue,
            },
            None => continue,
        };
        return Some(format!("{kind}{part}"));
    }
    None
}

fn i32_at(r: &Region, off: usize) -> Option<i64> {
    r.read::<i32>(off).ok().map(i64::from)
}

/// Kinds whose 16-byte layout the words fit (spec §3.8), mutex before semaphore.
fn fits16(r: &Region) -> Option<Vec<Kind>> {
    let (a, b, c, d) = (i32_at(r, 0)?, i32_at(r, 4)?, i32_at(r, 8)?, i32_at(r, 12)?);
    let mut out = Vec::new();
    // Semaphore: count, waiting, max_count (0 = unbounded), pad.
    if a >= 0 && b >= 0 && c >= 0 && d == 0 && (c == 0 || a <= c) {
        out.push(if c == 1 { Kind::Mutex } else { Kind::Semaphore });
    }
    // Barrier: arrived, generation, num_participants > 0, pad.
    if c > 0 && d == 0 && (0..=c).contains(&a) {
        out.push(Kind::Barrier);
    }
    // Latch: count, initial_count, pad[2].
    if b >= 0 && (0..=b).contains(&a) && c == 0 && d == 0 {
        out.push(Kind::Latch);
    }
    Some(out)
}

/// The sync/codata kind token of a name.
fn prim_hint(tokens: &[String]) -> Option<Kind> {
    tokens.iter().find_map(|t| match t.as_str() {
        "sem" | "semaphore" => Some(Kind::Semaphore),
        "mtx" | "mutex" | "lock" => Some(Kind::Mutex),
        "bar" | "barrier" => Some(Kind::Barrier),
        "lat" | "latch" => Some(Kind::Latch),
        "once" => Some(Kind::Once),
        "fut" | "future" | "promise" => Some(Kind::Future),
        "lazy" => Some(Kind::Lazy),
        _ => None,
    })
}

/// Element sizes of a future of `size` bytes: `align8(16 + es + 256)` (C++, Rust) or the
/// unpadded `16 + es + 256` (upstream Python).
fn future_sizes(size: u64) -> Vec<u64> {
    match size {
        280 => ALL_SIZES.to_vec(),
        273 | 274 | 276 => vec![size - 272],
        _ => Vec::new(),
    }
}

/// The element size of a future in the ERROR state, from where its message starts: the value
/// slot (`es` bytes at 16) is never written by `set_error`, so it is zero, and the message
/// follows it at `16 + es`. `None` for an empty message (then every candidate reads "").
pub fn error_elem_size(r: &Region) -> Option<u64> {
    let byte = |off: usize| r.read::<u8>(off).ok();
    ALL_SIZES.into_iter().find(|&es| {
        let es_us = es as usize;
        (16..16 + es_us).all(|o| byte(o) == Some(0)) && byte(16 + es_us).is_some_and(|b| b != 0)
    })
}

/// The single-entry sync/codata kinds that fit entry `name` of `size` bytes.
fn prim_fits(name: &str, size: u64, r: &Region, t: &Table<'_>) -> Vec<Guess> {
    let has_owner = t.size_of(&format!("{name}_owner")) == Some(8);
    let mut out = Vec::new();
    match size {
        16 => {
            for k in fits16(r).unwrap_or_default() {
                out.push(untyped(k));
            }
        }
        4 if u32_at(r, 0).is_some_and(|s| s <= 2) => out.push(untyped(Kind::Once)),
        _ => {}
    }
    let state_ok = u32_at(r, 0).is_some_and(|s| s <= 3);
    let mut sizes = future_sizes(size);
    if sizes.len() > 1
        && u32_at(r, 0) == Some(3)
        && let Some(es) = error_elem_size(r)
    {
        sizes = vec![es];
    }
    if state_ok && !sizes.is_empty() && !has_owner {
        out.push(typed(Kind::Future, name, &sizes));
    }
    // Lazy: 280 bytes for 1-, 2- and 4-byte T (op type @4), 304 for 8-byte T (op type @8).
    let lazy = match size {
        280 => u32_at(r, 4)
            .is_some_and(|op| op <= 5)
            .then(|| vec![1, 2, 4]),
        304 => (u32_at(r, 4) == Some(0) && u32_at(r, 8).is_some_and(|op| op <= 5)).then(|| vec![8]),
        _ => None,
    };
    if let Some(sizes) = lazy.filter(|_| state_ok) {
        out.push(typed(Kind::Lazy, name, &sizes));
    }
    out
}

fn guess_kind(g: &Guess) -> Option<Kind> {
    match g {
        Guess::Known { spec, .. } => Some(spec.kind),
        _ => None,
    }
}

/// Infers the kind of the structure `name` in a segment whose table is `entries`. `name` is a
/// table entry or the base name of a composite structure (a stream or channel has no entry of
/// its own); `Guess::Unknown` if it is neither.
pub fn infer(seg: &Segment, entries: &[Entry], name: &str) -> Guess {
    let t = Table { seg, entries };
    match composite_kind(name, &t) {
        Some(Ok(kind)) => return composite_guess(name, kind, &t),
        Some(Err(label)) => return Guess::Label(label.to_owned()),
        None => {}
    }
    let Some(entry) = t.get(name) else {
        return Guess::Unknown;
    };
    if let Some(l) = part_label(name, &t) {
        return Guess::Label(l);
    }
    let Ok(region) = seg.region(entry) else {
        return Guess::Unknown;
    };
    let size = entry.size();
    let fits: Vec<Fit> = [fit_queue, fit_stack, fit_ring, fit_map, fit_set, fit_pool]
        .iter()
        .filter_map(|f| f(&region, size))
        .collect();
    let toks = tokens(name);
    let hint = kind_hint(&toks);
    if fits.is_empty() && hint != Some(Kind::Array) {
        let prims = prim_fits(name, size, &region, &t);
        let phint = prim_hint(&toks);
        // A mutex with the project's owner entry.
        let owner = t.size_of(&format!("{name}_owner")) == Some(8);
        let pick = |k: Kind| prims.iter().find(|g| guess_kind(g) == Some(k)).cloned();
        let chosen = match prims.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            _ => phint
                .and_then(|h| {
                    // A "semaphore" hint also accepts a binary semaphore (max_count 1).
                    pick(h).or_else(|| (h == Kind::Semaphore).then(|| pick(Kind::Mutex)).flatten())
                })
                .or_else(|| owner.then(|| pick(Kind::Mutex)).flatten()),
        };
        match (chosen, prims.is_empty()) {
            (Some(Guess::Known { spec, source }), _) if spec.kind == Kind::Mutex => {
                // Shown as a semaphore when the name says so (a binary semaphore).
                let kind = if phint == Some(Kind::Semaphore) {
                    Kind::Semaphore
                } else {
                    Kind::Mutex
                };
                return Guess::Known {
                    spec: Spec { kind, ..spec },
                    source,
                };
            }
            (Some(g), _) => return g,
            (None, false) => {
                return Guess::Ambiguous(prims.iter().filter_map(guess_kind).collect());
            }
            (None, true) => {}
        }
    }
    let chosen = match fits.as_slice() {
        [one] => Some(*one),
        [] if hint == Some(Kind::Array) || size_label(size).is_none() => fit_array(&region, size),
        [] => return size_label(size).map_or(Guess::Unknown, |l| Guess::Label(l.to_owned())),
        many => match hint.and_then(|h| many.iter().find(|f| f.kind == h)) {
            Some(f) => Some(*f),
            None => return Guess::Ambiguous(many.iter().map(|f| f.kind).collect()),
        },
    };
    // A name that says "array" wins over a coincidental header fit.
    let chosen = match (hint, chosen) {
        (Some(Kind::Array), Some(f)) if f.kind != Kind::Array => {
            fit_array(&region, size).or(Some(f))
        }
        (_, c) => c,
    };
    match chosen.and_then(|f| spec_of(f, name)) {
        Some(g) => g,
        None => Guess::Unknown,
    }
}

/// A label by size alone, for an entry no layout fits.
fn size_label(size: u64) -> Option<&'static str> {
    match size {
        16 => Some("semaphore|mutex|barrier|latch?"),
        4 => Some("once?"),
        273..=280 => Some("future|lazy?"),
        304 => Some("lazy?"),
        _ => None,
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

    fn region_with(words: &[u8]) -> (Segment, Region) {
        let seg = Segment::anonymous(1 << 14, 8).expect("segment");
        let (_, r) = seg
            .add("x", words.len() as u64, |r: &Region| {
                r.write_slice(0, words)?;
                Ok::<_, zeroipc_format::Error>(())
            })
            .expect("entry");
        (seg, r)
    }

    fn words16(w: [i32; 4]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn sixteen_byte_kinds_by_their_invariants() {
        let cases: [([i32; 4], &[Kind]); 7] = [
            ([3, 0, 5, 0], &[Kind::Semaphore, Kind::Barrier]),
            ([1, 0, 1, 0], &[Kind::Mutex, Kind::Barrier]),
            ([0, 0, 3, 0], &[Kind::Semaphore, Kind::Barrier]),
            ([3, 5, 0, 0], &[Kind::Semaphore, Kind::Latch]),
            ([2, 0, 0, 0], &[Kind::Semaphore]),
            ([-1, 0, 0, 0], &[]),
            ([0, 0, 0, 7], &[]),
        ];
        for (w, want) in cases {
            let (_seg, r) = region_with(&words16(w));
            assert_eq!(fits16(&r).expect("words"), want, "{w:?}");
        }
    }

    #[test]
    fn an_error_futures_message_gives_its_element_size() {
        for es in [1usize, 2, 4, 8] {
            let mut b = vec![0u8; 280];
            b[16 + es..16 + es + 4].copy_from_slice(b"boom");
            let (_seg, r) = region_with(&b);
            assert_eq!(error_elem_size(&r), Some(es as u64));
        }
        let (_seg, r) = region_with(&[0u8; 280]);
        assert_eq!(error_elem_size(&r), None, "empty message");
        assert_eq!(future_sizes(280), vec![1, 2, 4, 8]);
        assert_eq!(future_sizes(276), vec![4]);
        assert_eq!(slot_elem_size(8), Some(4));
    }
}
