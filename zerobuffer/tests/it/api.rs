//! The lifecycle and convenience API: `DuplexServer::start`, `Writer::connect_timeout`,
//! `Reader::wait_for_writer`, zero-copy metadata, writer counters, gather writes.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zerobuffer::{BufferConfig, DuplexClient, DuplexServer, Error, OwnedFrame, Reader, Writer};

use crate::common::{Peer, assert_clean, close_both, close_reader, create, pattern, unique};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn writer_counters_count_committed_frames_and_payload_bytes() {
    let name = unique("api-count");
    let reader = create(&name, BufferConfig::new(0, 4096)).unwrap();
    let mut w = Writer::connect(&name).unwrap();
    assert_eq!((w.frames_written(), w.bytes_written()), (0, 0));
    assert_eq!(w.write_timeout(), zerobuffer::DEFAULT_WRITE_TIMEOUT);
    w.set_write_timeout(Duration::from_millis(123));
    assert_eq!(w.write_timeout(), Duration::from_millis(123));
    let mut total = 0;
    for i in 0..50 {
        let data = pattern(i, 1, 200);
        total += data.len() as u64;
        w.write_frame(&data).unwrap();
        let f = reader.read_frame_timeout(LONG).unwrap().unwrap();
        assert_eq!(f.data(), &data[..]);
    }
    // A zero-copy frame counts once committed, an abandoned reservation never.
    w.get_frame_buffer(10).unwrap().fill(1);
    assert_eq!(w.frames_written(), 50);
    w.get_frame_buffer(7).unwrap().fill(2);
    w.commit_frame().unwrap();
    assert_eq!((w.frames_written(), w.bytes_written()), (51, total + 7));
    close_both(reader, w, &name);
}

#[test]
fn frame_parts_are_written_back_to_back_as_one_frame() {
    let name = unique("api-parts");
    let reader = create(&name, BufferConfig::new(0, 4096)).unwrap();
    let mut w = Writer::connect(&name).unwrap();
    let (a, b, c) = (pattern(1, 3, 3), pattern(2, 500, 500), pattern(3, 1, 1));
    let seq = w.write_frame_parts(&[&a, &[], &b, &c]).unwrap();
    let f = reader.read_frame_timeout(LONG).unwrap().unwrap();
    assert_eq!(f.sequence(), seq);
    assert_eq!(f.data(), &[&a[..], &b[..], &c[..]].concat()[..]);
    drop(f);
    assert_eq!((w.frames_written(), w.bytes_written()), (1, 504));
    // No bytes at all is an empty frame; more than the ring takes is too large.
    assert!(matches!(
        w.write_frame_parts(&[&[], &[]]),
        Err(Error::InvalidFrameSize { .. })
    ));
    let big = vec![0u8; 3000];
    assert!(matches!(
        w.write_frame_parts(&[&big, &big]),
        Err(Error::FrameTooLarge { .. })
    ));
    // With no timeout, a full ring is `BufferFull` at once and nothing is written.
    let mut written = 0;
    while w
        .write_frame_parts_timeout(&[&b, &b], Duration::ZERO)
        .is_ok()
    {
        written += 1;
    }
    assert!(
        written >= 2,
        "{written} frames of 1000 bytes in a 4096-byte ring"
    );
    assert!(matches!(
        w.write_frame_parts_timeout(&[&b, &b], Duration::ZERO),
        Err(Error::BufferFull { .. })
    ));
    for _ in 0..written {
        let f = reader.read_frame_timeout(LONG).unwrap().unwrap();
        assert_eq!(f.data(), &[&b[..], &b[..]].concat()[..]);
    }
    assert!(reader.try_read_frame().unwrap().is_none());
    assert_eq!(w.frames_written(), 1 + written);
    close_both(reader, w, &name);
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Header {
    width: u32,
    height: u32,
    stamp: u64,
}

#[test]
fn metadata_ref_borrows_in_place_and_metadata_as_checks_the_size() {
    let name = unique("api-meta");
    let reader = create(&name, BufferConfig::new(256, 4096)).unwrap();
    assert_eq!(reader.metadata_ref().unwrap(), None);
    assert_eq!(reader.metadata_as::<Header>().unwrap(), None);
    let mut w = Writer::connect(&name).unwrap();
    let h = Header {
        width: 640,
        height: 480,
        stamp: 0xDEAD_BEEF_0000_0001,
    };
    let mut bytes = bytemuck::bytes_of(&h).to_vec();
    bytes.extend_from_slice(b"trailer");
    w.set_metadata(&bytes).unwrap();
    let borrowed = reader.metadata_ref().unwrap().unwrap();
    assert_eq!(borrowed, &bytes[..]);
    assert_eq!(reader.metadata().unwrap().unwrap(), bytes, "copy agrees");
    assert_eq!(reader.metadata_as::<Header>().unwrap(), Some(&h));
    let too_big = reader.metadata_as::<[u64; 8]>();
    match too_big {
        Err(Error::InvalidMetadata { what }) => {
            assert!(
                what.contains("23 bytes") && what.contains("64-byte"),
                "{what}"
            )
        }
        other => panic!("expected InvalidMetadata, got {other:?}"),
    }
    close_both(reader, w, &name);
}

#[test]
fn wait_for_writer_times_out_then_sees_a_writer_of_another_thread() {
    let name = unique("api-waitw");
    let reader = create(&name, BufferConfig::new(0, 4096)).unwrap();
    assert!(!reader.wait_for_writer(Duration::from_millis(20)));
    let n = name.clone();
    let (tx, rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let _w = Writer::connect(&n).unwrap();
        rx.recv().unwrap(); // hold the writer until the reader saw it
    });
    assert!(reader.wait_for_writer(LONG));
    tx.send(()).unwrap();
    t.join().unwrap();
    close_reader(reader, &name);
}

