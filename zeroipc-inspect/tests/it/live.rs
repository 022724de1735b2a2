//! Live segments and buffers created by the test.

use serde_json::{Value, json};
use zerobuffer::{BufferConfig, Reader, Writer};
use zeroipc_structures::{Map, Queue, Ring, Stack};

use crate::common::{TempDir, golden_dir, live_segment, run, run_json, unique};

fn find<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["name"] == name)
}

#[test]
fn live_segment_is_listed_and_shown() {
    let (name, _guard, seg) = live_segment("seg", 1 << 20, 64);
    let q = Queue::<u64>::create(&seg, "jobs", 128).expect("queue");
    for i in 0..100u64 {
        q.push(i).expect("push");
    }
    let m = Map::<u32, f32>::create(&seg, "scores", 32).expect("map");
    m.insert(7, 0.5).expect("insert");
    let s = Stack::<i16>::create(&seg, "undo", 8).expect("stack");
    s.push(-3).expect("push");
    let r = Ring::<f64>::create(&seg, "samples", 16).expect("ring");
    r.write(2.5).expect("write");

    let list = run_json(&["list", "--json"]);
    let row = find(&list, &name).expect("segment listed");
    assert_eq!(row["kind"], "zeroipc");
    assert_eq!(row["entries"], 4);
    assert_eq!(row["size"], 1 << 20);
    assert_eq!(row["uid"].as_u64(), Some(u64::from(rustix_uid())));

    // The table, via NAME and /NAME.
    let table = run_json(&["show", &format!("/{name}"), "--json"]);
    let kinds: Vec<&str> = table["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(kinds, ["queue", "map", "stack", "ring"]);

    // No type token in these names: the type is shown by size unless --as says it.
    let got = run_json(&["show", &name, "jobs", "-n", "3", "--json"]);
    assert_eq!(got["dtype_source"], "size");
    assert_eq!(got["size"], 100);
    assert_eq!(got["items"], json!([0, 1, 2]));
    assert_eq!(got["items_tail"], json!([97, 98, 99]));
    assert_eq!(got["items_omitted"], 94);
    let all = run_json(&[
        "show",
        &name,
        "jobs",
        "--all",
        "--as",
        "queue:u64",
        "--json",
    ]);
    assert_eq!(all["items"].as_array().map(Vec::len), Some(100));
    assert!(all.get("items_tail").is_none());

    let got = run_json(&["show", &name, "scores", "--as", "map:u32:f32", "--json"]);
    assert_eq!(got["items"], json!([[7, 0.5]]));
    assert_eq!(got["lookup"], json!({"7": 0.5}));
    let got = run_json(&["show", &name, "undo", "--as", "stack:i16", "--json"]);
    assert_eq!(got["items"], json!([-3]));
    let got = run_json(&["show", &name, "samples", "--as", "ring:f64", "--json"]);
    assert_eq!(got["items"], json!([2.5]));
    // A wrong element size is refused (exit 3), not misread.
    let out = run(&["show", &name, "samples", "--as", "ring:f32"]);
    assert_eq!(out.status.code(), Some(3));

    // Showing never consumed anything.
    assert_eq!(q.len().unwrap(), 100);
    assert_eq!(r.len().expect("available"), 1);

    // Dump of one structure: its first 16 bytes are head 0, tail 100, capacity 128, es 8.
    let d = run_json(&["dump", &name, "jobs", "--size", "16", "--json"]);
    assert_eq!(d["offset"], q.entry().offset());
    assert_eq!(d["hex"], "00000000640000008000000008000000");
}

fn rustix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0)
}

