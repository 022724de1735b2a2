//! The shared layouts of the synchronisation primitives (spec §3.8) as `#[repr(C)]` types,
//! pinned by compile-time asserts to `docs/SPECIFICATION.md`.
//!
//! The one place their offsets are written down; the primitives, the inspector and the
//! interop peer read through these types. All words are 32-bit (Signal's version 64-bit);
//! signed fields are accessed as `u32` atomics holding the two's-complement bits, through
//! `Region::atomic_*` at the offset constants, never through a reference. Every type is
//! [`bytemuck::Pod`], so a tool may copy one out for a look at a moment in time.
//!
//! Composite primitives are several entries of these layouts: a Mutex is a
//! [`SemaphoreLayout`] with `max_count == 1` (plus an [`OwnerLayout`] entry `N_owner`);
//! RwLock is an [`RwStateLayout`] and two mutexes; Monitor two semaphores and a
//! [`MonitorCount`]; Event an [`EventLayout`] and a semaphore; Signal a [`SignalHeader`]
//! (the value follows) and a mutex.

use core::mem::{offset_of, size_of};

use bytemuck::{Pod, Zeroable};

/// Shared layout of a semaphore (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct SemaphoreLayout {
    /// Available permits; the futex word acquirers sleep on. Negative values (never written by
    /// correct peers) count as 0.
    pub count: i32,
    /// Acquirers currently registered as waiting; releasers wake only when it is positive.
    pub waiting: i32,
    /// Upper bound on `count`; 0 = unbounded; never negative.
    pub max_count: i32,
    /// Always 0.
    pub padding: i32,
}

impl SemaphoreLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `count`.
    pub const COUNT: usize = offset_of!(Self, count);
    /// Offset of `waiting`.
    pub const WAITING: usize = offset_of!(Self, waiting);
    /// Offset of `max_count`.
    pub const MAX_COUNT: usize = offset_of!(Self, max_count);
}

/// Shared layout of a barrier (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct BarrierLayout {
    /// Participants that arrived in the current phase, `0..num_participants`.
    pub arrived: i32,
    /// Phase number, incremented by the last arriver; the futex word waiters sleep on.
    pub generation: i32,
    /// Participants per phase, `> 0`.
    pub num_participants: i32,
    /// Always 0.
    pub padding: i32,
}

impl BarrierLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `arrived`.
    pub const ARRIVED: usize = offset_of!(Self, arrived);
    /// Offset of `generation`.
    pub const GENERATION: usize = offset_of!(Self, generation);
    /// Offset of `num_participants`.
    pub const NUM_PARTICIPANTS: usize = offset_of!(Self, num_participants);
}

/// Shared layout of a latch (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct LatchLayout {
    /// Remaining count; the futex word waiters sleep on. `<= 0` means released.
    pub count: i32,
    /// Count at creation (used by `reset`).
    pub initial_count: i32,
    /// Always 0.
    pub padding: [i32; 2],
}

impl LatchLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `count`.
    pub const COUNT: usize = offset_of!(Self, count);
    /// Offset of `initial_count`.
    pub const INITIAL_COUNT: usize = offset_of!(Self, initial_count);
}

/// Shared layout of the event word block (12 bytes at `NAME`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct EventLayout {
    /// 0/1; futex word of manual-reset waiters.
    pub signaled: u32,
    /// 0 = auto-reset, 1 = manual-reset; other values are corrupt.
    pub mode: u32,
    /// Manual-reset waiters currently registered (waiter counter).
    pub waiting: u32,
}

impl EventLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `signaled`.
    pub const SIGNALED: usize = offset_of!(Self, signaled);
    /// Offset of `mode`.
    pub const MODE: usize = offset_of!(Self, mode);
    /// Offset of `waiting`.
    pub const WAITING: usize = offset_of!(Self, waiting);
}

/// Shared layout of `NAME_state` (8 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct RwStateLayout {
    /// Readers holding the lock; futex word of writers draining readers.
    pub readers: i32,
    /// 1 while a writer holds (or is acquiring) the lock; futex word of readers.
    pub writer_active: i32,
}

impl RwStateLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `readers`.
    pub const READERS: usize = offset_of!(Self, readers);
    /// Offset of `writer_active`.
    pub const WRITER_ACTIVE: usize = offset_of!(Self, writer_active);
}

/// Shared layout of `NAME_state` (the value follows at offset 8).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct SignalHeader {
    /// Number of changes; starts at 0. Its low 32-bit half is the futex word of
    /// `wait_for_change`.
    pub version: u64,
}

impl SignalHeader {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `version`.
    pub const VERSION: usize = offset_of!(Self, version);
}

/// Layout of the auxiliary `NAME_owner` entry (8 bytes). Upstream peers ignore it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct OwnerLayout {
    /// Pid of the process holding the mutex, 0 when unlocked or held by a peer that does not
    /// record itself (upstream).
    pub pid: u32,
    /// Always 0.
    pub reserved: u32,
}

impl OwnerLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `pid`.
    pub const PID: usize = offset_of!(Self, pid);
}

/// Once (`N`, 4 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct OnceLayout {
    /// 0 pending, 1 executing, 2 done; other values are corrupt. The futex word.
    pub state: u32,
}

impl OnceLayout {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `state`.
    pub const STATE: usize = offset_of!(Self, state);
}

/// Monitor waiter count (`N_count`, 4 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Pod, Zeroable)]
pub struct MonitorCount {
    /// Waiters currently registered on the condition.
    pub waiters: u32,
}

impl MonitorCount {
    /// Size in bytes.
    pub const SIZE: u64 = size_of::<Self>() as u64;
    /// Offset of `waiters`.
    pub const WAITERS: usize = offset_of!(Self, waiters);
}

// The numbers are the specification's table in §3.8. The fields are plain integers, whose
// sizes loom does not change, so the asserts hold under `zeroipc_loom` too.
const _: () = {
    assert!(SemaphoreLayout::SIZE == 16 && SemaphoreLayout::COUNT == 0);
    assert!(SemaphoreLayout::WAITING == 4 && SemaphoreLayout::MAX_COUNT == 8);
    assert!(offset_of!(SemaphoreLayout, padding) == 12);
    assert!(OwnerLayout::SIZE == 8 && OwnerLayout::PID == 0);
    assert!(offset_of!(OwnerLayout, reserved) == 4);
    assert!(RwStateLayout::SIZE == 8 && RwStateLayout::READERS == 0);
    assert!(RwStateLayout::WRITER_ACTIVE == 4);
    assert!(MonitorCount::SIZE == 4 && MonitorCount::WAITERS == 0);
    assert!(BarrierLayout::SIZE == 16 && BarrierLayout::ARRIVED == 0);
    assert!(BarrierLayout::GENERATION == 4 && BarrierLayout::NUM_PARTICIPANTS == 8);
    assert!(offset_of!(BarrierLayout, padding) == 12);
    assert!(LatchLayout::SIZE == 16 && LatchLayout::COUNT == 0);
    assert!(LatchLayout::INITIAL_COUNT == 4 && offset_of!(LatchLayout, padding) == 8);
    assert!(OnceLayout::SIZE == 4 && OnceLayout::STATE == 0);
    assert!(EventLayout::SIZE == 12 && EventLayout::SIGNALED == 0);
    assert!(EventLayout::MODE == 4 && EventLayout::WAITING == 8);
    assert!(SignalHeader::SIZE == 8 && SignalHeader::VERSION == 0);
};
