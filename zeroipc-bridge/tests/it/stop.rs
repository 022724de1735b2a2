//! Stopping bridges: `run_until` with a `Stop`, a failing link stopping the others, and
//! SIGTERM/SIGINT ending the binary cleanly.

use std::path::Path;

use zeroipc_bridge::{BridgeConfig, Stop};
use zeroipc_codata::Stream;
use zeroipc_format::Segment;

use crate::zbuf::ZbGuard;
use crate::{LIMIT, Setup, eventually, link_status};

/// `/dev/shm/<name>` exists.
fn shm(name: &str) -> bool {
    Path::new("/dev/shm").join(name).exists()
}

/// A bridge configuration on `setup`: a ZeroBuffer export of `setup.a` (no importer will
/// come, so it runs until stopped), plus the links of `more` (TOML).
fn config(setup: &Setup, more: &str) -> BridgeConfig {
    BridgeConfig::from_toml(&format!(
        r#"
        status_dir = "{dir}"
        [net]
        listen = ["{ep}"]
        [[export]]
        kind = "zerobuffer"
        name = "{a}"
        key = "{key}/zb"
        payload_size = 65536
        {more}
        "#,
        dir = setup.d(),
        ep = setup.ep,
        a = setup.a,
        key = setup.key,
    ))
    .unwrap()
}

#[test]
fn run_until_returns_once_stopped_and_removes_the_buffer_the_exporter_created() {
    let setup = Setup::new("stp");
    let _zb = ZbGuard::new(&setup.a);
    let cfg = config(&setup, "");
    let stop = Stop::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| tx.send(zeroipc_bridge::run_until(&cfg, &stop)).unwrap());
        eventually("the exporter to create its buffer", || shm(&setup.a));
        assert!(rx.try_recv().is_err(), "the link ended without an importer");
        stop.stop();
        rx.recv_timeout(LIMIT)
            .expect("run_until did not return after stop()")
            .unwrap();
    });
    assert!(stop.is_stopped());
    assert!(!shm(&setup.a), "the exporter's buffer is left behind");
}

#[test]
fn a_failing_link_stops_the_others_and_run_returns_its_error() {
    let setup = Setup::new("stf");
    let _zb = ZbGuard::new(&setup.a);
    // The far stream exists with 4-byte items; the import link says u64: it fails at once.
    let seg = Segment::create(&setup.b, 1 << 20, 16).unwrap();
    let _ticks = Stream::<u32>::create(&seg, "ticks", 64).unwrap();
    let cfg = config(
        &setup,
        &format!(
            r#"
            [[import]]
            kind = "stream"
            segment = "{b}"
            name = "ticks"
            type = "u64"
            key = "{key}/s"
            "#,
            b = setup.b,
            key = setup.key,
        ),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Stop::new();
    std::thread::scope(|s| {
        s.spawn(|| tx.send(zeroipc_bridge::run_until(&cfg, &stop)).unwrap());
        let r = rx
            .recv_timeout(LIMIT)
            .expect("run_until did not return after a link failed");
        let e = r.expect_err("the import link fails");
        assert!(e.to_string().contains("ticks"), "{e}");
    });
    assert!(!shm(&setup.a), "the exporter's buffer is left behind");
    assert!(!stop.is_stopped(), "the caller's Stop was stopped");
}

/// Starts an exporting bridge of `setup.a` and sends it `signal` once it waits for an
/// importer; it exits successfully and removes the buffer it created.
fn signalled(setup: &Setup, signal: rustix::process::Signal) {
    let _zb = ZbGuard::new(&setup.a);
    let bridge = setup.bridge(
        &["export", "--name", &setup.a, "--listen", &setup.ep],
        &[
            "--kind",
            "zerobuffer",
            "--key",
            &setup.key,
            "--payload-size",
            "65536",
        ],
    );
    eventually("the exporter to wait for an importer", || {
        link_status(&setup.dir.0, bridge.pid).is_some_and(|l| l.state == "waiting for an importer")
    });
    assert!(shm(&setup.a));
    let pid = rustix::process::Pid::from_raw(bridge.pid as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
    bridge.wait_success();
    assert!(!shm(&setup.a), "the exporter's buffer is left behind");
}

#[test]
fn sigterm_ends_a_bridge_cleanly() {
    signalled(&Setup::new("stt"), rustix::process::Signal::TERM);
}

#[test]
fn sigint_ends_a_bridge_cleanly() {
    signalled(&Setup::new("sti"), rustix::process::Signal::INT);
}
