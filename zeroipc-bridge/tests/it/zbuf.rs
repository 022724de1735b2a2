//! ZeroBuffer links.

use zerobuffer::{BufferConfig, Error as ZbError, Reader, Writer};
use zeroipc_testkit::{ShmGuard, unique_name};

use crate::{Bridge, LIMIT, TempDir, eventually, free_port, link_status};

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
    let (a, b) = (unique_name("bza"), unique_name("bzb"));
    let _ga = ZbGuard::new(&a);
    let _gb = ZbGuard::new(&b);
    let dir = TempDir::new("brzb");
    let d = dir.0.to_str().unwrap();
    let key = format!("zt/{}", unique_name("k"));
    let ep = format!("tcp/127.0.0.1:{}", free_port());
    let meta = b"camera=3 format=test";

    // Far side: an ordinary reader owns the buffer; the importer connects as its writer.
    let far = Reader::create(&b, BufferConfig::new(1024, 1 << 20)).unwrap();
    let importer = Bridge::start(&[
        "import",
        "--kind",
        "zerobuffer",
        "--name",
        &b,
        "--key",
        &key,
        "--listen",
        &ep,
        "--status-dir",
        d,
    ]);
    // Near side: the exporter creates the buffer as its reader; our writer connects.
    let exporter = Bridge::start(&[
        "export",
        "--kind",
        "zerobuffer",
        "--name",
        &a,
        "--key",
        &key,
        "--connect",
        &ep,
        "--payload-size",
        "262144",
        "--status-dir",
        d,
    ]);
    let mut w = None;
    eventually("the exporter to create the local buffer", || {
        w = Writer::connect(&a).ok();
        w.is_some()
    });
    let mut w = w.unwrap();
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
        }
    }
    let w = writer.join().unwrap();
    eventually("the importer's status to show every frame", || {
        link_status(&dir.0, importer.pid).is_some_and(|s| s.items == N)
    });
    assert_eq!(link_status(&dir.0, importer.pid).unwrap().gap_items, 0);

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
