//! `Pool<T>`: a fixed set of nodes handed out by index from a lock-free free list whose head
//! carries an ABA generation tag, spec §4.7.
//!
//! Layout (`24 + capacity * node_size` bytes):
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | atomic u64 | `free_head` = `(generation << 32) \| index`; index `0xFFFFFFFF` = empty |
//! | 8 | atomic u32 | `allocated` |
//! | 12 | u32 | padding = 0 |
//! | 16 | u32 | `capacity` (`1..0xFFFFFFFF`) |
//! | 20 | u32 | `elem_size` |
//! | 24 | Node[capacity] | `{ T data; atomic u32 next }`, `next` at `align_up(es, 4)` |

use std::mem::{align_of, size_of};

use bytemuck::Pod;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region};

use crate::common::{self, Fault, align_up};
use crate::elem::assert_element;
use crate::error::{Error, Result};
use crate::layout::PoolHeader;
use crate::word::{HwWord32, HwWord64, Word32, Word64};

/// Index meaning "no node".
pub const NULL: u32 = 0xFFFF_FFFF;
/// Walks of the free list (for double-free detection) retried when the list changes.
const WALK_RETRIES: u32 = 8;

/// `(next_off, node_size)` for elements of size `es` and alignment `a` (spec §4.7).
pub(crate) const fn node_layout(es: usize, a: usize) -> (usize, usize) {
    let next_off = align_up(es, 4);
    let node_align = if a > 4 { a } else { 4 };
    (next_off, align_up(next_off + 4, node_align))
}

/// The `next` words of the nodes.
pub(crate) trait Links {
    type Word: Word32;
    /// The `next` word of node `i` (`i < capacity`, else a fault).
    fn next(&self, i: u32) -> Result<&Self::Word, Fault>;
}

/// `next` words of a pool in a segment region.
pub(crate) struct RegionLinks<'a> {
    region: &'a Region,
    capacity: u32,
    next_off: usize,
    node_size: usize,
}

impl Links for RegionLinks<'_> {
    type Word = HwWord32;
    #[inline]
    fn next(&self, i: u32) -> Result<&HwWord32, Fault> {
        if i >= self.capacity {
            return Err(Fault::field("next", u64::from(i)));
        }
        Ok(self
            .region
            .atomic_u32(PoolHeader::NODES + i as usize * self.node_size + self.next_off)?)
    }
}

/// The free-list algorithm over any atomic words.
///
/// Invariant: `capacity < NULL`. Every index read from shared memory is validated before
/// use.
pub(crate) struct Core<'a, W64, L: Links> {
    pub head: &'a W64,
    pub allocated: &'a L::Word,
    pub links: &'a L,
    pub capacity: u32,
}

