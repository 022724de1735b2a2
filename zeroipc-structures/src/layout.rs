//! The shared headers of the structures (spec §3.1–§3.7) as `#[repr(C)]` types, pinned by
//! compile-time asserts to `docs/SPECIFICATION.md`.
//!
//! This is the one place a structure's field offsets are written down: the structures, the
//! composites of `zeroipc-codata` (a Channel's buffer is a Queue, a Stream's a Ring), the
//! inspector and the interop peer read through these types and their offset constants.
//!
//! Fields are plain integers so every type is [`bytemuck::Pod`]: a tool may copy a header
//! out with [`Region::read`](zeroipc_format::Region::read) for a look at a moment in time.
//! A field documented as atomic is accessed by the structures only through
//! `Region::atomic_*` at the field's offset constant, never through a reference.
//! Variable-length data follow the header; where the header does not say where, the type
//! has a function for it.

use core::mem::{offset_of, size_of};

use bytemuck::{Pod, Zeroable};

/// `n` rounded up to a multiple of 8, or `None` on overflow.
const fn align8(n: u64) -> Option<u64> {
    zeroipc_format::align8(n)
}

/// Array header (spec §3.1); `T[capacity]` follows at [`ArrayHeader::DATA`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct ArrayHeader {
    /// Elements; the entry is exactly `8 + capacity * size_of::<T>()` bytes.
    pub capacity: u64,
}

impl ArrayHeader {
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of the element data.
    pub const DATA: usize = size_of::<Self>();
}

/// Queue header (spec §3.2): `T[capacity]` at [`QueueHeader::DATA`], then the `seq` words
/// at [`QueueHeader::seq_offset`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct QueueHeader {
    /// Atomic dequeue counter, wraps at 2^32.
    pub head: u32,
    /// Atomic enqueue counter, wraps at 2^32.
    pub tail: u32,
    /// Slots, a power of two in `2..=2^31`.
    pub capacity: u32,
    /// `size_of::<T>()`.
    pub elem_size: u32,
}

impl QueueHeader {
    /// Offset of `head` (`tail` follows: the two counters are one pair of words).
    pub const HEAD: usize = offset_of!(Self, head);
    /// Offset of `tail`.
    pub const TAIL: usize = offset_of!(Self, tail);
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `elem_size`.
    pub const ELEM_SIZE: usize = offset_of!(Self, elem_size);
    /// Offset of the element data.
    pub const DATA: usize = size_of::<Self>();

    /// `(offset of the seq words, total bytes)` for `capacity` slots of `elem_size` bytes:
    /// `16 + align8(capacity * es)` and that plus `4 * capacity`; `None` on overflow.
    pub const fn geometry(capacity: u32, elem_size: usize) -> Option<(u64, u64)> {
        data_then_words(Self::DATA, capacity, elem_size)
    }
}

/// `(offset of the per-slot words, total bytes)` of a layout with a `header`-byte header,
/// `capacity` elements of `elem_size` bytes padded to 8, then one u32 per slot (Queue `seq`,
/// Stack states); `None` on overflow.
const fn data_then_words(header: usize, capacity: u32, elem_size: usize) -> Option<(u64, u64)> {
    let data = match (capacity as u64).checked_mul(elem_size as u64) {
        Some(d) => match align8(d) {
            Some(a) => a,
            None => return None,
        },
        None => return None,
    };
    let words = match (header as u64).checked_add(data) {
        Some(s) => s,
        None => return None,
    };
    match words.checked_add(4 * capacity as u64) {
        Some(total) => Some((words, total)),
        None => None,
    }
}

/// Stack header (spec §3.3): `T[capacity]` at [`StackHeader::DATA`], then the slot states
/// at `16 + align8(capacity * es)`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct StackHeader {
    /// Atomic index of the top element, −1 when empty.
    pub top: i32,
    /// Slots, `1..=i32::MAX`.
    pub capacity: u32,
    /// `size_of::<T>()`.
    pub elem_size: u32,
    /// 0.
    pub reserved: u32,
}

impl StackHeader {
    /// Offset of `top`.
    pub const TOP: usize = offset_of!(Self, top);
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `elem_size`.
    pub const ELEM_SIZE: usize = offset_of!(Self, elem_size);
    /// Offset of the element data.
    pub const DATA: usize = size_of::<Self>();

    /// `(offset of the slot states, total bytes)` for `capacity` slots of `elem_size` bytes:
    /// `16 + align8(capacity * es)` and that plus `4 * capacity`; `None` on overflow.
    pub const fn geometry(capacity: u32, elem_size: usize) -> Option<(u64, u64)> {
        data_then_words(Self::DATA, capacity, elem_size)
    }
}

/// Ring header (spec §3.4): the byte buffer follows at [`RingHeader::BUFFER`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct RingHeader {
    /// Atomic; bytes ever written.
    pub write_pos: u64,
    /// Atomic; bytes ever read.
    pub read_pos: u64,
    /// Buffer bytes, `> 0`, a multiple of `elem_size`.
    pub capacity: u32,
    /// `size_of::<T>()`.
    pub elem_size: u32,
}

impl RingHeader {
    /// Offset of `write_pos`.
    pub const WRITE_POS: usize = offset_of!(Self, write_pos);
    /// Offset of `read_pos`.
    pub const READ_POS: usize = offset_of!(Self, read_pos);
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `elem_size`.
    pub const ELEM_SIZE: usize = offset_of!(Self, elem_size);
    /// Offset of the buffer; byte position `p` lives at `BUFFER + p % capacity`.
    pub const BUFFER: usize = size_of::<Self>();
}

