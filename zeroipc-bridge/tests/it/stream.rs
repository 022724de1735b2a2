//! Stream links.

use zeroipc_codata::Stream;
use zeroipc_format::Segment;

use crate::{Bridge, LIMIT, Setup, eventually, link_status, listed_bridge};

/// Opens the far side's stream once the importer has created it.
fn wait_open(seg: &str, name: &str) -> (Segment, Stream<u64>) {
    let mut out = None;
    eventually("the importer to create the far stream", || {
        if let Ok(s) = Segment::open(seg)
            && let Ok(st) = Stream::<u64>::open(&s, name)
        {
            out = Some((s, st));
        }
        out.is_some()
    });
    out.unwrap()
}

#[test]
fn stream_100k_items_cross_in_order_exactly_once() {
    const N: u64 = 100_000;
    let setup = Setup::new("br");
    let (a, b, key) = (setup.a.clone(), setup.b.clone(), setup.key.clone());
    let ep = setup.ep.clone();

    let seg_a = Segment::create(&a, 4 << 20, 64).unwrap();
    let src = Stream::<u64>::create(&seg_a, "ticks", 1024).unwrap();
    let common = [
        "--kind", "stream", "--name", "ticks", "--type", "u64", "--key", &key,
    ];
    let importer = setup.bridge(
        &[
            "import",
            "--segment",
            &b,
            "--capacity",
            "512",
            "--listen",
            &ep,
        ],
        &common,
    );
    let exporter = setup.bridge(&["export", "--segment", &a, "--connect", &ep], &common);

    // The importer creates the far stream (it was missing) with the given capacity.
    let (_seg_b, far) = wait_open(&b, "ticks");
    assert_eq!(far.capacity(), 512);
    // `zeroipc-inspect list` labels it as the importer's (its companion entry, which the
    // importer adds right after creating the stream).
    let label = serde_json::json!([{"role": "import", "kind": "stream", "name": "ticks",
                                    "key": key, "pid": importer.pid}]);
    eventually("`zeroipc-inspect list` to label the far stream", || {
        listed_bridge(&b) == label
    });
    assert_eq!(
        listed_bridge(&a),
        serde_json::json!([]),
        "the exporter created nothing"
    );
    let mut sub = far.subscribe().unwrap();

    let producer = std::thread::spawn(move || {
        for i in 0..N {
            src.emit(i).unwrap();
        }
        src
    });
    for want in 0..N {
        let got = sub.recv_timeout(LIMIT).unwrap();
        assert_eq!(got, Some(want), "item {want}");
    }
    let src = producer.join().unwrap();

    // The importer reports every item and no gap; the exporter has one importer.
    eventually("the importer's status to show every item", || {
        link_status(&setup.dir.0, importer.pid).is_some_and(|s| s.items == N)
    });
    let st = link_status(&setup.dir.0, importer.pid).unwrap();
    assert_eq!((st.gap_items, st.gap_events, st.restarts), (0, 0, 0));
    assert_eq!(st.seq, N);
    // Each bridge rewrites its status file every 250 ms on its own clock, and the items can
    // cross in less: the exporter's file may still predate the importer's arrival.
    eventually("the exporter's status to show its one importer", || {
        link_status(&setup.dir.0, exporter.pid).is_some_and(|s| s.importers == 1)
    });

    // The close travels: nothing more arrives, the far stream ends, both bridges exit.
    src.close().unwrap();
    assert_eq!(
        sub.recv_timeout(LIMIT).unwrap(),
        None,
        "no item after the last"
    );
    assert!(far.is_closed().unwrap());
    exporter.wait_success();
    importer.wait_success();
}

/// The runs of values missing from `got` (ascending), as `(first missing, next present)`.
fn holes(got: &[u64]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut want = 0;
    for &v in got {
        if v != want {
            out.push((want, v));
        }
        want = v + 1;
    }
    out
}

