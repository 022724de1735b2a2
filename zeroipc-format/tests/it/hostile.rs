//! Hostile and corrupt segment images: each defect gives its own error, never a panic.

use zeroipc_format::{Corruption, Error, Segment};
use zeroipc_testkit::{golden_bytes, unique_name};

fn image() -> Vec<u8> {
    golden_bytes("standard-cpp.seg")
}

fn put_u32(img: &mut [u8], at: usize, v: u32) {
    img[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(img: &mut [u8], at: usize, v: u64) {
    img[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Offset of entry `i`'s field at `field` (0 name, 32 offset, 40 size).
fn entry(i: usize, field: usize) -> usize {
    32 + 48 * i + field
}

fn corruption(img: &[u8]) -> Corruption {
    match Segment::from_bytes(img) {
        Err(Error::Corrupt { what }) => what,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn golden_image_is_valid_to_start_with() {
    Segment::from_bytes(&image()).unwrap();
}

#[test]
fn truncated_file() {
    let img = image();
    assert!(matches!(
        Segment::from_bytes(&img[..20]),
        Err(Error::Truncated {
            len: 20,
            needed: 32
        })
    ));
    // The same through a real file.
    let path = std::env::temp_dir().join(unique_name("trunc"));
    std::fs::write(&path, &img[..20]).unwrap();
    let r = zeroipc_format::SegmentOptions::new()
        .init_grace(std::time::Duration::from_millis(5))
        .open_path(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(r, Err(Error::Truncated { len: 20, .. })), "{r:?}");
    // Cut inside the table: the table no longer fits.
    assert!(matches!(
        corruption(&img[..3000]),
        Corruption::TableExceedsFile {
            table_size: 3104,
            file_len: 3000
        }
    ));
}

#[test]
fn bad_magic() {
    let mut img = image();
    put_u32(&mut img, 0, 0xDEAD_BEEF);
    assert!(matches!(
        Segment::from_bytes(&img),
        Err(Error::BadMagic { found: 0xDEAD_BEEF })
    ));
}

#[test]
fn zero_magic_is_not_initialised() {
    let mut img = image();
    put_u32(&mut img, 0, 0);
    assert!(matches!(
        Segment::from_bytes(&img),
        Err(Error::NotInitialized { .. })
    ));
}

#[test]
fn versions_one_and_three() {
    for v in [1, 3] {
        let mut img = image();
        put_u32(&mut img, 4, v);
        assert!(
            matches!(Segment::from_bytes(&img), Err(Error::UnsupportedVersion { found }) if found == v)
        );
    }
}

#[test]
fn entry_count_above_max_entries() {
    let mut img = image();
    put_u32(&mut img, 8, 65);
    assert_eq!(
        corruption(&img),
        Corruption::EntryCountExceedsMax {
            entry_count: 65,
            max_entries: 64
        }
    );
}

#[test]
fn table_larger_than_file() {
    let mut img = image();
    put_u32(&mut img, 12, 2000);
    assert_eq!(
        corruption(&img),
        Corruption::TableExceedsFile {
            table_size: 32 + 48 * 2000,
            file_len: 65536
        }
    );
    put_u32(&mut img, 12, u32::MAX);
    assert!(matches!(
        corruption(&img),
        Corruption::TableExceedsFile { .. }
    ));
}

#[test]
fn memory_size_larger_than_file() {
    let mut img = image();
    put_u64(&mut img, 16, 65537);
    assert_eq!(
        corruption(&img),
        Corruption::MemorySizeExceedsFile {
            memory_size: 65537,
            file_len: 65536
        }
    );
    put_u64(&mut img, 16, u64::MAX);
    assert!(matches!(
        corruption(&img),
        Corruption::MemorySizeExceedsFile { .. }
    ));
}

#[test]
fn memory_size_smaller_than_table() {
    let mut img = image();
    put_u64(&mut img, 16, 100);
    assert!(matches!(
        corruption(&img),
        Corruption::MemorySizeBelowTable {
            memory_size: 100,
            ..
        }
    ));
}

#[test]
fn next_offset_out_of_range() {
    let mut img = image();
    put_u64(&mut img, 24, 10);
    assert!(matches!(
        corruption(&img),
        Corruption::NextOffsetOutOfRange {
            next_offset: 10,
            ..
        }
    ));
    put_u64(&mut img, 24, 65537);
    assert!(matches!(
        corruption(&img),
        Corruption::NextOffsetOutOfRange { .. }
    ));
}

#[test]
fn entry_offset_plus_size_overflows() {
    let mut img = image();
    put_u64(&mut img, entry(5, 40), u64::MAX);
    assert!(matches!(
        corruption(&img),
        Corruption::EntryOutOfBounds {
            index: 5,
            size: u64::MAX,
            ..
        }
    ));
}

#[test]
fn entry_ends_past_the_file() {
    let mut img = image();
    put_u64(&mut img, entry(2, 32), 65528);
    put_u64(&mut img, entry(2, 40), 16);
    assert!(matches!(
        corruption(&img),
        Corruption::EntryOutOfBounds {
            index: 2,
            offset: 65528,
            size: 16,
            memory_size: 65536
        }
    ));
}

#[test]
fn entry_misaligned_or_inside_the_table() {
    let mut img = image();
    put_u64(&mut img, entry(1, 32), 3153);
    assert!(matches!(
        corruption(&img),
        Corruption::EntryMisaligned {
            index: 1,
            offset: 3153
        }
    ));
    let mut img = image();
    put_u64(&mut img, entry(1, 32), 64);
    assert!(matches!(
        corruption(&img),
        Corruption::EntryOverlapsTable {
            index: 1,
            offset: 64,
            ..
        }
    ));
}

#[test]
fn name_without_nul() {
    let mut img = image();
    img[entry(3, 0)..entry(3, 32)].fill(b'A');
    assert_eq!(corruption(&img), Corruption::NameNotTerminated { index: 3 });
}

#[test]
fn name_not_utf8() {
    let mut img = image();
    img[entry(4, 0)] = 0xFF;
    assert_eq!(corruption(&img), Corruption::NameNotUtf8 { index: 4 });
}

#[test]
fn half_written_entries_are_skipped() {
    // Upstream C++ bumps entry_count before writing the entry: a zero name is skipped.
    let mut img = image();
    img[entry(39, 0)..entry(39, 48)].fill(0);
    let seg = Segment::from_bytes(&img).unwrap();
    assert_eq!(seg.entries().unwrap().len(), 39);
    assert!(seg.get("chan_i32_buffer").unwrap().is_none());
}

#[test]
fn corruption_after_open_is_caught_on_use() {
    let seg = Segment::from_bytes(&image()).unwrap();
    let raw = seg.raw();
    // A hostile peer raises entry_count past the table.
    raw.write::<u32>(8, 1000).unwrap();
    assert!(matches!(seg.entries(), Err(Error::Corrupt { .. })));
    assert!(matches!(seg.find("arr_f32"), Err(Error::Corrupt { .. })));
    raw.write::<u32>(8, 40).unwrap();
    // ... then points an entry outside the segment.
    raw.write::<u64>(entry(0, 40), 1 << 40).unwrap();
    assert!(matches!(
        seg.find("arr_f32"),
        Err(Error::Corrupt {
            what: Corruption::EntryOutOfBounds { index: 0, .. }
        })
    ));
    // ... or corrupts next_offset: allocation refuses.
    raw.write::<u64>(entry(0, 40), 48).unwrap();
    raw.write::<u64>(24, 1).unwrap();
    assert!(matches!(
        seg.add("late", 8, |_| Ok::<_, Error>(())),
        Err(Error::Corrupt { .. })
    ));
    assert!(matches!(seg.free_space(), Err(Error::Corrupt { .. })));
}
