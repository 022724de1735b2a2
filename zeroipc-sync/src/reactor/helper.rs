//! The helper threads: each sleeps in one `futex_waitv` on up to [`PER_HELPER`] registered
//! shared words plus a private word of its own (its *sequence*), and wakes the [`Waker`]s of
//! the registrations whose word changed, was woken, or whose re-poll time came.
//!
//! A helper whose registrations include a *young* wait (one whose slice is still shorter
//! than [`crate::futex::max_slice`], as a blocking wait of that age would sleep) or one with
//! a re-poll time sleeps at most until the earliest of those, then checks its registrations
//! by value; otherwise it sleeps until the kernel wakes it (at most [`QUIET`]).
//!
//! A separate **sweeper** thread, with no registrations of its own, wakes once per
//! [`crate::futex::max_slice`] while any wait is pending (and for [`LINGER`] after the last)
//! and re-checks the registered words of *every* helper by value, firing those that changed
//! (an upstream peer that never calls `FUTEX_WAKE`, or a flag such as `closed` whose wake-up
//! reached no sleeping helper) or whose re-poll time came. So an idle process pays one timed
//! wake-up per slice in total plus one pass over its registrations, never a `futex_waitv`
//! over up to 128 shared words per slice: each such call pins and hashes every word, which
//! is what an idle process's CPU went to while a helper did the sweeping. A registration
//! never needs to wake the sweeper: young waits are timed by their helper.
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
use zeroipc_format::{AtomicWords, Region};

use super::FutexWord;

/// Registered words per helper: `futex_waitv` takes at most 128, one is the helper's own.
pub(crate) const PER_HELPER: usize = 127;

/// How long a helper with nothing to wait for stays before it exits.
const LINGER: Duration = Duration::from_millis(200);

/// The longest sleep of a helper (a safety net: the kernel wakes it for its words, a
/// registration or the sweeper's removal of a fired entry pokes its own word, so nothing
/// waits for this timeout). Long, because each wake-up re-arms a `futex_waitv` over up to
/// 128 shared words, which the kernel pins and hashes one by one (~200 µs of CPU for a full
/// helper on the project's VM).
const QUIET: Duration = Duration::from_secs(10);

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
            h.entries().list.retain(|r| !Arc::ptr_eq(&r.entry, self));
        }
        prev
    }
}

/// A registration as its helper lists it: the entry, plus copies of what the sweeper reads
/// of it once per slice, kept inline in the helper's list. The sweeper's pass over 1,000
/// pending waits then walks one contiguous array and touches per wait only the shared
/// memory it must read (the word, and the flag byte where the owner names one), not the
/// entry's and the word owner's heap objects: those misses were most of an idle process's
/// CPU once the sweeper no longer called `futex_waitv`.
pub(crate) struct Reg {
    pub entry: Arc<Entry>,
    /// [`FutexWord::view`] of the entry's word.
    word: Option<AtomicWords>,
    /// [`FutexWord::flag_byte`] of the entry's word.
    flag: Option<(Region, usize)>,
    expected: u32,
    since: Instant,
    repoll_at: Option<Instant>,
}

impl Reg {
    fn new(entry: Arc<Entry>) -> Self {
        Self {
            word: entry.word.view(),
            flag: entry.word.flag_byte(),
            expected: entry.expected,
            since: entry.since,
            repoll_at: entry.repoll_at,
            entry,
        }
    }

    /// [`Entry::ready`], from the inline copies where the owner gave them. Both loads are
    /// made and combined without a branch in between: in the sweeper's pass the two lines
    /// of shared memory are usually cold, and independent loads let the CPU wait for
    /// several pending waits' misses at once.
    fn ready(&self, now: Instant, due: bool) -> bool {
        let word = match &self.word {
            Some(v) => v.first(),
            None => self.entry.word.word(),
        };
        let flagged = match &self.flag {
            // Acquire: pairs with the closer's release store; a byte that cannot be read
            // (never, for a validated owner) ends the wait, and the future reports why.
            Some((region, at)) => region
                .atomic_u8(*at)
                .map_or(true, |b| b.load(Ordering::Acquire) != 0),
            None => self.entry.word.flagged(),
        };
        ready(
            differs(word, self.expected),
            flagged,
            self.repoll_at,
            now,
            due,
        )
    }
}

