//! The open-addressing table shared by Map and Set (spec §4.5, §4.6): entries
//! `{ atomic u32 state; K key; V value }`, linear probing from `hash % capacity`, tombstones.
//!
//! Every state read from shared memory is validated (`0..=3`); waits on a slot that another
//! process is writing are bounded, so a crashed writer costs a skipped slot, never a hang.

use bytemuck::Pod;
use zeroipc_format::Region;
use zeroipc_format::atomic::Ordering;

use crate::common::{Fault, align_up};
use crate::hash::{key_eq, key_hash};
use crate::word::{BoundedWait, HwWord32, Word32};

pub(crate) const EMPTY: u32 = 0;
pub(crate) const OCCUPIED: u32 = 1;
pub(crate) const DELETED: u32 = 2;
pub(crate) const INSERTING: u32 = 3;
/// Bounded rescans of an insert that keeps losing its claim.
#[cfg(not(zeroipc_loom))]
const MAX_RESCANS: u32 = 10_000;
#[cfg(zeroipc_loom)]
const MAX_RESCANS: u32 = 3;

/// Offset of the entries after the 16-byte header.
pub(crate) const ENTRIES: usize = crate::layout::MapHeader::ENTRIES;
const _: () = assert!(
    crate::layout::SetHeader::ENTRIES == ENTRIES
        && crate::layout::SetHeader::SIZE == crate::layout::MapHeader::SIZE
);

/// Where the parts of one entry lie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryLayout {
    pub key_off: usize,
    pub val_off: usize,
    pub entry_size: usize,
}

impl EntryLayout {
    /// The natural C layout of `{ u32 state; K key; V value }` (a zero-sized `V` gives the
    /// Set entry `{ u32 state; T value }`).
    pub const fn new(key_size: usize, key_align: usize, val_size: usize, val_align: usize) -> Self {
        let key_off = align_up(4, key_align);
        let val_off = align_up(key_off + key_size, val_align);
        let mut max = 4;
        if key_align > max {
            max = key_align;
        }
        if val_align > max {
            max = val_align;
        }
        Self {
            key_off,
            val_off,
            entry_size: align_up(val_off + val_size, max),
        }
    }
}

/// Storage of the entries: state words, keys and values.
pub(crate) trait Buckets {
    type Word: Word32;
    fn capacity(&self) -> u32;
    fn size(&self) -> Result<&Self::Word, Fault>;
    fn state(&self, i: usize) -> Result<&Self::Word, Fault>;
    fn load_key<K: Pod>(&self, i: usize) -> Result<K, Fault>;
    fn store_key<K: Pod>(&self, i: usize, key: K) -> Result<(), Fault>;
    fn load_value<V: Pod>(&self, i: usize) -> Result<V, Fault>;
    fn store_value<V: Pod>(&self, i: usize, value: V) -> Result<(), Fault>;
}

/// `fn with(&self, f)` of a Map or Set (fields `region`, `capacity`, `entry`, const `LAYOUT`):
/// runs the algorithm `f` over its entries, turning a fault into the structure's error.
macro_rules! with_buckets {
    () => {
        fn with<R>(
            &self,
            f: impl FnOnce(&$crate::probe::RegionBuckets<'_>) -> Result<R, $crate::common::Fault>,
        ) -> $crate::error::Result<R> {
            let name = self.entry.name();
            $crate::probe::RegionBuckets::run(&self.region, self.capacity, Self::LAYOUT, name, f)
        }
    };
}
pub(crate) use with_buckets;

/// Entries in a segment region.
pub(crate) struct RegionBuckets<'a> {
    pub region: &'a Region,
    pub capacity: u32,
    pub layout: EntryLayout,
}

impl<'a> RegionBuckets<'a> {
    /// Runs the algorithm `f` over the entries of the table `name` (a Map or Set), turning
    /// its fault into that structure's error.
    pub(crate) fn run<R>(
        region: &'a Region,
        capacity: u32,
        layout: EntryLayout,
        name: &str,
        f: impl FnOnce(&Self) -> Result<R, Fault>,
    ) -> crate::error::Result<R> {
        let buckets = Self {
            region,
            capacity,
            layout,
        };
        f(&buckets).map_err(|fault| fault.into_error(name))
    }

