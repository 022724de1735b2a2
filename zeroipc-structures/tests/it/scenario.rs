//! The standard interop scenario against the upstream golden images, for every structure
//! this crate implements: decode each as its JSON says, and write the scenario to get the
//! C++ image byte for byte.

use serde_json::Value;
use zeroipc_format::{Region, Segment};
use zeroipc_structures::{Array, Map, Pool, Queue, Ring, Set, Stack};

use crate::size_mismatch;
use zeroipc_testkit::{golden_bytes, golden_dir};

fn json(file: &str) -> Value {
    let text = std::fs::read_to_string(golden_dir().join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn i64s(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

fn cpp() -> Segment {
    Segment::from_bytes(&golden_bytes("standard-cpp.seg")).unwrap()
}

/// Checks a decoded queue; pops everything from the (private) copy.
fn check_queue<T: bytemuck::Pod + Into<f64>>(seg: &Segment, name: &str, want: &Value) {
    let q = Queue::<T>::open(seg, name).unwrap();
    assert_eq!(q.capacity() as u64, u(&want["capacity"]), "{name}");
    assert_eq!(std::mem::size_of::<T>() as u64, u(&want["elem_size"]));
    let (head, tail) = q.counters().unwrap();
    assert_eq!(
        (u64::from(head), u64::from(tail)),
        (u(&want["head"]), u(&want["tail"]))
    );
    assert_eq!(q.len().unwrap() as u64, u(&want["size"]));
    let mut items = Vec::new();
    while let Some(v) = q.pop().unwrap() {
        items.push(v.into());
    }
    assert_eq!(items, f64s(&want["items"]), "{name}");
}

fn check_stack<T: bytemuck::Pod + Into<i64>>(seg: &Segment, name: &str, want: &Value) {
    let s = Stack::<T>::open(seg, name).unwrap();
    assert_eq!(s.capacity() as u64, u(&want["capacity"]));
    assert_eq!(s.len().unwrap() as i64 - 1, want["top"].as_i64().unwrap());
    assert_eq!(s.len().unwrap() as u64, u(&want["size"]));
    let items: Vec<i64> = s.snapshot().unwrap().into_iter().map(Into::into).collect();
    assert_eq!(items, i64s(&want["items"]));
    let states: Vec<i64> = s
        .slot_states()
        .unwrap()
        .into_iter()
        .map(i64::from)
        .collect();
    assert_eq!(states, i64s(&want["slot_states"]));
    assert_eq!(s.peek().unwrap().map(Into::into), items.last().copied());
}

fn check_ring(seg: &Segment, name: &str, want: &Value) {
    let r = Ring::<i32>::open(seg, name).unwrap();
    if let Some(cap) = want.get("capacity_bytes") {
        assert_eq!(r.capacity_bytes(), u(cap));
        let (w, rd) = r.positions_snapshot().unwrap();
        assert_eq!((w, rd), (u(&want["write_pos"]), u(&want["read_pos"])));
    }
    let items: Vec<i64> = r.snapshot().unwrap().into_iter().map(i64::from).collect();
    assert_eq!(items, i64s(&want["items"]));
}

fn check_pool(seg: &Segment, want: &Value) {
    let p = Pool::<i32>::open(seg, "pool_i32").unwrap();
    assert_eq!(p.capacity() as u64, u(&want["capacity"]));
    assert_eq!(p.len().unwrap() as u64, u(&want["allocated"]));
    let (idx, generation) = p.free_head().unwrap();
    assert_eq!(u64::from(idx), u(&want["free_head_index"]));
    assert_eq!(u64::from(generation), u(&want["free_head_generation"]));
    assert_eq!(Pool::<i32>::NODE_SIZE as u64, u(&want["node_size"]));
    let free: Vec<i64> = p.free_list().unwrap().into_iter().map(i64::from).collect();
    assert_eq!(free, i64s(&want["free_list"]));
    for (index, value) in want["allocated_values"].as_object().unwrap() {
        let i: u32 = index.parse().unwrap();
        assert_eq!(i64::from(p.get(i).unwrap()), value.as_i64().unwrap());
    }
}

/// Checks the structures both upstream images lay out alike (queues, stacks, ring, pool);
/// returns the image's `structures` object for the rest.
fn check_shared_kinds<'a>(seg: &Segment, want: &'a Value) -> &'a Value {
    let s = &want["structures"];
    check_queue::<i32>(seg, "q_i32", &s["q_i32"]);
    check_queue::<f64>(seg, "q_f64", &s["q_f64"]);
    check_stack::<i32>(seg, "stk_i32", &s["stk_i32"]);
    check_stack::<u8>(seg, "stk_u8", &s["stk_u8"]);
    check_ring(seg, "ring_i32", &s["ring_i32"]);
    check_pool(seg, &s["pool_i32"]);
    s
}

#[test]
fn cpp_image_decodes_as_its_json() {
    let seg = cpp();
    let want = json("standard-cpp.json");
    let s = check_shared_kinds(&seg, &want);

    let m = Map::<i32, f64>::open(&seg, "map_i32_f64").unwrap();
    let w = &s["map_i32_f64"];
    assert_eq!(m.capacity() as u64, u(&w["capacity"]));
    assert_eq!(m.len().unwrap() as u64, u(&w["size"]));
    assert_eq!(Map::<i32, f64>::ENTRY_SIZE as u64, u(&w["entry_size"]));
    let mut items = m.snapshot().unwrap();
    items.sort_by_key(|(k, _)| *k);
    assert_eq!(items, vec![(1, 1.5), (2, 2.5), (3, -3.0)]);
    for (k, v) in w["lookup"].as_object().unwrap() {
        assert_eq!(m.get(&k.parse().unwrap()).unwrap(), v.as_f64());
    }

    let m = Map::<i32, i32>::open(&seg, "map_i32_i32").unwrap();
    let w = &s["map_i32_i32"];
    assert_eq!(Map::<i32, i32>::ENTRY_SIZE as u64, u(&w["entry_size"]));
    assert_eq!(m.len().unwrap() as u64, u(&w["size"]));
    for (k, v) in w["lookup"].as_object().unwrap() {
        assert_eq!(
            m.get(&k.parse().unwrap()).unwrap().map(i64::from),
            v.as_i64()
        );
    }

    let set = Set::<i32>::open(&seg, "set_i32").unwrap();
    let w = &s["set_i32"];
    assert_eq!(set.len().unwrap() as u64, u(&w["size"]));
    let mut items: Vec<i64> = set.snapshot().unwrap().into_iter().map(i64::from).collect();
    items.sort();
    assert_eq!(items, i64s(&w["items"]));
    for (v, present) in w["contains"].as_object().unwrap() {
        assert_eq!(
            set.contains(&v.parse().unwrap()).unwrap(),
            present.as_bool().unwrap()
        );
    }
}

#[test]
fn python_image_where_it_agrees_and_where_it_does_not() {
    let seg = Segment::from_bytes(&golden_bytes("standard-py.seg")).unwrap();
    let want = json("standard-py.json");
    check_shared_kinds(&seg, &want);

    // Same stride, Python hash: iteration and size work, canonical lookups miss.
    let m = Map::<i32, f64>::open(&seg, "map_i32_f64").unwrap();
    assert_eq!(m.len().unwrap(), 3);
    let mut items = m.snapshot().unwrap();
    items.sort_by_key(|(k, _)| *k);
    assert_eq!(items, vec![(1, 1.5), (2, 2.5), (3, -3.0)]);
    for k in [1, 2, 3] {
        assert_eq!(
            m.get(&k).unwrap(),
            None,
            "Python placed key {k} by its own hash"
        );
    }
    // Packed stride 16 instead of 12: rejected.
    assert_eq!(
        size_mismatch(&Map::<i32, i32>::open(&seg, "map_i32_i32")),
        Some((112, 144))
    );
    // The Python "set" is a Map<i32, u8>: rejected.
    assert_eq!(
        size_mismatch(&Set::<i32>::open(&seg, "set_i32")),
        Some((80, 144))
    );
    // Python's Stream and Channel are a bare Ring and Queue under the base name.
    let r = Ring::<i32>::open(&seg, "stream_i32").unwrap();
    assert_eq!(r.capacity_bytes(), 64);
    assert_eq!(r.positions_snapshot().unwrap(), (12, 0));
    assert_eq!(r.snapshot().unwrap(), vec![1, 2, 3]);
    let q = Queue::<i32>::open(&seg, "chan_i32").unwrap();
    assert_eq!(q.capacity(), 4);
    assert_eq!(q.counters().unwrap(), (0, 2));
    assert_eq!(q.pop().unwrap(), Some(100));
    assert_eq!(q.pop().unwrap(), Some(200));
    assert_eq!(q.pop().unwrap(), None);
    let sync = Array::<u32>::open(&seg, "chan_i32_sync");
    assert!(
        sync.is_err(),
        "16-byte sync block is not an array of u32 (8 + 4n)"
    );
    let raw = seg.region(&seg.find("chan_i32_sync").unwrap()).unwrap();
    let words: Vec<u32> = (0..4).map(|i| raw.read::<u32>(4 * i).unwrap()).collect();
    assert_eq!(words, [0, 0, 0, 4]);
}

/// Writes the scenario: the structures this crate implements through its API, every other
/// entry copied raw from the C++ image (kinds of other crates: sync, codata).
fn write_scenario(cpp_image: &[u8]) -> (Segment, Vec<String>) {
    let golden = Segment::from_bytes(cpp_image).unwrap();
    let seg = Segment::anonymous(65536, 64).unwrap();
    let mut copied = Vec::new();
    for e in golden.entries().unwrap() {
        match e.name() {
            "arr_f32" => {
                let a = Array::<f32>::create(&seg, "arr_f32", 10).unwrap();
                a.write(0, &[-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
                    .unwrap();
            }
            "arr_i64" => {
                let a = Array::<i64>::create(&seg, "arr_i64", 5).unwrap();
                a.write(0, &[-2, -1, 0, 1, 1 << 40]).unwrap();
            }
            "q_i32" => {
                let q = Queue::<i32>::create(&seg, "q_i32", 8).unwrap();
                assert_eq!(q.push_slice(&[10, 20, 30, 40, 50]).unwrap(), 5);
                q.pop().unwrap();
                q.pop().unwrap();
            }
            "q_f64" => {
                let q = Queue::<f64>::create(&seg, "q_f64", 5).unwrap();
                q.push(1.5).unwrap();
                q.push(-2.25).unwrap();
            }
            "stk_i32" => {
                let s = Stack::<i32>::create(&seg, "stk_i32", 6).unwrap();
                for v in [7, 8, 9] {
                    s.push(v).unwrap();
                }
            }
            "stk_u8" => {
                let s = Stack::<u8>::create(&seg, "stk_u8", 5).unwrap();
                for v in [1, 2, 3] {
                    s.push(v).unwrap();
                }
            }
            "ring_i32" => {
                let r = Ring::<i32>::create(&seg, "ring_i32", 8).unwrap();
                assert_eq!(r.write_slice(&[1, 2, 3, 4, 5]).unwrap(), 5);
                r.read().unwrap();
                r.read().unwrap();
            }
            "map_i32_f64" => {
                let m = Map::<i32, f64>::create(&seg, "map_i32_f64", 16).unwrap();
                for (k, v) in [(1, 1.5), (2, 2.5), (3, -3.0)] {
                    m.insert(k, v).unwrap();
                }
            }
            "map_i32_i32" => {
                let m = Map::<i32, i32>::create(&seg, "map_i32_i32", 8).unwrap();
                m.insert(4, 40).unwrap();
                m.insert(5, 50).unwrap();
            }
            "set_i32" => {
                let s = Set::<i32>::create(&seg, "set_i32", 8).unwrap();
                s.insert(5).unwrap();
                s.insert(6).unwrap();
            }
            "pool_i32" => {
                let p = Pool::<i32>::create(&seg, "pool_i32", 4).unwrap();
                for v in [111, 222] {
                    let i = p.allocate().unwrap().unwrap();
                    p.set(i, v).unwrap();
                }
            }
            other => {
                let src = golden.region(&e).unwrap().to_vec();
                seg.add(other, e.size(), |r: &Region| r.write_slice(0, &src))
                    .unwrap();
                copied.push(other.to_owned());
            }
        }
    }
    (seg, copied)
}

#[test]
fn writing_the_scenario_reproduces_the_cpp_image_byte_for_byte() {
    let image = golden_bytes("standard-cpp.seg");
    let (seg, copied) = write_scenario(&image);
    // Written through this crate's API: 11 entries (2 arrays, 2 queues, 2 stacks, ring, 2 maps, set, pool).
    assert_eq!(copied.len(), 40 - 11, "copied raw: {copied:?}");
    let ours = seg.raw().to_vec();
    assert_eq!(ours.len(), image.len());
    let first_diff = ours.iter().zip(&image).position(|(a, b)| a != b);
    assert_eq!(first_diff, None, "first differing byte");
}