#[test]
fn connect_timeout_gives_up_with_buffer_not_found() {
    let name = unique("api-ctnone");
    let r = Writer::connect_timeout(&name, Duration::from_millis(30));
    assert!(matches!(r, Err(Error::BufferNotFound { .. })), "{r:?}");
}

#[test]
fn connect_timeout_in_another_process_waits_for_the_reader_created_later() {
    let name = unique("api-ctproc");
    let mut child = Peer::spawn(
        "writer-connect-wait",
        &[("ZB_NAME", name.clone()), ("ZB_N", "20".into())],
    );
    child.expect_line("WAITING", LONG);
    // The writer process is already waiting; only now does the buffer come to exist.
    let reader = create(&name, BufferConfig::new(0, 64 * 1024)).unwrap();
    let mut bytes = 0;
    for i in 0..20 {
        let f = reader.read_frame_timeout(LONG).unwrap().expect("frame");
        assert_eq!(f.data(), &pattern(i, 1, 1024)[..]);
        bytes += f.len();
    }
    assert_eq!(
        child.expect_line("WROTE", LONG),
        format!("20 {bytes}"),
        "the child's counters"
    );
    assert_eq!(child.reap(), Some(0));
    close_reader(reader, &name);
}

#[test]
fn started_server_answers_a_client_process_and_stops_gracefully() {
    let name = unique("api-start");
    let server = DuplexServer::create(&name, BufferConfig::new(4096, 1024 * 1024)).unwrap();
    let handle = server.start(|req, out| {
        let mut r = req.data().to_vec();
        r.reverse();
        out.write_frame(&r).map(|_| ())
    });
    assert!(handle.is_running());
    let mut child = Peer::spawn(
        "duplex-client-reverse",
        &[("ZB_NAME", name.clone()), ("ZB_N", "100".into())],
    );
    assert_eq!(child.expect_line("CHECKED", LONG), "100");
    assert_eq!(child.reap(), Some(0));
    // The running server's counters reach the 100 requests: the client can read the last
    // response before the server thread has published its counters, so wait for them (on
    // the counters themselves, bounded).
    let until = std::time::Instant::now() + LONG;
    while handle.stats().requests < 100 && std::time::Instant::now() < until {
        std::thread::yield_now();
    }
    assert_eq!(handle.stats().requests, 100);
    let stats = handle.stop().unwrap();
    assert_eq!(stats.requests, 100);
    assert_eq!(stats.handler_errors, 0);
    for suffix in ["_request", "_response"] {
        assert_clean(&format!("{name}{suffix}"));
    }
}

#[test]
fn stop_finishes_the_request_in_hand_and_errors_reach_the_callback() {
    let name = unique("api-stop");
    let server = DuplexServer::create(&name, BufferConfig::new(0, 64 * 1024)).unwrap();
    let (in_hand_tx, in_hand_rx) = mpsc::channel::<()>();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&errors);
    let handle = server.start_with_error_handler(
        move |req, out| {
            if req.data() == b"fail" {
                return Err(Error::InvalidArgument("handler refused"));
            }
            in_hand_tx.send(()).unwrap();
            go_rx.lock().unwrap().recv().unwrap(); // hold the request until told
            out.write_frame(req.data()).map(|_| ())
        },
        move |e| seen.lock().unwrap().push(e.to_string()),
    );
    let mut client = DuplexClient::connect_with(&name, BufferConfig::new(0, 64 * 1024)).unwrap();
    client.send_request(b"fail").unwrap();
    client.send_request(b"slow").unwrap();
    in_hand_rx.recv_timeout(LONG).unwrap();
    handle.request_stop();
    assert!(handle.is_running(), "a request is in hand");
    go_tx.send(()).unwrap();
    let r = client.receive_response(LONG).unwrap().expect("answered");
    assert_eq!(r.data(), b"slow");
    drop(r);
    let stats = handle.join().unwrap();
    assert_eq!((stats.requests, stats.handler_errors), (2, 1));
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("handler refused"), "{errors:?}");
}

/// Waits for a frame on a thread that shares the reader with others: long enough for any
/// healthy hand-off on a loaded machine, short enough that a stalled ring fails the test.
const STALL: Duration = Duration::from_secs(20);

