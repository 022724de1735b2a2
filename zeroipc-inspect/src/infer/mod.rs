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

//!
//! The work is split by concept: [`fit`] checks stored headers against sizes (fitting
//! layouts), `names` reads types and kind hints from the words of a name, `composite` groups
//! the entries of multi-entry structures. Every number they read comes from shared memory, so
//! their arithmetic is checked (denied lints below).

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

mod composite;
pub mod fit;
mod names;

use zeroipc_format::{Entry, Segment};

use crate::dtype::{Dtype, Kind, Spec};
use composite::{Table, composite_guess, composite_kind, part_label};
use fit::{Fit, fit_array, prim_fits, structure_fits};
use names::{kind_hint, prim_hint, spec_of, tokens};

pub use fit::{error_elem_size, map_entry_size, pool_node_size, set_entry_size, slot_elem_size};

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
    let fits: Vec<Fit> = structure_fits(&region, size);
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
