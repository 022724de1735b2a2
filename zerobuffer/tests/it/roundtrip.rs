//! Round trips: variable sizes with many wraps, 1 MiB frames, metadata, held frames.

use std::time::Duration;

use zerobuffer::{BufferConfig, Error, Writer};

use crate::common::{
    close_both, close_reader, connected, created, next_frame, one_frame_then_close, pattern,
    unique, writer_stream,
};

#[test]
fn two_process_variable_frames_hundreds_of_wraps() {
    let name = unique("rt-var");
    let n = 20_000u64;
    let (min, max) = (1u64, 3000u64);
    let reader = crate::common::create(&name, BufferConfig::new(256, 64 * 1024)).expect("create");
    let mut child = writer_stream(&name, n, min, max);
    let mut frames = 0u64;
    for i in 0..n {
        let frame = next_frame(&reader, 10);
        assert_eq!(frame.sequence(), i + 1, "sequence of frame {i}");
        assert_eq!(
            frame.data(),
            pattern(i, min, max).as_slice(),
            "bytes of frame {i}"
        );
        frames += 1;
    }
    assert_eq!(
        reader.metadata().expect("metadata").as_deref(),
        Some(format!("{{\"frames\":{n}}}").as_bytes())
    );
    let h = reader.health().expect("health");
    // payload_read_count counts frames plus explicit wrap markers.
    let wraps = h.frames_read - frames;
    assert!(wraps >= 200, "only {wraps} wraps");
    assert_eq!(h.free_bytes, h.payload_size, "all space returned");
    assert_eq!(child.reap(), Some(0));
    // The writer closed: nothing pending, so the reader reports WriterDead.
    assert!(matches!(
        reader.read_frame_timeout(Duration::from_secs(2)),
        Err(Error::WriterDead { .. })
    ));
    println!("variable frames: {frames} frames, {wraps} wraps");
    close_reader(reader, &name);
}

#[test]
fn two_process_one_mib_frames() {
    let name = unique("rt-1mib");
    let n = 40u64;
    let mib = 1024 * 1024;
    let reader =
        crate::common::create(&name, BufferConfig::new(256, 4 * mib + 4096)).expect("create");
    let mut child = writer_stream(&name, n, mib, mib);
    for i in 0..n {
        let frame = next_frame(&reader, 10);
        assert_eq!(frame.sequence(), i + 1);
        assert_eq!(frame.len() as u64, mib);
        assert!(
            frame.data() == pattern(i, mib, mib).as_slice(),
            "bytes of frame {i}"
        );
    }
    assert_eq!(child.reap(), Some(0));
    close_reader(reader, &name);
}

#[test]
fn threads_round_trip_holding_several_frames() {
    let (name, reader) = created("rt-held", BufferConfig::new(0, 8192));
    let n = 5000u64;
    let wname = name.clone();
    let writer = std::thread::spawn(move || {
        let mut w = Writer::connect(&wname).expect("connect");
        for i in 0..n {
            w.write_frame(&pattern(i, 1, 900)).expect("write");
        }
    });
    let mut i = 0;
    while i < n {
        // Hold up to three frames at once, check them all, release in order by dropping.
        let mut held = Vec::new();
        for _ in 0..3.min(n - i) {
            held.push(
                reader
                    .read_frame_timeout(Duration::from_secs(10))
                    .expect("read")
                    .expect("frame"),
            );
        }
        assert_eq!(reader.held_frames(), held.len());
        for f in &held {
            assert_eq!(f.sequence(), i + 1);
            assert_eq!(f.data(), pattern(i, 1, 900).as_slice(), "frame {i}");
            i += 1;
        }
        // Dropping newest first must still return space in read order.
        while let Some(f) = held.pop() {
            drop(f);
        }
    }
    writer.join().expect("writer thread");
    let h = reader.health().expect("health");
    assert_eq!(h.free_bytes, h.payload_size);
    close_reader(reader, &name);
}

#[test]
fn metadata_round_trip_and_write_once() {
    let (name, reader, mut w) = connected("rt-meta", BufferConfig::new(1024, 10240));
    assert_eq!(reader.metadata().expect("none yet"), None);
    let meta: Vec<u8> = (0..500u32).map(|i| (i % 256) as u8).collect();
    w.set_metadata(&meta).expect("first write");
    assert!(matches!(
        w.set_metadata(&[1; 200]),
        Err(Error::MetadataAlreadyWritten)
    ));
    assert_eq!(reader.metadata().expect("read"), Some(meta.clone()));
    // Write-once survives a writer reconnect.
    drop(w);
    let mut w2 = Writer::connect(&name).expect("reconnect");
    assert!(matches!(
        w2.set_metadata(b"x"),
        Err(Error::MetadataAlreadyWritten)
    ));
    assert_eq!(reader.metadata().expect("read"), Some(meta));
    drop(w2);
    drop(reader);

    // Too large (F3.2) and empty (R6).
    let reader = crate::common::create(&name, BufferConfig::new(1024, 10240)).expect("create");
    let mut w = Writer::connect(&name).expect("connect");
    assert!(matches!(
        w.set_metadata(&[0; 2048]),
        Err(Error::MetadataTooLarge {
            len: 2048,
            capacity: 1024
        })
    ));
    assert!(matches!(
        w.set_metadata(&[0; 1017]),
        Err(Error::MetadataTooLarge { .. })
    ));
    w.set_metadata(&[]).expect("empty metadata allowed");
    assert_eq!(reader.metadata().expect("read"), Some(Vec::new()));
    close_both(reader, w, &name);
}

#[test]
fn metadata_block_zero_rejects_metadata_but_frames_work() {
    let (name, reader, mut w) = connected("rt-meta0", BufferConfig::new(0, 1024));
    assert!(matches!(
        w.set_metadata(&[]),
        Err(Error::MetadataTooLarge { .. })
    ));
    one_frame_then_close(reader, w, &name, b"abc");
}

#[test]
fn zero_copy_metadata_is_invisible_until_committed() {
    let (name, reader, mut w) = connected("rt-meta-zc", BufferConfig::new(256, 1024));
    assert!(matches!(
        w.get_metadata_buffer(249),
        Err(Error::MetadataTooLarge {
            len: 249,
            capacity: 256
        })
    ));
    w.get_metadata_buffer(5)
        .expect("reserve")
        .copy_from_slice(b"zcopy");
    assert_eq!(
        reader.metadata().expect("read"),
        None,
        "not visible before commit"
    );
    w.commit_metadata().expect("commit");
    assert_eq!(reader.metadata().expect("read"), Some(b"zcopy".to_vec()));
    assert!(matches!(
        w.get_metadata_buffer(1),
        Err(Error::MetadataAlreadyWritten)
    ));
    assert!(matches!(
        w.commit_metadata(),
        Err(Error::InvalidArgument(_))
    ));
    close_both(reader, w, &name);
}