/// Map header (spec §3.5): entries `{ atomic u32 state; K key; V value }` at
/// [`MapHeader::ENTRIES`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct MapHeader {
    /// Atomic count of occupied entries.
    pub size: u32,
    /// Entries, `> 0`.
    pub capacity: u32,
    /// `size_of::<K>()`.
    pub key_size: u32,
    /// `size_of::<V>()`, at most 8.
    pub value_size: u32,
}

impl MapHeader {
    /// Offset of `size`.
    pub const SIZE: usize = offset_of!(Self, size);
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `key_size`.
    pub const KEY_SIZE: usize = offset_of!(Self, key_size);
    /// Offset of `value_size`.
    pub const VALUE_SIZE: usize = offset_of!(Self, value_size);
    /// Offset of the entry array.
    pub const ENTRIES: usize = size_of::<Self>();
}

/// Set header (spec §3.6): entries `{ atomic u32 state; T value }` at
/// [`SetHeader::ENTRIES`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct SetHeader {
    /// Atomic count of occupied entries.
    pub size: u32,
    /// Entries, `> 0`.
    pub capacity: u32,
    /// `size_of::<T>()`.
    pub elem_size: u32,
    /// 0 (upstream Python's packed `Map<T, u8>` stores its value size 1 here).
    pub reserved: u32,
}

impl SetHeader {
    /// Offset of `size`.
    pub const SIZE: usize = offset_of!(Self, size);
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `elem_size`.
    pub const ELEM_SIZE: usize = offset_of!(Self, elem_size);
    /// Offset of `reserved`.
    pub const RESERVED: usize = offset_of!(Self, reserved);
    /// Offset of the entry array.
    pub const ENTRIES: usize = size_of::<Self>();
}

/// Pool header (spec §3.7): nodes `{ T data; atomic u32 next }` at [`PoolHeader::NODES`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct PoolHeader {
    /// Atomic `(generation << 32) | index`; index `0xFFFF_FFFF` = no free node.
    pub free_head: u64,
    /// Atomic count of allocated nodes.
    pub allocated: u32,
    /// 0.
    pub padding: u32,
    /// Nodes, `1..0xFFFF_FFFF`.
    pub capacity: u32,
    /// `size_of::<T>()`.
    pub elem_size: u32,
}

impl PoolHeader {
    /// Offset of `free_head`.
    pub const FREE_HEAD: usize = offset_of!(Self, free_head);
    /// Offset of `allocated`.
    pub const ALLOCATED: usize = offset_of!(Self, allocated);
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `elem_size`.
    pub const ELEM_SIZE: usize = offset_of!(Self, elem_size);
    /// Offset of the node array.
    pub const NODES: usize = size_of::<Self>();
}

// The numbers are the specification's (docs/SPECIFICATION.md §3.1–§3.7). The fields are plain
// integers, whose sizes loom does not change, so the asserts hold under `zeroipc_loom` too.
const _: () = {
    assert!(size_of::<ArrayHeader>() == 8);
    assert!(ArrayHeader::CAPACITY == 0 && ArrayHeader::DATA == 8);

    assert!(size_of::<QueueHeader>() == 16);
    assert!(QueueHeader::HEAD == 0 && QueueHeader::TAIL == 4);
    assert!(QueueHeader::CAPACITY == 8 && QueueHeader::ELEM_SIZE == 12);
    assert!(QueueHeader::DATA == 16);

    assert!(size_of::<StackHeader>() == 16);
    assert!(StackHeader::TOP == 0 && StackHeader::CAPACITY == 4);
    assert!(StackHeader::ELEM_SIZE == 8 && offset_of!(StackHeader, reserved) == 12);
    assert!(StackHeader::DATA == 16);

    assert!(size_of::<RingHeader>() == 24);
    assert!(RingHeader::WRITE_POS == 0 && RingHeader::READ_POS == 8);
    assert!(RingHeader::CAPACITY == 16 && RingHeader::ELEM_SIZE == 20);
    assert!(RingHeader::BUFFER == 24);

    assert!(size_of::<MapHeader>() == 16);
    assert!(MapHeader::SIZE == 0 && MapHeader::CAPACITY == 4);
    assert!(MapHeader::KEY_SIZE == 8 && MapHeader::VALUE_SIZE == 12);
    assert!(MapHeader::ENTRIES == 16);

    assert!(size_of::<SetHeader>() == 16);
    assert!(SetHeader::SIZE == 0 && SetHeader::CAPACITY == 4);
    assert!(SetHeader::ELEM_SIZE == 8 && SetHeader::RESERVED == 12);
    assert!(SetHeader::ENTRIES == 16);

    assert!(size_of::<PoolHeader>() == 24);
    assert!(PoolHeader::FREE_HEAD == 0 && PoolHeader::ALLOCATED == 8);
    assert!(offset_of!(PoolHeader, padding) == 12);
    assert!(PoolHeader::CAPACITY == 16 && PoolHeader::ELEM_SIZE == 20);
    assert!(PoolHeader::NODES == 24);

    // Examples of the spec: a queue of 4 i64 is 16 + 32 + 16 bytes, of 3 u8 (stored 4) 16 + 8 + 16.
    assert!(matches!(QueueHeader::geometry(4, 8), Some((48, 64))));
    assert!(matches!(QueueHeader::geometry(4, 1), Some((24, 40))));
};