#[test]
fn stream_importer_killed_and_restarted_counted_loss_equals_reported_gap() {
    // Items flow until the importer is killed (after the far side saw 10,000); the producer
    // goes on emitting (what the exporter sends to the dead importer is lost) until the
    // restarted importer has put an item into the far stream; then TAIL more, which all
    // arrive. How many were emitted in all depends on how long the restart took.
    const TAIL: u64 = 10_000;
    let setup = Setup::new("bk");
    let (a, b, key) = (setup.a.clone(), setup.b.clone(), setup.key.clone());
    let ep = setup.ep.clone();

    let (src, far, mut sub, _segs) = setup.streams();
    let common = [
        "--kind", "stream", "--name", "ticks", "--type", "u64", "--key", &key,
    ];
    // The exporter listens, so a restarted importer simply connects again.
    let exporter = setup.bridge(&["export", "--segment", &a, "--listen", &ep], &common);
    let import_args = setup.args(
        &[
            "import",
            "--segment",
            &b,
            "--connect",
            &ep,
            "--importer-id",
            "7",
        ],
        &common,
    );
    let importer = Bridge::start(&import_args);

    let (resumed, resumed_rx) = std::sync::mpsc::channel::<()>();
    let producer = {
        std::thread::spawn(move || {
            let mut n = 0u64;
            // Until told (or the test is gone).
            while let Err(std::sync::mpsc::TryRecvError::Empty) = resumed_rx.try_recv() {
                // Paced in chunks: a load generator, not a synchronisation (the far side
                // waits for the data itself).
                for _ in 0..100 {
                    src.emit(n).unwrap();
                    n += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            for _ in 0..TAIL {
                src.emit(n).unwrap();
                n += 1;
            }
            (src, n)
        })
    };
    // Mid-stream: kill the importer while items flow, then start it again.
    let mut got = Vec::new();
    while got.len() < 10_000 {
        got.push(sub.recv_timeout(LIMIT).unwrap().unwrap());
    }
    importer.kill();
    // Everything the killed importer put into the far stream (it is the one producer).
    let put_before = far.position().unwrap();
    let importer = Bridge::start(&import_args);
    // The link resumes: the restarted importer puts items into the far stream.
    while far.position().unwrap() <= put_before {
        got.push(sub.recv_timeout(LIMIT).unwrap().unwrap());
    }
    resumed.send(()).unwrap();
    let (src, n) = producer.join().unwrap();
    // Everything emitted after that arrives.
    while got.last() != Some(&(n - 1)) {
        got.push(sub.recv_timeout(LIMIT).unwrap().unwrap());
    }
    let holes = holes(&got);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate"
    );
    assert!(
        got.ends_with(&(n - TAIL..n).collect::<Vec<_>>()),
        "the last {TAIL} items, emitted after the link resumed, all arrive (missing: {holes:?})"
    );
    let counted = n - got.len() as u64;
    // The exporter has sent everything and the importer has taken it; their statuses carry
    // the loss each counted: the exporter what the killed importer never put in, the
    // restarted importer any message zenoh dropped while it set up the new session's routes
    // (its gap detection; see docs/BRIDGE.md).
    eventually("the exporter to have sent every item", || {
        link_status(&setup.dir.0, exporter.pid).is_some_and(|s| s.seq == n)
    });
    eventually("the importer to have taken every item", || {
        link_status(&setup.dir.0, importer.pid).is_some_and(|s| s.seq == n)
    });
    let ex = link_status(&setup.dir.0, exporter.pid).unwrap();
    let im = link_status(&setup.dir.0, importer.pid).unwrap();
    eprintln!(
        "killed importer: {counted} of {n} items lost (missing {holes:?}), exporter reports {}, \
         restarted importer {}",
        ex.gap_items, im.gap_items
    );
    assert_eq!(
        ex.gap_items + im.gap_items,
        counted,
        "reported gap = counted loss (missing: {holes:?})"
    );
    // The exporter's part is exactly the run the killed importer never put in (items are
    // their own numbers, so that run starts at what it had put in).
    let restart_loss = holes
        .iter()
        .find(|h| h.0 == put_before)
        .map_or(0, |h| h.1 - h.0);
    assert_eq!(ex.gap_items, restart_loss, "missing: {holes:?}");

    src.close().unwrap();
    assert_eq!(sub.recv_timeout(LIMIT).unwrap(), None);
    exporter.wait_success();
    importer.wait_success();
}

#[test]
fn stream_exporter_killed_and_restarted_counted_loss_equals_reported_gap() {
    // Items 0..K are emitted while the exporter runs and is killed (mid-stream, after the
    // far side saw 10,000); K..K2 after the kill, while no live exporter is subscribed
    // (more than the stream holds, so the producer blocks on the dead exporter's slot until
    // the stream frees it); K2..N after a new exporter subscribed.
    const K: u64 = 30_000;
    const K2: u64 = K + 2_048;
    const N: u64 = 50_000;
    let setup = Setup::new("bx");
    let (a, b, key) = (setup.a.clone(), setup.b.clone(), setup.key.clone());
    let ep = setup.ep.clone();

    let (src, _far, mut sub, _segs) = setup.streams();
    let common = [
        "--kind", "stream", "--name", "ticks", "--type", "u64", "--key", &key,
    ];
    // The importer listens, so a restarted exporter simply connects again.
    let importer = setup.bridge(&["import", "--segment", &b, "--listen", &ep], &common);
    let export_args = setup.args(&["export", "--segment", &a, "--connect", &ep], &common);
    let exporter = Bridge::start(&export_args);

    let (killed, killed_rx) = std::sync::mpsc::channel::<()>();
    let (phase1_done, phase1_rx) = std::sync::mpsc::channel::<()>();
    let (go_on, go_on_rx) = std::sync::mpsc::channel::<()>();
    let producer = {
        let src = src.clone();
        std::thread::spawn(move || {
            for i in 0..K {
                src.emit(i).unwrap();
            }
            killed_rx.recv().unwrap();
            for i in K..K2 {
                // Blocks while the killed exporter's slot holds the buffer, until the
                // stream frees the slot of the dead subscriber.
                src.emit(i).unwrap();
            }
            phase1_done.send(()).unwrap();
            go_on_rx.recv().unwrap();
            for i in K2..N {
                src.emit(i).unwrap();
            }
        })
    };
    let mut got = Vec::with_capacity(N as usize);
    while got.len() < 10_000 {
        got.push(sub.recv_timeout(LIMIT).unwrap().unwrap());
    }
    exporter.kill();
    killed.send(()).unwrap();
    phase1_rx.recv_timeout(LIMIT).unwrap();
    // The dead exporter's subscription was freed (the producer could go on) and nobody
    // subscribes now: what of 0..K2 the old exporter did not publish is lost.
    assert_eq!(src.subscribers().unwrap(), 0);
    let exporter = Bridge::start(&export_args);
    eventually("the restarted exporter to subscribe", || {
        src.subscribers().unwrap() == 1
    });
    go_on.send(()).unwrap();
    // The link resumes: the last item arrives.
    while got.last() != Some(&(N - 1)) {
        got.push(sub.recv_timeout(LIMIT).unwrap().unwrap());
    }
    producer.join().unwrap();
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicate"
    );
    assert!(
        got.ends_with(&(K2..N).collect::<Vec<_>>()),
        "everything emitted after the restart arrives"
    );
    let counted = N - got.len() as u64;
    assert!(counted > 0, "items emitted while no exporter ran are lost");
    eventually(
        "the importer's status to show every item it delivered",
        || link_status(&setup.dir.0, importer.pid).is_some_and(|s| s.items == got.len() as u64),
    );
    let im = link_status(&setup.dir.0, importer.pid).unwrap();
    eprintln!(
        "killed exporter: {counted} items lost, importer reports {} in {} gap(s)",
        im.gap_items, im.gap_events
    );
    assert_eq!(
        im.gap_items,
        counted,
        "reported gap = counted loss (missing: {:?})",
        holes(&got)
    );
    assert_eq!((im.gap_events, im.restarts), (1, 1));

    src.close().unwrap();
    assert_eq!(sub.recv_timeout(LIMIT).unwrap(), None);
    exporter.wait_success();
    importer.wait_success();
}
