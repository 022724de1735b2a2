//! The helper threads: each sleeps in one `futex_waitv` on up to [`PER_HELPER`] registered
//! shared words plus a private word of its own (its *sequence*), and wakes the [`Waker`]s of
//! the registrations whose word changed, was woken, or whose re-poll time came.
//!
//! The first helper of the list is also the **sweeper**: it sleeps at most one slice (the
//! slice of the youngest pending wait, as a blocking wait of that age would sleep, and no
//! later than any re-poll time) and then re-checks the registered words of *every* helper by
//! value, firing those that changed (an upstream peer that never calls `FUTEX_WAKE`) or whose
//! re-poll time came. The other helpers sleep until the kernel wakes them (at most
//! [`QUIET`]), so an idle process pays one timed wake-up per slice in total, not one per
//! helper.
//!
//! Hand-off (modelled in `tests/loom.rs`): a registrant pushes its entry under the helper's
//! lock, then increments the sequence and `FUTEX_WAKE`s it. A helper loads the sequence
//! *before* it takes the snapshot of its entries and passes that value as the expected value
//! of its own word, so a registration that missed the snapshot changed the sequence and the
//! kernel refuses to sleep (`EAGAIN`): it cannot be lost. The same holds for the registered
//! words: each entry carries the value its future saw before it decided to wait; if the
//! word moved since, `futex_waitv` returns at once and the value check fires the entry.
// This module names the hardware `AtomicU32` that `futex_waitv` and `FUTEX_WAKE` accept: the
// helper's private sequence word (never shared with another process, never under loom).
#![allow(clippy::disallowed_types)]

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Waker;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::thread::futex;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::atomic::shared::AtomicU32;

use super::FutexWord;

/// Registered words per helper: `futex_waitv` takes at most 128, one is the helper's own.
pub(crate) const PER_HELPER: usize = 127;

/// How long a helper with nothing to wait for stays before it exits.
const LINGER: Duration = Duration::from_millis(200);

/// The longest sleep of a helper that is not the sweeper (a safety net; the sweeper and the
/// kernel wake it sooner whenever there is something to do).
const QUIET: Duration = Duration::from_secs(1);

/// Where an entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Registered with a helper, waker not yet called.
    Armed,
    /// The helper called the waker (`by_kernel`: `futex_waitv` named this entry).
    Fired { by_kernel: bool },
    /// The future withdrew it (completed, re-armed or dropped).
    Cancelled,
}

/// The mutable part of an entry.
pub(crate) struct Slot {
    pub state: State,
    pub waker: Waker,
}

/// One registration: wake `slot.waker` once `word` no longer holds `expected`.
pub(crate) struct Entry {
    pub word: Arc<dyn FutexWord>,
    pub expected: u32,
    /// When the waiting future first waited (drives the adaptive slice, as for blocking waits).
    pub since: Instant,
    /// Fire at this time even if nothing changed (conditions the word does not show, such
    /// as the death of a peer).
    pub repoll_at: Option<Instant>,
    pub slot: Mutex<Slot>,
    pub helper: Weak<Helper>,
}

impl Entry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fires the entry if still armed; returns the waker to call outside any lock.
    fn fire(&self, by_kernel: bool) -> Option<Waker> {
        let mut s = self.lock();
        if s.state == State::Armed {
            s.state = State::Fired { by_kernel };
            Some(s.waker.clone())
        } else {
            None
        }
    }

    /// Withdraws the entry; returns the state it had.
    pub(crate) fn cancel(self: &Arc<Self>) -> State {
        let prev = {
            let mut s = self.lock();
            std::mem::replace(&mut s.state, State::Cancelled)
        };
        if prev == State::Armed
            && let Some(h) = self.helper.upgrade()
        {
            h.entries().list.retain(|e| !Arc::ptr_eq(e, self));
        }
        prev
    }
}

/// A helper's registrations, with what its sleep depends on.
pub(crate) struct Entries {
    pub list: Vec<Arc<Entry>>,
    /// The latest `since` and the earliest `repoll_at` of the entries: exact after each
    /// sweep and raised/lowered by each registration; an entry withdrawn in between may
    /// leave them conservative (a shorter sleep) until the next sweep.
    youngest: Option<Instant>,
    repoll: Option<Instant>,
}

