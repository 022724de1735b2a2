//! Fitting layouts: which kinds' stored headers agree with an entry's size and with their own
//! invariants, and the element sizes they store (spec §3, §3.8, §3.9).
//!
//! Every number here comes from shared memory or the table, so all arithmetic is checked
//! (a header that would overflow fits nothing).

use zeroipc_format::Region;
use zeroipc_structures::{Map, Pool, Set};

use super::composite::Table;
use super::names::{typed, untyped};
use super::{Dtype, Guess, Kind};
use crate::with_dtype;

/// Every element size a scalar can have.
pub(super) const ALL_SIZES: [u64; 4] = [1, 2, 4, 8];

/// A kind that fits the stored header, with its element sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Fit {
    /// The kind.
    pub kind: Kind,
    /// Element (or key) size.
    pub es: u64,
    /// Value size of a map (0 otherwise).
    pub vs: u64,
}

impl Fit {
    fn one(kind: Kind, es: u64) -> Self {
        Fit { kind, es, vs: 0 }
    }
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    let a = a.max(1);
    x.checked_add(a.checked_sub(1)?)?
        .checked_div(a)?
        .checked_mul(a)
}

fn scalar_size(s: u64) -> bool {
    ALL_SIZES.contains(&s)
}

pub(super) fn u32_at(r: &Region, off: usize) -> Option<u64> {
    r.read::<u32>(off).ok().map(u64::from)
}

fn u64_at(r: &Region, off: usize) -> Option<u64> {
    r.read::<u64>(off).ok()
}

fn i32_at(r: &Region, off: usize) -> Option<i64> {
    r.read::<i32>(off).ok().map(i64::from)
}

/// `16 + align8(cap*es) + 4*cap` (queue, stack).
fn slotted_size(cap: u64, es: u64) -> Option<u64> {
    let data = align_up(cap.checked_mul(es)?, 8)?;
    16u64.checked_add(data)?.checked_add(cap.checked_mul(4)?)
}

/// `header + cap * stride`, `None` on overflow.
fn table_size(header: u64, cap: u64, stride: u64) -> Option<u64> {
    header.checked_add(cap.checked_mul(stride)?)
}

/// Map entry stride for scalar key and value types of these sizes: the structure's own
/// [`Map::ENTRY_SIZE`] (alignment = size, so the signed integers stand for every type).
pub fn map_entry_size(ks: u64, vs: u64) -> Option<u64> {
    let (k, v) = (Dtype::signed_of_size(ks)?, Dtype::signed_of_size(vs)?);
    let stride = with_dtype!(k, K => with_dtype!(v, V => Map::<K, V>::ENTRY_SIZE));
    u64::try_from(stride).ok()
}

/// Set entry stride for a scalar element type of this size ([`Set::ENTRY_SIZE`]).
pub fn set_entry_size(es: u64) -> Option<u64> {
    let stride = with_dtype!(Dtype::signed_of_size(es)?, T => Set::<T>::ENTRY_SIZE);
    u64::try_from(stride).ok()
}

/// Pool node size for a scalar element type of this size ([`Pool::NODE_SIZE`]).
pub fn pool_node_size(es: u64) -> Option<u64> {
    let size = with_dtype!(Dtype::signed_of_size(es)?, T => Pool::<T>::NODE_SIZE);
    u64::try_from(size).ok()
}

/// The `[0, 4)`-valued u32 state words at `first`, `first + stride`, ...; `None` if any word
/// is above 3 or outside the region.
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

/// How many of `states` are one of `busy`.
fn count_of(states: &[u32], busy: &[u32]) -> u64 {
    states
        .iter()
        .filter(|s| busy.contains(s))
        .map(|_| 1u64)
        .sum()
}

fn near(a: u64, b: u64) -> bool {
    a.abs_diff(b) <= 1
}

pub(super) fn fit_array(r: &Region, size: u64) -> Option<Fit> {
    let cap = u64_at(r, 0)?;
    let data = size.checked_sub(8)?;
    let es = data.checked_div(cap)?;
    (data.checked_rem(cap)? == 0 && scalar_size(es)).then_some(Fit::one(Kind::Array, es))
}

fn fit_queue(r: &Region, size: u64) -> Option<Fit> {
    let (head, tail) = (r.read::<u32>(0).ok()?, r.read::<u32>(4).ok()?);
    let (cap, es) = (u32_at(r, 8)?, u32_at(r, 12)?);
    let ok = cap.is_power_of_two()
        && cap <= 1 << 31
        && scalar_size(es)
        && slotted_size(cap, es)? == size
        && u64::from(tail.wrapping_sub(head)) <= cap;
    ok.then_some(Fit::one(Kind::Queue, es))
}