    #[inline]
    fn at(&self, i: usize, part: usize) -> Result<usize, Fault> {
        if i >= self.capacity as usize {
            return Err(Fault::field("slot", i as u64));
        }
        // Cannot overflow: i < capacity and the region holds 16 + capacity * entry_size.
        Ok(ENTRIES + i * self.layout.entry_size + part)
    }
}

impl Buckets for RegionBuckets<'_> {
    type Word = HwWord32;
    fn capacity(&self) -> u32 {
        self.capacity
    }
    fn size(&self) -> Result<&HwWord32, Fault> {
        // The Map's and the Set's `size` word (both at the same offset, asserted below).
        Ok(self.region.atomic_u32(crate::layout::MapHeader::SIZE)?)
    }
    #[inline]
    fn state(&self, i: usize) -> Result<&HwWord32, Fault> {
        Ok(self.region.atomic_u32(self.at(i, 0)?)?)
    }
    #[inline]
    fn load_key<K: Pod>(&self, i: usize) -> Result<K, Fault> {
        Ok(self.region.read(self.at(i, self.layout.key_off)?)?)
    }
    #[inline]
    fn store_key<K: Pod>(&self, i: usize, key: K) -> Result<(), Fault> {
        Ok(self.region.write(self.at(i, self.layout.key_off)?, key)?)
    }
    #[inline]
    fn load_value<V: Pod>(&self, i: usize) -> Result<V, Fault> {
        Ok(self.region.read(self.at(i, self.layout.val_off)?)?)
    }
    #[inline]
    fn store_value<V: Pod>(&self, i: usize, value: V) -> Result<(), Fault> {
        Ok(self.region.write(self.at(i, self.layout.val_off)?, value)?)
    }
}

/// What an insert did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inserted<V> {
    /// A new entry.
    New,
    /// An existing entry's value was replaced; here is the old one.
    Updated(V),
    /// The key was present and `update` was false (Set).
    Present,
    /// No free slot.
    Full,
}

fn state_of<W: Word32>(w: &W) -> Result<u32, Fault> {
    // Acquire: pairs with the Release stores of OCCUPIED / DELETED, so a key and value
    // written before them are visible.
    let s = w.load(Ordering::Acquire);
    if s > INSERTING {
        return Err(Fault::field("state", u64::from(s)));
    }
    Ok(s)
}

/// Slot of probe `i`: `hash.wrapping_add(i) % capacity`, exactly as upstream.
#[inline]
fn slot(hash: u64, i: u32, capacity: u32) -> usize {
    (hash.wrapping_add(u64::from(i)) % u64::from(capacity)) as usize
}

pub(crate) fn insert<B: Buckets, K: Pod, V: Pod>(
    b: &B,
    key: K,
    value: V,
    update: bool,
) -> Result<Inserted<V>, Fault> {
    let cap = b.capacity();
    let hash = key_hash(&key);
    for _ in 0..MAX_RESCANS {
        let mut deleted_target = None;
        let mut empty_target = None;
        'probe: for i in 0..cap {
            let idx = slot(hash, i, cap);
            let state = b.state(idx)?;
            let mut wait = BoundedWait::new();
            loop {
                match state_of(state)? {
                    INSERTING => {
                        if !wait.wait() {
                            break;
                        }
                    }
                    OCCUPIED => {
                        if !key_eq(&b.load_key::<K>(idx)?, &key) {
                            break;
                        }
                        if !update {
                            return Ok(Inserted::Present);
                        }
                        if state
                            .compare_exchange(
                                OCCUPIED,
                                INSERTING,
                                Ordering::Acquire,
                                Ordering::Relaxed,
                            )
                            .is_ok()
                        {
                            let old = b.load_value::<V>(idx)?;
                            b.store_value(idx, value)?;
                            // Release: publishes the new value; pairs with `state_of`.
                            state.store(OCCUPIED, Ordering::Release);
                            return Ok(Inserted::Updated(old));
                        }
                    }
                    DELETED => {
                        if deleted_target.is_none() {
                            deleted_target = Some(idx);
                        }
                        break;
                    }
                    _ => {
                        empty_target = Some(idx);
                        break 'probe;
                    }
                }
            }
        }
        let (target, expected) = match (deleted_target, empty_target) {
            (Some(d), _) => (d, DELETED),
            (None, Some(e)) => (e, EMPTY),
            (None, None) => return Ok(Inserted::Full),
        };
        let state = b.state(target)?;
        if state
            .compare_exchange(expected, INSERTING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            b.store_key(target, key)?;
            b.store_value(target, value)?;
            // Counted before it is published, so a remover that finds the entry always
            // finds it counted (upstream counts after publishing; the count then dips
            // below zero for a moment, which the wrapping decrement in `remove` undoes).
            b.size()?.fetch_add(1, Ordering::Relaxed);
            // Release: publishes key and value; pairs with `state_of`.
            state.store(OCCUPIED, Ordering::Release);
            return Ok(Inserted::New);
        }
        // Lost the claim to another inserter: rescan from the start.
    }
    Err(Fault::Busy {
        slot: slot(hash, 0, cap) as u64,
        state: INSERTING,
    })
}