#[test]
fn list_detects_by_content_not_by_name() {
    let dir = TempDir::new("listdir");
    let golden = std::fs::read(golden_dir().join("standard-cpp.seg")).expect("golden");
    std::fs::write(dir.0.join("innocent.txt"), &golden).expect("copy");
    std::fs::write(dir.0.join("fake.seg"), b"not a segment at all, just text..").expect("fake");
    std::fs::write(dir.0.join("sem.sem-w-x"), [0u8; 32]).expect("sem");
    let d = dir.0.display().to_string();
    let list = run_json(&["list", "--dir", &d, "--json"]);
    let objects = list["objects"].as_array().expect("objects");
    assert_eq!(objects.len(), 1, "{list}");
    assert_eq!(objects[0]["name"], "innocent.txt");
    assert_eq!(objects[0]["kind"], "zeroipc");
    assert_eq!(objects[0]["entries"], 40);
    let all = run_json(&["list", "--dir", &d, "--all", "--json"]);
    assert_eq!(all["objects"].as_array().map(Vec::len), Some(3));
    assert_eq!(find(&all, "fake.seg").expect("fake")["kind"], "other");
    // Human table.
    let out = run(&["list", "--dir", &d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("KIND") && text.contains("innocent.txt") && text.contains("40/64 entries"),
        "{text}"
    );
}

#[test]
fn live_buffer_is_listed_and_shown() {
    let _serial = crate::common::zerobuffer_serial();
    let name = unique("buf");
    let reader = Reader::create(&name, BufferConfig::new(128, 4096)).expect("reader");
    let mut writer = Writer::connect(&name).expect("writer");
    writer.set_metadata(b"camera=front").expect("metadata");
    for i in 0..3u8 {
        writer.write_frame(&[i; 100]).expect("frame");
    }
    let me = u64::from(std::process::id());

    let got = run_json(&["show", &name, "--json"]);
    assert_eq!(got["format"], "zerobuffer");
    assert_eq!(got["metadata"]["text"], "camera=front");
    assert_eq!(got["oieb"]["payload_size"], 4096);
    assert_eq!(got["oieb"]["payload_written_count"], 3);
    assert_eq!(got["used_bytes"], 3 * 116);
    assert_eq!(got["health"], "healthy");
    assert_eq!(got["state"], "connected");
    assert_eq!(got["writer"], json!({"pid": me, "alive": true}));
    assert_eq!(got["reader"], json!({"pid": me, "alive": true}));

    let list = run_json(&["list", "--json"]);
    let row = find(&list, &name).expect("buffer listed");
    assert_eq!(row["kind"], "zerobuffer");
    assert_eq!(row["state"], "connected");
    assert_eq!(row["writer_pid"], me);
    // Its semaphores are not listed without --all.
    assert!(find(&list, &format!("sem.sem-w-{name}")).is_none());

    let text = String::from_utf8_lossy(&run(&["show", &name]).stdout).into_owned();
    assert!(
        text.contains("camera=front") && text.contains("healthy") || text.contains("Healthy"),
        "{text}"
    );

    let d = run_json(&["dump", &name, "metadata", "--size", "20", "--json"]);
    assert_eq!(d["offset"], 128);
    assert_eq!(
        &d["hex"].as_str().expect("hex")[16..40],
        "63616d6572613d66726f6e74"
    );

    let m = run_json(&[
        "monitor",
        &name,
        "--json",
        "--count",
        "1",
        "--interval",
        "20",
    ]);
    assert_eq!(m["kind"], "zerobuffer");
    assert!(
        m["frames_per_s"].is_number() && m["mb_per_s"].is_number(),
        "{m}"
    );

    drop(writer);
    let got = run_json(&["show", &name, "--json"]);
    assert_eq!(got["state"], "waiting-for-writer");
    drop(reader);
    assert_eq!(run(&["show", &name]).status.code(), Some(1));
}

#[test]
fn list_labels_the_objects_a_bridge_created() {
    use zeroipc_codata::Stream;
    use zeroipc_inspect::bridge::{MARK_SIZE, Mark};

    let (name, _guard, seg) = live_segment("brmark", 1 << 20, 64);
    // What zeroipc-bridge does when it creates a stream: the stream, then its companion.
    Stream::<f64>::create(&seg, "imu", 64).expect("stream");
    let mark = Mark {
        role: "import".into(),
        kind: "stream".into(),
        name: "imu".into(),
        key: "site1/imu".into(),
        pid: 4242,
    };
    seg.add("imu_bridge", MARK_SIZE, |r| {
        r.write_slice(0, &mark.encode())
    })
    .expect("mark");
    // Neither an unmarked stream nor a `_bridge` entry with other bytes is the bridge's.
    Stream::<u32>::create(&seg, "raw", 16).expect("stream");
    seg.add("fake_bridge", MARK_SIZE, |r| {
        r.write_slice(0, b"not a mark")
    })
    .expect("entry");
    let (plain, _g2, _seg2) = live_segment("brplain", 1 << 16, 16);

    let list = run_json(&["list", "--json"]);
    let row = find(&list, &name).expect("segment listed");
    assert_eq!(
        row["bridge"],
        json!([{"role": "import", "kind": "stream", "name": "imu", "key": "site1/imu",
                "pid": 4242}])
    );
    assert_eq!(find(&list, &plain).expect("listed")["bridge"], json!([]));
    let out = run(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(&name)).expect("row");
    assert!(
        line.contains("import stream imu (site1/imu) pid 4242"),
        "{text}"
    );
    assert!(text.lines().next().is_some_and(|h| h.contains("BRIDGE")));
    // The stream itself is read as before.
    let st = run_json(&["show", &name, "imu", "--json"]);
    assert_eq!(st["kind"], "stream", "{st}");
}
