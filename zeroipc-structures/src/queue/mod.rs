//! `Queue<T>`: a bounded multi-producer multi-consumer queue (Vyukov), spec §4.2.
//!
//! Layout (`16 + align8(capacity * es) + 4 * capacity` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u32 | `head`: dequeue counter, wraps at 2^32 |
//! | 4 | atomic u32 | `tail`: enqueue counter, wraps at 2^32 |
//! | 8 | u32 | `capacity`: slots, a power of two `<= 2^31` |
//! | 12 | u32 | `elem_size` |
//! | 16 | T[capacity] | data |
//! | 16 + align8(capacity * es) | atomic u32[capacity] | `seq`: per-slot sequence |

use std::marker::PhantomData;
use std::mem::size_of;
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::{AtomicU32, Ordering};
use zeroipc_format::{AtomicWords, Entry, Region, Segment};

use crate::common::{self, Fault};
use crate::elem::{RegionSlots, Slots, assert_element};
use crate::error::{Error, PushError, Result};
use crate::layout::QueueHeader;

mod vyukov;

use crate::word::HwWord32;
pub(crate) use vyukov::Core;

/// Largest capacity (the counters' half range).
const MAX_CAPACITY: u32 = 1 << 31;

/// A bounded lock-free MPMC queue of `T` in shared memory, compatible with the upstream C++
/// `zeroipc::Queue<T>`.
///
/// The capacity is rounded up to a power of two. Any number of processes may push and pop
/// concurrently. Nothing blocks: `push` on a full queue and `pop` on an empty one return at
/// once.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_structures::{PushError, Queue};
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let q = Queue::<u64>::create(&seg, "jobs", 3)?; // rounded up to 4 slots
/// assert_eq!(q.capacity(), 4);
/// for job in 1..=4 {
///     q.push(job)?;
/// }
/// assert!(matches!(q.push(5), Err(PushError::Full(5))));
///
/// let other = Queue::<u64>::open(&seg, "jobs")?; // as another process would
/// assert_eq!(other.pop()?, Some(1));
/// assert_eq!(other.len()?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T> {
    region: Region,
    entry: Entry,
    /// Power of two in `2..=2^31`, validated at open.
    capacity: u32,
    /// `head` and `tail`, validated once.
    counters: AtomicWords,
    /// The `seq` array at `16 + align8(capacity * es)`, `capacity` words, validated once.
    seq: AtomicWords,
    /// This handle's guess of the next enqueue position (after its last push).
    push_hint: Hint,
    /// This handle's guess of the next dequeue position (after its last pop).
    pop_hint: Hint,
    _elem: PhantomData<fn() -> T>,
}

/// A process-local position guess on a cache line of its own, so a producer thread and a
/// consumer thread sharing one handle do not contend on it. Only ever a hint: the algorithm
/// checks it against the shared sequence words (see `Core::find_push`).
#[repr(align(64))]
#[derive(Debug, Default)]
struct Hint(AtomicU32);

crate::common::debug_by_name!(Queue<T> { "capacity": |s: &Self| s.capacity });

impl<T: Pod> common::Shape for Queue<T> {
    type Geometry = (u32, u64);

    fn layout_for(capacity: usize) -> Result<((u32, u64), u64)> {
        let cap = Self::stored_capacity(capacity).ok_or_else(|| {
            FormatError::InvalidArgument(format!(
                "queue capacity must be in 1..=2^31, got {capacity}"
            ))
        })?;
        let (words, total) = QueueHeader::geometry(cap, size_of::<T>()).ok_or_else(|| {
            FormatError::InvalidArgument(format!("queue of {cap} slots is too large"))
        })?;
        Ok(((cap, words), total))
    }

    fn init(region: &Region, (cap, words): (u32, u64)) -> Result<()> {
        region.write::<u32>(QueueHeader::CAPACITY, cap)?;
        region.write::<u32>(QueueHeader::ELEM_SIZE, size_of::<T>() as u32)?;
        let seq = region.atomic_u32_slice(words as usize, cap as usize)?;
        for (i, s) in seq.iter().enumerate() {
            s.store(i as u32, Ordering::Relaxed);
        }
        Ok(())
    }

    fn open_entry(seg: &Segment, entry: Entry) -> Result<Self> {
        let region = common::region_with_header(seg, &entry, QueueHeader::DATA as u64)?;
        common::check_stored_elem_size::<T>(&entry, &region, QueueHeader::ELEM_SIZE)?;
        let cap = region.read::<u32>(QueueHeader::CAPACITY)?;
        if cap == 1 {
            return Err(zeroipc_format::Error::Unsupported {
                name: entry.name().to_owned(),
                reason: "capacity 1: upstream C++ creates such a queue (or channel buffer), but \
                         its single slot is overwritten by the next push even between C++ \
                         processes, so no implementation can share it safely; recreate it with \
                         capacity 2 or more"
                    .into(),
            }
            .into());
        }
        if cap < 2 || !cap.is_power_of_two() || cap > MAX_CAPACITY {
            return Err(common::corrupt_capacity(&entry, cap));
        }
        let words = common::slot_words(&entry, QueueHeader::geometry(cap, size_of::<T>()))?;
        Self::from_parts(region, entry, cap, words)
    }