impl Entries {
    /// The next sleep of a helper with these entries: see [`sleep_for`].
    fn sleep(&self, now: Instant) -> Duration {
        sleep_for(self.youngest, self.repoll, now)
    }

    fn note(&mut self, since: Instant, repoll_at: Option<Instant>) {
        self.youngest = Some(self.youngest.map_or(since, |y| y.max(since)));
        if let Some(t) = repoll_at {
            self.repoll = Some(self.repoll.map_or(t, |r| r.min(t)));
        }
    }
}

/// A helper thread's shared part.
pub(crate) struct Helper {
    entries: Mutex<Entries>,
    /// Incremented (and woken) on every new registration: the helper's own futex word.
    seq: AtomicU32,
}

impl Helper {
    fn entries(&self) -> MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn poke(&self) {
        // SeqCst: orders after the push under the entries lock; the helper's SeqCst load of
        // `seq` before its snapshot pairs with it (see the module docs).
        self.seq.fetch_add(1, Ordering::SeqCst);
        let _ = futex::wake(&self.seq, futex::Flags::PRIVATE, 1);
    }
}

/// The process's helpers (lock order: this list, then a helper's entries).
static HELPERS: Mutex<Vec<Arc<Helper>>> = Mutex::new(Vec::new());

/// Set once `futex_waitv` said `ENOSYS` (Linux < 5.16): helpers then poll by slice.
static NO_WAITV: std::sync::OnceLock<()> = std::sync::OnceLock::new();

fn helpers() -> MutexGuard<'static, Vec<Arc<Helper>>> {
    HELPERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Live helper threads of this process.
pub(crate) fn helper_count() -> usize {
    helpers().len()
}

/// Registered, not yet fired entries of this process.
pub(crate) fn pending() -> usize {
    helpers().iter().map(|h| h.entries().list.len()).sum()
}

/// Registers an entry with the first helper that has room, starting one if none has.
pub(crate) fn register(
    word: Arc<dyn FutexWord>,
    expected: u32,
    since: Instant,
    repoll_at: Option<Instant>,
    waker: Waker,
) -> std::io::Result<Arc<Entry>> {
    let mut list = helpers();
    let found = list
        .iter()
        .find(|h| h.entries().list.len() < PER_HELPER)
        .cloned();
    let helper = match found {
        Some(h) => h,
        None => {
            let h = Arc::new(Helper {
                entries: Mutex::new(Entries {
                    list: Vec::with_capacity(PER_HELPER),
                    youngest: None,
                    repoll: None,
                }),
                seq: AtomicU32::new(0),
            });
            let for_thread = Arc::clone(&h);
            std::thread::Builder::new()
                .name("zeroipc-reactor".into())
                .spawn(move || run(&for_thread))?;
            list.push(Arc::clone(&h));
            h
        }
    };
    let entry = Arc::new(Entry {
        word,
        expected,
        since,
        repoll_at,
        slot: Mutex::new(Slot {
            state: State::Armed,
            waker,
        }),
        helper: Arc::downgrade(&helper),
    });
    {
        let mut es = helper.entries();
        es.list.push(Arc::clone(&entry));
        es.note(since, repoll_at);
    }
    drop(list);
    helper.poke();
    Ok(entry)
}

/// `CLOCK_MONOTONIC` now plus `d`, as `futex_waitv`'s absolute timeout.
fn abs_timeout(d: Duration) -> futex::Timespec {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let mut sec = now
        .tv_sec
        .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut nsec = now.tv_nsec + i64::from(d.subsec_nanos());
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    futex::Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    }
}

