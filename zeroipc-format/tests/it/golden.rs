//! The upstream golden images open and list exactly as the JSON beside them says.

use serde_json::Value;
use zeroipc_format::{MAGIC, Segment, SegmentOptions};
use zeroipc_testkit::{golden_dir, unique_name};

fn decoded(json: &str) -> Value {
    let text = std::fs::read_to_string(golden_dir().join(json)).expect("read golden json");
    serde_json::from_str(&text).expect("parse golden json")
}

/// Copies the image to a scratch file (the repository's copy is never mapped writable).
fn scratch_copy(image: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique_name("golden"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(image);
    std::fs::copy(golden_dir().join(image), &path).expect("copy image");
    path
}

fn check_image(image: &str, json: &str) {
    let want = decoded(json);
    let path = scratch_copy(image);
    let seg = Segment::open_path(&path).expect("open golden image");
    let header = seg.header().unwrap();
    let h = &want["header"];
    assert_eq!(u64::from(header.magic), h["magic"].as_u64().unwrap());
    assert_eq!(header.magic, MAGIC);
    assert_eq!(u64::from(header.version), h["version"].as_u64().unwrap());
    assert_eq!(
        u64::from(header.entry_count),
        h["entry_count"].as_u64().unwrap()
    );
    assert_eq!(
        u64::from(header.max_entries),
        h["max_entries"].as_u64().unwrap()
    );
    assert_eq!(header.memory_size, h["memory_size"].as_u64().unwrap());
    assert_eq!(header.next_offset, h["next_offset"].as_u64().unwrap());
    assert_eq!(seg.len() as u64, want["file_size"].as_u64().unwrap());

    let entries = seg.entries().unwrap();
    let expected = want["entries"].as_array().unwrap();
    assert_eq!(entries.len(), expected.len());
    for (got, exp) in entries.iter().zip(expected) {
        assert_eq!(got.name(), exp["name"].as_str().unwrap());
        assert_eq!(
            got.offset(),
            exp["offset"].as_u64().unwrap(),
            "{}",
            got.name()
        );
        assert_eq!(got.size(), exp["size"].as_u64().unwrap(), "{}", got.name());
        let found = seg.find(got.name()).unwrap();
        assert_eq!(&found, got);
    }
    drop(seg);
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn cpp_image_lists_as_its_json() {
    check_image("standard-cpp.seg", "standard-cpp.json");
}

#[test]
fn python_image_lists_as_its_json() {
    check_image("standard-py.seg", "standard-py.json");
}

#[test]
fn read_only_open_never_changes_the_file() {
    let path = golden_dir().join("standard-cpp.seg");
    let before = std::fs::read(&path).unwrap();
    let seg = SegmentOptions::new().open_path_read_only(&path).unwrap();
    assert!(seg.is_read_only());
    // Writes land in the private copy only, and table mutations are refused.
    seg.raw().write::<u32>(8, 0).unwrap();
    assert!(matches!(
        seg.add("x", 8, |_| Ok::<_, zeroipc_format::Error>(())),
        Err(zeroipc_format::Error::ReadOnly { .. })
    ));
    drop(seg);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
