//! Process lifecycle: peer death, stale resources, exclusivity, reconnects.

use std::path::Path;
use std::time::{Duration, Instant};

use zerobuffer::{BufferConfig, Error, LOCK_DIR, MAX_NAME_LEN, Reader, Writer};

use crate::common::{
    Peer, assert_clean, cleanup_by_new_reader, close_both, close_reader, connected, created,
    kill_writer_then_drain, next_frame, one_frame_then_close, resource_paths, unique,
    writer_stream,
};

#[test]
fn reader_killed_writer_gets_reader_dead_within_a_second() {
    let name = unique("lc-rdead");
    let mut child = Peer::started(
        "reader-hold",
        &name,
        &[("ZB_P", (16 * 1024).to_string())],
        "READY",
    );
    let mut w = Writer::connect(&name).expect("connect");
    assert!(w.is_reader_connected());
    // Fill part of the ring, then kill the reader (left as an unreaped zombie).
    for _ in 0..4 {
        w.write_frame(&[7u8; 1024])
            .expect("write while reader alive");
    }
    child.kill_no_reap();
    let killed = Instant::now();
    let err = loop {
        match w.write_frame(&[7u8; 1024]) {
            Ok(_) => assert!(killed.elapsed() < Duration::from_secs(3), "no detection"),
            Err(e) => break e,
        }
    };
    let took = killed.elapsed();
    assert!(matches!(err, Error::ReaderDead { .. }), "got {err:?}");
    assert!(took < Duration::from_secs(3), "ReaderDead after {took:?}");
    assert!(!w.is_reader_connected());
    println!(
        "ReaderDead detected {} ms after SIGKILL (zombie)",
        took.as_millis()
    );
    child.reap();
    drop(w);
    cleanup_by_new_reader(&name);
}

#[test]
fn writer_killed_reader_drains_then_gets_writer_dead() {
    let (name, reader) = created("lc-wdead", BufferConfig::new(256, 64 * 1024));
    let mut child = Peer::started("writer-hang", &name, &[("ZB_N", "5".into())], "WROTE");
    assert!(reader.is_writer_connected());
    // Frames written before the death are still delivered (F2.1).
    let took = kill_writer_then_drain(&reader, &mut child, 5);
    println!(
        "WriterDead detected {} ms after SIGKILL (zombie)",
        took.as_millis()
    );
    assert!(!reader.is_writer_connected());
    child.reap();
    close_reader(reader, &name);
}

#[test]
fn stale_resources_of_killed_reader_are_replaced() {
    let name = unique("lc-stale");
    let mut child = Peer::started("reader-hold", &name, &[], "READY");
    // No other test may run a stale cleanup while we look at the leftovers.
    let guard = crate::common::STALE_GUARD
        .write()
        .unwrap_or_else(|e| e.into_inner());
    // Keep the leftovers from being cleaned by other processes' readers while we look at
    // them: hold the stale lock ourselves (opened before the kill, locked right after it).
    let lock = std::fs::File::open(format!("/tmp/zerobuffer/{name}.lock")).expect("lock file");
    child.kill_no_reap();
    child.reap();
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .expect("the dead reader's lock is free");
    for p in resource_paths(&name) {
        assert!(Path::new(&p).exists(), "killed reader should leave {p}");
    }
    drop(lock);
    let reader = Reader::create(&name, BufferConfig::new(128, 4096)).expect("replacement");
    drop(guard);
    assert_eq!(reader.payload_size(), 4096);
    let w = Writer::connect(&name).expect("connect");
    one_frame_then_close(reader, w, &name, b"fresh");
}

