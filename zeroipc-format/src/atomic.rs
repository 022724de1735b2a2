//! The atomic facade: the one place the workspace names atomic types.
//!
//! Algorithm and process-local code uses the wrappers defined here ([`AtomicU32`],
//! [`AtomicU64`], ...): `#[repr(transparent)]` newtypes over the `core` atomics in a normal
//! build and over loom's model-checked atomics under `RUSTFLAGS="--cfg zeroipc_loom"`. The
//! workspace `clippy.toml` forbids naming `core::sync::atomic` types anywhere else (the lint
//! sees through re-exports, hence newtypes rather than `pub use`).
//!
//! Memory shared with other processes can only ever hold the hardware atomics, so views over
//! a mapped segment hand out the types in [`shared`], which never change with the
//! configuration.
#![allow(clippy::disallowed_types)]

pub use core::sync::atomic::Ordering;

#[cfg(not(zeroipc_loom))]
use core::sync::atomic as imp;
#[cfg(zeroipc_loom)]
use loom::sync::atomic as imp;

/// A memory fence (loom's under `cfg(zeroipc_loom)`).
#[inline]
pub fn fence(order: Ordering) {
    imp::fence(order)
}

macro_rules! facade {
    ($(#[$doc:meta])* $name:ident, $int:ty) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(Debug, Default)]
        pub struct $name(imp::$name);

        impl $name {
            /// A new atomic holding `v`.
            #[cfg(not(zeroipc_loom))]
            pub const fn new(v: $int) -> Self {
                Self(imp::$name::new(v))
            }
            /// A new atomic holding `v`.
            #[cfg(zeroipc_loom)]
            pub fn new(v: $int) -> Self {
                Self(imp::$name::new(v))
            }
            /// Loads the value.
            #[inline]
            pub fn load(&self, order: Ordering) -> $int {
                self.0.load(order)
            }
            /// Stores `v`.
            #[inline]
            pub fn store(&self, v: $int, order: Ordering) {
                self.0.store(v, order)
            }
            /// Stores `v`, returning the previous value.
            #[inline]
            pub fn swap(&self, v: $int, order: Ordering) -> $int {
                self.0.swap(v, order)
            }
            /// Stores `new` if the value is `current`.
            ///
            /// # Errors
            /// The value found, if it was not `current`.
            #[inline]
            pub fn compare_exchange(&self, current: $int, new: $int, success: Ordering, failure: Ordering) -> Result<$int, $int> {
                self.0.compare_exchange(current, new, success, failure)
            }
            /// Like [`Self::compare_exchange`], but may fail spuriously.
            ///
            /// # Errors
            /// The value found (which may equal `current` on a spurious failure).
            #[inline]
            pub fn compare_exchange_weak(&self, current: $int, new: $int, success: Ordering, failure: Ordering) -> Result<$int, $int> {
                self.0.compare_exchange_weak(current, new, success, failure)
            }
            /// Adds `v` (wrapping), returning the previous value.
            #[inline]
            pub fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                self.0.fetch_add(v, order)
            }
            /// Subtracts `v` (wrapping), returning the previous value.
            #[inline]
            pub fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                self.0.fetch_sub(v, order)
            }
        }
    };
}

facade!(
    /// A `u8` atomic (facade).
    AtomicU8, u8
);
facade!(
    /// A `u32` atomic (facade).
    AtomicU32, u32
);
facade!(
    /// A `u64` atomic (facade).
    AtomicU64, u64
);
facade!(
    /// An `i32` atomic (facade).
    AtomicI32, i32
);
facade!(
    /// An `i64` atomic (facade).
    AtomicI64, i64
);
facade!(
    /// A `usize` atomic (facade).
    AtomicUsize, usize
);

