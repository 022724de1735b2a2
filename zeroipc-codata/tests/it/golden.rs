//! Codata structures in the upstream C++ golden image, and byte-identical writing.

use serde_json::Value;
use zeroipc_codata::{Channel, Error, Future, FutureState, Lazy, LazyOp, LazyState};
use zeroipc_format::Segment;
use zeroipc_testkit::{golden_bytes, golden_dir};

fn cpp() -> Segment {
    Segment::from_bytes(&golden_bytes("standard-cpp.seg")).unwrap()
}

fn decoded() -> Value {
    let text = std::fs::read_to_string(golden_dir().join("standard-cpp.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["structures"].clone()
}

fn bytes(seg: &Segment, name: &str) -> Vec<u8> {
    seg.region(&seg.find(name).unwrap()).unwrap().to_vec()
}

/// Asserts that each of the entries `names` of `seg` holds the same bytes as in `golden`.
fn same_bytes(seg: &Segment, golden: &Segment, names: &[&str]) {
    for name in names {
        same_except(seg, golden, name, 0..0);
    }
}

#[test]
fn fut_f64_reads_3_25() {
    let seg = cpp();
    let s = decoded();
    let f = Future::<f64>::open(&seg, "fut_f64").unwrap();
    assert_eq!(f.state().unwrap(), FutureState::Ready);
    assert!(f.is_ready().unwrap());
    assert_eq!(f.try_get().unwrap(), Some(3.25));
    assert_eq!(f.get().unwrap(), s["fut_f64"]["value"].as_f64().unwrap());
    assert_eq!(
        u64::from(f.waiters().unwrap()),
        s["fut_f64"]["waiters"].as_u64().unwrap()
    );
    assert_ne!(f.completion_time().unwrap(), 0);
    assert!(matches!(f.set_value(1.0), Err(Error::AlreadySet { .. })));
}

#[test]
fn fut_err_gives_the_error_boom() {
    let seg = cpp();
    let f = Future::<i32>::open(&seg, "fut_err").unwrap();
    assert_eq!(f.state().unwrap(), FutureState::Error);
    let e = f.try_get().unwrap_err();
    assert_eq!(e.failure_message(), Some("boom"));
    assert_eq!(
        f.get().unwrap_err().failure_message(),
        decoded()["fut_err"]["error_msg"].as_str()
    );
}

#[test]
fn lazy_f64_is_computed_with_6_5() {
    let seg = cpp();
    let l = Lazy::<f64>::open(&seg, "lazy_f64").unwrap();
    assert_eq!(l.state().unwrap(), LazyState::Computed);
    assert_eq!(l.op().unwrap(), LazyOp::Constant(6.5));
    assert_eq!(l.try_get().unwrap(), Some(6.5));
    assert_eq!(l.force().unwrap(), 6.5);
    assert_eq!(l.get_or_compute(|| 0.0).unwrap(), 6.5);
    assert_eq!(l.compute_count().unwrap(), 0);
    assert!(
        !l.detects_dead_computer(),
        "upstream lazies have no owner entry"
    );
    assert_eq!(decoded()["lazy_f64"]["value"].as_f64(), Some(6.5));
}

#[test]
fn chan_i32_yields_100_and_200_then_empty() {
    let seg = cpp();
    let c = Channel::<i32>::open(&seg, "chan_i32").unwrap();
    assert!(c.is_buffered());
    assert_eq!(c.capacity(), 4);
    assert_eq!(c.len().unwrap(), 2);
    assert!(!c.is_closed().unwrap());
    assert_eq!(c.live_senders().unwrap(), None, "no peer registry upstream");
    assert_eq!(c.try_recv().unwrap(), Some(100));
    assert_eq!(c.try_recv().unwrap(), Some(200));
    assert_eq!(c.try_recv().unwrap(), None);
}

#[test]
fn python_image_lazy_is_rejected_and_futures_read() {
    let seg = Segment::from_bytes(&golden_bytes("standard-py.seg")).unwrap();
    assert!(matches!(
        Lazy::<f64>::open(&seg, "lazy_f64"),
        Err(zeroipc_codata::Error::Format(
            zeroipc_codata::FormatError::SizeMismatch { found: 268, .. }
        ))
    ));
    assert_eq!(
        Future::<f64>::open(&seg, "fut_f64")
            .unwrap()
            .try_get()
            .unwrap(),
        Some(3.25)
    );
    let e = Future::<i32>::open(&seg, "fut_err").unwrap().try_get();
    assert_eq!(e.unwrap_err().failure_message(), Some("boom"));
    assert!(matches!(
        Channel::<i32>::open(&seg, "chan_i32"),
        Err(Error::Format(zeroipc_format::Error::NotFound { .. }))
    ));
}

/// Compares two structure images, ignoring `skip` (the time stamp).
/// Asserts that the entry `name` of `seg` holds the bytes it holds in `golden`, except in
/// `skip`.
fn same_except(seg: &Segment, golden: &Segment, name: &str, skip: std::ops::Range<usize>) {
    let (ours, theirs) = (bytes(seg, name), bytes(golden, name));
    assert_eq!(ours.len(), theirs.len(), "{name}: size");
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if !skip.contains(&i) {
            assert_eq!(a, b, "{name}: byte {i} differs");
        }
    }
}

#[test]
fn writing_the_scenario_gives_byte_identical_structures() {
    let golden = cpp();
    let seg = Segment::anonymous(1 << 16, 64).unwrap();

    Future::<f64>::create(&seg, "fut_f64")
        .unwrap()
        .set_value(3.25)
        .unwrap();
    same_except(&seg, &golden, "fut_f64", 8..16);

    Future::<i32>::create(&seg, "fut_err")
        .unwrap()
        .set_error("boom")
        .unwrap();
    same_except(&seg, &golden, "fut_err", 8..16);

    Lazy::<f64>::create_constant(&seg, "lazy_f64", 6.5).unwrap();
    same_bytes(&seg, &golden, &["lazy_f64"]);

    let c = Channel::<i32>::create(&seg, "chan_i32", 4).unwrap();
    c.send(100).unwrap();
    c.send(200).unwrap();
    same_bytes(&seg, &golden, &["chan_i32_header", "chan_i32_buffer"]);
}

#[test]
fn stream_i32_yields_1_2_3() {
    let seg = cpp();
    let s = decoded();
    let st = zeroipc_codata::Stream::<i32>::open(&seg, "stream_i32").unwrap();
    assert_eq!(st.sequence().unwrap(), 3);
    assert_eq!(
        st.sequence().unwrap(),
        s["stream_i32"]["sequence"].as_u64().unwrap()
    );
    assert_eq!(st.capacity(), 16);
    assert_eq!(st.subscribers().unwrap(), 0);
    assert!(!st.is_closed().unwrap());
    assert_eq!(st.transform().unwrap(), "");
    assert!(
        st.subscribe().is_err(),
        "upstream streams have no subscriber slots"
    );
    let got: Vec<i32> = std::iter::from_fn(|| st.try_next().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
    let items: Vec<i64> = s["stream_i32"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(items, [1, 2, 3]);
}

#[test]
fn writing_the_stream_scenario_gives_byte_identical_entries() {
    let golden = cpp();
    let seg = Segment::anonymous(1 << 16, 64).unwrap();
    let st = zeroipc_codata::Stream::<i32>::create(&seg, "stream_i32", 16).unwrap();
    for v in [1, 2, 3] {
        st.emit(v).unwrap();
    }
    same_bytes(&seg, &golden, &["stream_i32_header", "stream_i32_buffer"]);
}
