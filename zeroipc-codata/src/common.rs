//! Plumbing shared by the codata structures: waiting in bounded futex slices, liveness of
//! peers, name rules, open checks.
// This module is the crate's one boundary to the hardware atomic type that `Region` hands
// out and the futex call accepts; it names that type, nothing else does.
#![allow(clippy::disallowed_types)]

use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::atomic::shared::AtomicU32;

use crate::protocol::Registered;
use zeroipc_sync::backoff::{Pace, Paced, Peer, Spun};
use zeroipc_sync::futex;

/// The hardware 32-bit atomic that `Region` hands out (a futex word).
pub(crate) type HwU32 = AtomicU32;
/// The hardware 64-bit atomic that `Region` hands out.
pub(crate) type HwU64 = zeroipc_format::atomic::shared::AtomicU64;

pub(crate) use zeroipc_sync::futex::{deadline_after, next_slice};

/// The next sleep of a polling wait on several words: one shared-futex [`SLICE`], cut short
/// at `deadline`; `None` once the deadline has passed.
///
/// [`SLICE`]: zeroipc_sync::futex::SLICE
pub(crate) fn short_slice(deadline: Option<Instant>) -> Option<Duration> {
    let slice = zeroipc_sync::futex::SLICE;
    let now = Instant::now();
    match deadline {
        Some(d) if now >= d => None,
        Some(d) => Some(slice.min(d - now)),
        None => Some(slice),
    }
}

/// Sleeps on `word` while it holds `expected`, for at most `slice` (shared futex). Any
/// outcome means "re-check"; a hard futex failure degrades to a plain sleep.
pub(crate) fn park(word: &AtomicU32, expected: u32, slice: Duration) {
    if futex::wait(word, expected, Some(slice)).is_err() {
        std::thread::sleep(slice);
    }
}

/// The parked phase of a blocking wait: registered in `waiting` while it lasts (where the
/// layout has such a counter), it polls `poll` and sleeps in slices on `word`, from the value
/// seen before each poll (without a word, for the slice, at most [`futex::SLICE`]), until
/// `poll` gives a result or `deadline` passes (`Error::Timeout { what }`).
pub(crate) fn park_until<R>(
    waiting: Option<&HwU32>,
    word: Option<&HwU32>,
    deadline: Option<Instant>,
    what: &'static str,
    mut poll: impl FnMut() -> crate::Result<Option<R>>,
) -> crate::Result<R> {
    let _registered = waiting.map(Registered::new);
    let since = Instant::now();
    loop {
        let seen = word.map(|w| w.load(Ordering::SeqCst));
        if let Some(r) = poll()? {
            return Ok(r);
        }
        let Some(slice) = next_slice(deadline, since) else {
            return Err(crate::Error::Timeout { what });
        };
        match (word, seen) {
            (Some(w), Some(s)) => park(w, s, slice),
            _ => std::thread::sleep(slice.min(futex::SLICE)),
        }
    }
}

/// Wakes every sleeper on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    futex::wake_all(word);
}

/// The busy phase before a waiter registers and sleeps: polls `attempt` until it gives a
/// result (`Ok(Some(r))`), fails, or the process's adaptive spin budget is spent
/// (`Ok(None)`: register and park). See `zeroipc_sync::backoff`; none under loom.
pub(crate) fn spin<R>(
    mut attempt: impl FnMut() -> crate::Result<Option<R>>,
) -> crate::Result<Option<R>> {
    zeroipc_sync::backoff::spin(|| attempt().transpose()).transpose()
}

/// As [`spin`] for a waiter whose peer has work queued for it (a sender waiting for room in
/// a full buffer): the timed phase yields the CPU instead of pausing
/// (`zeroipc_sync::backoff::Peer::Busy`).
pub(crate) fn spin_for_room<R>(
    mut attempt: impl FnMut() -> crate::Result<Option<R>>,
) -> crate::Result<Option<R>> {
    zeroipc_sync::backoff::spin_for(Peer::Busy, || attempt().transpose()).transpose()
}

/// As [`spin`] without the timed phase: the short exponential phase only (about 1 µs), for
/// waits that park (or register) early: a subscriber with its spin turned off, and an async
/// wait before it registers with a helper thread.
pub(crate) fn spin_short<R>(
    mut attempt: impl FnMut() -> crate::Result<Option<R>>,
) -> crate::Result<Option<R>> {
    match zeroipc_sync::backoff::spin_until(Peer::MayBeIdle, false, || attempt().transpose()) {
        Spun::Early(r) | Spun::Late(r) => r.map(Some),
        Spun::Park => Ok(None),
    }
}

