//! `show --json` on the upstream golden images equals the decoded JSON beside them.

use serde_json::Value;

use crate::common::{golden_dir, run, run_json};

/// Every kind the golden C++ image holds: the data structures, the synchronisation primitives
/// and the codata.
const KINDS: [&str; 20] = [
    "array",
    "queue",
    "stack",
    "ring",
    "map",
    "set",
    "pool",
    "semaphore",
    "mutex",
    "rwlock",
    "monitor",
    "barrier",
    "latch",
    "once",
    "event",
    "signal",
    "future",
    "lazy",
    "stream",
    "channel",
];

/// Kinds without an element type (`--as KIND`): the synchronisation primitives but the
/// signal, `KINDS[7..15]`.
const UNTYPED: &[&str] = KINDS.split_at(7).1.split_at(8).0;

fn golden(stem: &str) -> (String, Value) {
    let dir = golden_dir();
    let seg = dir.join(format!("{stem}.seg")).display().to_string();
    let text = std::fs::read_to_string(dir.join(format!("{stem}.json"))).expect("golden json");
    (seg, serde_json::from_str(&text).expect("parse golden json"))
}

/// `map` items are compared as a set of pairs (their order is not significant).
fn sorted_pairs(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_array()
        .expect("items array")
        .iter()
        .map(Value::to_string)
        .collect();
    items.sort();
    items
}

fn assert_fields(name: &str, want: &Value, got: &Value) {
    let want = want.as_object().expect("golden structure object");
    for (key, expected) in want {
        let actual = got
            .get(key)
            .unwrap_or_else(|| panic!("{name}: field {key:?} missing in {got}"));
        if want.get("kind").and_then(Value::as_str) == Some("map") && key == "items" {
            assert_eq!(sorted_pairs(expected), sorted_pairs(actual), "{name}.{key}");
        } else {
            assert_eq!(expected, actual, "{name}.{key}");
        }
    }
}

fn spec_of(s: &Value) -> String {
    let short = |d: &str| {
        d.replace("uint", "u")
            .replace("int", "i")
            .replace("float", "f")
    };
    let kind = s["kind"].as_str().expect("kind");
    if UNTYPED.contains(&kind) {
        kind.to_owned()
    } else if kind == "map" {
        format!(
            "map:{}:{}",
            short(s["key_dtype"].as_str().expect("key")),
            short(s["value_dtype"].as_str().expect("value"))
        )
    } else {
        format!("{kind}:{}", short(s["dtype"].as_str().expect("dtype")))
    }
}

#[test]
fn cpp_image_decodes_every_structure_kind_as_the_golden_json() {
    let (seg, want) = golden("standard-cpp");
    let structures = want["structures"].as_object().expect("structures");
    assert_eq!(
        structures.len(),
        27,
        "the golden file's canonical structures"
    );
    let mut seen = std::collections::BTreeSet::new();
    for (name, s) in structures {
        let kind = s["kind"].as_str().expect("kind");
        assert!(KINDS.contains(&kind), "{name}: unexpected kind {kind}");
        seen.insert(kind);
        // Inferred kind and type ...
        let got = run_json(&["show", &seg, name, "--json"]);
        assert_fields(name, s, &got);
        let source = if UNTYPED.contains(&kind) {
            Value::Null
        } else if name == "fut_err" {
            // No type token: the element size comes from where the error message starts.
            Value::from("size")
        } else {
            Value::from("name")
        };
        assert_eq!(
            got.get("dtype_source").cloned().unwrap_or(Value::Null),
            source,
            "{name}"
        );
        // ... and the same with an explicit --as.
        let spec = spec_of(s);
        let got = run_json(&["show", &seg, name, "--as", &spec, "--json"]);
        assert_fields(name, s, &got);
        if !UNTYPED.contains(&kind) {
            assert_eq!(got["dtype_source"], "option", "{name}");
        }
    }
    assert_eq!(seen.len(), KINDS.len(), "every kind covered: {seen:?}");
}

