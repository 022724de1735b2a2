//! Corrupt and unrecognised images: a clear one-line error, exit 2, never a panic.

use std::path::Path;

use crate::common::{FileGuard, golden_dir, run, run_fail, unique};

fn golden_bytes() -> Vec<u8> {
    std::fs::read(golden_dir().join("standard-cpp.seg")).expect("golden image")
}

fn write_image(bytes: &[u8]) -> FileGuard {
    let path = std::env::temp_dir().join(format!("{}.seg", unique("corrupt")));
    std::fs::write(&path, bytes).expect("write image");
    FileGuard(path)
}

fn assert_exit2(path: &Path, args: &[&str], needle: &str) {
    let p = path.display().to_string();
    let mut full = vec![args[0], p.as_str()];
    full.extend_from_slice(&args[1..]);
    let (code, err) = run_fail(&full);
    assert_eq!(code, 2, "{full:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(needle), "{full:?}: {err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_magic_is_exit_2() {
    let mut b = golden_bytes();
    b[0] = 0x00;
    let img = write_image(&b);
    for cmd in [
        &["show"][..],
        &["show", "q_i32"],
        &["show", "--json"],
        &["monitor", "q_i32", "--count", "1"],
        &["dump", "q_i32"],
    ] {
        assert_exit2(&img.0, cmd, "bad magic");
    }
    // The raw dump of a corrupt image still works: that is what it is for.
    let out = run(&["dump", &img.0.display().to_string(), "--size", "32"]);
    assert!(out.status.success());
}

#[test]
fn entry_out_of_bounds_is_exit_2() {
    let mut b = golden_bytes();
    // Entry 2 (q_i32) at 32 + 48*2: offset field at +32, size at +40.
    let e = 32 + 48 * 2;
    b[e + 40..e + 48].copy_from_slice(&1_000_000u64.to_le_bytes());
    let img = write_image(&b);
    assert_exit2(&img.0, &["show"], "past memory_size");
    assert_exit2(&img.0, &["show", "q_i32", "--json"], "past memory_size");
}

#[test]
fn truncated_images_are_exit_2() {
    let b = golden_bytes();
    // Shorter than the header: neither format.
    let img = write_image(&b[..20]);
    assert_exit2(&img.0, &["show"], "truncated");
    // Header intact, table cut off.
    let img = write_image(&b[..1000]);
    assert_exit2(&img.0, &["show"], "does not fit");
    // Table intact, structures cut off: memory_size exceeds the file.
    let img = write_image(&b[..4096]);
    assert_exit2(&img.0, &["show", "q_i32"], "memory_size");
}

#[test]
fn corrupt_structure_header_is_exit_2_or_a_clear_refusal() {
    let mut b = golden_bytes();
    // q_i32 @3200: capacity 8 -> 6 (not a power of two).
    b[3208..3212].copy_from_slice(&6u32.to_le_bytes());
    let img = write_image(&b);
    let p = img.0.display().to_string();
    let (code, err) = run_fail(&["show", &p, "q_i32", "--as", "queue:i32"]);
    assert!(code == 2 || code == 3, "{code}: {err}");
    assert!(err.contains("q_i32"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Inference no longer recognises it and says so.
    let (code, err) = run_fail(&["show", &p, "q_i32"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--as"), "{err}");
}

#[test]
fn missing_targets_are_exit_1() {
    let (code, err) = run_fail(&["show", &unique("absent")]);
    assert_eq!(code, 1, "{err}");
    let g = golden_dir().join("standard-cpp.seg").display().to_string();
    let (code, err) = run_fail(&["show", &g, "no_such_entry"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no_such_entry"), "{err}");
    let (code, _) = run_fail(&["dump", "/nonexistent/dir/x.seg"]);
    assert_eq!(code, 1);
}

#[test]
fn dump_is_bounds_checked() {
    let g = golden_dir().join("standard-cpp.seg").display().to_string();
    let (code, err) = run_fail(&["dump", &g, "q_i32", "--offset", "70", "--size", "20"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("outside the 80-byte"), "{err}");
    let (code, _) = run_fail(&["dump", &g, "--offset", "65537"]);
    assert_eq!(code, 3);
    let (code, _) = run_fail(&[
        "dump",
        &g,
        "--offset",
        "18446744073709551615",
        "--size",
        "2",
    ]);
    assert_eq!(code, 3);
}

#[test]
fn corrupt_sync_and_codata_words_are_exit_2() {
    let mut b = golden_bytes();
    let put = |b: &mut Vec<u8>, off: usize, v: u32| {
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    };
    put(&mut b, 3568, 7); // once_done.state
    put(&mut b, 4256 + 4, 5); // evt.mode
    put(&mut b, 4368, 9); // fut_f64.state
    put(&mut b, 4928 + 8, 99); // lazy_f64.op.type
    b[5232 + 12] = 7; // stream_i32_header.closed
    put(&mut b, 5376, 3); // chan_i32_header.capacity (not a power of two)
    let img = write_image(&b);
    assert_exit2(&img.0, &["show", "once_done", "--as", "once"], "state");
    assert_exit2(&img.0, &["show", "evt", "--json"], "mode");
    assert_exit2(&img.0, &["show", "fut_f64", "--as", "future:f64"], "state");
    assert_exit2(&img.0, &["show", "lazy_f64", "--as", "lazy:f64"], "op type");
    assert_exit2(&img.0, &["show", "stream_i32"], "closed");
    assert_exit2(&img.0, &["show", "chan_i32", "--json"], "capacity");
    // Inference does not take the corrupt words for the kind: no exit 0 with garbage.
    let p = img.0.display().to_string();
    let out = run(&["show", &p, "once_done", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["decoded"], false, "{v}");
}