    fn wrap(region: Region, entry: Entry, (cap, words): (u32, u64)) -> Result<Self> {
        Self::from_parts(region, entry, cap, words)
    }
}

impl<T: Pod> Queue<T> {
    /// The stored capacity for a requested one: the next power of two, at least 2, or `None`
    /// if the request is 0 or above 2^31.
    ///
    /// A single slot cannot work with this algorithm: after one push the slot's sequence
    /// equals the next enqueue position, so a full queue would look empty to producers.
    /// (Upstream C++ stores 1 for a request of 1 and then overwrites its only element;
    /// upstream Python uses at least 2.)
    pub const fn stored_capacity(requested: usize) -> Option<u32> {
        if requested == 0 || requested > MAX_CAPACITY as usize {
            return None;
        }
        match requested.checked_next_power_of_two() {
            Some(1) => Some(2),
            Some(c) => Some(c as u32),
            None => None,
        }
    }

    /// Bytes a queue created with `capacity` occupies
    /// (`16 + align8(c * es) + 4 * c` with `c` the stored capacity), or `None` if invalid.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<T>();
        match Self::stored_capacity(capacity) {
            Some(c) => match QueueHeader::geometry(c, size_of::<T>()) {
                Some((_, total)) => Some(total),
                None => None,
            },
            None => None,
        }
    }

    common::shape_constructors! { Queue;
        /// Creates the queue `name` with room for `capacity` elements, rounded up to a power of
        /// two.
        ///
        /// # Errors
        /// [`FormatError::InvalidArgument`] for a capacity of 0 or above 2^31; the segment's errors
        /// (name, duplicate, table full, out of space).
        create;

        /// Opens the existing queue `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::TypeMismatch`] if `elem_size` is not `size_of::<T>()`;
        /// `Corrupt` if the capacity is not a power of two in `2..=2^31` (one slot cannot tell
        /// full from empty);
        /// [`FormatError::SizeMismatch`] if the entry size is not the layout's total.
        open;
        embeddable;
    }

    /// The `head` and `tail` words (in that order): the futex words a composite's blocked
    /// parties sleep on (a Channel's receivers on `tail`, its senders on `head`). The words
    /// keep the mapping alive on their own.
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked view.
    pub fn counter_words(&self) -> Result<AtomicWords> {
        Ok(self.region.atomic_words(QueueHeader::HEAD, 2)?)
    }

    fn from_parts(region: Region, entry: Entry, capacity: u32, words: u64) -> Result<Self> {
        let counters = region.atomic_words(QueueHeader::HEAD, 2)?;
        let seq = region.atomic_words(words as usize, capacity as usize)?;
        let (push_hint, pop_hint) = match &counters[..] {
            [head, tail] => (
                Hint(AtomicU32::new(tail.load(Ordering::Relaxed))),
                Hint(AtomicU32::new(head.load(Ordering::Relaxed))),
            ),
            _ => (Hint::default(), Hint::default()),
        };
        Ok(Self {
            region,
            entry,
            capacity,
            counters,
            seq,
            push_hint,
            pop_hint,
            _elem: PhantomData,
        })
    }

    #[inline]
    fn with_core<R>(
        &self,
        f: impl FnOnce(&Core<'_, HwWord32, RegionSlots<'_>>) -> Result<R, Fault>,
    ) -> Result<R> {
        let slots = RegionSlots {
            region: &self.region,
            base: QueueHeader::DATA,
            stride: size_of::<T>(),
        };
        let (head, tail) = match &self.counters[..] {
            [head, tail] => (head, tail),
            // Unreachable: `from_parts` validated exactly two words.
            _ => {
                return Err(Error::from(FormatError::corrupt_field(
                    self.entry.name(),
                    "counters",
                    0,
                )));
            }
        };
        let core = Core {
            head,
            tail,
            seq: &self.seq,
            slots: &slots,
            capacity: self.capacity,
        };
        f(&core).map_err(|fault| fault.into_error(self.entry.name()))
    }

    /// Appends `value`.
    ///
    /// # Errors
    /// [`PushError::Full`] (with the value) when the queue is full;
    /// [`PushError::Failed`] if the shared state is inconsistent.
    #[inline]
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        self.push_with_position(value).map(|_| ())
    }

    /// As [`Queue::push`], returning the position the element took: the value of the
    /// enqueue counter it claimed. Positions grow by one per element, wrapping at 2^32, and
    /// are what [`Queue::counters`] reports, so a caller can tell whether anything was still
    /// queued ahead of its element (a channel uses this to wake sleeping receivers only when
    /// needed).
    ///
    /// # Errors
    /// As [`Queue::push`].
    #[inline]
    pub fn push_with_position(&self, value: T) -> Result<u32, PushError<T>> {
        let guess = self.push_hint.0.load(Ordering::Relaxed);
        match self.with_core(|c| c.push_from(guess, true, value)) {
            Ok(Some(next)) => {
                self.push_hint.0.store(next, Ordering::Relaxed);
                Ok(next.wrapping_sub(1))
            }
            Ok(None) => Err(PushError::Full(value)),
            Err(e) => Err(PushError::Failed(e)),
        }
    }

    /// Removes the oldest element; `Ok(None)` when the queue is empty.
    ///
    /// # Errors
    /// `Corrupt` if the shared state is inconsistent.
    #[inline]
    pub fn pop(&self) -> Result<Option<T>> {
        let guess = self.pop_hint.0.load(Ordering::Relaxed);
        match self.with_core(|c| c.pop_from(guess, true))? {
            Some((value, next)) => {
                self.pop_hint.0.store(next, Ordering::Relaxed);
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    /// Pushes elements of `src` in order until the queue is full; returns how many.
    ///
    /// Consecutive free slots are claimed as one run with a single update of the shared
    /// `tail` counter (other producers interleave between runs, never inside one), so a bulk
    /// push costs about one contended cache-line transfer per run instead of one per element.
    ///
    /// # Errors
    /// `Corrupt` if the shared state is inconsistent (elements before it were pushed).
    ///
    /// # Examples
    /// ```
    /// # use zeroipc_format::Segment;
    /// # use zeroipc_structures::Queue;
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let q = Queue::<u32>::create(&seg, "q", 4)?;
    /// assert_eq!(q.push_slice(&[1, 2, 3, 4, 5, 6])?, 4); // full after four
    /// let mut out = [0; 8];
    /// assert_eq!(q.pop_into(&mut out)?, 4);
    /// assert_eq!(out[..4], [1, 2, 3, 4]);
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub fn push_slice(&self, src: &[T]) -> Result<usize> {
        self.push_slice_with_position(src).map(|(n, _)| n)
    }

    /// As [`Queue::push_slice`], also returning the position of the first element pushed
    /// (see [`Queue::push_with_position`]). The elements of one claimed run take consecutive
    /// positions; when other producers push concurrently, a later run of the same slice
    /// takes later positions after theirs. The position is meaningless when nothing was
    /// pushed.
    ///
    /// # Errors
    /// As [`Queue::push_slice`].
    pub fn push_slice_with_position(&self, src: &[T]) -> Result<(usize, u32)> {
        let mut guess = self.push_hint.0.load(Ordering::Relaxed);
        let mut done = 0;
        let mut first = guess;
        let result = self.with_core(|c| {
            while let Some(rest) = src.get(done..).filter(|r| !r.is_empty()) {
                let (n, next) = c.push_run(guess, true, rest)?;
                if n == 0 {
                    break;
                }
                if done == 0 {
                    first = next.wrapping_sub(n as u32);
                }
                done += n;
                guess = next;
            }
            Ok((done, first))
        });
        self.push_hint.0.store(guess, Ordering::Relaxed);
        result
    }

    /// Pops into `dst` until it is full or the queue is empty; returns how many.
    ///
    /// Like [`Queue::push_slice`], consecutive published slots are claimed as one run with
    /// a single update of `head`.
    ///
    /// # Errors
    /// `Corrupt` if the shared state is inconsistent (elements before it were popped).
    pub fn pop_into(&self, dst: &mut [T]) -> Result<usize> {
        let mut guess = self.pop_hint.0.load(Ordering::Relaxed);
        let mut done = 0;
        let result = self.with_core(|c| {
            while let Some(rest) = dst.get_mut(done..).filter(|r| !r.is_empty()) {
                let (n, next) = c.pop_run(guess, true, rest)?;
                if n == 0 {
                    break;
                }
                done += n;
                guess = next;
            }
            Ok(done)
        });
        self.pop_hint.0.store(guess, Ordering::Relaxed);
        result
    }

    /// Elements currently queued (a snapshot; `tail - head`, clamped to the capacity).
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked reads.
    pub fn len(&self) -> Result<usize> {
        self.with_core(|c| Ok(c.len() as usize))
    }

    common::occupancy!(Queue;);

    /// The raw `(head, tail)` counters, for inspection.
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked reads.
    pub fn counters(&self) -> Result<(u32, u32)> {
        self.with_core(|c| {
            Ok((
                c.head.load(Ordering::Acquire),
                c.tail.load(Ordering::Acquire),
            ))
        })
    }

    /// A copy of the queued elements, oldest first, without removing them: the published
    /// slots from `head` on, stopping at the first slot not yet published (for inspection; a
    /// concurrent pop or push makes it a snapshot of a moment that may never have existed as
    /// a whole).
    ///
    /// # Errors
    /// Never for a validated handle; the `Result` guards the bounds-checked reads.
    pub fn snapshot(&self) -> Result<Vec<T>> {
        self.with_core(|c| {
            let head = c.head.load(Ordering::Acquire);
            let n = c.len();
            let mut out = Vec::with_capacity(n as usize);
            for k in 0..n {
                let pos = head.wrapping_add(k);
                let slot = (pos & (self.capacity - 1)) as usize;
                // Acquire: pairs with the Release store of `seq` in `push`.
                if c.seq(slot)?.load(Ordering::Acquire) != pos.wrapping_add(1) {
                    break;
                }
                out.push(c.slots.load(slot)?);
            }
            Ok(out)
        })
    }
}
