//! Baselines that use nothing of the project but a shared mapping: spin-then-futex waiting
//! on a shared word (rustix's `futex`, shared, not private), single-thread `memcpy`, and
//! echo peers for pipes and Unix sockets.

// The waiting words live in shared memory: the hardware atomic type, as `Region` hands out.
#![allow(clippy::disallowed_types)]

use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use zeroipc_format::atomic::shared::AtomicU32;
use zeroipc_format::atomic::{Ordering, fence};

use rustix::thread::futex;

/// PAUSE instructions a raw waiter spins before `FUTEX_WAIT`.
pub const SPIN: u32 = 200;

/// Waits until `cond(word)` holds: [`SPIN`] PAUSEs, then `FUTEX_WAIT` (100 ms slices) with
/// `flag` raised while asleep so that the setter knows to wake. Returns the word's value.
pub fn futex_wait_until(word: &AtomicU32, flag: &AtomicU32, cond: impl Fn(u32) -> bool) -> u32 {
    loop {
        for _ in 0..SPIN {
            let v = word.load(Ordering::Acquire);
            if cond(v) {
                return v;
            }
            std::hint::spin_loop();
        }
        flag.store(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let v = word.load(Ordering::Acquire);
        if !cond(v) {
            let ts = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            let _ = futex::wait(word, futex::Flags::empty(), v, Some(&ts));
        }
        flag.store(0, Ordering::Relaxed);
        let v = word.load(Ordering::Acquire);
        if cond(v) {
            return v;
        }
    }
}

/// Stores `v` and wakes the waiter if it announced that it sleeps.
pub fn futex_set(word: &AtomicU32, flag: &AtomicU32, v: u32) {
    word.store(v, Ordering::Release);
    fence(Ordering::SeqCst);
    if flag.load(Ordering::SeqCst) != 0 {
        let _ = futex::wake(word, futex::Flags::empty(), 1);
    }
}

/// Sleeps in `FUTEX_WAIT` on `word` while it reads `v`, with no timeout.
pub fn futex_block(word: &AtomicU32, v: u32) {
    while word.load(Ordering::Acquire) == v {
        let _ = futex::wait(word, futex::Flags::empty(), v, None);
    }
}

/// Sleeps in `FUTEX_WAIT` on `word` while it reads `v`, in slices of `slice`.
pub fn futex_block_sliced(word: &AtomicU32, v: u32, slice: Duration, until: Instant) {
    let ts = rustix::time::Timespec {
        tv_sec: slice.as_secs() as i64,
        tv_nsec: i64::from(slice.subsec_nanos()),
    };
    while word.load(Ordering::Acquire) == v && Instant::now() < until {
        let _ = futex::wait(word, futex::Flags::empty(), v, Some(&ts));
    }
}

/// Wakes every waiter on `word`.
pub fn futex_wake_all(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), u32::MAX >> 1);
}

/// The upstream C++/Go way of waiting: poll, sleeping 1 µs doubling to 1 ms in between.
pub fn sleep_backoff_until(word: &AtomicU32, v: u32, until: Instant) {
    let mut nap = Duration::from_micros(1);
    while word.load(Ordering::Acquire) == v && Instant::now() < until {
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(1));
    }
}

/// Single-thread `memcpy` of `count` blocks of `size` bytes, block after block, into a
/// destination of `slots` blocks (like a ring of that many messages); bytes per second.
pub fn memcpy_rate(size: usize, slots: usize, count: u64) -> f64 {
    // Non-zero fill: every page is faulted in before timing (the rings are pre-faulted too).
    let mut dst = vec![1u8; size * slots];
    // The source sits half a page away from the destination's page offset: on the AMD EPYC
    // of the project's VM glibc's `rep movsb` path runs at ~1 GB/s when source and
    // destination share a page offset (256 KiB blocks: 0.96 against 8.4 GB/s), which would
    // make the baseline a pathology rather than the machine's copy bandwidth.
    let backing = crate::harness::template(size + 8192);
    let want = (dst.as_ptr() as usize + 2048) % 4096;
    let skew = (want + 4096 - backing.as_ptr() as usize % 4096) % 4096;
    let src = &backing[skew..skew + size];
    let start = Instant::now();
    for i in 0..count as usize {
        let at = (i % slots) * size;
        dst[at..at + size].copy_from_slice(black_box(src));
        black_box(&mut dst);
    }
    (size as f64 * count as f64) / start.elapsed().as_secs_f64()
}

/// Echo peer for the pipe and socket round trips: reads `size`-byte messages from stdin and
/// writes each back to stdout, unbuffered, until end of input.
pub fn echo(size: usize) {
    let fd_in = std::io::stdin().as_fd_owned().expect("stdin descriptor");
    let fd_out = std::io::stdout().as_fd_owned().expect("stdout descriptor");
    let (mut i, mut o) = (std::fs::File::from(fd_in), std::fs::File::from(fd_out));
    let mut buf = vec![0u8; size];
    while i.read_exact(&mut buf).is_ok() {
        if o.write_all(&buf).is_err() {
            break;
        }
    }
}

/// Producer peer for the pipe throughput: writes `count` messages of `size` bytes.
pub fn pipe_produce(size: usize, count: u64) {
    let fd_out = std::io::stdout().as_fd_owned().expect("stdout descriptor");
    let mut o = std::fs::File::from(fd_out);
    let mut msg = crate::harness::template(size);
    for i in 0..count {
        msg[..8].copy_from_slice(&i.to_le_bytes());
        o.write_all(&msg).expect("pipe write");
    }
}

/// Owned duplicates of the standard descriptors.
trait AsFdOwned {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd>;
}

impl<T: std::os::fd::AsFd> AsFdOwned for T {
    fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        self.as_fd().try_clone_to_owned()
    }
}