/// Implements [`Word32`] or [`Word64`] for `$ty` by calling the same-named methods of
/// `$target` (an expression of `$w`, the `&self`). The facade and shared atomics implement
/// the traits through it (`|w| w`: their inherent methods), and so do the loom models'
/// futex words in `zeroipc-sync` and `zeroipc-codata` (`|w| w.value`).
#[doc(hidden)]
#[macro_export]
macro_rules! impl_word {
    ($trait:ident, $int:ty, $ty:ty, |$w:ident| $target:expr) => {
        impl $crate::atomic::$trait for $ty {
            #[inline]
            fn load(&self, order: $crate::atomic::Ordering) -> $int {
                let $w = self;
                $target.load(order)
            }
            #[inline]
            fn store(&self, value: $int, order: $crate::atomic::Ordering) {
                let $w = self;
                $target.store(value, order)
            }
            $crate::impl_word!(@cas $int, |$w| $target, compare_exchange, compare_exchange_weak);
            $crate::impl_word!(@rmw $int, |$w| $target, fetch_add, fetch_sub);
        }
    };
    (@cas $int:ty, |$w:ident| $target:expr, $($cas:ident),+) => {
        $(
            #[inline]
            fn $cas(
                &self,
                current: $int,
                new: $int,
                success: $crate::atomic::Ordering,
                failure: $crate::atomic::Ordering,
            ) -> Result<$int, $int> {
                let $w = self;
                $target.$cas(current, new, success, failure)
            }
        )+
    };
    (@rmw $int:ty, |$w:ident| $target:expr, $($rmw:ident),+) => {
        $(
            #[inline]
            fn $rmw(&self, value: $int, order: $crate::atomic::Ordering) -> $int {
                let $w = self;
                $target.$rmw(value, order)
            }
        )+
    };
}

/// Defines an atomic-word trait (`$trait` over `$int`) with the methods of the atomic types,
/// and implements it for the given types by calling their inherent methods.
macro_rules! word_trait {
    ($(#[$doc:meta])* $trait:ident, $int:ty, [$($ty:ty),*]) => {
        $(#[$doc])*
        pub trait $trait: Sync {
            /// Loads the value.
            fn load(&self, order: Ordering) -> $int;
            /// Stores `value`.
            fn store(&self, value: $int, order: Ordering);
            /// Stores `new` if the value is `current`.
            ///
            /// # Errors
            /// The value found, if it was not `current`.
            fn compare_exchange(&self, current: $int, new: $int, success: Ordering, failure: Ordering) -> Result<$int, $int>;
            /// Like `compare_exchange`, but may fail spuriously.
            ///
            /// # Errors
            /// The value found (which may equal `current` on a spurious failure).
            fn compare_exchange_weak(&self, current: $int, new: $int, success: Ordering, failure: Ordering) -> Result<$int, $int>;
            /// Adds `value` (wrapping), returning the previous value.
            fn fetch_add(&self, value: $int, order: Ordering) -> $int;
            /// Subtracts `value` (wrapping), returning the previous value.
            fn fetch_sub(&self, value: $int, order: Ordering) -> $int;
        }

        $( $crate::impl_word!($trait, $int, $ty, |w| w); )*
    };
}

word_trait!(
    /// A 32-bit atomic word as lock-free algorithms see it.
    ///
    /// The workspace's algorithms (queue, stack, pool, map, the synchronisation primitives
    /// and the codata protocols) are written once, generic over this trait, so the same code
    /// runs over the hardware atomics of a mapped segment ([`shared::AtomicU32`]) and, under
    /// `cfg(zeroipc_loom)`, over the facade's model-checked [`AtomicU32`]. The methods are
    /// those of the atomic types, with the same semantics.
    Word32, u32, [shared::AtomicU32, AtomicU32]
);

word_trait!(
    /// A 64-bit atomic word as lock-free algorithms see it (see [`Word32`]).
    Word64, u64, [shared::AtomicU64, AtomicU64]
);

/// Hardware atomics, as overlaid on shared memory.
///
/// These are always the `core` types: a word in a segment is read and written by other
/// processes that know nothing of loom, so the bytes must be the plain hardware atomic.
/// Code outside the facade only calls methods on the references [`Region`](crate::Region)
/// hands out; naming the types needs `#[allow(clippy::disallowed_types)]` and a reason.
pub mod shared {
    pub use core::sync::atomic::{AtomicI32, AtomicI64, AtomicU8, AtomicU32, AtomicU64};
}
