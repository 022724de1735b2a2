//! The ZeroBuffer protocol's per-frame floor (#19): the shared-memory operations that the
//! protocol makes a writer and a reader perform for every frame, without the frame itself,
//! between two processes. It tells how close the 1 KiB frame rate is to what the protocol
//! allows on this machine.
//!
//! Per frame, as `zerobuffer`'s `Writer::commit_frame` and `Reader::read_frame` do on their
//! fast path (ZEROBUFFER-PROTOCOL §3.1 for the OIEB, §4 for the semaphores):
//! - writer: check `payload_free_bytes`, subtract the frame from it (a locked RMW), store
//!   `payload_write_pos`, bump `payload_written_count`, post `sem-w` (glibc `sem_post`
//!   without sleepers: one locked RMW);
//! - reader: take a `sem-w` token (glibc `sem_trywait`: a load and a CAS), store
//!   `payload_read_pos`, bump `payload_read_count`, add the frame back to
//!   `payload_free_bytes` (a locked RMW), post `sem-r` (a locked RMW).
//!
//! The OIEB's counters sit where the protocol puts them (offsets 0x28–0x48 of the 128-byte
//! block, so on two cache lines both sides write); each semaphore is a word on a line of its
//! own, as each lives in its own shared-memory object. Neither side sleeps: a side that finds
//! nothing to do spins, then yields its CPU (the harness's `Backoff`, so two peers that share
//! a CPU still alternate); the floor is the cache-line traffic, not the wake-ups.

use std::time::Instant;

use zerobuffer::oieb_offsets;
use zeroipc_format::atomic::Ordering;

use crate::harness::{Backoff, open, raw, region, segment, spawn, wait_ok};

/// Byte offsets inside the 128-byte OIEB (ZEROBUFFER-PROTOCOL §3.1), from `zerobuffer`.
const FREE: usize = oieb_offsets::PAYLOAD_FREE_BYTES;
const WRITE_POS: usize = oieb_offsets::PAYLOAD_WRITE_POS;
const READ_POS: usize = oieb_offsets::PAYLOAD_READ_POS;
const WRITTEN: usize = oieb_offsets::PAYLOAD_WRITTEN_COUNT;
const READ: usize = oieb_offsets::PAYLOAD_READ_COUNT;
/// The two semaphores' words, a line each after the OIEB.
const SEM_W: usize = 128;
const SEM_R: usize = 192;
/// Bytes a 1 KiB frame takes in the ring (16-byte header + payload).
const FRAME: u64 = 1024 + 16;
/// Ring capacity in frames, as the throughput group's ZeroBuffer (payload of 64 slots).
const SLOTS: u64 = 64;

/// Peer role of this measurement: the writer side.
pub fn child(role: &str, arg: &str) -> bool {
    if role != "zf.writer" {
        return false;
    }
    let (name, count) = arg.split_once(':').expect("name:count");
    let count: u64 = count.parse().expect("count");
    let seg = open(name);
    let r = region(&seg, "oieb");
    let free = r.atomic_u64(FREE).expect("free");
    let write_pos = r.atomic_u64(WRITE_POS).expect("write_pos");
    let written = r.atomic_u64(WRITTEN).expect("written");
    let sem_w = r.atomic_u32(SEM_W).expect("sem_w");
    let mut pos = 0u64;
    let mut bk = Backoff::default();
    for _ in 0..count {
        while free.load(Ordering::Acquire) < FRAME {
            bk.snooze();
        }
        bk.reset();
        free.fetch_sub(FRAME, Ordering::AcqRel);
        pos = (pos + FRAME) % (SLOTS * FRAME);
        write_pos.store(pos, Ordering::Release);
        written.store(written.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        sem_w.fetch_add(1, Ordering::Release);
    }
    true
}

/// Frames per second of the floor: `count` frames from a writer process to this one.
pub fn rate(count: u64) -> f64 {
    let seg = segment("zf", 1 << 16, 4);
    let r = raw(&seg, "oieb", 256);
    r.atomic_u64(FREE)
        .expect("free")
        .store(SLOTS * FRAME, Ordering::Release);
    let read_pos = r.atomic_u64(READ_POS).expect("read_pos");
    let read = r.atomic_u64(READ).expect("read");
    let free = r.atomic_u64(FREE).expect("free");
    let sem_w = r.atomic_u32(SEM_W).expect("sem_w");
    let sem_r = r.atomic_u32(SEM_R).expect("sem_r");
    let child = spawn("zf.writer", &format!("{}:{count}", seg.name()), None);
    let t = Instant::now();
    let mut pos = 0u64;
    let mut bk = Backoff::default();
    for _ in 0..count {
        // sem_trywait: take a token if there is one.
        loop {
            let v = sem_w.load(Ordering::Relaxed);
            if v > 0
                && sem_w
                    .compare_exchange(v, v - 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break;
            }
            bk.snooze();
        }
        bk.reset();
        pos = (pos + FRAME) % (SLOTS * FRAME);
        read_pos.store(pos, Ordering::Release);
        read.store(read.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        free.fetch_add(FRAME, Ordering::AcqRel);
        sem_r.fetch_add(1, Ordering::Release);
    }
    let fps = count as f64 / t.elapsed().as_secs_f64();
    wait_ok(child, "zf.writer");
    assert_eq!(
        free.load(Ordering::Acquire),
        SLOTS * FRAME,
        "every frame's space came back"
    );
    fps
}
