//! The Array API: access, bounds, and the checks made when opening.

use zeroipc_format::{Corruption, Region};
use zeroipc_structures::{Array, Error};

use crate::{size_mismatch, small_segment};

#[test]
fn get_set_and_bulk_copies() {
    let s = small_segment();
    let a = Array::<u32>::create(&s, "a", 8).unwrap();
    assert_eq!(a.len(), 8);
    assert!(!a.is_empty());
    assert_eq!(a.to_vec(), vec![0; 8], "new arrays are zeroed");
    a.set(7, 70).unwrap();
    assert_eq!(a.get(7), Some(70));
    assert_eq!(a.get(8), None);
    assert!(matches!(
        a.set(8, 1),
        Err(Error::OutOfRange {
            start: 8,
            end: 9,
            len: 8
        })
    ));
    a.write(2, &[1, 2, 3]).unwrap();
    let mut out = [0u32; 4];
    a.read(1, &mut out).unwrap();
    assert_eq!(out, [0, 1, 2, 3]);
    assert!(a.write(6, &[1, 2, 3]).is_err());
    assert!(a.read(usize::MAX, &mut out).is_err());
    a.fill(5);
    assert_eq!(a.iter().collect::<Vec<_>>(), vec![5; 8]);
    assert_eq!((&a).into_iter().sum::<u32>(), 40);
    assert_eq!(a.entry().size(), 8 + 8 * 4);
}

#[test]
fn memory_size_formula() {
    assert_eq!(Array::<f32>::memory_size(10), Some(48));
    assert_eq!(Array::<i64>::memory_size(5), Some(48));
    assert_eq!(Array::<[u8; 3]>::memory_size(3), Some(17));
    assert_eq!(Array::<u64>::memory_size(usize::MAX), None);
}

#[test]
fn capacity_zero_is_rejected() {
    assert!(matches!(
        Array::<u8>::create(&small_segment(), "z", 0),
        Err(zeroipc_structures::Error::Format(
            zeroipc_structures::FormatError::InvalidArgument(_)
        ))
    ));
}

#[test]
fn opening_with_another_element_size_is_a_size_mismatch() {
    let s = small_segment();
    Array::<f32>::create(&s, "f", 10).unwrap();
    assert_eq!(size_mismatch(&Array::<f64>::open(&s, "f")), Some((88, 48)));
    // Same element size, different type: the format cannot tell (no type is stored).
    assert!(Array::<u32>::open(&s, "f").is_ok());
}

#[test]
fn upstream_c_library_arrays_are_rejected() {
    // The C library writes a 16-byte header {capacity, elem_size}.
    let s = small_segment();
    s.add("c_arr", 16 + 4 * 4, |r: &Region| {
        r.write::<u64>(0, 4)?;
        r.write::<u64>(8, 4)
    })
    .unwrap();
    assert_eq!(
        size_mismatch(&Array::<u32>::open(&s, "c_arr")),
        Some((24, 32))
    );
}

#[test]
fn capacity_checks_on_open() {
    let s = small_segment();
    Array::<u16>::create(&s, "a", 4).unwrap();
    assert!(Array::<u16>::open_with_capacity(&s, "a", 4).is_ok());
    assert!(matches!(
        Array::<u16>::open_with_capacity(&s, "a", 5),
        Err(zeroipc_structures::Error::Format(
            zeroipc_structures::FormatError::TypeMismatch {
                what: "capacity",
                expected: 5,
                found: 4,
                ..
            }
        ))
    ));
    assert!(matches!(
        Array::<u16>::open(&s, "missing"),
        Err(Error::Format(zeroipc_format::Error::NotFound { .. }))
    ));
}

#[test]
fn open_or_create_creates_once() {
    let s = small_segment();
    let a = Array::<i32>::open_or_create(&s, "x", 3).unwrap();
    a.set(0, -1).unwrap();
    let b = Array::<i32>::open_or_create(&s, "x", 3).unwrap();
    assert_eq!(b.get(0), Some(-1));
    assert_eq!(s.entries().unwrap().len(), 1);
    assert!(matches!(
        Array::<i32>::open_or_create(&s, "x", 4),
        Err(zeroipc_structures::Error::Format(
            zeroipc_structures::FormatError::TypeMismatch { .. }
        ))
    ));
}

#[test]
fn hostile_capacity_values() {
    let s = small_segment();
    let a = Array::<u64>::create(&s, "h", 2).unwrap();
    let raw = s.raw();
    let at = a.entry().offset() as usize;
    for bad in [u64::MAX, 1 << 61, 3, 0] {
        raw.write::<u64>(at, bad).unwrap();
        match Array::<u64>::open(&s, "h") {
            Err(zeroipc_structures::Error::Format(
                zeroipc_structures::FormatError::SizeMismatch { found: 24, .. },
            )) => {}
            Err(Error::Format(zeroipc_format::Error::Corrupt {
                what:
                    Corruption::Field {
                        field: "capacity", ..
                    },
            })) => {}
            other => panic!("capacity {bad}: {other:?}"),
        }
    }
    // An open handle keeps its validated capacity whatever the header says later.
    assert_eq!(a.len(), 2);
    a.set(1, 9).unwrap();
    assert_eq!(a.get(1), Some(9));
}
