//! Arrays in the upstream golden images, and byte-identical writing of the same scenario.

use serde_json::Value;
use zeroipc_format::Segment;
use zeroipc_structures::Array;
use zeroipc_testkit::{golden_bytes, golden_dir};

fn scenario_values(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(golden_dir().join("standard-scenario.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["structures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()["values"]
        .as_array()
        .unwrap()
        .clone()
}

fn decoded_values(json: &str, name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(golden_dir().join(json)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["structures"][name]["values"].as_array().unwrap().clone()
}

fn check_arrays(image: &str, json: &str) {
    let seg = Segment::from_bytes(&golden_bytes(image)).unwrap();
    let f32s = Array::<f32>::open(&seg, "arr_f32").unwrap();
    let want: Vec<f32> = decoded_values(json, "arr_f32")
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(f32s.len(), 10);
    assert_eq!(f32s.to_vec(), want);
    let i64s = Array::<i64>::open_with_capacity(&seg, "arr_i64", 5).unwrap();
    let want: Vec<i64> = decoded_values(json, "arr_i64")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(i64s.to_vec(), want);
    assert_eq!(i64s.get(4), Some(1_099_511_627_776));
}

#[test]
fn cpp_image_arrays_read_back_exactly() {
    check_arrays("standard-cpp.seg", "standard-cpp.json");
}

#[test]
fn python_image_arrays_read_back_exactly() {
    check_arrays("standard-py.seg", "standard-py.json");
}

#[test]
fn writing_the_scenario_arrays_matches_the_cpp_image_byte_for_byte() {
    let cpp = golden_bytes("standard-cpp.seg");
    let seg = Segment::anonymous(65536, 64).unwrap();
    let f32s: Vec<f32> = scenario_values("arr_f32")
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let i64s: Vec<i64> = scenario_values("arr_i64")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    Array::<f32>::create(&seg, "arr_f32", f32s.len())
        .unwrap()
        .write(0, &f32s)
        .unwrap();
    Array::<i64>::create(&seg, "arr_i64", i64s.len())
        .unwrap()
        .write(0, &i64s)
        .unwrap();
    let ours = seg.raw().to_vec();

    // Header: magic, version, max_entries, memory_size (entry_count and next_offset differ
    // because the C++ image holds 40 structures).
    assert_eq!(ours[0..8], cpp[0..8], "magic and version");
    assert_eq!(ours[12..24], cpp[12..24], "max_entries and memory_size");
    // The two entries, name padding included.
    assert_eq!(ours[32..128], cpp[32..128], "entries arr_f32 and arr_i64");
    // The two arrays: 48 bytes each from 3104.
    assert_eq!(ours[3104..3200], cpp[3104..3200], "array bytes");
    assert_eq!(seg.header().unwrap().next_offset, 3200);
}