/// Whether a wait's word no longer holds `expected` or cannot be reached (`None`).
fn differs(word: Option<&AtomicU32>, expected: u32) -> bool {
    // SeqCst: the word was published by a peer's RMW; the future re-reads it anyway.
    word.is_none_or(|w| w.load(Ordering::SeqCst) != expected)
}

/// The rule by which a wait fires without a kernel wake: its word `changed` (or cannot be
/// reached), its word's owner `flagged` a condition the value does not show, or (with
/// `due`) its re-poll time came. Both readings are taken before the rule combines them.
fn ready(
    changed: bool,
    flagged: bool,
    repoll_at: Option<Instant>,
    now: Instant,
    due: bool,
) -> bool {
    changed | flagged | (due && repoll_at.is_some_and(|t| now >= t))
}

/// A helper's registrations, with what its sleep depends on.
pub(crate) struct Entries {
    pub list: Vec<Reg>,
    /// The latest `since` and the earliest `repoll_at` of the entries: exact after each
    /// sweep and raised/lowered by each registration; an entry withdrawn in between may
    /// leave them conservative (a shorter sleep) until the next sweep.
    youngest: Option<Instant>,
    repoll: Option<Instant>,
}

impl Entries {
    /// How long a helper with these entries may sleep: until the next slice of its youngest
    /// wait while that slice is shorter than [`crate::futex::max_slice`] (older waits are
    /// the sweeper's), and no later than the earliest re-poll; else [`QUIET`].
    fn sleep(&self, now: Instant) -> Duration {
        let mut d = QUIET;
        if let Some(since) = self.youngest {
            let slice = crate::futex::next_slice(None, since).unwrap_or(crate::futex::SLICE);
            if slice < crate::futex::max_slice() {
                d = d.min(slice);
            }
        }
        if let Some(t) = self.repoll {
            d = d.min(t.saturating_duration_since(now));
        }
        d
    }

    fn note(&mut self, since: Instant, repoll_at: Option<Instant>) {
        self.youngest = Some(self.youngest.map_or(since, |y| y.max(since)));
        if let Some(t) = repoll_at {
            self.repoll = Some(self.repoll.map_or(t, |r| r.min(t)));
        }
    }

    /// Keeps the registrations for which `keep` holds and makes the sleep bounds exact.
    /// Returns whether any was dropped.
    fn retain(&mut self, mut keep: impl FnMut(&Reg) -> bool) -> bool {
        let before = self.list.len();
        let (mut youngest, mut repoll) = (None, None);
        self.list.retain(|r| {
            if !keep(r) {
                return false;
            }
            youngest = Some(youngest.map_or(r.since, |y: Instant| y.max(r.since)));
            if let Some(t) = r.repoll_at {
                repoll = Some(repoll.map_or(t, |x: Instant| x.min(t)));
            }
            true
        });
        (self.youngest, self.repoll) = (youngest, repoll);
        before != self.list.len()
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

/// Whether the sweeper thread runs (see the module docs).
static SWEEPER: Mutex<bool> = Mutex::new(false);

/// Set once `futex_waitv` said `ENOSYS` (Linux < 5.16): helpers then poll by slice.
static NO_WAITV: std::sync::OnceLock<()> = std::sync::OnceLock::new();

fn helpers() -> MutexGuard<'static, Vec<Arc<Helper>>> {
    HELPERS.lock().unwrap_or_else(|p| p.into_inner())
}

fn sweeper() -> MutexGuard<'static, bool> {
    SWEEPER.lock().unwrap_or_else(|p| p.into_inner())
}

/// Live helper threads of this process, the sweeper included.
pub(crate) fn helper_count() -> usize {
    let list = helpers();
    list.len() + usize::from(*sweeper())
}

/// Registered entries of this process that are not yet fired (or withdrawn). A helper
/// fires an entry, then drops it from its list in a second step; a future woken in between
/// may already have completed, so counting the list would count its wait as still pending.
pub(crate) fn pending() -> usize {
    helpers()
        .iter()
        .map(|h| {
            // Lock order: a helper's entries, then an entry's slot (as `fire`).
            let es = h.entries();
            es.list
                .iter()
                .filter(|r| r.entry.lock().state == State::Armed)
                .count()
        })
        .sum()
}

