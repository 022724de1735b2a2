//! Random byte flips in the golden images: opening, listing and opening every entry as an
//! `Array<u8>` returns errors, never panics or reads out of bounds.

use proptest::prelude::*;
use zeroipc_format::Segment;
use zeroipc_structures::Array;
use zeroipc_testkit::golden_bytes;

fn exercise(img: &[u8]) {
    let Ok(seg) = Segment::from_bytes(img) else {
        return;
    };
    let _ = seg.header();
    let _ = seg.free_space();
    let Ok(entries) = seg.entries() else {
        return;
    };
    for e in entries {
        if let Ok(a) = Array::<u8>::open(&seg, e.name()) {
            let sum: u64 = a.iter().map(u64::from).sum();
            let copy = a.to_vec();
            assert_eq!(copy.len(), a.len());
            assert_eq!(copy.iter().map(|&b| u64::from(b)).sum::<u64>(), sum);
            let _ = a.get(a.len());
        }
        let _ = Array::<u64>::open(&seg, e.name());
    }
}

/// The golden image `file` with each `(at, mask)` of `flips` XORed in.
fn flipped(file: &str, flips: Vec<(usize, u8)>) -> Vec<u8> {
    let mut img = golden_bytes(file);
    for (at, mask) in flips {
        img[at] ^= mask;
    }
    img
}

fn flips() -> impl Strategy<Value = Vec<(usize, u8)>> {
    // Most flips land in the header, the table and the first structures, where they matter.
    let pos = prop_oneof![3 => 0usize..3200, 1 => 0usize..65536];
    proptest::collection::vec((pos, any::<u8>()), 1..24)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn flipped_cpp_image_never_panics(flips in flips()) {
        exercise(&flipped("standard-cpp.seg", flips));
    }

    #[test]
    fn flipped_python_image_never_panics(flips in flips()) {
        exercise(&flipped("standard-py.seg", flips));
    }

    #[test]
    fn truncated_image_never_panics(len in 0usize..65536) {
        let img = golden_bytes("standard-cpp.seg");
        exercise(&img[..len]);
    }
}