#[test]
fn cpp_image_sync_and_codata_details() {
    let (seg, _) = golden("standard-cpp");
    // Composite structures list their parts; a stream and a channel have no entry of their
    // own name, so offset and bytes are null.
    let s = run_json(&["show", &seg, "stream_i32", "--json"]);
    assert_eq!(s["offset"], Value::Null);
    assert_eq!(s["parts"][0]["name"], "stream_i32_header");
    assert_eq!(s["parts"][1]["name"], "stream_i32_buffer");
    assert_eq!(
        (s["write_pos"].as_u64(), s["read_pos"].as_u64()),
        (Some(12), Some(0))
    );
    // Upstream streams have no subscriber table.
    assert_eq!(s["subscriber_slots"], Value::Null);
    let c = run_json(&["show", &seg, "chan_i32", "--json"]);
    assert_eq!(c["buffered"], true);
    assert_eq!(c["live_senders"], Value::Null, "no peer registry upstream");
    assert_eq!(c["waiting_senders"], 0);
    let rw = run_json(&["show", &seg, "rw", "--json"]);
    assert_eq!(rw["parts"].as_array().map(Vec::len), Some(4));
    // The mutex of an upstream image records no owner.
    let m = run_json(&["show", &seg, "mtx", "--json"]);
    assert_eq!(m["tracks_owner"], false);
    assert_eq!(m["owner_pid"], Value::Null);
    let l = run_json(&["show", &seg, "lazy_f64", "--json"]);
    assert_eq!(
        l["op"],
        serde_json::json!({"type": "constant", "value": 6.5})
    );
    assert_eq!(l["state_name"], "computed");
    // An auxiliary entry is labelled, not decoded.
    let aux = run_json(&["show", &seg, "rw_state", "--json"]);
    assert_eq!(aux["kind"], "rwlock (state)");
    assert_eq!(aux["decoded"], false);
    // The wrong kind is refused by the structure's own open (exit 3), never misread.
    let out = run(&["show", &seg, "sem", "--as", "mutex"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_count"));
    let out = run(&["show", &seg, "stream_i32", "--as", "stream:i64"]);
    assert_eq!(out.status.code(), Some(3));
    // Untyped kinds take no type, typed codata kinds need one.
    let out = run(&["show", &seg, "sem", "--as", "semaphore:i32"]);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&["show", &seg, "fut_f64", "--as", "future"]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn cpp_image_header_and_table_equal_the_golden_json() {
    let (seg, want) = golden("standard-cpp");
    let got = run_json(&["show", &seg, "--json"]);
    assert_eq!(got["format"], "zeroipc");
    assert_eq!(got["header"], want["header"]);
    assert_eq!(got["file_size"], want["file_size"]);
    let entries = got["entries"].as_array().expect("entries");
    let want_entries = want["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), want_entries.len());
    for (g, w) in entries.iter().zip(want_entries) {
        for key in ["name", "offset", "size"] {
            assert_eq!(g[key], w[key], "{key} of {w}");
        }
    }
    assert_eq!(got["table_size"], 3104);
    assert_eq!(got["used_bytes"], 5456 - 3104);
    assert_eq!(got["free_bytes"], 65536 - 5456);
    // Every entry that is a canonical structure gets its kind (and type); the auxiliary
    // entries of composite structures are labelled with their role.
    let structures = want["structures"].as_object().expect("structures");
    for e in entries {
        let name = e["name"].as_str().expect("name");
        let kind = e["kind"].as_str().unwrap_or("-");
        match structures.get(name) {
            Some(s) => {
                assert_eq!(kind, s["kind"], "{name}");
                if let Some(d) = s.get("dtype") {
                    assert_eq!(&e["dtype"], d, "{name}");
                }
            }
            None => assert!(kind.contains(" ("), "{name}: {kind}"),
        }
    }
    let kind_of = |n: &str| {
        entries
            .iter()
            .find(|e| e["name"] == n)
            .map(|e| e["kind"].clone())
            .expect("entry")
    };
    assert_eq!(kind_of("mon_cond"), "monitor (condition)");
    assert_eq!(kind_of("stream_i32_header"), "stream (header)");
    assert_eq!(kind_of("chan_i32_buffer"), "channel (buffer)");
}

#[test]
fn python_image_reads_as_the_spec_says() {
    let (seg, want) = golden("standard-py");
    let structures = want["structures"].as_object().expect("structures");
    // Byte-identical to the C++ image, or (signal state, future) the unpadded Python sizes that
    // the minimum-size rule accepts: decode as the JSON says.
    for name in [
        "arr_f32",
        "arr_i64",
        "q_i32",
        "q_f64",
        "stk_i32",
        "stk_u8",
        "ring_i32",
        "pool_i32",
        "sem",
        "mtx",
        "bar",
        "lat",
        "once_done",
        "once_pend",
        "rw",
        "mon",
        "evt",
        "sig_f64",
        "sig_i32",
        "fut_f64",
        "fut_err",
    ] {
        let got = run_json(&["show", &seg, name, "--json"]);
        assert_fields(name, &structures[name], &got);
    }
    // Python hash: the items are read, canonical lookups miss.
    let got = run_json(&["show", &seg, "map_i32_f64", "--json"]);
    assert_eq!(got["size"], 3);
    assert_eq!(
        sorted_pairs(&got["items"]),
        sorted_pairs(&structures["map_i32_f64"]["items"])
    );
    assert_eq!(got["lookup"]["1"], Value::Null);
    // Python stride: the map does not open as map:i32:i32 (layout mismatch, exit 3) ...
    let out = run(&["show", &seg, "map_i32_i32", "--as", "map:i32:i32"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("map_i32_i32"));
    // ... and Python's stream/channel entries open as ring and queue.
    let ring = run_json(&["show", &seg, "stream_i32", "--json"]);
    assert_eq!(ring["kind"], "ring");
    assert_eq!(ring["items"], serde_json::json!([1, 2, 3]));
    let q = run_json(&["show", &seg, "chan_i32", "--json"]);
    assert_eq!(q["kind"], "queue");
    assert_eq!(q["items"], serde_json::json!([100, 200]));
}

#[test]
fn human_output_of_the_golden_image() {
    let (seg, _) = golden("standard-cpp");
    let out = run(&["show", &seg]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("entries 40/64"), "{text}");
    assert!(text.contains("map<int32,float64>"), "{text}");
    let out = run(&["show", &seg, "q_i32"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("items") && text.contains("[30,40,50]"),
        "{text}"
    );
}