/// Registrations the helpers in `list` hold, fired or not (what the sweeper may still have
/// to look at; cheaper than [`pending`]: no entry's lock).
fn listed_in(list: &[Arc<Helper>]) -> usize {
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
    {
        let mut running = sweeper();
        if !*running {
            std::thread::Builder::new()
                .name("zeroipc-sweeper".into())
                .spawn(sweep_loop)?;
            *running = true;
        }
    }
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
        es.list.push(Reg::new(Arc::clone(&entry)));
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
    /// [`ready`], read through the word's owner (the helper's check after a wake-up).
    fn ready(&self, now: Instant, due: bool) -> bool {
        ready(
            differs(self.word.word(), self.expected),
            self.word.flagged(),
            self.repoll_at,
            now,
            due,
        )
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
fn sweep(list: &mut Vec<Arc<Helper>>, wake: &mut Vec<Waker>) {
    list.clear();
    list.extend(helpers().iter().cloned());
    let now = Instant::now();
    for h in list.iter() {
        let removed = {
            let mut es = h.entries();
            touch(&es.list);
            // Lock order: a helper's entries, then an entry's slot (`fire`); nothing takes
            // them the other way round.
            es.retain(|r| {
                if !r.ready(now, true) {
                    return true;
                }
                if let Some(w) = r.entry.fire(false) {
                    wake.push(w);
                }
                false
            })
        };
        if removed {
            h.poke();
        }
    }
}

/// Reads every registration's word and flag byte once, in a tight loop of independent
/// loads, before the sweep's real pass. After a slice of idleness those lines of shared
/// memory are usually cold; this loop lets the CPU wait for many of their misses at once,
/// where the real pass (branches, a call per registration) overlaps only a few. Measured
/// with 1,000 pending waits on the project's VM: the sweeper's CPU fell by about a tenth.
fn touch(list: &[Reg]) {
    let mut acc = 0u32;
    for r in list {
        if let Some(w) = r.word.as_ref().and_then(|v| v.first()) {
            // Relaxed: only the cache line matters; the real pass loads again.
            acc ^= w.load(Ordering::Relaxed);
        }
        if let Some((region, at)) = &r.flag
            && let Ok(b) = region.atomic_u8(*at)
        {
            acc ^= u32::from(b.load(Ordering::Relaxed));
        }
    }
    std::hint::black_box(acc);
}

/// The sweeper thread: one pass over every helper's registrations per
/// [`crate::futex::max_slice`]; exits after [`LINGER`] without any.
fn sweep_loop() {
    let mut wake: Vec<Waker> = Vec::new();
    let mut list: Vec<Arc<Helper>> = Vec::new();
    let mut idle_since: Option<Instant> = None;
    loop {
        std::thread::sleep(crate::futex::max_slice());
        sweep(&mut list, &mut wake);
        list.clear();
        for w in wake.drain(..) {
            w.wake();
        }
        if listed_in(&helpers()) > 0 {
            idle_since = None;
            continue;
        }
        let now = Instant::now();
        if now.saturating_duration_since(*idle_since.get_or_insert(now)) < LINGER {
            continue;
        }
        // Lock order: the helper list, then the flag; a registration takes both too, so
        // it either finds this sweeper running or starts the next one.
        let list = helpers();
        if listed_in(&list) == 0 {
            *sweeper() = false;
            return;
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
        snap.extend(h.entries().list.iter().map(|r| Arc::clone(&r.entry)));
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
        // Without futex_waitv the helper sleeps on its own word only, as long as with it:
        // its young waits' slices and re-polls bound the sleep, the sweeper covers the rest.
        let d = h.entries().sleep(Instant::now());
        if let Woke::Entry(i) = sleep(h, seq, &snap, &mut waits, d) {
            // The wait the kernel named first, before anything else: its task is what a
            // cross-process wake-up is waiting for.
            check(&snap[i..=i], Some(0), false, &mut wake);
            for w in wake.drain(..) {
                w.wake();
            }
        }
        check(&snap, None, true, &mut wake);
        h.entries().retain(|r| r.entry.lock().state == State::Armed);
        snap.clear();
        for w in wake.drain(..) {
            w.wake();
        }
    }
}
