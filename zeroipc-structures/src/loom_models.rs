//! The lock-free cores over loom's atomics and cells, for `tests/loom.rs`
//! (`RUSTFLAGS="--cfg zeroipc_loom"`). The algorithms are the very code the segment-backed
//! structures run; only the storage differs.

use zeroipc_format::atomic::{AtomicU32, AtomicU64};

use crate::common::Fault;
use crate::elem::Slots;
use crate::elem::model::ModelSlots;
use crate::probe::{self, Buckets, Inserted};
use crate::{pool, queue, stack};

/// Queue core over loom storage.
pub struct QueueModel {
    head: AtomicU32,
    tail: AtomicU32,
    seq: Vec<AtomicU32>,
    slots: ModelSlots<u64>,
    capacity: u32,
}

impl QueueModel {
    /// A queue of `capacity` (a power of two >= 2) slots.
    pub fn new(capacity: u32) -> Self {
        Self {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            seq: (0..capacity).map(AtomicU32::new).collect(),
            slots: ModelSlots::new(capacity as usize),
            capacity,
        }
    }
    fn core(&self) -> queue::Core<'_, AtomicU32, ModelSlots<u64>> {
        queue::Core {
            head: &self.head,
            tail: &self.tail,
            seq: &self.seq,
            slots: &self.slots,
            capacity: self.capacity,
        }
    }
    /// `true` if pushed, `false` if full.
    pub fn push(&self, v: u64) -> bool {
        matches!(self.core().push(v), Ok(true))
    }
    /// The oldest element, if any.
    pub fn pop(&self) -> Option<u64> {
        self.core().pop().ok().flatten()
    }
    /// Pushes `v` starting from the position guess `guess`; the next guess if pushed.
    pub fn push_guessed(&self, guess: u32, v: u64) -> Option<u32> {
        self.core().push_from(guess, true, v).ok().flatten()
    }
    /// Pushes a run of a prefix of `src` from the guess; `(pushed, next guess)`.
    pub fn push_run(&self, guess: u32, src: &[u64]) -> (usize, u32) {
        self.core().push_run(guess, true, src).unwrap_or((0, guess))
    }
    /// Pops a run of up to `n` from the guess; `(items, next guess)`.
    pub fn pop_run(&self, guess: u32, n: usize) -> (Vec<u64>, u32) {
        let mut out = vec![0; n];
        let (k, next) = self
            .core()
            .pop_run(guess, true, &mut out)
            .unwrap_or((0, guess));
        out.truncate(k);
        (out, next)
    }
}

/// A model operation's slot stayed busy past the bound on its waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Stack core over loom storage.
pub struct StackModel {
    top: AtomicU32,
    states: Vec<AtomicU32>,
    slots: ModelSlots<u64>,
    capacity: u32,
}

impl StackModel {
    /// An empty stack of `capacity` slots.
    pub fn new(capacity: u32) -> Self {
        Self {
            top: AtomicU32::new(u32::MAX),
            states: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            slots: ModelSlots::new(capacity as usize),
            capacity,
        }
    }
    fn core(&self) -> stack::Core<'_, AtomicU32, ModelSlots<u64>> {
        stack::Core {
            top: &self.top,
            states: &self.states,
            slots: &self.slots,
            capacity: self.capacity,
        }
    }
    /// `Ok(true)` pushed, `Ok(false)` full, `Err` slot busy past the bound.
    pub fn push(&self, v: u64) -> Result<bool, Busy> {
        self.core().push(v).map_err(|_| Busy)
    }
    /// `Ok(Some)` popped, `Ok(None)` empty, `Err` slot busy past the bound.
    pub fn pop(&self) -> Result<Option<u64>, Busy> {
        self.core().pop().map_err(|_| Busy)
    }
}

/// Pool core over loom storage; node data in loom cells so shared ownership is a race.
pub struct PoolModel {
    head: AtomicU64,
    allocated: AtomicU32,
    links: Links,
    data: ModelSlots<u64>,
    capacity: u32,
}

struct Links(Vec<AtomicU32>);

impl pool::Links for Links {
    type Word = AtomicU32;
    fn next(&self, i: u32) -> Result<&AtomicU32, Fault> {
        self.0
            .get(i as usize)
            .ok_or_else(|| Fault::field("next", u64::from(i)))
    }
}

