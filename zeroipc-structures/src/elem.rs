//! Element storage: compile-time rules for element types, the slot copies the algorithms
//! use (spec conventions: `1 <= size`, `align <= 8`) and the zero-copy borrow of a ring's
//! unread bytes. The only module of this crate with `unsafe` code.
#![allow(unsafe_code)]

use std::mem::{align_of, size_of};

use bytemuck::Pod;
use zeroipc_format::Region;

/// Fails compilation (in const contexts) when `T` cannot be stored in a segment: zero-sized,
/// or aligned above 8.
pub(crate) const fn assert_element<T>() {
    assert!(
        size_of::<T>() >= 1,
        "zero-sized element types cannot be stored"
    );
    assert!(
        align_of::<T>() <= 8,
        "element alignment above 8 is not supported by the format"
    );
}

/// Element slots of a structure: copies in and out by slot index.
pub(crate) trait Slots<T>: Sync {
    /// Copies slot `i` out.
    fn load(&self, i: usize) -> Result<T, zeroipc_format::Error>;
    /// Copies `value` into slot `i`.
    fn store(&self, i: usize, value: T) -> Result<(), zeroipc_format::Error>;
}

/// Slots `base + i * stride` of a segment region (bounds-checked by the region).
pub(crate) struct RegionSlots<'a> {
    pub region: &'a Region,
    pub base: usize,
    pub stride: usize,
}

impl<T: Pod> Slots<T> for RegionSlots<'_> {
    #[inline]
    fn load(&self, i: usize) -> Result<T, zeroipc_format::Error> {
        self.region.read(self.offset(i)?)
    }
    #[inline]
    fn store(&self, i: usize, value: T) -> Result<(), zeroipc_format::Error> {
        self.region.write(self.offset(i)?, value)
    }
}

impl RegionSlots<'_> {
    #[inline]
    fn offset(&self, i: usize) -> Result<usize, zeroipc_format::Error> {
        i.checked_mul(self.stride)
            .and_then(|o| o.checked_add(self.base))
            .ok_or_else(|| zeroipc_format::Error::OutOfBounds {
                offset: usize::MAX,
                len: self.stride,
                region_len: self.region.len(),
            })
    }
}

/// The consumer's unread bytes `[offset, offset + len)` of a single-producer ring, borrowed
/// without copying.
pub(crate) fn ring_unread(
    region: &Region,
    offset: usize,
    len: usize,
) -> Result<&[u8], zeroipc_format::Error> {
    // SAFETY: the caller passes a span inside `[read_pos, write_pos)`, which the ring's
    // protocol reserves to the single consumer: the producer writes only at or after
    // `write_pos` and never more than `capacity` ahead of `read_pos`, and `read_pos` does not
    // move until the consumer releases the borrow (`ReadView::consume` takes the view by
    // value). A producer that breaks the protocol can change the bytes under the borrow,
    // which the ring's documentation states.
    unsafe { region.shared_bytes(offset, len) }
}

/// Loom-checked slots: each slot is a loom `UnsafeCell`, so a data race on an element is
/// reported by the model checker.
#[cfg(zeroipc_loom)]
pub(crate) mod model {
    use super::*;
    use loom::cell::UnsafeCell;

    pub struct ModelSlots<T> {
        cells: Vec<UnsafeCell<T>>,
    }

    impl<T: Pod> ModelSlots<T> {
        pub fn new(n: usize) -> Self {
            Self {
                cells: (0..n).map(|_| UnsafeCell::new(T::zeroed())).collect(),
            }
        }

        fn cell(&self, i: usize) -> Result<&UnsafeCell<T>, zeroipc_format::Error> {
            self.cells.get(i).ok_or(zeroipc_format::Error::OutOfBounds {
                offset: i,
                len: 1,
                region_len: self.cells.len(),
            })
        }
    }

    // SAFETY: access to the cells is what the model checks; loom's UnsafeCell tracks it.
    unsafe impl<T: Send> Sync for ModelSlots<T> {}

    impl<T: Pod + Send> Slots<T> for ModelSlots<T> {
        fn load(&self, i: usize) -> Result<T, zeroipc_format::Error> {
            let cell = self.cell(i)?;
            // SAFETY: loom checks that no write to this cell is concurrent with this read.
            Ok(cell.with(|p| unsafe { *p }))
        }
        fn store(&self, i: usize, value: T) -> Result<(), zeroipc_format::Error> {
            let cell = self.cell(i)?;
            // SAFETY: loom checks that no other access to this cell is concurrent.
            cell.with_mut(|p| unsafe { *p = value });
            Ok(())
        }
    }
}
