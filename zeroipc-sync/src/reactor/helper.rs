//! The helper threads: each sleeps in one `futex_waitv` on up to [`PER_HELPER`] registered
//! shared words plus a private word of its own (its *sequence*), and wakes the [`Waker`]s of
//! the registrations whose word changed, was woken, or whose re-poll time came.
//!
//! A separate **sweeper** thread, with no registrations of its own, sleeps on its private
//! word for at most one slice (the slice of the youngest pending wait, as a blocking wait of
//! that age would sleep, and no later than any re-poll time) and then re-checks the
//! registered words of *every* helper by value, firing those that changed (an upstream peer
//! that never calls `FUTEX_WAKE`) or whose re-poll time came. The helpers sleep until the
//! kernel wakes them (at most [`QUIET`]). So an idle process pays one cheap timed wake-up per
//! slice in total (a `FUTEX_WAIT` on one private word plus a pass over the entries), never a
//! `futex_waitv` over up to 128 shared words per slice: each such call pins and hashes every
//! word, which is what an idle process's CPU went to when the sweeper was also a helper.
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
use zeroipc_format::atomic::shared::{AtomicU32, AtomicU64};

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

/// The process's helpers (lock order: this list, then [`SWEEPER`], then a helper's entries).
static HELPERS: Mutex<Vec<Arc<Helper>>> = Mutex::new(Vec::new());

/// The sweeper thread, while one runs (see the module docs).
static SWEEPER: Mutex<Option<Arc<Sweeper>>> = Mutex::new(None);

/// Set once `futex_waitv` said `ENOSYS` (Linux < 5.16): helpers then poll by slice.
static NO_WAITV: std::sync::OnceLock<()> = std::sync::OnceLock::new();

fn helpers() -> MutexGuard<'static, Vec<Arc<Helper>>> {
    HELPERS.lock().unwrap_or_else(|p| p.into_inner())
}

fn sweeper() -> MutexGuard<'static, Option<Arc<Sweeper>>> {
    SWEEPER.lock().unwrap_or_else(|p| p.into_inner())
}

/// The sweeper's shared part: its private futex word and when it plans to sweep next.
struct Sweeper {
    /// Incremented (and woken) by a registration that needs an earlier sweep.
    seq: AtomicU32,
    /// When the sweeper wakes next, in ns since [`epoch`]; `u64::MAX` while it is planning
    /// (a registration then always pokes it). See [`Sweeper::needs`] for the hand-off.
    wake_at: AtomicU64,
}

impl Sweeper {
    /// Whether a registration whose first check is due at `due` must poke the sweeper.
    ///
    /// Hand-off: the sweeper stores `u64::MAX`, loads its sequence, computes its sleep from
    /// the entries (under their locks), stores the wake time and sleeps on the sequence. A
    /// registrant pushes its entry (under its helper's lock) and then reads the wake time
    /// (both `SeqCst`). If the sweeper's computation missed the entry, the registrant reads
    /// either `u64::MAX` or the new wake time and pokes when that is later than `due`: the
    /// sequence then differs from the one the sweeper loaded, so its sleep ends at once.
    fn needs(&self, due: Instant) -> bool {
        nanos_since_epoch(due) < self.wake_at.load(Ordering::SeqCst)
    }

    fn poke(&self) {
        // SeqCst: pairs with the sweeper's load of `seq` before it plans (see `needs`).
        self.seq.fetch_add(1, Ordering::SeqCst);
        let _ = futex::wake(&self.seq, futex::Flags::PRIVATE, 1);
    }
}

/// The process's reference instant for the sweeper's wake time.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX - 1)
}

/// Live helper threads of this process, the sweeper included.
pub(crate) fn helper_count() -> usize {
    let list = helpers();
    list.len() + usize::from(sweeper().is_some())
}

/// Registered, not yet fired entries of this process.
pub(crate) fn pending() -> usize {
    pending_in(&helpers())
}

