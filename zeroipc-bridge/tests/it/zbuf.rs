//! ZeroBuffer links.

use zerobuffer::{BufferConfig, Error as ZbError, Reader, Writer};
use zeroipc_testkit::ShmGuard;

use crate::{Bridge, LIMIT, Setup, eventually, link_status, listed_bridge};

/// Unlinks a ZeroBuffer's shared memory, semaphores and lock file on drop (also when a
/// bridge holding it was killed).
pub(crate) struct ZbGuard {
    _shm: ShmGuard,
    lock: String,
}

impl ZbGuard {
    pub(crate) fn new(name: &str) -> Self {
        let mut g = ShmGuard::new(name);
        g.add(&format!("sem.sem-w-{name}"));
        g.add(&format!("sem.sem-r-{name}"));
        Self {
            _shm: g,
            lock: format!("{}/{name}.lock", zerobuffer::LOCK_DIR),
        }
    }
}

impl Drop for ZbGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// The two bridges of a ZeroBuffer link on `setup`, and the local writer: the importer
/// (listening) writes into the far buffer `setup.b`, which its reader created; the exporter
/// (connecting) creates the near buffer `setup.a` (256 KiB payload) as its reader, and the
/// returned writer is connected to it.
fn start_zb_link(setup: &Setup) -> (Bridge, Bridge, Writer) {
    let link = ["--kind", "zerobuffer", "--key", &setup.key];
    let importer = setup.bridge(
        &["import", "--name", &setup.b, "--listen", &setup.ep],
        &link,
    );
    let exporter = setup.bridge(
        &[
            "export",
            "--name",
            &setup.a,
            "--connect",
            &setup.ep,
            "--payload-size",
            "262144",
        ],
        &link,
    );
    let mut w = None;
    eventually("the exporter to create the local buffer", || {
        w = Writer::connect(&setup.a).ok();
        w.is_some()
    });
    (importer, exporter, w.unwrap())
}

/// Frame `i`: 1 to 60,000 bytes, content derived from `i`.
pub(crate) fn frame(i: u64) -> Vec<u8> {
    let len = 1 + (i.wrapping_mul(7919) % 60_000) as usize;
    (0..len)
        .map(|k| (i as usize).wrapping_mul(31).wrapping_add(k) as u8)
        .collect()
}

#[test]
fn zerobuffer_10k_frames_of_varying_size_cross_with_metadata() {
    const N: u64 = 10_000;
    let setup = Setup::new("bz");
    let (a, b) = (setup.a.clone(), setup.b.clone());
    let _ga = ZbGuard::new(&a);
    let _gb = ZbGuard::new(&b);
    let meta = b"camera=3 format=test";

    // Far side: an ordinary reader owns the buffer; the importer connects as its writer.
    let far = Reader::create(&b, BufferConfig::new(1024, 1 << 20)).unwrap();
    let (importer, exporter, mut w) = start_zb_link(&setup);
    w.set_metadata(meta).unwrap();
    let writer = std::thread::spawn(move || {
        w.set_write_timeout(LIMIT);
        for i in 0..N {
            w.write_frame(&frame(i)).unwrap();
        }
        w // disconnects when dropped
    });

    for i in 0..N {
        let f = far.read_frame_timeout(LIMIT).unwrap().expect("a frame");
        assert_eq!(f.sequence(), i + 1, "ZeroBuffer numbers frames from 1");
        assert_eq!(f.data(), frame(i).as_slice(), "frame {i}");
        if i == 0 {
            assert_eq!(far.metadata().unwrap().as_deref(), Some(&meta[..]));
            // `zeroipc-inspect list` labels both buffers by their bridge peers.
            assert_eq!(
                listed_bridge(&a),
                serde_json::json!([{"role": "export", "kind": "zerobuffer", "name": a,
                                    "key": "", "pid": exporter.pid}])
            );
            assert_eq!(
                listed_bridge(&b),
                serde_json::json!([{"role": "import", "kind": "zerobuffer", "name": b,
                                    "key": "", "pid": importer.pid}])
            );
        }
    }
    let w = writer.join().unwrap();
    eventually("the importer's status to show every frame", || {
        link_status(&setup.dir.0, importer.pid).is_some_and(|s| s.items == N)
    });
    assert_eq!(
        link_status(&setup.dir.0, importer.pid).unwrap().gap_items,
        0
    );

    // The local writer disconnects: so does the far one, after the last frame.
    drop(w);
    match far.read_frame_timeout(LIMIT) {
        Err(ZbError::WriterDead { .. }) => {}
        other => panic!(
            "expected the writer to be gone, got {:?}",
            other.map(|f| f.map(|f| f.len()))
        ),
    }
    exporter.wait_success();
    importer.wait_success();
}

