//! `Stack<T>`: a bounded LIFO with a per-slot 4-state protocol, spec §4.3.
//!
//! Layout (`16 + align8(capacity * es) + 4 * capacity` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic i32 | `top`: index of the top element, −1 when empty |
//! | 4 | u32 | `capacity` (`1..=i32::MAX`) |
//! | 8 | u32 | `elem_size` |
//! | 12 | u32 | `reserved` = 0 |
//! | 16 | T[capacity] | data |
//! | 16 + align8(capacity * es) | atomic u32[capacity] | slot state: EMPTY 0, WRITING 1, READY 2, READING 3 |
//!
//! Waits for a slot another process holds are bounded in time (yields, then short sleeps,
//! for up to 2 s), so a peer that died holding a claim turns into
//! [`Error::SlotBusy`](crate::Error::SlotBusy), never a hang, while a live peer that was
//! merely descheduled is waited for. (Upstream bounds the wait at 10 000 yields, which an
//! overloaded machine can exhaust while the holder is alive; giving up then can strand an
//! element above `top`.)

use std::marker::PhantomData;
use std::mem::size_of;
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{self, Fault};
use crate::elem::{RegionSlots, Slots, assert_element};
use crate::error::{PushError, Result};
use crate::layout::StackHeader;
use crate::word::{BoundedWait, HwWord32, Word32};

/// Slot states.
pub(crate) const EMPTY: u32 = 0;
pub(crate) const WRITING: u32 = 1;
pub(crate) const READY: u32 = 2;
pub(crate) const READING: u32 = 3;

/// A claim of `slot` found its state `s` instead of the one it expected: a state past
/// `READING` is corrupt, a slot still held by a peer after the bounded `wait` is `Busy`;
/// otherwise the caller retries.
fn held(slot: i64, s: u32, wait: &mut BoundedWait) -> Result<(), Fault> {
    if s > READING {
        return Err(Fault::field("slot_state", u64::from(s)));
    }
    if !wait.wait() {
        return Err(Fault::Busy {
            slot: slot as u64,
            state: s,
        });
    }
    Ok(())
}

/// The stack algorithm over any atomic words and slot storage.
///
/// Invariants: `1 <= capacity <= i32::MAX`, `states.len() == capacity`, slots hold
/// `capacity` elements. `top` is re-validated on every read.
pub(crate) struct Core<'a, W, S> {
    pub top: &'a W,
    pub states: &'a [W],
    pub slots: &'a S,
    pub capacity: u32,
}