/// Finds `key`; `wait` selects whether INSERTING slots are waited on (Map) or skipped (Set).
pub(crate) fn find<B: Buckets, K: Pod>(b: &B, key: &K, wait: bool) -> Result<Option<usize>, Fault> {
    let cap = b.capacity();
    let hash = key_hash(key);
    for i in 0..cap {
        let idx = slot(hash, i, cap);
        let state = b.state(idx)?;
        let mut bounded = BoundedWait::new();
        loop {
            match state_of(state)? {
                EMPTY => return Ok(None),
                OCCUPIED => {
                    if key_eq(&b.load_key::<K>(idx)?, key) {
                        return Ok(Some(idx));
                    }
                    break;
                }
                INSERTING if wait && bounded.wait() => {}
                _ => break,
            }
        }
    }
    Ok(None)
}

/// Looks `key` up and copies its value.
pub(crate) fn get<B: Buckets, K: Pod, V: Pod>(b: &B, key: &K) -> Result<Option<V>, Fault> {
    match find(b, key, true)? {
        Some(idx) => Ok(Some(b.load_value(idx)?)),
        None => Ok(None),
    }
}

/// Removes `key`, returning its value. The entry is claimed (OCCUPIED → INSERTING) before
/// its value is read, then tombstoned, so the value returned is the one removed.
pub(crate) fn remove<B: Buckets, K: Pod, V: Pod>(b: &B, key: &K) -> Result<Option<V>, Fault> {
    let cap = b.capacity();
    let hash = key_hash(key);
    for i in 0..cap {
        let idx = slot(hash, i, cap);
        let state = b.state(idx)?;
        let mut wait = BoundedWait::new();
        loop {
            match state_of(state)? {
                EMPTY => return Ok(None),
                OCCUPIED => {
                    if !key_eq(&b.load_key::<K>(idx)?, key) {
                        break;
                    }
                    if state
                        .compare_exchange(OCCUPIED, INSERTING, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        let value = b.load_value(idx)?;
                        // Release: pairs with `state_of` in inserters that reuse the slot.
                        state.store(DELETED, Ordering::Release);
                        // Wrapping, as upstream: a transient dip below zero (an upstream
                        // inserter counts after publishing) is undone by its increment.
                        b.size()?.fetch_sub(1, Ordering::Relaxed);
                        return Ok(Some(value));
                    }
                    // Lost the race (an update or another remove): look again.
                }
                INSERTING if wait.wait() => {}
                _ => break,
            }
        }
    }
    Ok(None)
}

/// Every occupied entry's key and value.
pub(crate) fn items<B: Buckets, K: Pod, V: Pod>(b: &B) -> Result<Vec<(K, V)>, Fault> {
    let mut out = Vec::new();
    for idx in 0..b.capacity() as usize {
        if state_of(b.state(idx)?)? == OCCUPIED {
            out.push((b.load_key(idx)?, b.load_value(idx)?));
        }
    }
    Ok(out)
}

/// Empties the table (not safe against concurrent operations, as upstream).
pub(crate) fn clear<B: Buckets>(b: &B) -> Result<(), Fault> {
    for idx in 0..b.capacity() as usize {
        b.state(idx)?.store(EMPTY, Ordering::Release);
    }
    b.size()?.store(0, Ordering::Release);
    Ok(())
}
