//! Fitting layouts: which kinds' stored headers agree with an entry's size and with their own
//! invariants, and the element sizes they store (spec §3, §3.8, §3.9).
//!
//! Every number here comes from shared memory or the table, so all arithmetic is checked
//! (a header that would overflow fits nothing).

use zeroipc_codata::layout::{FutureHeader, SlotFlags};
use zeroipc_codata::{Future, Lazy, LazyLayout};
use zeroipc_format::Region;
use zeroipc_structures::layout::{
    ArrayHeader, MapHeader, PoolHeader, QueueHeader, RingHeader, SetHeader, StackHeader,
};
use zeroipc_structures::{Map, Pool, Set};
use zeroipc_sync::layout::{BarrierLayout, LatchLayout, OnceLayout, OwnerLayout, SemaphoreLayout};

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

fn scalar_size(s: u64) -> bool {
    ALL_SIZES.contains(&s)
}

pub(super) fn u32_at(r: &Region, off: usize) -> Option<u64> {
    r.read::<u32>(off).ok().map(u64::from)
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

/// The header `H` at the start of an entry.
fn header<H: bytemuck::Pod>(r: &Region) -> Option<H> {
    r.read::<H>(0).ok()
}

/// A layout's offset as a byte count.
fn at(off: usize) -> Option<u64> {
    u64::try_from(off).ok()
}

pub(super) fn fit_array(r: &Region, size: u64) -> Option<Fit> {
    let cap = header::<ArrayHeader>(r)?.capacity;
    let data = size.checked_sub(at(ArrayHeader::DATA)?)?;
    let es = data.checked_div(cap)?;
    (data.checked_rem(cap)? == 0 && scalar_size(es)).then_some(Fit::one(Kind::Array, es))
}

fn fit_queue(r: &Region, size: u64) -> Option<Fit> {
    let h: QueueHeader = header(r)?;
    let (cap, es) = (u64::from(h.capacity), u64::from(h.elem_size));
    let ok = cap.is_power_of_two()
        && cap <= 1 << 31
        && scalar_size(es)
        && QueueHeader::geometry(h.capacity, usize::try_from(es).ok()?)?.1 == size
        && u64::from(h.tail.wrapping_sub(h.head)) <= cap;
    ok.then_some(Fit::one(Kind::Queue, es))
}

fn fit_stack(r: &Region, size: u64) -> Option<Fit> {
    let h: StackHeader = header(r)?;
    let (top, cap, es) = (
        i64::from(h.top),
        u64::from(h.capacity),
        u64::from(h.elem_size),
    );
    if cap == 0 || h.reserved != 0 || !scalar_size(es) {
        return None;
    }
    let (states_at, total) = StackHeader::geometry(h.capacity, usize::try_from(es).ok()?)?;
    if total != size || top < -1 || top >= i64::try_from(cap).ok()? {
        return None;
    }
    let st = states(r, states_at, at(size_of::<u32>())?, cap)?;
    let busy = count_of(&st, &[1, 2, 3]);
    near(busy, u64::try_from(top.checked_add(1)?).ok()?).then_some(Fit::one(Kind::Stack, es))
}

fn fit_ring(r: &Region, size: u64) -> Option<Fit> {
    let h: RingHeader = header(r)?;
    let (w, rd) = (h.write_pos, h.read_pos);
    let (cap, es) = (u64::from(h.capacity), u64::from(h.elem_size));
    let ok = cap > 0
        && scalar_size(es)
        && cap.checked_rem(es)? == 0
        && size == at(RingHeader::BUFFER)?.checked_add(cap)?
        && w.checked_sub(rd)? <= cap
        && w.checked_rem(es)? == 0
        && rd.checked_rem(es)? == 0;
    ok.then_some(Fit::one(Kind::Ring, es))
}

fn fit_map(r: &Region, size: u64) -> Option<Fit> {
    let h: MapHeader = header(r)?;
    let (count, cap) = (u64::from(h.size), u64::from(h.capacity));
    let (ks, vs) = (u64::from(h.key_size), u64::from(h.value_size));
    if cap == 0 || !scalar_size(ks) || !scalar_size(vs) {
        return None;
    }
    let stride = map_entry_size(ks, vs)?;
    let entries = at(MapHeader::ENTRIES)?;
    if table_size(entries, cap, stride)? != size || count > cap {
        return None;
    }
    let used = count_of(&states(r, entries, stride, cap)?, &[1, 3]);
    near(used, count).then_some(Fit {
        kind: Kind::Map,
        es: ks,
        vs,
    })
}

fn fit_set(r: &Region, size: u64) -> Option<Fit> {
    let h: SetHeader = header(r)?;
    let (count, cap, es) = (
        u64::from(h.size),
        u64::from(h.capacity),
        u64::from(h.elem_size),
    );
    if cap == 0 || h.reserved != 0 || !scalar_size(es) || count > cap {
        return None;
    }
    let stride = set_entry_size(es)?;
    let entries = at(SetHeader::ENTRIES)?;
    if table_size(entries, cap, stride)? != size {
        return None;
    }
    let used = count_of(&states(r, entries, stride, cap)?, &[1, 3]);
    near(used, count).then_some(Fit::one(Kind::Set, es))
}

fn fit_pool(r: &Region, size: u64) -> Option<Fit> {
    let h: PoolHeader = header(r)?;
    let (allocated, cap, es) = (h.allocated, u64::from(h.capacity), u64::from(h.elem_size));
    let idx = h.free_head & 0xFFFF_FFFF;
    let ok = cap > 0
        && h.padding == 0
        && scalar_size(es)
        && table_size(at(PoolHeader::NODES)?, cap, pool_node_size(es)?)? == size
        && u64::from(allocated) <= cap
        // `PoolHeader::free_head`'s index of "no free node" is all ones (pool's NULL).
        && (idx == u64::from(u32::MAX) || idx < cap);
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
    let sem: SemaphoreLayout = header(r)?;
    let bar: BarrierLayout = header(r)?;
    let lat: LatchLayout = header(r)?;
    let mut out = Vec::new();
    // Semaphore: count, waiting, max_count (0 = unbounded), pad.
    let (count, max) = (sem.count, sem.max_count);
    if count >= 0 && sem.waiting >= 0 && max >= 0 && sem.padding == 0 && (max == 0 || count <= max)
    {
        out.push(if max == 1 {
            Kind::Mutex
        } else {
            Kind::Semaphore
        });
    }
    // Barrier: arrived, generation, num_participants > 0, pad.
    let n = bar.num_participants;
    if n > 0 && bar.padding == 0 && (0..=n).contains(&bar.arrived) {
        out.push(Kind::Barrier);
    }
    // Latch: count, initial_count, pad[2].
    let initial = lat.initial_count;
    if initial >= 0 && (0..=initial).contains(&lat.count) && lat.padding == [0, 0] {
        out.push(Kind::Latch);
    }
    Some(out)
}

/// Element sizes of a future of `size` bytes: `align8(16 + es + 256)` (C++, Rust: 280 for
/// every size) or the unpadded `16 + es + 256` (upstream Python).
pub(super) fn future_sizes(size: u64) -> Vec<u64> {
    let fixed = FutureHeader::VALUE
        .checked_add(FutureHeader::MESSAGE_LEN)
        .and_then(at);
    let padded = Future::<i8>::memory_size();
    match fixed.and_then(|f| size.checked_sub(f)) {
        _ if size == padded => ALL_SIZES.to_vec(),
        Some(es @ (1 | 2 | 4)) => vec![es],
        _ => Vec::new(),
    }
}

/// The element size of a future in the ERROR state, from where its message starts: the value
/// slot (`es` bytes at 16) is never written by `set_error`, so it is zero, and the message
/// follows it at `16 + es`. `None` for an empty message (then every candidate reads "").
pub fn error_elem_size(r: &Region) -> Option<u64> {
    let byte = |off: usize| r.read::<u8>(off).ok();
    let value = FutureHeader::VALUE;
    ALL_SIZES.into_iter().find(|&es| {
        let Some(msg) = usize::try_from(es)
            .ok()
            .and_then(|es| es.checked_add(value))
        else {
            return false;
        };
        (value..msg).all(|o| byte(o) == Some(0)) && byte(msg).is_some_and(|b| b != 0)
    })
}

/// Element size of a rendezvous slot of `size` bytes (`{u8 ready; u8 consumed; T data}`,
/// [`SlotFlags::slot_size`] for a scalar aligned to its size).
pub fn slot_elem_size(size: u64) -> Option<u64> {
    ALL_SIZES
        .into_iter()
        .find(|&es| usize::try_from(es).is_ok_and(|es| SlotFlags::slot_size(es, es) == size))
}

/// Whether an entry of `size` bytes can be a lazy: the C++/Rust sizes of
/// [`Lazy::memory_size`] for 1-, 2-, 4- and 8-byte `T`, or upstream Python's unpadded ones
/// (from 273 bytes for a 1-byte `T`).
pub(super) fn lazy_sized(size: u64) -> bool {
    (273..=Lazy::<i32>::memory_size()).contains(&size) || size == Lazy::<i64>::memory_size()
}

/// The single-entry sync/codata kinds that fit entry `name` of `size` bytes.
pub(super) fn prim_fits(name: &str, size: u64, r: &Region, t: &Table<'_>) -> Vec<Guess> {
    let has_owner = t.size_of(&format!("{name}_owner")) == Some(OwnerLayout::SIZE);
    // The state word every future and lazy starts with (spec §3.9).
    let state = u32_at(r, FutureHeader::STATE);
    let mut out = Vec::new();
    if size == SemaphoreLayout::SIZE {
        for k in fits16(r).unwrap_or_default() {
            out.push(untyped(k));
        }
    } else if size == OnceLayout::SIZE && header::<OnceLayout>(r).is_some_and(|o| o.state <= 2) {
        out.push(untyped(Kind::Once));
    }
    let state_ok = state.is_some_and(|s| s <= 3);
    let mut sizes = future_sizes(size);
    if sizes.len() > 1
        && state == Some(3)
        && let Some(es) = error_elem_size(r)
    {
        sizes = vec![es];
    }
    if state_ok && !sizes.is_empty() && !has_owner {
        out.push(typed(Kind::Future, name, &sizes));
    }
    // Lazy: one layout for 1-, 2- and 4-byte T (op type after the state word), another for
    // 8-byte T (op type after 4 zero bytes of padding).
    let state_end = LazyLayout::STATE.checked_add(size_of::<u32>());
    let lazy = [
        (
            Lazy::<i32>::memory_size(),
            Lazy::<i32>::layout(),
            vec![1, 2, 4],
        ),
        (Lazy::<i64>::memory_size(), Lazy::<i64>::layout(), vec![8]),
    ]
    .into_iter()
    .find(|(total, _, _)| *total == size)
    .filter(|(_, l, _)| {
        let padded = Some(l.op) == state_end || state_end.and_then(|e| u32_at(r, e)) == Some(0);
        padded && u32_at(r, l.op).is_some_and(|op| op <= 5)
    });
    if let Some((_, _, sizes)) = lazy.filter(|_| state_ok) {
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