impl<W: Word32, S> Core<'_, W, S> {
    /// `top` as a signed index, validated to `-1..=capacity-1`.
    fn top(&self, order: Ordering) -> Result<i64, Fault> {
        let raw = self.top.load(order);
        let top = i64::from(raw as i32);
        if top < -1 || top >= i64::from(self.capacity) {
            return Err(Fault::field("top", u64::from(raw)));
        }
        Ok(top)
    }

    fn state(&self, slot: i64) -> Result<&W, Fault> {
        usize::try_from(slot)
            .ok()
            .and_then(|s| self.states.get(s))
            .ok_or_else(|| Fault::field("top", slot as u64))
    }

    /// Claims `slot` by moving its state `from` → `to`, waiting a bounded time for a peer
    /// that holds it.
    fn claim(&self, slot: i64, from: u32, to: u32) -> Result<(), Fault> {
        let state = self.state(slot)?;
        let mut wait = BoundedWait::new();
        loop {
            match state.compare_exchange_weak(from, to, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(s) => held(slot, s, &mut wait)?,
            }
        }
    }

    pub fn push<T>(&self, value: T) -> Result<bool, Fault>
    where
        S: Slots<T>,
    {
        let cap = i64::from(self.capacity);
        let cur = loop {
            let cur = self.top(Ordering::Relaxed)?;
            if cur >= cap - 1 {
                return Ok(false);
            }
            if self
                .top
                .compare_exchange_weak(
                    cur as i32 as u32,
                    (cur + 1) as i32 as u32,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                break cur;
            }
        };
        let new = cur + 1;
        if let Err(fault) = self.claim(new, EMPTY, WRITING) {
            // Best effort: give the position back if nobody moved `top` since.
            let _ = self.top.compare_exchange(
                new as i32 as u32,
                cur as i32 as u32,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            return Err(fault);
        }
        self.slots.store(new as usize, value)?;
        // Release: publishes the element; pairs with the Acquire (AcqRel) claim READY →
        // READING in `pop`/`peek`.
        self.state(new)?.store(READY, Ordering::Release);
        Ok(true)
    }

    pub fn pop<T>(&self) -> Result<Option<T>, Fault>
    where
        S: Slots<T>,
    {
        let cur = loop {
            let cur = self.top(Ordering::Relaxed)?;
            if cur < 0 {
                return Ok(None);
            }
            if self
                .top
                .compare_exchange_weak(
                    cur as i32 as u32,
                    (cur - 1) as i32 as u32,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                break cur;
            }
        };
        if let Err(fault) = self.claim(cur, READY, READING) {
            let _ = self.top.compare_exchange(
                (cur - 1) as i32 as u32,
                cur as i32 as u32,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            return Err(fault);
        }
        let value = self.slots.load(cur as usize)?;
        // Release: frees the slot only after the copy; pairs with the Acquire (AcqRel) claim
        // EMPTY → WRITING in `push`.
        self.state(cur)?.store(EMPTY, Ordering::Release);
        Ok(Some(value))
    }

    pub fn peek<T>(&self) -> Result<Option<T>, Fault>
    where
        S: Slots<T>,
    {
        let mut wait = BoundedWait::new();
        loop {
            // Acquire: pairs with the AcqRel CAS on `top` in `push`.
            let top = self.top(Ordering::Acquire)?;
            if top < 0 {
                return Ok(None);
            }
            let state = self.state(top)?;
            match state.compare_exchange(READY, READING, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => {
                    let value = self.slots.load(top as usize);
                    // Release: pairs with the claims in `pop`/`peek`, which then see the slot
                    // as READY again.
                    state.store(READY, Ordering::Release);
                    return Ok(Some(value?));
                }
                Err(s) => held(top, s, &mut wait)?,
            }
        }
    }
}

/// A bounded lock-free LIFO stack of `T` in shared memory, compatible with the upstream C++
/// `zeroipc::Stack<T>`.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_structures::Stack;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let s = Stack::<u8>::create(&seg, "undo", 5)?;
/// s.push(1)?;
/// s.push(2)?;
/// assert_eq!(s.peek()?, Some(2));
/// assert_eq!(s.pop()?, Some(2));
/// assert_eq!(s.len()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stack<T> {
    region: Region,
    entry: Entry,
    capacity: u32,
    states_off: usize,
    _elem: PhantomData<fn() -> T>,
}

crate::common::debug_by_name!(Stack<T> { "capacity": |s: &Self| s.capacity });

impl<T: Pod> common::Shape for Stack<T> {
    type Geometry = (u32, u64);

    fn layout_for(capacity: usize) -> Result<((u32, u64), u64)> {
        if capacity == 0 || capacity > i32::MAX as usize {
            return Err(FormatError::InvalidArgument(format!(
                "stack capacity must be in 1..=i32::MAX, got {capacity}"
            ))
            .into());
        }
        let cap = capacity as u32;
        let (words, total) = StackHeader::geometry(cap, size_of::<T>())
            .ok_or_else(|| FormatError::InvalidArgument(format!("stack of {cap} is too large")))?;
        Ok(((cap, words), total))
    }

    fn init(region: &Region, (cap, _): (u32, u64)) -> Result<()> {
        region
            .atomic_u32(StackHeader::TOP)?
            .store(u32::MAX, Ordering::Relaxed); // -1
        region.write::<u32>(StackHeader::CAPACITY, cap)?;
        region.write::<u32>(StackHeader::ELEM_SIZE, size_of::<T>() as u32)?;
        // States are already EMPTY (zeroed); the publish of the entry is the Release fence.
        Ok(())
    }

    fn open_entry(seg: &Segment, entry: Entry) -> Result<Self> {
        let region = common::region_with_header(seg, &entry, StackHeader::DATA as u64)?;
        common::check_stored_elem_size::<T>(&entry, &region, StackHeader::ELEM_SIZE)?;
        let cap = region.read::<u32>(StackHeader::CAPACITY)?;
        if cap == 0 || cap > i32::MAX as u32 {
            return Err(common::corrupt_capacity(&entry, cap));
        }
        let words = common::slot_words(&entry, StackHeader::geometry(cap, size_of::<T>()))?;
        Ok(Self::from_parts(region, entry, cap, words))
    }