#[test]
fn second_reader_rejected_while_first_lives() {
    let name = unique("lc-2r");
    let r1 = crate::common::create(&name, BufferConfig::default()).expect("first");
    let r2 = crate::common::create(&name, BufferConfig::default());
    assert!(matches!(r2, Err(Error::ReaderAlreadyConnected { .. })));
    // Racing threads: exactly one wins once the first is gone.
    drop(r1);
    let winners: Vec<bool> = (0..2)
        .map(|_| {
            let n = name.clone();
            std::thread::spawn(move || {
                let r = crate::common::create(&n, BufferConfig::default());
                let ok = r.is_ok();
                if let Err(e) = &r {
                    assert!(matches!(e, Error::ReaderAlreadyConnected { .. }), "{e:?}");
                }
                std::thread::sleep(Duration::from_millis(200));
                ok
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("join"))
        .collect();
    assert_eq!(winners.iter().filter(|w| **w).count(), 1, "{winners:?}");
    assert_clean(&name);
}

#[test]
fn second_writer_rejected_and_missing_buffer_reported() {
    let name = unique("lc-2w");
    assert!(matches!(
        Writer::connect(&name),
        Err(Error::BufferNotFound { .. })
    ));
    let reader = crate::common::create(&name, BufferConfig::default()).expect("create");
    let mut child = Peer::started("writer-hang", &name, &[("ZB_N", "1".into())], "WROTE");
    match Writer::connect(&name) {
        Err(Error::WriterAlreadyConnected { pid }) => assert_eq!(pid, u64::from(child.child.id())),
        other => panic!("expected WriterAlreadyConnected, got {other:?}"),
    }
    // Once the first writer is dead its slot can be taken.
    child.kill_no_reap();
    child.reap();
    let _w = Writer::connect(&name).expect("dead writer's slot is free");
    drop(_w);
    close_reader(reader, &name);
}

#[test]
fn writer_reconnect_from_new_process_resets_sequence() {
    let (name, reader) = created("lc-recon", BufferConfig::new(256, 16 * 1024));
    for round in 0..2 {
        // The role's default frame sizes (1..=1024).
        let mut child = writer_stream(&name, 3, 1, 1024);
        for i in 0..3 {
            let f = next_frame(&reader, 10);
            assert_eq!(f.sequence(), i + 1, "round {round}");
        }
        assert_eq!(child.reap(), Some(0));
        assert!(matches!(
            reader.read_frame_timeout(Duration::from_secs(5)),
            Err(Error::WriterDead { .. })
        ));
    }
    // A reconnect from the same process is indistinguishable from a gap (§8.2).
    let mut w = Writer::connect(&name).expect("connect");
    w.write_frame(b"a").expect("write");
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!(f.sequence(), 1);
    drop(f);
    drop(w);
    let mut w = Writer::connect(&name).expect("reconnect same pid");
    w.write_frame(b"b").expect("write");
    assert!(matches!(
        reader.read_frame(),
        Err(Error::SequenceError {
            expected: 2,
            got: 1
        })
    ));
    close_both(reader, w, &name);
}

/// R5 with the dead writer's frames still unread when the next writer connects: the OIEB
/// already names the new writer while the reader drains the old frames, and the new writer's
/// sequence 1 must still be accepted (found by the soak: `SequenceError { expected: 7481,
/// got: 1 }`; the reader took the "previous writer" from the OIEB at every frame).
#[test]
fn new_writer_connecting_before_the_dead_ones_frames_are_drained_restarts_sequence() {
    let (name, reader) = created("lc-recon-undrained", BufferConfig::new(0, 16 * 1024));
    let env = [("ZB_N", "3".into())];
    let mut first = Peer::started("writer-hang", &name, &env, "WROTE");
    let f = reader.read_frame().expect("read").expect("frame");
    assert_eq!(f.sequence(), 1);
    drop(f);
    // Killed with frames 2 and 3 unread; the next writer process connects at once.
    first.kill_no_reap();
    first.reap();
    let mut second = Peer::started("writer-hang", &name, &env, "WROTE");
    let second_pid = u64::from(second.child.id());
    for want in [2, 3, 1, 2, 3] {
        let f = reader
            .read_frame_timeout(Duration::from_secs(5))
            .expect("no SequenceError at the new connection")
            .expect("frame");
        assert_eq!(f.sequence(), want);
        assert_eq!(f.writer_pid(), second_pid, "the OIEB names the new writer");
    }
    second.kill_no_reap();
    second.reap();
    assert!(matches!(
        reader.read_frame_timeout(Duration::from_secs(5)),
        Err(Error::WriterDead { .. })
    ));
    close_reader(reader, &name);
}

#[test]
fn graceful_reader_close_reported_to_writer() {
    let (name, reader, mut w) = connected("lc-rclose", BufferConfig::default());
    close_reader(reader, &name);
    assert!(matches!(
        w.write_frame(b"x"),
        Err(Error::ReaderDead { pid: 0 })
    ));
}

#[test]
fn resources_exist_while_open_and_are_removed_on_close() {
    let (name, reader) = created("lc-files.special_chars-123", BufferConfig::default());
    for p in resource_paths(&name) {
        assert!(Path::new(&p).exists(), "{p} missing while open");
    }
    // 1280-byte example object of §3.1 has 128 + M + P bytes.
    let len = std::fs::metadata(format!("/dev/shm/{name}"))
        .expect("stat")
        .len();
    assert_eq!(len, 128 + 1024 + 10240);
    close_reader(reader, &name);
    // Maximum name length works too.
    let long = format!("{}{}", unique("x"), "n".repeat(245 - unique("x").len()));
    assert_eq!(long.len(), 245);
    let r = crate::common::create(&long, BufferConfig::new(0, 64)).expect("245-byte name");
    drop(r);
    assert_clean(&long);
    assert!(matches!(
        crate::common::create(&format!("{long}n"), BufferConfig::new(0, 64)),
        Err(Error::InvalidName { .. })
    ));
}

#[test]
fn create_destroy_cycles_leave_nothing() {
    let name = unique("lc-cycles");
    for _ in 0..200 {
        let r = crate::common::create(&name, BufferConfig::new(64, 1024)).expect("create");
        drop(r);
    }
    assert_clean(&name);
}

/// F10.6 / T10.7 a restrictive mode keeps other users out: the objects carry the mode, and
/// (when the tests run as root, able to start a child as `nobody`) another user's writer gets
/// `PermissionDenied` while the buffer stays intact.
#[test]
fn restrictive_mode_denies_other_users() {
    use std::os::unix::fs::PermissionsExt;
    use zerobuffer::ReaderOptions;
    let name = unique("lc-perm");
    let opts = ReaderOptions {
        mode: 0o600,
        exact_mode: true,
        ..ReaderOptions::default()
    };
    let reader = {
        let _g = crate::common::STALE_GUARD
            .read()
            .unwrap_or_else(|e| e.into_inner());
        Reader::create_with(&name, BufferConfig::new(0, 4096), opts).expect("create")
    };
    for p in resource_paths(&name) {
        let mode = std::fs::metadata(&p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{p}");
    }
    if rustix::process::geteuid().is_root() {
        let mut child = Peer::spawn_as(
            "writer-connect-report",
            &[("ZB_NAME", name.clone())],
            Some(65534),
        );
        let outcome = child.expect_line("RESULT", Duration::from_secs(10));
        assert_eq!(outcome, "PermissionDenied");
        child.reap();
    } else {
        println!("not root: cross-user connect not attempted, modes checked only");
    }
    let w = Writer::connect(&name).expect("owner can connect");
    one_frame_then_close(reader, w, &name, b"intact");
}

/// §5 step 4: a live reader that is not visible through the lock file (e.g. it uses another
/// lock directory, or its lock file was deleted) is still detected through the OIEB's live
/// `reader_pid`; its buffer is not hijacked.
#[test]
fn live_reader_without_lock_file_is_not_hijacked() {
    let name = unique("lc-nolock");
    let mut child = Peer::started("reader-hold", &name, &[], "READY");
    std::fs::remove_file(format!("/tmp/zerobuffer/{name}.lock")).expect("remove lock file");
    let r = crate::common::create(&name, BufferConfig::default());
    assert!(
        matches!(r, Err(Error::ReaderAlreadyConnected { .. })),
        "{r:?}"
    );
    // The child's buffer is intact: a writer still finds its live reader.
    let w = Writer::connect(&name).expect("child's buffer still there");
    assert!(w.is_reader_connected());
    drop(w);
    child.kill_no_reap();
    child.reap();
    cleanup_by_new_reader(&name);
}

/// Protocol §2/§14: a bad name is `InvalidName` for the reader and the writer before any
/// system call. The 246-byte name would be accepted by `shm_open` (NAME_MAX is 255), so an
/// `InvalidName` for it shows the check ran first; no object or lock file appears for any.
#[test]
fn bad_names_are_rejected_before_any_system_call() {
    let long = "n".repeat(MAX_NAME_LEN + 1);
    let longer = "n".repeat(300);
    for bad in [
        "", "a/b", "/lead", "trail/", "..", ".", "x\0y", &long, &longer,
    ] {
        assert!(
            matches!(
                crate::common::create(bad, BufferConfig::new(0, 64)),
                Err(Error::InvalidName { .. })
            ),
            "reader {bad:?}"
        );
        assert!(
            matches!(Writer::connect(bad), Err(Error::InvalidName { .. })),
            "writer {bad:?}"
        );
        if !bad.contains(['/', '\0']) && !bad.is_empty() && bad != "." && bad != ".." {
            assert!(!Path::new(&format!("/dev/shm/{bad}")).exists(), "{bad:?}");
            assert!(
                !Path::new(&format!("{LOCK_DIR}/{bad}.lock")).exists(),
                "{bad:?}"
            );
        }
    }
}

/// Crash matrix: a writer SIGKILLed between reserving a frame and committing it. The reader
/// gets every committed frame intact, never the half-written one, then `WriterDead` within
/// the liveness bound (§12); a new writer can connect and its frames (sequence 1 again, R5)
/// arrive, so the buffer stays usable.
#[test]
fn writer_killed_mid_frame_reader_keeps_committed_frames_and_buffer_stays_usable() {
    let (name, reader) = created("lc-wmid", BufferConfig::new(256, 64 * 1024));
    let mut child = Peer::started(
        "writer-hang-mid-frame",
        &name,
        &[("ZB_N", "4".into())],
        "RESERVED",
    );
    kill_writer_then_drain(&reader, &mut child, 4);
    child.reap();
    let w = Writer::connect(&name).expect("a new writer connects");
    one_frame_then_close(reader, w, &name, b"after the crash");
}
