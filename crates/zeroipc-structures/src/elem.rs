//! Compile-time rules for element types (spec conventions: `1 <= size`, `align <= 8`).

use std::mem::{align_of, size_of};

/// Fails compilation (in const contexts) or panics (never reachable for valid types) when `T`
/// cannot be stored in a segment: zero-sized, or aligned above 8.
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
