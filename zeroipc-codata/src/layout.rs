//! The shared headers of the codata structures (spec §3.9) as `#[repr(C)]` types, pinned by
//! compile-time asserts to `docs/SPECIFICATION.md`.
//!
//! The one place their offsets are written down. A Channel's buffer is a
//! [`Queue`](zeroipc_structures::Queue) and a Stream's a [`Ring`](zeroipc_structures::Ring):
//! those layouts are `zeroipc_structures::layout`'s, created and opened through their crate's
//! API. The Lazy header depends on `T` and is computed by
//! [`Lazy::layout`](crate::Lazy::layout).
//!
//! Fields are plain integers (every type is [`bytemuck::Pod`], so a tool may copy a header
//! out); a field documented as atomic is accessed only through `Region::atomic_*` at its
//! offset constant.

use core::mem::{offset_of, size_of};

use bytemuck::{Pod, Zeroable};

/// The fixed part of `Future<T>` (`N`): `T value` at [`FutureHeader::VALUE`], then a
/// 256-byte NUL-padded error message.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct FutureHeader {
    /// Atomic; PENDING 0, COMPUTING 1, READY 2, ERROR 3; the futex word.
    pub state: u32,
    /// Atomic; processes currently blocked in `get` (waiter counter).
    pub waiters: u32,
    /// `CLOCK_MONOTONIC` ns at completion; 0 while pending.
    pub completion_time: u64,
}

impl FutureHeader {
    /// Offset of `state` (`waiters` follows: the two are read as one pair of words).
    pub const STATE: usize = offset_of!(Self, state);
    /// Offset of `waiters`.
    pub const WAITERS: usize = offset_of!(Self, waiters);
    /// Offset of `completion_time`.
    pub const COMPLETION_TIME: usize = offset_of!(Self, completion_time);
    /// Offset of `T value`.
    pub const VALUE: usize = size_of::<Self>();
    /// Bytes of the error message after the value.
    pub const MESSAGE_LEN: usize = 256;
}

/// Channel header (`N_header`, 32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct ChannelHeader {
    /// 0 = unbuffered; otherwise a power of two equal to the buffer Queue's.
    pub capacity: u32,
    /// Atomic; senders currently waiting (waiter counter).
    pub senders: u32,
    /// Atomic; receivers currently waiting (waiter counter).
    pub receivers: u32,
    /// Atomic; 0 open, 1 closed.
    pub closed: u8,
    /// Padding, 0.
    pub padding: [u8; 3],
    /// Unused, 0.
    pub send_seq: u64,
    /// Unused, 0.
    pub recv_seq: u64,
}

impl ChannelHeader {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `capacity`.
    pub const CAPACITY: usize = offset_of!(Self, capacity);
    /// Offset of `closed`.
    pub const CLOSED: usize = offset_of!(Self, closed);
    /// Index of `senders` among the header's first three 32-bit words.
    pub const W_SENDERS: usize = offset_of!(Self, senders) / 4;
    /// Index of `receivers` among the header's first three 32-bit words.
    pub const W_RECEIVERS: usize = offset_of!(Self, receivers) / 4;
}

/// The start of an unbuffered channel's rendezvous slot (`N_slot`):
/// `{u8 ready; u8 consumed; T data}` with the data at [`SlotFlags::data_offset`] and the
/// whole slot [`SlotFlags::slot_size`] bytes. The futex word of rendezvous waits is the
/// aligned 32-bit word at the slot's start (the flags are its two low bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct SlotFlags {
    /// Atomic; 1 while a value is offered.
    pub ready: u8,
    /// Atomic; 1 once a receiver copied the value.
    pub consumed: u8,
}

impl SlotFlags {
    /// Offset of `ready`.
    pub const READY: usize = offset_of!(Self, ready);
    /// Offset of `consumed`.
    pub const CONSUMED: usize = offset_of!(Self, consumed);

    /// Offset of the data for an element aligned to `align` (a power of two):
    /// `align_up(2, align)`.
    pub const fn data_offset(align: usize) -> usize {
        (size_of::<Self>() + align - 1) & !(align - 1)
    }