    fn wrap(region: Region, entry: Entry, (cap, words): (u32, u64)) -> Result<Self> {
        Ok(Self::from_parts(region, entry, cap, words))
    }
}

impl<T: Pod> Stack<T> {
    /// Bytes a stack of `capacity` elements occupies, or `None` if the capacity is 0 or
    /// above `i32::MAX`.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<T>();
        if capacity == 0 || capacity > i32::MAX as usize {
            return None;
        }
        match StackHeader::geometry(capacity as u32, size_of::<T>()) {
            Some((_, total)) => Some(total),
            None => None,
        }
    }

    common::shape_constructors! { Stack;
        /// Creates the stack `name` with room for `capacity` elements.
        ///
        /// # Errors
        /// [`FormatError::InvalidArgument`] for a capacity of 0 or above `i32::MAX`; the segment's
        /// errors.
        create;

        /// Opens the existing stack `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::TypeMismatch`] for another element size; `Corrupt` for a
        /// capacity of 0 or above `i32::MAX`; [`FormatError::SizeMismatch`] if the entry size is not the
        /// layout's total.
        open;
    }

    fn from_parts(region: Region, entry: Entry, capacity: u32, words: u64) -> Self {
        Self {
            region,
            entry,
            capacity,
            states_off: words as usize,
            _elem: PhantomData,
        }
    }

    fn with_core<R>(
        &self,
        f: impl FnOnce(&Core<'_, HwWord32, RegionSlots<'_>>) -> Result<R, Fault>,
    ) -> Result<R> {
        let top = self.region.atomic_u32(StackHeader::TOP)?;
        let states = self
            .region
            .atomic_u32_slice(self.states_off, self.capacity as usize)?;
        let slots = RegionSlots {
            region: &self.region,
            base: StackHeader::DATA,
            stride: size_of::<T>(),
        };
        let core = Core {
            top,
            states,
            slots: &slots,
            capacity: self.capacity,
        };
        f(&core).map_err(|fault| fault.into_error(self.entry.name()))
    }

    /// Pushes `value` on top.
    ///
    /// # Errors
    /// [`PushError::Full`] when full; [`PushError::Failed`] with `Corrupt` (top or a slot
    /// state out of range) or [`Error::SlotBusy`](crate::Error::SlotBusy) (a peer holds the
    /// slot; nothing pushed).
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        match self.with_core(|c| c.push(value)) {
            Ok(true) => Ok(()),
            Ok(false) => Err(PushError::Full(value)),
            Err(e) => Err(PushError::Failed(e)),
        }
    }

    /// Pops the top element; `Ok(None)` when empty.
    ///
    /// # Errors
    /// `Corrupt`, or [`Error::SlotBusy`](crate::Error::SlotBusy) if a peer holds the top slot
    /// past the bounded wait.
    pub fn pop(&self) -> Result<Option<T>> {
        self.with_core(|c| c.pop())
    }

    /// A copy of the top element without removing it; `Ok(None)` when empty.
    ///
    /// # Errors
    /// As [`Stack::pop`].
    pub fn peek(&self) -> Result<Option<T>> {
        self.with_core(|c| c.peek())
    }

    /// Number of elements (`top + 1`).
    ///
    /// # Errors
    /// `Corrupt` if `top` is out of range.
    pub fn len(&self) -> Result<usize> {
        self.with_core(|c| Ok((c.top(Ordering::Acquire)? + 1) as usize))
    }

    common::occupancy!(Stack;);

    /// The raw slot states, for inspection (`0` empty, `1` writing, `2` ready, `3` reading).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn slot_states(&self) -> Result<Vec<u32>> {
        let states = self
            .region
            .atomic_u32_slice(self.states_off, self.capacity as usize)?;
        Ok(states.iter().map(|s| s.load(Ordering::Acquire)).collect())
    }

    /// A snapshot of the elements from bottom to top, read without claiming slots (for
    /// inspection while no one pushes or pops).
    ///
    /// # Errors
    /// `Corrupt` if `top` is out of range.
    pub fn snapshot(&self) -> Result<Vec<T>> {
        let n = self.len()?;
        let mut out = vec![T::zeroed(); n];
        self.region.read_slice(StackHeader::DATA, &mut out)?;
        Ok(out)
    }
}