/// The interop venv's Python (`bash interop/venv.sh` creates it under target/), or why not.
fn interop_python() -> Result<std::path::PathBuf, String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let py = match std::env::var_os("ZEROIPC_INTEROP_PYTHON") {
        Some(p) => std::path::PathBuf::from(p),
        None => root.join("target/interop-venv/bin/python"),
    };
    if py.exists() {
        Ok(py)
    } else {
        Err(format!(
            "{} not found: run `bash interop/venv.sh` (it installs the PyPI zerobuffer-ipc \
             reader into target/interop-venv) or set ZEROIPC_INTEROP_PYTHON",
            py.display()
        ))
    }
}

/// Frame `i` as the interop peers define it (interop/python/zerobuffer_peer.py): length
/// `min + (i * 37) % (max - min + 1)`, byte `j` = `(i * 7 + j) & 0xff`.
fn peer_frame(i: u64, min: u64, max: u64) -> Vec<u8> {
    let len = min + (i * 37) % (max - min + 1);
    (0..len).map(|j| (i * 7 + j) as u8).collect()
}

#[test]
fn zerobuffer_10k_frames_cross_to_the_pypi_zerobuffer_ipc_reader() {
    const N: u64 = 10_000;
    const MAX: u64 = 60_000;
    let py = match interop_python() {
        Ok(p) => p,
        // CI creates the venv first and sets ZEROIPC_REQUIRE_INTEROP=1: there this fails.
        Err(why) if std::env::var_os("ZEROIPC_REQUIRE_INTEROP").is_none() => {
            eprintln!(
                "SKIPPED zerobuffer_10k_frames_cross_to_the_pypi_zerobuffer_ipc_reader: {why}"
            );
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let setup = Setup::new("bp");
    let (a, b) = (setup.a.clone(), setup.b.clone());
    let _ga = ZbGuard::new(&a);
    let _gb = ZbGuard::new(&b);
    let out = setup.dir.0.join("reader.json");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../interop/python/zerobuffer_peer.py");

    // Far side: the unmodified PyPI reader creates the buffer and checks every frame
    // (sequence, length, bytes), the metadata, and that the writer leaves after the last.
    let reader = std::process::Command::new(&py)
        .arg(&script)
        .args(["reader", &b, &N.to_string()])
        .args(["--payload-size", "1048576", "--metadata-size", "4096"])
        .args(["--min-size", "1", "--max-size", &MAX.to_string()])
        .args(["--read-timeout", "30", "--json-out", out.to_str().unwrap()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .spawn()
        .unwrap();
    let (importer, exporter, mut w) = start_zb_link(&setup);
    w.set_metadata(format!(r#"{{"peer":"rust-via-bridge","frames":{N}}}"#).as_bytes())
        .unwrap();
    w.set_write_timeout(LIMIT);
    for i in 0..N {
        w.write_frame(&peer_frame(i, 1, MAX)).unwrap();
    }
    // The local writer leaves: the far reader must see its writer leave after the last frame.
    drop(w);
    let mut reader = reader;
    let status = {
        let end = std::time::Instant::now() + LIMIT;
        loop {
            if let Some(st) = reader.try_wait().unwrap() {
                break st;
            }
            if std::time::Instant::now() > end {
                let _ = reader.kill();
                let _ = reader.wait();
                panic!(
                    "the Python reader did not finish; exporter {:?}, importer {:?}",
                    link_status(&setup.dir.0, exporter.pid),
                    link_status(&setup.dir.0, importer.pid)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    eprintln!("Python reader: {summary}");
    assert!(status.success(), "the Python reader failed: {summary}");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["frames"], N);
    assert_eq!(
        summary["bad_frames"], 0,
        "sequence, length and bytes of every frame"
    );
    let bytes: u64 = (0..N).map(|i| 1 + (i * 37) % MAX).sum();
    assert_eq!(summary["bytes"], bytes);
    assert_eq!(
        summary["metadata_ok"], true,
        "metadata crossed: {}",
        summary["metadata"]
    );
    assert_eq!(
        summary["writer_closed_seen"], true,
        "the writer's leaving crossed"
    );
    exporter.wait_success();
    importer.wait_success();
}