impl PoolModel {
    /// A pool of `capacity` free nodes.
    pub fn new(capacity: u32) -> Self {
        Self {
            head: AtomicU64::new(0),
            allocated: AtomicU32::new(0),
            links: Links(
                (0..capacity)
                    .map(|i| AtomicU32::new(if i + 1 == capacity { pool::NULL } else { i + 1 }))
                    .collect(),
            ),
            data: ModelSlots::new(capacity as usize),
            capacity,
        }
    }
    fn core(&self) -> pool::Core<'_, AtomicU64, Links> {
        pool::Core {
            head: &self.head,
            allocated: &self.allocated,
            links: &self.links,
            capacity: self.capacity,
        }
    }
    /// A free node index, if any.
    pub fn alloc(&self) -> Option<u32> {
        self.core().allocate().ok().flatten()
    }
    /// Returns a node.
    pub fn free(&self, i: u32) {
        let _ = self.core().deallocate(i);
    }
    /// Writes a node's data (a loom-checked access).
    pub fn write(&self, i: u32, v: u64) {
        let _ = self.data.store(i as usize, v);
    }
    /// Reads a node's data (a loom-checked access).
    pub fn read(&self, i: u32) -> u64 {
        self.data.load(i as usize).unwrap_or(u64::MAX)
    }
}

/// Map core (u64 keys and values) over loom storage.
pub struct MapModel {
    size: AtomicU32,
    states: Vec<AtomicU32>,
    keys: ModelSlots<u64>,
    values: ModelSlots<u64>,
    capacity: u32,
}

impl Buckets for MapModel {
    type Word = AtomicU32;
    fn capacity(&self) -> u32 {
        self.capacity
    }
    fn size(&self) -> Result<&AtomicU32, Fault> {
        Ok(&self.size)
    }
    fn state(&self, i: usize) -> Result<&AtomicU32, Fault> {
        self.states
            .get(i)
            .ok_or_else(|| Fault::field("slot", i as u64))
    }
    fn load_key<K: bytemuck::Pod>(&self, i: usize) -> Result<K, Fault> {
        bytemuck::try_cast(self.keys.load(i)?).map_err(|_| Fault::field("model key", 0))
    }
    fn store_key<K: bytemuck::Pod>(&self, i: usize, key: K) -> Result<(), Fault> {
        let k: u64 = bytemuck::try_cast(key).map_err(|_| Fault::field("model key", 0))?;
        Ok(self.keys.store(i, k)?)
    }
    fn load_value<V: bytemuck::Pod>(&self, i: usize) -> Result<V, Fault> {
        bytemuck::try_cast(self.values.load(i)?).map_err(|_| Fault::field("model value", 0))
    }
    fn store_value<V: bytemuck::Pod>(&self, i: usize, value: V) -> Result<(), Fault> {
        let v: u64 = bytemuck::try_cast(value).map_err(|_| Fault::field("model value", 0))?;
        Ok(self.values.store(i, v)?)
    }
}

impl MapModel {
    /// An empty map of `capacity` slots.
    pub fn new(capacity: u32) -> Self {
        Self {
            size: AtomicU32::new(0),
            states: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            keys: ModelSlots::new(capacity as usize),
            values: ModelSlots::new(capacity as usize),
            capacity,
        }
    }
    /// Inserts or updates; `Some(old)` on update, `None` on a new key (or full).
    pub fn insert(&self, k: u64, v: u64) -> Option<u64> {
        match probe::insert(self, k, v, true) {
            Ok(Inserted::Updated(old)) => Some(old),
            _ => None,
        }
    }
    /// The value of `k`.
    pub fn get(&self, k: u64) -> Option<u64> {
        probe::get(self, &k).ok().flatten()
    }
    /// Removes `k`, returning its value.
    pub fn remove(&self, k: u64) -> Option<u64> {
        probe::remove::<_, u64, u64>(self, &k).ok().flatten()
    }
    /// The shared size counter.
    pub fn len(&self) -> u32 {
        self.size.load(zeroipc_format::atomic::Ordering::Relaxed)
    }
    /// Whether the size counter is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