/// A blocking receive: the spin phase paced by `pace` (see `zeroipc_sync::backoff::Pace`),
/// then `park_loop` (register and sleep). `attempt` gives `Some` once the wait is over.
pub(crate) fn paced_wait<R>(
    pace: &Pace,
    mut attempt: impl FnMut() -> crate::Result<Option<R>>,
    park_loop: impl FnOnce(&mut dyn FnMut() -> crate::Result<Option<R>>) -> crate::Result<R>,
) -> crate::Result<R> {
    match pace.spin(|| attempt().transpose()) {
        Paced::Done(r) => r,
        Paced::Park(parking) => {
            let r = park_loop(&mut attempt)?;
            parking.woke();
            Ok(r)
        }
    }
}

pub(crate) use zeroipc_sync::owner::{is_dead, my_pid};

/// `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

/// Reads a NUL-terminated message of at most 256 bytes (none → the first 255), lossily.
pub(crate) fn decode_message(bytes: &[u8; 256]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(255);
    String::from_utf8_lossy(bytes.get(..end).unwrap_or_default()).into_owned()
}

/// Encodes `msg` truncated to 255 bytes at a UTF-8 boundary, NUL-padded to 256.
pub(crate) fn encode_message(msg: &str) -> [u8; 256] {
    let mut end = msg.len().min(255);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = [0u8; 256];
    if let (Some(dst), Some(src)) = (out.get_mut(..end), msg.as_bytes().get(..end)) {
        dst.copy_from_slice(src);
    }
    out
}

/// A 0/1 flag read from shared memory (`closed`, `multicast`): `Corrupt` naming the structure
/// and `field` for any other value.
pub(crate) fn flag(name: &str, field: &'static str, v: u64) -> crate::Result<bool> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(crate::Error::from(zeroipc_format::Error::corrupt_field(
            name, field, v,
        ))),
    }
}

/// The state a shared state word's `code` stands for, `states` listing them by code:
/// `Corrupt` naming the structure for any other code.
pub(crate) fn state_of<S: Copy>(name: &str, code: u32, states: &[S]) -> crate::Result<S> {
    match usize::try_from(code).ok().and_then(|i| states.get(i)) {
        Some(&s) => Ok(s),
        None => Err(crate::Error::from(zeroipc_format::Error::corrupt_field(
            name,
            "state",
            u64::from(code),
        ))),
    }
}

/// The `closed` byte at `at` of a composite's header (Acquire): `Corrupt` unless 0 or 1.
pub(crate) fn closed(
    header: &zeroipc_format::Region,
    at: usize,
    name: &str,
) -> crate::Result<bool> {
    let byte = header.atomic_u8(at)?;
    flag(
        name,
        "closed",
        u64::from(byte.load(zeroipc_format::atomic::Ordering::Acquire)),
    )
}

/// The optional slot table `{name}{suffix}` of a composite (a Channel's `_peers`, a Stream's
/// `_subs`):
/// `None` when the segment has no such entry; else its region, checked to be `size` bytes and
/// to say `slots` in its u32 word at `count_at` (`Corrupt` naming `field` otherwise).
pub(crate) fn slot_table(
    seg: &zeroipc_format::Segment,
    name: &str,
    suffix: &str,
    size: u64,
    count_at: usize,
    slots: u32,
    field: &'static str,
) -> crate::Result<Option<zeroipc_format::Region>> {
    let Some(e) = seg.get(&format!("{name}{suffix}"))? else {
        return Ok(None);
    };
    e.expect_size(size)?;
    let r = seg.region(&e)?;
    let n = r
        .atomic_u32(count_at)?
        .load(zeroipc_format::atomic::Ordering::Acquire);
    if n != slots {
        return Err(crate::Error::from(zeroipc_format::Error::corrupt_field(
            name,
            field,
            u64::from(n),
        )));
    }
    Ok(Some(r))
}

/// `Clone` (a second handle sharing the same `Arc`) and `Debug` (the struct's name and the
/// structure's name) for a codata handle `$ty<T>` of the shape
/// `{ inner: Arc<Inner>, _elem: PhantomData<fn() -> T> }` whose `Inner` has a `name`.
macro_rules! shared_handle {
    ($ty:ident) => {
        impl<T> Clone for $ty<T> {
            fn clone(&self) -> Self {
                Self {
                    inner: Arc::clone(&self.inner),
                    _elem: PhantomData,
                }
            }
        }

        impl<T> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("name", &self.inner.name)
                    .finish()
            }
        }
    };
}
pub(crate) use shared_handle;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_truncate_at_char_boundaries() {
        let long = "é".repeat(200); // 400 bytes
        let enc = encode_message(&long);
        let dec = decode_message(&enc);
        assert_eq!(dec.len(), 254);
        assert!(dec.chars().all(|c| c == 'é'));
        assert_eq!(decode_message(&encode_message("boom")), "boom");
        assert_eq!(decode_message(&[b'x'; 256]).len(), 255);
    }

    #[test]
    fn we_are_alive_and_an_unused_pid_is_dead() {
        assert!(!is_dead(my_pid()));
        assert!(is_dead(5_000_000));
        assert!(!is_dead(0));
        assert!(is_dead(u32::MAX));
    }
}