fn pending_in(list: &[Arc<Helper>]) -> usize {
    list.iter().map(|h| h.entries().list.len()).sum()
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
    let sweeper = {
        let mut slot = sweeper();
        match &*slot {
            Some(s) => Arc::clone(s),
            None => {
                let s = Arc::new(Sweeper {
                    seq: AtomicU32::new(0),
                    wake_at: AtomicU64::new(u64::MAX),
                });
                let for_thread = Arc::clone(&s);
                std::thread::Builder::new()
                    .name("zeroipc-sweeper".into())
                    .spawn(move || sweep_loop(&for_thread))?;
                *slot = Some(Arc::clone(&s));
                s
            }
        }
    };
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
    // The entry's first check by value: one slice after it started waiting (or its re-poll).
    let now = Instant::now();
    let due = now + sleep_for(Some(since), repoll_at, now);
    if sweeper.needs(due) {
        sweeper.poke();
    }
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

/// The sweeper's round over every helper: fire what is ready or due and drop it from its
/// helper's list, under that list's lock (one pass, no copies: an idle process pays this
/// once per slice; the same pass makes the helper's sleep bounds exact), then poke the
/// helpers whose lists shrank so that they stop sleeping on words nobody waits for.
fn sweep(wake: &mut Vec<Waker>) {
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
        if removed {
            h.poke();
        }
    }
}

/// The sweeper's sleep: the shortest [`sleep_for`] over every helper (from each helper's
/// bounds, without visiting its entries); `None` if no entry is pending.
fn sweep_sleep() -> Option<Duration> {
    let list = helpers();
    let now = Instant::now();
    list.iter()
        .filter_map(|h| {
            let es = h.entries();
            (!es.list.is_empty()).then(|| es.sleep(now))
        })
        .min()
}

/// The sweeper thread: sleeps one slice, sweeps every helper's entries, and exits after
/// [`LINGER`] without any.
fn sweep_loop(me: &Arc<Sweeper>) {
    let mut wake: Vec<Waker> = Vec::new();
    loop {
        // Planning: a registration meanwhile pokes us (see `Sweeper::needs`).
        me.wake_at.store(u64::MAX, Ordering::SeqCst);
        let seq = me.seq.load(Ordering::SeqCst);
        let Some(d) = sweep_sleep() else {
            let _ = futex::wait(&me.seq, futex::Flags::PRIVATE, seq, Some(&timespec(LINGER)));
            if me.seq.load(Ordering::SeqCst) != seq {
                continue;
            }
            let list = helpers();
            if pending_in(&list) == 0 {
                let mut slot = sweeper();
                if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, me)) {
                    *slot = None;
                }
                return;
            }
            continue;
        };
        me.wake_at
            .store(nanos_since_epoch(Instant::now() + d), Ordering::SeqCst);
        let _ = futex::wait(&me.seq, futex::Flags::PRIVATE, seq, Some(&timespec(d)));
        sweep(&mut wake);
        for w in wake.drain(..) {
            w.wake();
        }
    }
}

/// A helper thread: sleeps in `futex_waitv` on its entries' words and its own, and fires
/// the entries the kernel named or whose word changed; exits after [`LINGER`] without any.
fn run(h: &Arc<Helper>) {
    let mut snap: Vec<Arc<Entry>> = Vec::with_capacity(PER_HELPER);
    let mut waits: Vec<futex::Wait> = Vec::with_capacity(PER_HELPER + 1);
    let mut wake: Vec<Waker> = Vec::with_capacity(PER_HELPER);
    loop {
        // SeqCst: pairs with `poke` (see the module docs); loaded before the snapshot.
        let seq = h.seq.load(Ordering::SeqCst);
        snap.clear();
        snap.extend(h.entries().list.iter().cloned());
        if snap.is_empty() {
            let _ = futex::wait(&h.seq, futex::Flags::PRIVATE, seq, Some(&timespec(LINGER)));
            if h.seq.load(Ordering::SeqCst) != seq {
                continue;
            }
            let mut list = helpers();
            if h.entries().list.is_empty() {
                list.retain(|x| !Arc::ptr_eq(x, h));
                return;
            }
            continue;
        }
        // Without futex_waitv the helper sleeps on its own word only; the sweeper checks
        // its entries by value every slice.
        let by_kernel = match sleep(h, seq, &snap, &mut waits, QUIET) {
            Woke::Entry(i) => Some(i),
            Woke::Other => None,
        };
        check(&snap, by_kernel, false, &mut wake);
        h.entries().list.retain(|e| e.lock().state == State::Armed);
        snap.clear();
        for w in wake.drain(..) {
            w.wake();
        }
    }
}