fn fit_stack(r: &Region, size: u64) -> Option<Fit> {
    let top = i32_at(r, 0)?;
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
    let first = 16u64.checked_add(align_up(cap.checked_mul(es)?, 8)?)?;
    let st = states(r, first, 4, cap)?;
    let busy = count_of(&st, &[1, 2, 3]);
    near(busy, u64::try_from(top.checked_add(1)?).ok()?).then_some(Fit::one(Kind::Stack, es))
}

fn fit_ring(r: &Region, size: u64) -> Option<Fit> {
    let (w, rd) = (u64_at(r, 0)?, u64_at(r, 8)?);
    let (cap, es) = (u32_at(r, 16)?, u32_at(r, 20)?);
    let ok = cap > 0
        && scalar_size(es)
        && cap.checked_rem(es)? == 0
        && size == 24u64.checked_add(cap)?
        && w.checked_sub(rd)? <= cap
        && w.checked_rem(es)? == 0
        && rd.checked_rem(es)? == 0;
    ok.then_some(Fit::one(Kind::Ring, es))
}

fn fit_map(r: &Region, size: u64) -> Option<Fit> {
    let (count, cap, ks, vs) = (u32_at(r, 0)?, u32_at(r, 4)?, u32_at(r, 8)?, u32_at(r, 12)?);
    if cap == 0 || !scalar_size(ks) || !scalar_size(vs) {
        return None;
    }
    let stride = map_entry_size(ks, vs)?;
    if table_size(16, cap, stride)? != size || count > cap {
        return None;
    }
    let used = count_of(&states(r, 16, stride, cap)?, &[1, 3]);
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
    if table_size(16, cap, stride)? != size {
        return None;
    }
    let used = count_of(&states(r, 16, stride, cap)?, &[1, 3]);
    near(used, count).then_some(Fit::one(Kind::Set, es))
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
        && table_size(24, cap, pool_node_size(es)?)? == size
        && allocated <= cap
        && (idx == 0xFFFF_FFFF || idx < cap);
    ok.then_some(Fit::one(Kind::Pool, es))
}

/// The lock-free structures whose stored header fits an entry of `size` bytes (not the
/// array, whose 8-byte header fits almost anything).
pub(super) fn structure_fits(r: &Region, size: u64) -> Vec<Fit> {
    [fit_queue, fit_stack, fit_ring, fit_map, fit_set, fit_pool]
        .iter()
        .filter_map(|f| f(r, size))
        .collect()
}

/// Kinds whose 16-byte layout the words fit (spec §3.8), mutex before semaphore.
pub(super) fn fits16(r: &Region) -> Option<Vec<Kind>> {
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

/// Element sizes of a future of `size` bytes: `align8(16 + es + 256)` (C++, Rust) or the
/// unpadded `16 + es + 256` (upstream Python).
pub(super) fn future_sizes(size: u64) -> Vec<u64> {
    match size {
        280 => ALL_SIZES.to_vec(),
        273 | 274 | 276 => size.checked_sub(272).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The element size of a future in the ERROR state, from where its message starts: the value
/// slot (`es` bytes at 16) is never written by `set_error`, so it is zero, and the message
/// follows it at `16 + es`. `None` for an empty message (then every candidate reads "").
pub fn error_elem_size(r: &Region) -> Option<u64> {
    let byte = |off: usize| r.read::<u8>(off).ok();
    ALL_SIZES.into_iter().find(|&es| {
        let Some(msg) = usize::try_from(es).ok().and_then(|es| es.checked_add(16)) else {
            return false;
        };
        (16..msg).all(|o| byte(o) == Some(0)) && byte(msg).is_some_and(|b| b != 0)
    })
}

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

/// The single-entry sync/codata kinds that fit entry `name` of `size` bytes.
pub(super) fn prim_fits(name: &str, size: u64, r: &Region, t: &Table<'_>) -> Vec<Guess> {
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

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use zeroipc_format::Segment;

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
        assert_eq!(slotted_size(u64::MAX, 8), None, "overflow fits nothing");
        assert_eq!(align_up(u64::MAX, 8), None);
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

    #[test]
    fn headers_whose_numbers_do_not_add_up_fit_nothing() {
        // A ring whose read position is past its write position, a map whose 4-billion-entry
        // table is not its 16 bytes, an array of capacity 0.
        let mut ring = vec![0u8; 24 + 16];
        ring[8..16].copy_from_slice(&8u64.to_le_bytes());
        ring[16..20].copy_from_slice(&16u32.to_le_bytes());
        ring[20..24].copy_from_slice(&4u32.to_le_bytes());
        let (_seg, r) = region_with(&ring);
        assert_eq!(fit_ring(&r, 40), None);
        let mut map = vec![0u8; 16];
        map[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        map[8..12].copy_from_slice(&8u32.to_le_bytes());
        map[12..16].copy_from_slice(&8u32.to_le_bytes());
        let (_seg, r) = region_with(&map);
        assert_eq!(fit_map(&r, 16), None);
        let (_seg, r) = region_with(&[0u8; 8]);
        assert_eq!(fit_array(&r, 8), None, "capacity 0");
    }
}