impl<W64: Word64, L: Links> Core<'_, W64, L> {
    pub fn allocate(&self) -> Result<Option<u32>, Fault> {
        loop {
            // Acquire: pairs with the Release CAS in `deallocate`, so the node's `next` (and
            // data written before it was freed) are visible.
            let old = self.head.load(Ordering::Acquire);
            let idx = old as u32;
            let generation = (old >> 32) as u32;
            if idx == NULL {
                return Ok(None);
            }
            if idx >= self.capacity {
                return Err(Fault::field("free_head", old));
            }
            let nxt = self.links.next(idx)?.load(Ordering::Relaxed);
            if nxt != NULL && nxt >= self.capacity {
                if self.head.load(Ordering::Acquire) == old {
                    return Err(Fault::field("next", u64::from(nxt)));
                }
                continue;
            }
            let new = (u64::from(generation.wrapping_add(1)) << 32) | u64::from(nxt);
            if self
                .head
                .compare_exchange_weak(old, new, Ordering::Release, Ordering::Acquire)
                .is_ok()
            {
                self.allocated.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(idx));
            }
        }
    }

    pub fn deallocate(&self, idx: u32) -> Result<(), Fault> {
        let next = self.links.next(idx)?;
        loop {
            let old = self.head.load(Ordering::Acquire);
            let generation = (old >> 32) as u32;
            next.store(old as u32, Ordering::Relaxed);
            let new = (u64::from(generation.wrapping_add(1)) << 32) | u64::from(idx);
            // Release: publishes `next` (and the caller's last writes to the node); pairs with
            // the Acquire load of `free_head` in `allocate`.
            if self
                .head
                .compare_exchange_weak(old, new, Ordering::Release, Ordering::Acquire)
                .is_ok()
            {
                break;
            }
        }
        // Saturating decrement: a count that is already 0 stays 0.
        let mut cur = self.allocated.load(Ordering::Relaxed);
        while cur > 0 {
            match self.allocated.compare_exchange_weak(
                cur,
                cur - 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(c) => cur = c,
            }
        }
        Ok(())
    }

    /// Whether `idx` is on the free list. Exact: the walk is repeated until `free_head` (whose
    /// generation changes on every allocate and free) is the same before and after it.
    /// `None` if the list kept changing.
    pub fn is_free(&self, idx: u32) -> Result<Option<bool>, Fault> {
        for _ in 0..WALK_RETRIES {
            let start = self.head.load(Ordering::Acquire);
            let mut cur = start as u32;
            let mut found = false;
            let mut steps = 0u32;
            while cur != NULL {
                if cur >= self.capacity || steps > self.capacity {
                    break; // inconsistent snapshot (or corrupt): decided below
                }
                if cur == idx {
                    found = true;
                    break;
                }
                cur = self.links.next(cur)?.load(Ordering::Acquire);
                steps += 1;
            }
            if self.head.load(Ordering::Acquire) == start {
                if cur != NULL && !found {
                    return Err(Fault::field("next", u64::from(cur)));
                }
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The free list in order (for inspection; bounded by the capacity).
    pub fn free_list(&self) -> Result<Vec<u32>, Fault> {
        let mut out = Vec::new();
        let mut cur = self.head.load(Ordering::Acquire) as u32;
        while cur != NULL {
            if cur >= self.capacity || out.len() > self.capacity as usize {
                return Err(Fault::field("next", u64::from(cur)));
            }
            out.push(cur);
            cur = self.links.next(cur)?.load(Ordering::Acquire);
        }
        Ok(out)
    }
}

common::capacity_handle! {
    /// A pool of `capacity` nodes of `T` in shared memory, allocated and freed by index from any
    /// process, compatible with the upstream C++ `zeroipc::Pool<T>` layout.
    ///
    /// Indices are plain `u32`s, valid in every process that opens the pool.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Pool;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let pool = Pool::<[f32; 3]>::create(&seg, "particles", 100)?;
    /// let i = pool.allocate()?.expect("a free node");
    /// pool.set(i, [1.0, 2.0, 3.0])?;
    /// assert_eq!(pool.get(i)?, [1.0, 2.0, 3.0]);
    /// pool.deallocate(i)?;
    /// assert!(pool.deallocate(i).is_err(), "double free is detected");
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub struct Pool<T>;
    "pool" of capacity "1..0xFFFFFFFF", header PoolHeader, valid |c| c != 0 && c != NULL;
}

impl<T: Pod> Pool<T> {
    /// Writes the header and threads every node onto the free list, in index order.
    fn init_header(region: &Region, cap: u32) -> Result<()> {
        region.write::<u32>(PoolHeader::CAPACITY, cap)?;
        region.write::<u32>(PoolHeader::ELEM_SIZE, size_of::<T>() as u32)?;
        for i in 0..cap {
            let next = if i + 1 == cap { NULL } else { i + 1 };
            region.write::<u32>(Self::next_offset(i), next)?;
        }
        Ok(())
    }

    fn check_types(entry: &Entry, region: &Region) -> Result<()> {
        common::check_stored_elem_size::<T>(entry, region, PoolHeader::ELEM_SIZE)
    }
}

impl<T: Pod> Pool<T> {
    const NEXT_OFF: usize = node_layout(size_of::<T>(), align_of::<T>()).0;
    /// Bytes per node: `T` then the `next` word, padded to the node alignment.
    pub const NODE_SIZE: usize = node_layout(size_of::<T>(), align_of::<T>()).1;

    /// Bytes a pool of `capacity` nodes occupies (`24 + capacity * NODE_SIZE`), or `None` if
    /// the capacity is 0 or `>= 0xFFFFFFFF`.
    pub const fn memory_size(capacity: usize) -> Option<u64> {
        assert_element::<T>();
        if capacity == 0 || capacity >= NULL as usize {
            return None;
        }
        match (capacity as u64).checked_mul(Self::NODE_SIZE as u64) {
            Some(n) => n.checked_add(PoolHeader::NODES as u64),
            None => None,
        }
    }

    fn next_offset(i: u32) -> usize {
        PoolHeader::NODES + i as usize * Self::NODE_SIZE + Self::NEXT_OFF
    }

    common::shape_constructors! { Pool;
        /// Creates the pool `name` with `capacity` free nodes.
        ///
        /// # Errors
        /// [`FormatError::InvalidArgument`](crate::FormatError::InvalidArgument) for a capacity of 0 or `>= 0xFFFFFFFF`; the segment's
        /// errors.
        create;

        /// Opens the existing pool `name`.
        ///
        /// # Errors
        /// `NotFound`; [`FormatError::TypeMismatch`](crate::FormatError::TypeMismatch) for another element size; `Corrupt` for a
        /// capacity of 0 or `0xFFFFFFFF`; [`FormatError::SizeMismatch`](crate::FormatError::SizeMismatch) if the entry size is not
        /// `24 + capacity * NODE_SIZE`.
        open;
    }

    fn with_core<R>(
        &self,
        f: impl FnOnce(&Core<'_, HwWord64, RegionLinks<'_>>) -> Result<R, Fault>,
    ) -> Result<R> {
        let links = RegionLinks {
            region: &self.region,
            capacity: self.capacity,
            next_off: Self::NEXT_OFF,
            node_size: Self::NODE_SIZE,
        };
        let core = Core {
            head: self.region.atomic_u64(PoolHeader::FREE_HEAD)?,
            allocated: self.region.atomic_u32(PoolHeader::ALLOCATED)?,
            links: &links,
            capacity: self.capacity,
        };
        f(&core).map_err(|fault| fault.into_error(self.entry.name()))
    }

    /// Takes a free node; `Ok(None)` when every node is allocated.
    ///
    /// # Errors
    /// `Corrupt` if the free list holds an index out of range.
    pub fn allocate(&self) -> Result<Option<u32>> {
        self.with_core(|c| c.allocate())
    }

    /// Returns node `index` to the free list, after checking it is in range and not already
    /// free. The check walks the free list (O(free nodes)); see
    /// [`Pool::deallocate_unverified`].
    ///
    /// # Errors
    /// [`Error::OutOfRange`]; [`Error::DoubleFree`] if the node is already free.
    pub fn deallocate(&self, index: u32) -> Result<()> {
        self.check_index(index)?;
        if self.with_core(|c| c.is_free(index))? == Some(true) {
            return Err(Error::DoubleFree {
                name: self.entry.name().to_owned(),
                index,
            });
        }
        self.with_core(|c| c.deallocate(index))
    }

    /// Returns node `index` to the free list in O(1), checking only its range: freeing a
    /// node twice corrupts the free list (as upstream), so use it only where double frees
    /// are impossible.
    ///
    /// # Errors
    /// [`Error::OutOfRange`].
    pub fn deallocate_unverified(&self, index: u32) -> Result<()> {
        self.check_index(index)?;
        self.with_core(|c| c.deallocate(index))
    }

    fn check_index(&self, index: u32) -> Result<()> {
        if index >= self.capacity {
            return Err(Error::OutOfRange {
                start: index as usize,
                end: index as usize + 1,
                len: self.capacity as usize,
            });
        }
        Ok(())
    }

    /// A copy of node `index`'s value.
    ///
    /// # Errors
    /// [`Error::OutOfRange`].
    pub fn get(&self, index: u32) -> Result<T> {
        self.check_index(index)?;
        Ok(self
            .region
            .read(PoolHeader::NODES + index as usize * Self::NODE_SIZE)?)
    }

    /// Stores `value` in node `index`.
    ///
    /// # Errors
    /// [`Error::OutOfRange`].
    pub fn set(&self, index: u32, value: T) -> Result<()> {
        self.check_index(index)?;
        Ok(self
            .region
            .write(PoolHeader::NODES + index as usize * Self::NODE_SIZE, value)?)
    }

    /// Number of allocated nodes (the shared counter, clamped to the capacity).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn len(&self) -> Result<usize> {
        common::clamped_count(&self.region, PoolHeader::ALLOCATED, self.capacity)
    }

    common::occupancy! { Pool;
        /// # Examples
        /// ```
        /// use zeroipc_format::Segment;
        /// use zeroipc_structures::Pool;
        ///
        /// let seg = Segment::anonymous(1 << 16, 64)?;
        /// let pool = Pool::<u64>::create(&seg, "nodes", 2)?;
        /// assert!(pool.is_empty()?);
        /// let i = pool.allocate()?.expect("a free node");
        /// assert!(!pool.is_empty()?);
        /// pool.deallocate(i)?;
        /// assert!(pool.is_empty()?);
        /// # Ok::<(), zeroipc_structures::Error>(())
        /// ```
        is_empty;
        /// # Examples
        /// ```
        /// use zeroipc_format::Segment;
        /// use zeroipc_structures::Pool;
        ///
        /// let seg = Segment::anonymous(1 << 16, 64)?;
        /// let pool = Pool::<u32>::create(&seg, "nodes", 1)?;
        /// assert!(!pool.is_full()?);
        /// pool.allocate()?;
        /// assert!(pool.is_full()?);
        /// # Ok::<(), zeroipc_structures::Error>(())
        /// ```
        is_full;
    }

    /// Returns every node to the free list at once (free list `0, 1, .., capacity - 1`,
    /// allocated count 0), as the pool was after `create`. Node values are kept. The free-list
    /// head's generation is bumped, so a concurrent `allocate`/`deallocate` that raced the reset fails
    /// its compare-and-swap instead of corrupting the list; still, call it only when no
    /// process holds or is handing out nodes (indices held before the reset become free).
    ///
    /// # Errors
    /// Never for a validated handle.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_structures::Pool;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let pool = Pool::<u32>::create(&seg, "nodes", 3)?;
    /// while pool.allocate()?.is_some() {}
    /// pool.reset()?;
    /// assert!(pool.is_empty()?);
    /// assert_eq!(pool.free_list()?, vec![0, 1, 2]);
    /// # Ok::<(), zeroipc_structures::Error>(())
    /// ```
    pub fn reset(&self) -> Result<()> {
        for i in 0..self.capacity {
            let next = if i + 1 == self.capacity { NULL } else { i + 1 };
            Word32::store(
                self.region.atomic_u32(Self::next_offset(i))?,
                next,
                Ordering::Relaxed,
            );
        }
        self.region
            .atomic_u32(PoolHeader::ALLOCATED)?
            .store(0, Ordering::Relaxed);
        let head = self.region.atomic_u64(PoolHeader::FREE_HEAD)?;
        let generation = ((Word64::load(head, Ordering::Relaxed) >> 32) as u32).wrapping_add(1);
        // Release: publishes the rewritten `next` words; pairs with the Acquire load of the
        // head in `Core::allocate` (and `free_head`).
        Word64::store(head, u64::from(generation) << 32, Ordering::Release);
        Ok(())
    }

    /// The free-list head as `(index, generation)`.
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn free_head(&self) -> Result<(u32, u32)> {
        let h = self
            .region
            .atomic_u64(PoolHeader::FREE_HEAD)?
            .load(Ordering::Acquire);
        Ok((h as u32, (h >> 32) as u32))
    }

    /// The free list in order (for inspection).
    ///
    /// # Errors
    /// `Corrupt` if it holds an index out of range or is longer than the capacity (a cycle).
    pub fn free_list(&self) -> Result<Vec<u32>> {
        self.with_core(|c| c.free_list())
    }
}
