//! Stream operators `take_while`, `skip_while`, rolling statistics, `batch`, and lazy
//! subscription (`Stream::on_subscribe`) across processes.

use std::time::Duration;

use zeroipc_codata::{Error, Stream};
use zeroipc_testkit::role;

use crate::{LIMIT, child_open, eventually, segment, spawn};

const LONG: Duration = Duration::from_secs(60);

fn collect<T: bytemuck::Pod>(s: &Stream<T>) -> zeroipc_codata::Subscription<T> {
    s.subscribe().unwrap()
}

#[test]
fn take_while_and_skip_while_agree_with_iterator_adapters() {
    let (seg, _g, _name) = segment("cdtw", 1 << 20);
    let raw = Stream::<i32>::create(&seg, "raw", 256).unwrap();
    let tw = raw.take_while(&seg, "tw", |x| *x < 50).unwrap();
    let sw = raw.skip_while(&seg, "sw", |x| *x < 50).unwrap();
    let (a, b) = (collect(&tw), collect(&sw));
    let input: Vec<i32> = (0..100).map(|i| (i * 37) % 101).collect();
    for &x in &input {
        raw.emit(x).unwrap();
    }
    raw.close().unwrap();
    let want_a: Vec<i32> = input.iter().copied().take_while(|x| *x < 50).collect();
    let want_b: Vec<i32> = input.iter().copied().skip_while(|x| *x < 50).collect();
    assert_eq!(a.collect::<Result<Vec<_>, _>>().unwrap(), want_a);
    assert_eq!(b.collect::<Result<Vec<_>, _>>().unwrap(), want_b);
    tw.join().unwrap();
    sw.join().unwrap();
}

#[test]
fn rolling_statistics_match_a_sliding_window_model() {
    let (seg, _g, _name) = segment("cdroll", 1 << 20);
    let raw = Stream::<i32>::create(&seg, "raw", 256).unwrap();
    let sum = raw.rolling_sum(&seg, "sum", 4).unwrap();
    let min = raw.rolling_min(&seg, "min", 4).unwrap();
    let max = raw.rolling_max(&seg, "max", 4).unwrap();
    let mean = raw.rolling_mean(&seg, "mean", 4).unwrap();
    let subs = (collect(&sum), collect(&min), collect(&max), collect(&mean));
    let input: Vec<i32> = (0..60).map(|i| (i * 7919) % 113 - 56).collect();
    for &x in &input {
        raw.emit(x).unwrap();
    }
    raw.close().unwrap();
    let w: Vec<&[i32]> = input.windows(4).collect();
    let got_sum: Vec<i32> = subs.0.collect::<Result<_, _>>().unwrap();
    let got_min: Vec<i32> = subs.1.collect::<Result<_, _>>().unwrap();
    let got_max: Vec<i32> = subs.2.collect::<Result<_, _>>().unwrap();
    let got_mean: Vec<f64> = subs.3.collect::<Result<_, _>>().unwrap();
    assert_eq!(
        got_sum,
        w.iter().map(|w| w.iter().sum()).collect::<Vec<i32>>()
    );
    assert_eq!(
        got_min,
        w.iter()
            .map(|w| *w.iter().min().unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        got_max,
        w.iter()
            .map(|w| *w.iter().max().unwrap())
            .collect::<Vec<_>>()
    );
    let want_mean: Vec<f64> = w
        .iter()
        .map(|w| w.iter().map(|x| f64::from(*x)).sum::<f64>() / 4.0)
        .collect();
    assert_eq!(got_mean, want_mean);
    assert!(matches!(
        raw.rolling_sum(&seg, "zero", 0),
        Err(Error::Format(zeroipc_format::Error::InvalidArgument(_)))
    ));
}

#[test]
fn batch_groups_elements_and_keeps_the_tail() {
    let (seg, _g, _name) = segment("cdbatch", 1 << 20);
    let raw = Stream::<u16>::create(&seg, "raw", 64).unwrap();
    let batches = raw.subscribe().unwrap().batch(3);
    let producer = {
        let raw = raw.clone();
        std::thread::spawn(move || {
            for x in 0..10u16 {
                raw.emit(x).unwrap();
            }
            raw.close().unwrap();
        })
    };
    let got: Vec<Vec<u16>> = batches.collect::<Result<_, _>>().unwrap();
    producer.join().unwrap();
    let want: Vec<Vec<u16>> = (0..10u16)
        .collect::<Vec<_>>()
        .chunks(3)
        .map(<[u16]>::to_vec)
        .collect();
    assert_eq!(got, want);
}

#[test]
fn eager_derived_stream_subscribes_at_declaration() {
    let (seg, _g, _name) = segment("cdeager", 1 << 20);
    let raw = Stream::<u32>::create(&seg, "raw", 64).unwrap();
    let _d = raw.map(&seg, "d", |x| x + 1).unwrap();
    assert_eq!(
        raw.subscribers().unwrap(),
        1,
        "eager: subscribed with no listener"
    );
}

/// Lazy subscription across processes: the derived stream's driver subscribes to the source
/// only while another process subscribes to the derived stream, pauses when it leaves, and
/// resumes for the next subscriber.
#[test]
fn lazy_derived_stream_runs_only_while_another_process_subscribes() {
    if let Some(r) = role() {
        let (_seg, d) = child_open(Stream::<u32>::open, "doubled");
        let sub = d.subscribe().unwrap();
        let want: Vec<u32> = if r == "first" {
            vec![2, 4, 6, 8, 10]
        } else {
            vec![14] // nothing emitted while paused, and then the stream closes
        };
        let mut got = Vec::new();
        let mut sub = sub;
        while got.len() < want.len() {
            match sub.recv_timeout(LONG).unwrap() {
                Some(v) => got.push(v),
                None => break,
            }
        }
        assert_eq!(got, want);
        if r == "second" {
            assert_eq!(
                sub.recv_timeout(LONG).unwrap(),
                None,
                "closed after the source"
            );
        }
        return;
    }
    let (seg, _g, name) = segment("cdlazysub", 1 << 20);
    let raw = Stream::<u32>::create(&seg, "raw", 64).unwrap();
    let doubled = raw.on_subscribe().map(&seg, "doubled", |x| x * 2).unwrap();
    assert_eq!(
        raw.subscribers().unwrap(),
        0,
        "no listener: no subscription"
    );
    let test = "stream_ops::lazy_derived_stream_runs_only_while_another_process_subscribes";

    let first = spawn(test, &["first"], &name);
    assert!(
        eventually(LONG, || raw.subscribers().unwrap() == 1),
        "the first subscriber starts the driver"
    );
    for x in 1..=5 {
        raw.emit(x).unwrap();
    }
    for k in first {
        k.wait_success(LIMIT);
    }
    assert!(
        eventually(LONG, || raw.subscribers().unwrap() == 0),
        "the last subscriber leaving pauses the driver"
    );
    assert_eq!(doubled.sequence().unwrap(), 5);
    for x in [100, 101] {
        raw.emit(x).unwrap(); // nobody listens: not processed
    }
    assert_eq!(doubled.sequence().unwrap(), 5, "paused: nothing processed");

    let second = spawn(test, &["second"], &name);
    assert!(
        eventually(LONG, || raw.subscribers().unwrap() == 1),
        "a new subscriber resumes the driver"
    );
    raw.emit(7).unwrap();
    raw.close().unwrap();
    for k in second {
        k.wait_success(LIMIT);
    }
    doubled.join().unwrap();
}