    /// Size of the slot for `elem_size`-byte elements aligned to `align`:
    /// `align_up(data_offset + elem_size, align)`.
    pub const fn slot_size(elem_size: usize, align: usize) -> u64 {
        ((Self::data_offset(align) + elem_size + align - 1) & !(align - 1)) as u64
    }
}

/// Channel peer registry (`N_peers`, project extension): this header, then
/// [`PeersHeader::SLOT_COUNT`] atomic u64 words at [`PeersHeader::SLOTS`], each 0 (free) or
/// `kind << 32 | pid` (kind 1 sender, 2 receiver).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct PeersHeader {
    /// Number of slots, [`PeersHeader::SLOT_COUNT`].
    pub slots: u32,
    /// Atomic; sender registrations ever made.
    pub senders_ever: u32,
    /// Atomic; receiver registrations ever made.
    pub receivers_ever: u32,
    /// 0.
    pub reserved: u32,
}

impl PeersHeader {
    /// Offset of `slots`.
    pub const SLOT_COUNT_AT: usize = offset_of!(Self, slots);
    /// Offset of `senders_ever`.
    pub const SENDERS_EVER: usize = offset_of!(Self, senders_ever);
    /// Offset of `receivers_ever`.
    pub const RECEIVERS_EVER: usize = offset_of!(Self, receivers_ever);
    /// Offset of the slot words.
    pub const SLOTS: usize = size_of::<Self>();
    /// The number of slots the project creates (and requires at open).
    pub const SLOT_COUNT: u32 = 32;
    /// Size of the whole entry.
    pub const TOTAL: u64 = Self::SLOTS as u64 + 8 * Self::SLOT_COUNT as u64;
    /// Slot kind of a registered sender.
    pub const KIND_SENDER: u64 = 1;
    /// Slot kind of a registered receiver.
    pub const KIND_RECEIVER: u64 = 2;
}

/// Stream header (`N_header`, 56 bytes); the buffer `N_buffer` is a Ring of
/// `buffer_capacity` elements.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct StreamHeader {
    /// Atomic; elements ever emitted.
    pub sequence: u64,
    /// Atomic; subscriber count.
    pub subscribers: u32,
    /// Atomic; 0 open, 1 closed.
    pub closed: u8,
    /// Padding, 0.
    pub padding: [u8; 3],
    /// Buffer capacity in elements.
    pub buffer_capacity: u32,
    /// Operator name of a derived stream, NUL-padded; zero otherwise.
    pub transform_name: [u8; 32],
    /// Padding, 0.
    pub padding2: [u8; 4],
}

impl StreamHeader {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `sequence`.
    pub const SEQUENCE: usize = offset_of!(Self, sequence);
    /// Offset of `subscribers`.
    pub const SUBSCRIBERS: usize = offset_of!(Self, subscribers);
    /// Offset of `closed`.
    pub const CLOSED: usize = offset_of!(Self, closed);
    /// Offset of `buffer_capacity`.
    pub const BUFFER_CAPACITY: usize = offset_of!(Self, buffer_capacity);
    /// Offset of `transform_name`.
    pub const TRANSFORM_NAME: usize = offset_of!(Self, transform_name);
}

/// Stream subscriber table header (`N_subs`, project extension, spec §3.9.1); the
/// [`SubsHeader::SLOT_COUNT`] [`SubSlot`]s follow at [`SubsHeader::SLOTS`].
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct SubsHeader {
    /// Number of slots, [`SubsHeader::SLOT_COUNT`].
    pub slots: u32,
    /// Atomic; subscribers sleeping on the low half of the ring's `write_pos`.
    pub sub_waiting: u32,
    /// Atomic; producers sleeping on `progress`.
    pub prod_waiting: u32,
    /// Atomic futex word, bumped by a subscriber after it advances while a producer waits.
    pub progress: u32,
    /// Atomic; 0 until the first subscription, then 1.
    pub multicast: u32,
    /// 0.
    pub reserved: [u8; 12],
}