fn timespec(d: Duration) -> futex::Timespec {
    futex::Timespec {
        tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// How long a helper may sleep: the slice of its youngest wait (`youngest`, as a blocking
/// wait of that age would sleep, see [`crate::futex::next_slice`]), and no later than the
/// earliest re-poll. The youngest wait has the shortest slice, so one slice computation
/// covers them all.
fn sleep_for(youngest: Option<Instant>, repoll: Option<Instant>, now: Instant) -> Duration {
    let mut d = crate::futex::max_slice();
    if let Some(since) = youngest {
        d = d.min(crate::futex::next_slice(None, since).unwrap_or(crate::futex::SLICE));
    }
    if let Some(t) = repoll {
        d = d.min(t.saturating_duration_since(now));
    }
    d
}

/// What one sleep of the helper ended with.
enum Woke {
    /// `futex_waitv` named entry `i` of the snapshot.
    Entry(usize),
    /// Anything else (timeout, a changed value, the helper's own word, a signal).
    Other,
}

fn sleep(
    h: &Helper,
    seq: u32,
    snap: &[Arc<Entry>],
    waits: &mut Vec<futex::Wait>,
    d: Duration,
) -> Woke {
    if NO_WAITV.get().is_none() {
        waits.clear();
        for e in snap {
            let mut w = futex::Wait::new();
            w.val = u64::from(e.expected);
            // Shared (no PRIVATE flag): the word lives in a MAP_SHARED mapping that other
            // processes wake. A word that cannot be reached fires at once below, so its
            // slot only needs some valid address: the helper's own word.
            let addr = e.word.word().unwrap_or(&h.seq);
            w.uaddr = futex::WaitPtr::new(std::ptr::from_ref(addr).cast_mut().cast());
            w.flags = futex::WaitFlags::SIZE_U32;
            waits.push(w);
        }
        let mut own = futex::Wait::new();
        own.val = u64::from(seq);
        own.uaddr = futex::WaitPtr::new(std::ptr::from_ref(&h.seq).cast_mut().cast());
        own.flags = futex::WaitFlags::SIZE_U32 | futex::WaitFlags::PRIVATE;
        waits.push(own);
        let ts = abs_timeout(d);
        match futex::waitv(
            waits,
            futex::WaitvFlags::empty(),
            Some(&ts),
            rustix::time::ClockId::Monotonic,
        ) {
            Ok(i) if i < snap.len() => return Woke::Entry(i),
            Ok(_) | Err(Errno::AGAIN | Errno::TIMEDOUT | Errno::INTR) => return Woke::Other,
            Err(Errno::NOSYS) => {
                let _ = NO_WAITV.set(());
            }
            // Anything else (never seen for valid words): poll this round by slice.
            Err(_) => {}
        }
    }
    // Fallback (Linux < 5.16): sleep on the own word only; changes of the registered words
    // are seen by value at the end of each slice.
    let _ = futex::wait(&h.seq, futex::Flags::PRIVATE, seq, Some(&timespec(d)));
    Woke::Other
}

impl Entry {
    /// Whether the entry should fire without a kernel wake: its word changed or cannot be
    /// reached, its word's owner flags a condition the value does not show, or (with `due`)
    /// its re-poll time came.
    fn ready(&self, now: Instant, due: bool) -> bool {
        // SeqCst: the word was published by a peer's RMW; the future re-reads it anyway.
        self.word
            .word()
            .is_none_or(|w| w.load(Ordering::SeqCst) != self.expected)
            || self.word.flagged()
            || (due && self.repoll_at.is_some_and(|t| now >= t))
    }
}

/// Fires the entries of `snap` that are [`Entry::ready`] or that the kernel named
/// (`by_kernel`); collects their wakers into `wake`. A kernel wake that reached an entry no
/// longer armed is passed on (`FUTEX_WAKE` of one), so a wake-one protocol does not lose it.
fn check(snap: &[Arc<Entry>], by_kernel: Option<usize>, due: bool, wake: &mut Vec<Waker>) {
    let now = Instant::now();
    for (i, e) in snap.iter().enumerate() {
        let kernel = by_kernel == Some(i);
        if kernel || e.ready(now, due) {
            match e.fire(kernel) {
                Some(w) => wake.push(w),
                None if kernel => {
                    if let Some(w) = e.word.word() {
                        crate::futex::wake_one(w);
                    }
                }
                None => {}
            }
        }
    }
}

/// The sweeper's round over every helper (itself included): fire what is ready or due and
/// drop it from its helper's list, under that list's lock (one pass, no copies: an idle
/// process pays this once per slice; the same pass makes the helper's sleep bounds exact),
/// then poke the helpers whose lists shrank so that they stop sleeping on words nobody
/// waits for.
fn sweep(me: &Arc<Helper>, wake: &mut Vec<Waker>) {
    let list: Vec<Arc<Helper>> = helpers().clone();
    let now = Instant::now();
    for h in &list {
        let removed = {
            let mut guard = h.entries();
            let es = &mut *guard;
            let before = es.list.len();
            let (mut youngest, mut repoll) = (None, None);
            // Lock order: a helper's entries, then an entry's slot (`fire`); nothing takes
            // them the other way round.
            es.list.retain(|e| {
                if !e.ready(now, true) {
                    youngest = Some(youngest.map_or(e.since, |y: Instant| y.max(e.since)));
                    if let Some(t) = e.repoll_at {
                        repoll = Some(repoll.map_or(t, |r: Instant| r.min(t)));
                    }
                    return true;
                }
                if let Some(w) = e.fire(false) {
                    wake.push(w);
                }
                false
            });
            (es.youngest, es.repoll) = (youngest, repoll);
            before != es.list.len()
        };
        if removed && !Arc::ptr_eq(h, me) {
            h.poke();
        }
    }
}

/// Whether `h` is the sweeper (the first helper of the list).
fn is_sweeper(h: &Arc<Helper>) -> bool {
    helpers().first().is_some_and(|f| Arc::ptr_eq(f, h))
}

/// The sweeper's sleep: the shortest [`sleep_for`] over every helper (from each helper's
/// bounds, without visiting its entries).
fn sweep_sleep() -> Duration {
    let list: Vec<Arc<Helper>> = helpers().clone();
    let now = Instant::now();
    list.iter()
        .map(|h| h.entries().sleep(now))
        .min()
        .unwrap_or(QUIET)
}

fn run(h: &Arc<Helper>) {
    let mut snap: Vec<Arc<Entry>> = Vec::with_capacity(PER_HELPER);
    let mut waits: Vec<futex::Wait> = Vec::with_capacity(PER_HELPER + 1);
    let mut wake: Vec<Waker> = Vec::with_capacity(PER_HELPER);
    loop {
        // SeqCst: pairs with `poke` (see the module docs); loaded before the snapshot.
        let seq = h.seq.load(Ordering::SeqCst);
        snap.clear();
        snap.extend(h.entries().list.iter().cloned());
        let sweeper = is_sweeper(h);
        if snap.is_empty() && (!sweeper || pending() == 0) {
            let _ = futex::wait(&h.seq, futex::Flags::PRIVATE, seq, Some(&timespec(LINGER)));
            if h.seq.load(Ordering::SeqCst) != seq {
                continue;
            }
            let mut list = helpers();
            if h.entries().list.is_empty() {
                list.retain(|x| !Arc::ptr_eq(x, h));
                // The next helper becomes the sweeper: wake it to take the role now.
                if let Some(next) = list.first() {
                    next.poke();
                }
                return;
            }
            continue;
        }
        let d = if sweeper || NO_WAITV.get().is_some() {
            sweep_sleep()
        } else {
            QUIET
        };
        let woke = sleep(h, seq, &snap, &mut waits, d);
        let by_kernel = match woke {
            Woke::Entry(i) => Some(i),
            Woke::Other => None,
        };
        if sweeper {
            // The sweep covers this helper's own entries; only a kernel wake needs its flag,
            // and its task is woken before the sweep (which may cover many entries).
            if let Some(named) = by_kernel.and_then(|i| snap.get(i..=i)) {
                check(named, Some(0), false, &mut wake);
                h.entries()
                    .list
                    .retain(|e| !named.iter().any(|n| Arc::ptr_eq(e, n)));
                for w in wake.drain(..) {
                    w.wake();
                }
            }
            sweep(h, &mut wake);
        } else {
            check(&snap, by_kernel, false, &mut wake);
            h.entries().list.retain(|e| e.lock().state == State::Armed);
        }
        if !sweeper && NO_WAITV.get().is_some() {
            // Without futex_waitv nothing wakes this helper for its words: check them by
            // value (and re-poll times) every slice itself.
            check(&snap, None, true, &mut wake);
            h.entries().list.retain(|e| e.lock().state == State::Armed);
        }
        snap.clear();
        for w in wake.drain(..) {
            w.wake();
        }
    }
}
