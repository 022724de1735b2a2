//! Atomic facade: the only place that names `core::sync::atomic` types.
//!
//! The workspace `clippy.toml` disallows the raw atomic types everywhere else (also through
//! re-exports), so this module wraps them in `#[repr(transparent)]` newtypes exposing just
//! the operations the protocol needs. Under `cfg(zeroipc_loom)` loom's model-checked types
//! are wrapped instead, so every wait/wake protocol can be explored by loom unchanged.
#![allow(clippy::disallowed_types)]

#[cfg(not(zeroipc_loom))]
use core::sync::atomic as imp;
#[cfg(zeroipc_loom)]
use loom::sync::atomic as imp;

pub(crate) use imp::{Ordering, fence};

macro_rules! facade {
    ($name:ident, $int:ty) => {
        /// Transparent wrapper over the platform (or loom) atomic of the same name.
        #[repr(transparent)]
        pub(crate) struct $name(imp::$name);

        #[allow(dead_code)]
        impl $name {
            /// A new atomic (used by the in-memory loom backend; shared memory is mapped).
            pub(crate) fn new(v: $int) -> Self {
                $name(imp::$name::new(v))
            }
            #[inline]
            pub(crate) fn load(&self, order: Ordering) -> $int {
                self.0.load(order)
            }
            #[inline]
            pub(crate) fn store(&self, v: $int, order: Ordering) {
                self.0.store(v, order)
            }
            #[inline]
            pub(crate) fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                self.0.fetch_add(v, order)
            }
            #[inline]
            pub(crate) fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                self.0.fetch_sub(v, order)
            }
            #[inline]
            pub(crate) fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                self.0.compare_exchange(current, new, success, failure)
            }
        }
    };
}

facade!(AtomicU32, u32);
facade!(AtomicU64, u64);
