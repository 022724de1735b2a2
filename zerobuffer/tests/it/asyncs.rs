//! `Reader::read_frame_async` / `Writer::write_frame_async` (feature `async`) on every
//! runtime (tokio current-thread and multi-thread, smol).
// Process-local flags between the test's threads, never in shared memory.
#![allow(clippy::disallowed_types)]

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use zerobuffer::{BufferConfig, Error};
use zeroipc_testkit::Runtime;

use crate::common::{
    Peer, assert_clean, close_both, close_reader, connected, created, next_frame, pattern,
    writer_stream,
};

const FRAMES: u64 = 10_000;

#[test]
fn read_frame_async_receives_10000_frames_from_a_writer_process() {
    for (k, rt) in Runtime::ALL.into_iter().enumerate() {
        let (name, reader) = created(
            &format!("async-read-{k}"),
            BufferConfig::new(256, 64 * 1024),
        );
        let mut w = writer_stream(&name, FRAMES, 1, 4000);
        let (n, end) = rt.block_on(async {
            let mut n = 0u64;
            while n < FRAMES {
                let f = reader
                    .read_frame_async()
                    .await
                    .expect("read")
                    .expect("a frame");
                assert_eq!(f.sequence(), n + 1, "{rt:?}");
                assert_eq!(
                    f.data(),
                    pattern(n, 1, 4000).as_slice(),
                    "{rt:?}: frame {n}"
                );
                n += 1;
            }
            // The writer exits after its last frame: the next read reports it.
            (n, reader.read_frame_async().await.map(|f| f.is_some()))
        });
        assert_eq!(n, FRAMES);
        assert!(
            matches!(end, Err(Error::WriterDead { .. })),
            "{rt:?}: {end:?}"
        );
        assert_eq!(w.reap(), Some(0));
        close_reader(reader, &name);
    }
}

/// Wraps `fut` and raises `flag` the first time it is pending.
async fn flag_pending<F: Future>(fut: F, flag: &AtomicBool) -> F::Output {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        let p = fut.as_mut().poll(cx);
        if p.is_pending() {
            flag.store(true, Ordering::SeqCst);
        }
        p
    })
    .await
}

#[test]
fn a_writer_killed_while_a_read_awaits_gives_writer_dead() {
    for (k, rt) in Runtime::ALL.into_iter().enumerate() {
        let (name, reader) = created(
            &format!("async-kill-{k}"),
            BufferConfig::new(256, 64 * 1024),
        );
        let mut w = Peer::spawn(
            "writer-hang",
            &[("ZB_NAME", name.clone()), ("ZB_N", "3".into())],
        );
        w.expect_line("WROTE", Duration::from_secs(60));
        let pid = w.child.id() as i32;
        let pending = Arc::new(AtomicBool::new(false));
        let p2 = Arc::clone(&pending);
        let killer = std::thread::spawn(move || {
            while !p2.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let pid = rustix::process::Pid::from_raw(pid).expect("pid");
            rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("kill");
        });
        let r = rt.block_on(async {
            for i in 0..3 {
                let f = reader
                    .read_frame_async()
                    .await
                    .expect("read")
                    .expect("frame");
                assert_eq!(f.sequence(), i + 1);
            }
            flag_pending(reader.read_frame_async(), &pending)
                .await
                .map(|f| f.map(|f| f.sequence()))
        });
        killer.join().expect("killer");
        assert!(
            matches!(r, Err(Error::WriterDead { .. })),
            "{rt:?}: {r:?}, the blocking read's error is WriterDead"
        );
        assert_eq!(w.reap(), None, "killed");
        drop(reader);
    }
}

fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn a_dropped_pending_read_loses_no_frame_and_no_token() {
    let (name, reader, mut writer) = connected("async-drop", BufferConfig::new(0, 4096));
    for round in 0..50u8 {
        {
            let mut fut = pin!(reader.read_frame_async());
            assert!(poll_once(fut.as_mut()).is_pending(), "nothing written yet");
            // The helper thread waits in sem_timedwait; the frame's token may reach it
            // before or after the drop: either way it must come back.
            writer.write_frame(&[round; 16]).expect("write");
        }
        let f = next_frame(&reader, 30);
        assert_eq!(f.data(), &[round; 16]);
        drop(f);
    }
    // Exactly one token per frame: nothing further is signalled.
    assert!(reader.try_read_frame().expect("try").is_none());
    close_both(reader, writer, &name);
}

#[test]
fn write_frame_async_waits_for_space_and_a_dropped_one_wrote_nothing() {
    for (k, rt) in Runtime::ALL.into_iter().enumerate() {
        let (name, reader, mut writer) =
            connected(&format!("async-write-{k}"), BufferConfig::new(0, 4096));
        // Fill the ring.
        let mut written = 0u64;
        while writer.try_write_frame(&[1; 1000]).is_ok() {
            written += 1;
        }
        {
            let mut fut = pin!(writer.write_frame_async(&[2; 1000]));
            assert!(poll_once(fut.as_mut()).is_pending(), "the ring is full");
        }
        assert_eq!(
            writer.frames_written(),
            written,
            "the dropped write wrote nothing"
        );
        let wrote = Arc::new(AtomicBool::new(false));
        let seq = std::thread::scope(|s| {
            let w2 = Arc::clone(&wrote);
            let r = reader;
            let h = s.spawn(move || {
                // Free one frame's space once the async write waits.
                while !w2.load(Ordering::SeqCst) {
                    std::thread::yield_now();
                }
                let f = r.read_frame_timeout(Duration::from_secs(30)).expect("read");
                assert_eq!(f.expect("frame").data(), &[1; 1000]);
                // The reader stays open (returned) until the write completed.
                r
            });
            let seq = rt
                .block_on(flag_pending(writer.write_frame_async(&[3; 1000]), &wrote))
                .expect("write");
            drop(h.join().expect("reader thread"));
            seq
        });
        assert_eq!(seq, written + 1, "{rt:?}");
        drop(writer);
        assert_clean(&name);
    }
}

/// `read_frame_async` and `write_frame_async` futures are `Send` (the handles are), so a
/// multi-thread runtime may move them between workers; this fails to compile otherwise.
#[test]
fn the_frame_futures_are_send() {
    fn send<F: Future + Send>(f: F) -> F {
        f
    }
    let (name, reader, mut writer) = connected("async-send", BufferConfig::new(64, 4096));
    drop(send(reader.read_frame_async()));
    drop(send(writer.write_frame_async(b"x")));
    close_both(reader, writer, &name);
}