impl SubsHeader {
    /// Offset of `slots`.
    pub const SLOT_COUNT_AT: usize = offset_of!(Self, slots);
    /// Offset of `sub_waiting`.
    pub const SUB_WAITING: usize = offset_of!(Self, sub_waiting);
    /// Offset of `prod_waiting`.
    pub const PROD_WAITING: usize = offset_of!(Self, prod_waiting);
    /// Offset of `progress`.
    pub const PROGRESS: usize = offset_of!(Self, progress);
    /// Offset of `multicast`.
    pub const MULTICAST: usize = offset_of!(Self, multicast);
    /// Offset of the first [`SubSlot`].
    pub const SLOTS: usize = size_of::<Self>();
    /// The number of slots the project creates (and requires at open).
    pub const SLOT_COUNT: usize = 16;
    /// Size of the whole entry.
    pub const TOTAL: u64 = (Self::SLOTS + size_of::<SubSlot>() * Self::SLOT_COUNT) as u64;

    /// Offset of slot `i`.
    pub const fn slot(i: usize) -> usize {
        Self::SLOTS + size_of::<SubSlot>() * i
    }
}

/// One subscriber slot of `N_subs`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct SubSlot {
    /// Atomic; absolute ring byte position of the subscriber's next element;
    /// [`SubSlot::JOINING`] when free or joining.
    pub cursor: u64,
    /// Atomic; subscriber pid, 0 = free.
    pub pid: u32,
    /// 0.
    pub reserved: u32,
}

impl SubSlot {
    /// Offset of `cursor` within a slot.
    pub const CURSOR: usize = offset_of!(Self, cursor);
    /// Offset of `pid` within a slot.
    pub const PID: usize = offset_of!(Self, pid);
    /// Cursor value of a free slot, and of a slot whose subscriber has not stored its start.
    pub const JOINING: u64 = u64::MAX;
}

// The numbers are the specification's (docs/SPECIFICATION.md §3.9, §3.9.1). Plain integer
// fields: loom does not change their sizes, so the asserts hold under `zeroipc_loom` too.
const _: () = {
    assert!(size_of::<FutureHeader>() == 16);
    assert!(FutureHeader::STATE == 0 && FutureHeader::WAITERS == 4);
    assert!(FutureHeader::COMPLETION_TIME == 8 && FutureHeader::VALUE == 16);

    assert!(ChannelHeader::SIZE == 32);
    assert!(ChannelHeader::CAPACITY == 0 && ChannelHeader::W_SENDERS == 1);
    assert!(ChannelHeader::W_RECEIVERS == 2 && ChannelHeader::CLOSED == 12);
    assert!(offset_of!(ChannelHeader, send_seq) == 16);
    assert!(offset_of!(ChannelHeader, recv_seq) == 24);

    assert!(SlotFlags::READY == 0 && SlotFlags::CONSUMED == 1);
    assert!(SlotFlags::data_offset(1) == 2 && SlotFlags::data_offset(4) == 4);
    assert!(SlotFlags::data_offset(8) == 8 && SlotFlags::slot_size(4, 4) == 8);
    assert!(SlotFlags::slot_size(1, 1) == 3 && SlotFlags::slot_size(8, 8) == 16);

    assert!(size_of::<PeersHeader>() == 16 && PeersHeader::SLOT_COUNT_AT == 0);
    assert!(PeersHeader::SENDERS_EVER == 4 && PeersHeader::RECEIVERS_EVER == 8);
    assert!(PeersHeader::SLOTS == 16 && PeersHeader::TOTAL == 272);

    assert!(StreamHeader::SIZE == 56);
    assert!(StreamHeader::SEQUENCE == 0 && StreamHeader::SUBSCRIBERS == 8);
    assert!(StreamHeader::CLOSED == 12 && StreamHeader::BUFFER_CAPACITY == 16);
    assert!(StreamHeader::TRANSFORM_NAME == 20);

    assert!(SubsHeader::SLOT_COUNT_AT == 0 && SubsHeader::SUB_WAITING == 4);
    assert!(SubsHeader::PROD_WAITING == 8 && SubsHeader::PROGRESS == 12);
    assert!(SubsHeader::MULTICAST == 16 && SubsHeader::SLOTS == 32);
    assert!(size_of::<SubSlot>() == 16 && SubSlot::CURSOR == 0 && SubSlot::PID == 8);
    assert!(SubsHeader::TOTAL == 288 && SubsHeader::slot(1) == 48);
};