/// Connects to `name` and writes the frames `0..n` of the `min..=max` pattern, each write
/// waiting up to [`STALL`] for room.
fn write_frames(name: &str, n: u64, min: u64, max: u64) -> Result<Writer, Error> {
    let mut w = Writer::connect(name)?;
    w.set_write_timeout(STALL);
    for i in 0..n {
        w.write_frame(&pattern(i, min, max))?;
    }
    Ok(w)
}

#[test]
fn frames_dropped_on_a_worker_thread_while_the_reader_waits_return_their_space() {
    // A video pipeline: one thread reads, a worker drops each frame when it is done with it.
    // The ring holds about four frames, so the writer depends on every one of those releases,
    // and most of them happen while the reading thread is blocked waiting for the next frame.
    const N: u64 = 3000;
    let name = unique("api-xdrop");
    let reader = create(&name, BufferConfig::new(0, 4096)).unwrap();
    let writer = std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<zerobuffer::Frame<'_>>(2);
        let writer = s.spawn(|| write_frames(&name, N, 700, 1000));
        s.spawn(move || {
            for f in rx {
                drop(f);
            }
        });
        for i in 0..N {
            let f = reader
                .read_frame_timeout(STALL)
                .unwrap()
                .unwrap_or_else(|| panic!("frame {i} never came: a release was lost"));
            assert_eq!(f.data(), &pattern(i, 700, 1000)[..]);
            tx.send(f).unwrap();
        }
        drop(tx);
        writer.join().unwrap()
    })
    .unwrap();
    assert_eq!(reader.held_frames(), 0);
    close_both(reader, writer, &name);
}

#[test]
fn a_reader_shared_by_two_threads_delivers_every_frame_exactly_once() {
    // Two threads read the same buffer at once: each frame goes to exactly one of them, in
    // the writer's order within each thread, and nothing is lost while the other one waits.
    const N: u64 = 4000;
    let name = unique("api-shared");
    let reader = create(&name, BufferConfig::new(0, 8192)).unwrap();
    let taken = Mutex::new(0u64);
    let (seqs, writer) = std::thread::scope(|s| {
        let writer = s.spawn(|| write_frames(&name, N, 1, 600));
        let read = || {
            let mut got = Vec::new();
            while *taken.lock().unwrap() < N {
                if let Some(f) = reader.read_frame_timeout(Duration::from_millis(5)).unwrap() {
                    assert_eq!(f.data(), &pattern(f.sequence() - 1, 1, 600)[..]);
                    got.push(f.sequence());
                    *taken.lock().unwrap() += 1;
                }
            }
            got
        };
        let (a, b) = (s.spawn(read), s.spawn(read));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert!(a.windows(2).all(|w| w[0] < w[1]), "thread A out of order");
        assert!(b.windows(2).all(|w| w[0] < w[1]), "thread B out of order");
        let mut all = [a, b].concat();
        all.sort_unstable();
        (all, writer.join().unwrap())
    });
    assert_eq!(seqs, (1..=N).collect::<Vec<_>>());
    close_both(reader, writer.unwrap(), &name);
}

#[test]
fn owned_frames_return_their_space_from_other_threads_and_keep_the_reader_alive() {
    // The exporter's shape: each frame goes, without a copy, to a thread that holds it for a
    // while (here a queue of up to 3) and drops it later; the ring holds about four frames,
    // so the writer depends on those releases.
    const N: u64 = 2000;
    let name = unique("api-owned");
    let reader = Arc::new(create(&name, BufferConfig::new(0, 4096)).unwrap());
    assert!(
        Reader::read_frame_owned(&reader, Duration::ZERO)
            .unwrap()
            .is_none()
    );
    let (last, writer) = std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<OwnedFrame>(3);
        let writer = s.spawn(|| write_frames(&name, N, 700, 1000));
        let holder = std::thread::spawn(move || {
            let mut last = None;
            for f in rx {
                assert_eq!(f.data(), &pattern(f.sequence() - 1, 700, 1000)[..]);
                assert_eq!(&*f, f.data());
                last = Some(f); // the previous one is dropped here
            }
            last
        });
        for i in 0..N {
            let f = Reader::read_frame_owned(&reader, STALL)
                .unwrap()
                .unwrap_or_else(|| panic!("frame {i} never came: a release was lost"));
            assert_eq!(
                (f.sequence(), f.len()),
                (i + 1, pattern(i, 700, 1000).len())
            );
            tx.send(f).unwrap();
        }
        drop(tx);
        (holder.join().unwrap(), writer.join().unwrap())
    });
    let last = last.expect("the holder kept the last frame");
    assert_eq!(reader.held_frames(), 1);
    // The frame keeps the reader, and so the buffer, alive after the caller's handle goes.
    drop(reader);
    assert_eq!(last.reader().held_frames(), 1);
    assert_eq!(last.data(), &pattern(N - 1, 700, 1000)[..]);
    let reader = Arc::clone(last.reader());
    last.release().unwrap();
    assert_eq!(reader.held_frames(), 0);
    let reader = Arc::try_unwrap(reader).expect("no frame holds the reader any more");
    close_both(reader, writer.unwrap(), &name);
}
