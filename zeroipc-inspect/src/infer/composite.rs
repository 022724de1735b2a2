//! Grouping composites: the structures made of several table entries (rwlock, monitor,
//! signal, event, stream, channel; spec §3.8, §3.9) recognised from their auxiliary entries
//! under one base name, and the labels of those auxiliary entries.

use zeroipc_format::{Entry, Segment};

use super::fit::{ALL_SIZES, slot_elem_size, u32_at};
use super::names::{typed, untyped};
use super::{Guess, Kind};

/// Table lookups by name.
pub(super) struct Table<'a> {
    /// The segment.
    pub seg: &'a Segment,
    /// Its table entries.
    pub entries: &'a [Entry],
}

impl Table<'_> {
    /// The entry called `name`.
    pub(super) fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name() == name)
    }

    /// The size of the entry called `name`.
    pub(super) fn size_of(&self, name: &str) -> Option<u64> {
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
pub(super) fn composite_kind(base: &str, t: &Table<'_>) -> Option<Result<Kind, &'static str>> {
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
pub(super) fn composite_guess(base: &str, kind: Kind, t: &Table<'_>) -> Guess {
    match kind {
        Kind::Signal => {
            // `align8(8 + es)` (C++, Rust) or `8 + es` (upstream Python).
            let sizes: Vec<u64> = match t.size_of(&format!("{base}_state")) {
                Some(16) => ALL_SIZES.to_vec(),
                Some(s @ (9 | 10 | 12)) => s.checked_sub(8).into_iter().collect(),
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
/// mutexes and lazies, the chain entries of derived lazies).
pub(super) fn part_label(name: &str, t: &Table<'_>) -> Option<String> {
    const PARTS: [(&str, &str); 14] = [
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
        ("_chain", " (chain)"),
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
            // A derived lazy's inputs (spec §3.9.2).
            None if suffix == "_chain" && matches!(t.size_of(base), Some(273..=280 | 304)) => {
                "lazy"
            }
            None => continue,
        };
        return Some(format!("{kind}{part}"));
    }
    None
}
