//! Adaptive spin-then-park: the busy phase every blocking wait runs before it registers as a
//! sleeper and parks in the futex (what crossbeam's `Backoff` and parking_lot's `SpinWait`
//! do in-process).
//!
//! [`spin`] polls its condition with exponentially growing runs of CPU pause hints (1, 2, 4,
//! … 64, about 1 µs in all), then keeps polling — in runs of 64 pause hints, or with
//! `sched_yield` in between for a waiter whose peer has work queued ([`Peer::Busy`]) — until
//! the **spin budget** has passed, and only then gives up so the caller can park. The budget is not a fixed count: it is the measured cost
//! of a park on this machine — the waker's `FUTEX_WAKE` system call plus the sleeper's wake-up
//! latency — calibrated once per process (on the first wait that gets past the short
//! exponential phase; see [`spin_budget`]) and clamped to [`MIN_BUDGET`]..=[`MAX_BUDGET`].
//! A waiter that spins as long as a park would cost never pays more than twice the better of
//! the two choices (the classic competitive argument for spin-then-block), so a hand-off that
//! arrives within a few µs — the common case between two running processes — costs no system
//! call on either side, while a waiter whose peer is gone for long spins once, at most
//! [`MAX_BUDGET`], per blocking call and then sleeps; an idle waiter's CPU cost stays that of
//! its sleep slices (see [`crate::futex`]).
//!
//! Callers that learn from their previous waits change how they pass the timed phase
//! where a wait showed that their peer shares their CPU ([`Pace`]: with `sched_yield`
//! between polls for codata's channel receivers and rendezvous senders, not at all for its
//! stream subscribers and the `Semaphore`).
//!
//! `ZEROIPC_SPIN_US=N` in the environment, or [`set_spin_budget`], sets the budget instead of
//! calibrating (0: no spinning past the exponential phase). Under `cfg(zeroipc_loom)` there
//! is no busy phase at all: the models must not busy-wait.
// The budget is a process-local setting (not shared memory, not part of a modelled
// algorithm): a plain hardware atomic, as the futex module's words are.
#![allow(clippy::disallowed_types)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::atomic::shared::{AtomicU32, AtomicU64};

use crate::futex;

/// Lower bound of a calibrated budget.
pub const MIN_BUDGET: Duration = Duration::from_micros(2);
/// Upper bound of a calibrated budget, and of the timed phase of a yielding wait.
pub const MAX_BUDGET: Duration = Duration::from_micros(50);
/// Budget used when calibration cannot run (no helper thread, or it was never scheduled).
pub const FALLBACK_BUDGET: Duration = Duration::from_micros(20);

/// Runs of pause hints double up to `1 << SPIN_LIMIT`.
const SPIN_LIMIT: u32 = 6;

/// The budget in ns; `UNSET` until calibrated or set.
static BUDGET_NS: AtomicU64 = AtomicU64::new(UNSET);
const UNSET: u64 = u64::MAX;
static CALIBRATION: std::sync::Once = std::sync::Once::new();

/// The spin budget of this process: how long a waiter polls before it parks. Calibrated on
/// first use (about 1 ms, once per process; see the module docs) unless set with
/// `ZEROIPC_SPIN_US` or [`set_spin_budget`].
pub fn spin_budget() -> Duration {
    let ns = BUDGET_NS.load(Ordering::Relaxed);
    if ns != UNSET {
        return Duration::from_nanos(ns);
    }
    CALIBRATION.call_once(|| {
        let budget = from_env().unwrap_or_else(|| {
            measure_park_cost().map_or(FALLBACK_BUDGET, |c| c.clamp(MIN_BUDGET, MAX_BUDGET))
        });
        // Only if nobody set a budget meanwhile.
        let _ =
            BUDGET_NS.compare_exchange(UNSET, nanos(budget), Ordering::Relaxed, Ordering::Relaxed);
    });
    Duration::from_nanos(BUDGET_NS.load(Ordering::Relaxed))
}

/// Sets the spin budget of this process (`Duration::ZERO`: park right after the short
/// exponential phase). Skips the calibration.
pub fn set_spin_budget(budget: Duration) {
    BUDGET_NS.store(nanos(budget).min(UNSET - 1), Ordering::Relaxed);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(UNSET - 1)
}

fn from_env() -> Option<Duration> {
    let v = std::env::var("ZEROIPC_SPIN_US").ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_micros)
}

/// What a waiter knows about the peer it waits for; decides how it passes the timed part of
/// its spin phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The peer may be idle or run on another CPU (a receiver waiting for data, an acquirer
    /// waiting for a release): poll with CPU pause hints, then park. Parking, not yielding,
    /// is what gets this waiter its CPU back quickly when the peer finally acts: a woken
    /// sleeper preempts, while a task that yielded to an unrelated one waits for the end of
    /// that one's time slice (milliseconds).
    MayBeIdle,
    /// The peer has work queued and may be waiting for this CPU (a sender waiting for room in
    /// a full buffer; a receiver whose last wait showed the producer running in bursts):
    /// poll with `sched_yield` in between, so that a peer sharing this CPU runs now instead
    /// of after our spin.
    Busy,
}

/// How a spin phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spun<R> {
    /// `attempt` succeeded within the short exponential phase (about 1 µs).
    Early(R),
    /// `attempt` succeeded in the timed phase.
    Late(R),
    /// The spin phase is over: register and park.
    Park,
}

/// Polls `attempt` until it returns `Some` (returned) or the spin phase is over (`None`: the
/// caller should register and park), for a peer that may be idle ([`Peer::MayBeIdle`]).
/// See the module docs.
#[inline]
pub fn spin<R>(attempt: impl FnMut() -> Option<R>) -> Option<R> {
    spin_for(Peer::MayBeIdle, attempt)
}

/// As [`spin`], passing the timed part as `peer` says.
#[inline]
pub fn spin_for<R>(peer: Peer, attempt: impl FnMut() -> Option<R>) -> Option<R> {
    match spin_until(peer, true, attempt) {
        Spun::Early(r) | Spun::Late(r) => Some(r),
        Spun::Park => None,
    }
}

/// As [`spin_for`], saying in which phase `attempt` succeeded; with `timed == false` only
/// the short exponential phase runs (callers that learn from their previous waits skip the
/// timed phase where it has not paid off).
#[inline]
pub fn spin_until<R>(peer: Peer, timed: bool, mut attempt: impl FnMut() -> Option<R>) -> Spun<R> {
    if cfg!(zeroipc_loom) {
        return Spun::Park;
    }
    for step in 0..=SPIN_LIMIT {
        if let Some(r) = attempt() {
            return Spun::Early(r);
        }
        for _ in 0..(1u32 << step) {
            std::hint::spin_loop();
        }
    }
    if !timed {
        return Spun::Park;
    }
    match spin_budgeted(peer, attempt) {
        Some(r) => Spun::Late(r),
        None => Spun::Park,
    }
}

/// The timed part of [`spin_until`], out of line: a hand-off caught in the first ~1 µs never
/// reads the clock.
#[cold]
#[inline(never)]
fn spin_budgeted<R>(peer: Peer, mut attempt: impl FnMut() -> Option<R>) -> Option<R> {
    // Yielding to a peer that shares this CPU is the hand-off itself, not a cost to weigh
    // against a park: the calibrated budget (the price of a park) does not bound it. A yield
    // that finds nothing else to run returns at once, so with an idle peer this phase costs
    // what the longest spin costs, once per blocking call. Measured between two processes
    // on one CPU: a calibrated budget of 2–5 µs made the waiter park after one or two
    // yields, and each park turned into a wake-up that preempted the peer (1.6 M items/s);
    // with this bound, 23 M items/s.
    let budget = match peer {
        Peer::MayBeIdle => spin_budget(),
        Peer::Busy => MAX_BUDGET,
    };
    let start = Instant::now();
    loop {
        if let Some(r) = attempt() {
            return Some(r);
        }
        if start.elapsed() >= budget {
            return None;
        }
        match peer {
            Peer::MayBeIdle => {
                for _ in 0..(1u32 << SPIN_LIMIT) {
                    std::hint::spin_loop();
                }
            }
            Peer::Busy => std::thread::yield_now(),
        }
    }
}

/// A waiter's memory of its previous waits: how its next wait passes the timed part of
/// the spin phase (process-local, one per handle; a heuristic, so racing waiters of one
/// handle may overwrite each other's lesson). Used by codata's channel receivers, rendezvous
/// senders and stream subscribers and by [`crate::Semaphore`]; see [`spin_until`].
///
/// Spinning with pause hints ([`Peer::MayBeIdle`]) pays when the peer runs on another CPU
/// and acts within the spin budget. It is wasted, and worse, when the peer shares the
/// waiter's CPU: the peer runs only once the waiter stops spinning, and a parked waiter
/// that the peer wakes preempts it again at once, so every hand-off costs two context
/// switches and a `FUTEX_WAKE` (measured: a Channel between two processes on one CPU moved
/// 1.5 M items/s that way). That case shows as a park woken quickly after a full spin (the
/// peer ran as soon as the waiter parked). After one, the next waits change course, in one
/// of two ways chosen at construction:
///
/// - [`Pace::yielding`] (channel receivers and rendezvous senders: throughput and
///   hand-offs): the timed phase polls with `sched_yield` in between ([`Peer::Busy`]), as
///   crossbeam's `Backoff::snooze` does. The peer then runs until it has filled what it
///   can or its time slice ends, and the waiter comes back to a batch (measured, two
///   processes with a CPU hog beside them: Channel 1P/1C 2.2 → 22 M items/s).
/// - [`Pace::default`] (stream subscribers, semaphores: wake-up latency): the timed phase is
///   skipped and the waiter parks right after the exponential phase. A yielding subscriber
///   waits for the end of the time slice of whatever holds the CPU, a busy-waiting producer
///   or an unrelated process (measured: Stream emit → subscriber 0.7–0.9× the raw futex
///   wake with this mode, 3–11× with yields, same run, a CPU hog beside).
///
/// Every [`Pace::PROBE`]-th wait in either mode spins with pause hints again (a probe,
/// costing at most one budget of CPU); a probe that ends while spinning, or that parks long
/// (the peer was idle, not on our CPU), returns to pause hints.
#[derive(Debug, Default)]
pub struct Pace {
    /// 0: pause hints; n > 0: the learnt mode, n waits since it was entered.
    state: AtomicU32,
    /// The learnt mode yields ([`Pace::yielding`]) instead of skipping the timed phase.
    yields: bool,
}

/// How one wait passes its timed phase, as [`Pace::plan`] decided; passed back to
/// [`Pace::learn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// How the timed phase polls.
    pub peer: Peer,
    /// Whether there is a timed phase at all (`false`: park right after the exponential
    /// phase).
    pub timed: bool,
}

impl Pace {
    /// One wait in this many, in the learnt mode, spins with pause hints (a probe).
    pub const PROBE: u32 = 16;

    /// A pace whose learnt mode yields the CPU in the timed phase (see the type docs).
    pub fn yielding() -> Self {
        Self {
            state: AtomicU32::new(0),
            yields: true,
        }
    }

    /// How the next wait passes its timed phase: pause hints unless the peer was seen
    /// sharing this CPU; then, but for the probes, yields ([`Pace::yielding`]) or no timed
    /// phase ([`Pace::default`]).
    pub fn plan(&self) -> Plan {
        let v = self.state.load(Ordering::Relaxed);
        match (v.is_multiple_of(Self::PROBE), self.yields) {
            (true, _) => Plan {
                peer: Peer::MayBeIdle,
                timed: true,
            },
            (false, true) => Plan {
                peer: Peer::Busy,
                timed: true,
            },
            (false, false) => Plan {
                peer: Peer::MayBeIdle,
                timed: false,
            },
        }
    }

    /// The spin phase of one wait, paced by this handle's lessons: [`Pace::plan`], then
    /// [`spin_until`], learning at once when the timed phase caught the hand-off.
    /// [`Paced::Park`] means register and park; call [`Parking::woke`] once the parked wait
    /// succeeded, so that the pace learns how long it slept.
    ///
    /// # Examples
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use zeroipc_sync::backoff::{Pace, Paced};
    ///
    /// let pace = Pace::yielding();
    /// let word = AtomicU32::new(1);
    /// match pace.spin(|| (word.load(Ordering::Acquire) == 1).then_some(7)) {
    ///     Paced::Done(v) => assert_eq!(v, 7),
    ///     Paced::Park(parking) => {
    ///         // register as a waiter, sleep on the word until the condition holds, then:
    ///         parking.woke();
    ///     }
    /// }
    /// ```
    pub fn spin<R>(&self, attempt: impl FnMut() -> Option<R>) -> Paced<'_, R> {
        let plan = self.plan();
        match spin_until(plan.peer, plan.timed, attempt) {
            Spun::Early(r) => Paced::Done(r),
            Spun::Late(r) => {
                self.learn(plan, None);
                Paced::Done(r)
            }
            Spun::Park => Paced::Park(Parking {
                pace: self,
                plan,
                since: Instant::now(),
            }),
        }
    }

    /// After a wait that got past the exponential phase: its `plan`, and how long it slept
    /// (`None`: it ended in the timed phase).
    pub fn learn(&self, plan: Plan, parked: Option<Duration>) {
        self.learn_with(plan, parked, spin_budget());
    }

    fn learn_with(&self, plan: Plan, parked: Option<Duration>, budget: Duration) {
        // "Quickly": within half the budget. A yielding pace judges against the longest
        // budget: with a short calibrated budget a peer on this CPU still needs a few µs (a
        // context switch and its first send) to wake the waiter, which half of a 2 µs budget
        // would miss (measured: a 2–5 µs budget kept two processes on one CPU at 1.6 M
        // items/s).
        let quick = if self.yields {
            budget.max(MAX_BUDGET) / 2
        } else {
            budget / 2
        };
        let v = self.state.load(Ordering::Relaxed);
        let probe = plan.peer == Peer::MayBeIdle && plan.timed;
        let next = match parked {
            // Pause hints caught the hand-off, or a full spin was followed by a long sleep
            // (the peer was idle, not on our CPU): keep (or return to) pause hints.
            None if probe => 0,
            Some(d) if probe && d >= quick => 0,
            // Woken quickly after a full spin: the peer shares our CPU.
            Some(_) if probe => 1,
            // In the learnt mode, whatever happened: count towards the next probe.
            _ => v.wrapping_add(1).max(1),
        };
        self.state.store(next, Ordering::Relaxed);
    }
}

/// How a paced spin phase ([`Pace::spin`]) ended.
#[derive(Debug)]
#[must_use = "a `Park` must be followed by a parked wait"]
pub enum Paced<'a, R> {
    /// The attempt succeeded while spinning (the pace has learnt from it already).
    Done(R),
    /// The spin phase is over: register and park.
    Park(Parking<'a>),
}

/// A paced wait that parks: tells its [`Pace`] how long it slept once it succeeded.
#[derive(Debug)]
pub struct Parking<'a> {
    pace: &'a Pace,
    plan: Plan,
    since: Instant,
}

impl Parking<'_> {
    /// The parked wait succeeded: the pace learns how long it slept ([`Pace::learn`]). A
    /// wait that timed out or failed is dropped without calling this, and teaches nothing.
    pub fn woke(self) {
        self.pace.learn(self.plan, Some(self.since.elapsed()));
    }
}

/// The word a calibration helper thread sleeps on, its announcement and its wake-up time.
struct Probe {
    word: AtomicU32,
    ready: AtomicU32,
    woke: AtomicU32,
    woke_at: AtomicU64,
}

/// Measures the cost of one park: a helper thread sleeps in `FUTEX_WAIT`, this thread stores
/// and calls `FUTEX_WAKE`; the cost is the wake-up call's duration plus the time until the
/// helper runs again, median of the samples whose wake found the helper asleep. `None` if
/// the helper could not be started or was not scheduled in time.
fn measure_park_cost() -> Option<Duration> {
    const SAMPLES: u32 = 9;
    let give_up = Instant::now() + Duration::from_millis(50);
    let epoch = Instant::now();
    let p = Arc::new(Probe {
        word: AtomicU32::new(0),
        ready: AtomicU32::new(0),
        woke: AtomicU32::new(0),
        woke_at: AtomicU64::new(0),
    });
    let q = Arc::clone(&p);
    let helper = std::thread::Builder::new()
        .name("zeroipc-spin-calibration".into())
        .spawn(move || {
            for i in 1..=SAMPLES {
                q.ready.store(i, Ordering::SeqCst);
                let stop = Instant::now() + Duration::from_millis(100);
                while q.word.load(Ordering::Acquire) < i && Instant::now() < stop {
                    let _ = futex::wait(&q.word, i - 1, Some(Duration::from_millis(10)));
                }
                q.woke_at.store(nanos(epoch.elapsed()), Ordering::Relaxed);
                q.woke.store(i, Ordering::Release);
            }
        })
        .ok()?;
    let wait_for = |w: &AtomicU32, i: u32| {
        while w.load(Ordering::Acquire) < i {
            if Instant::now() >= give_up {
                return false;
            }
            std::thread::yield_now();
        }
        true
    };
    let mut costs = Vec::with_capacity(SAMPLES as usize);
    let mut ok = true;
    for i in 1..=SAMPLES {
        if !wait_for(&p.ready, i) {
            ok = false;
            break;
        }
        // Give the helper time to fall asleep (a wake that finds it awake is not counted).
        std::thread::sleep(Duration::from_micros(20));
        let t0 = nanos(epoch.elapsed());
        p.word.store(i, Ordering::Release);
        let woken = futex::wake_one(&p.word);
        let t1 = nanos(epoch.elapsed());
        if !wait_for(&p.woke, i) {
            ok = false;
            break;
        }
        let at = p.woke_at.load(Ordering::Relaxed);
        if woken == 1 {
            costs.push((t1 - t0).saturating_add(at.saturating_sub(t0)));
        }
    }
    if !ok {
        // Let the helper finish on its own (its waits are bounded); do not block on it.
        p.word.store(SAMPLES, Ordering::Release);
        futex::wake_all(&p.word);
        return None;
    }
    let _ = helper.join();
    if costs.len() < 3 {
        return None;
    }
    costs.sort_unstable();
    costs
        .get(costs.len() / 2)
        .map(|&ns| Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins on a condition that never holds; asserts the spin gives up (returns `None`)
    /// and returns how many times it polled.
    fn polls_of_a_spin_that_never_succeeds() -> u32 {
        let mut polls = 0u32;
        assert_eq!(
            spin(|| {
                polls += 1;
                None::<()>
            }),
            None
        );
        polls
    }

    #[test]
    fn spin_returns_what_the_attempt_returns() {
        let mut n = 0;
        assert_eq!(
            spin(|| {
                n += 1;
                (n == 3).then_some(n)
            }),
            Some(3)
        );
    }

    #[test]
    fn a_budget_of_zero_ends_the_spin_right_after_the_exponential_phase() {
        set_spin_budget(Duration::ZERO);
        let polls = polls_of_a_spin_that_never_succeeds();
        // One poll per exponential run, then one timed poll that finds the budget spent.
        assert_eq!(polls, SPIN_LIMIT + 2);
        assert_eq!(spin_budget(), Duration::ZERO);
    }

    const PAUSE: Plan = Plan {
        peer: Peer::MayBeIdle,
        timed: true,
    };

    /// Drives a pace through the learnt mode and its probes; `learnt` is the plan the
    /// learnt mode must give.
    fn learns_and_probes(pace: &Pace, learnt: Plan) {
        let budget = Duration::from_micros(40);
        assert_eq!(pace.plan(), PAUSE, "a new handle spins with pause hints");
        // A slow park (the producer was idle) does not change that.
        pace.learn_with(PAUSE, Some(Duration::from_millis(5)), budget);
        assert_eq!(pace.plan(), PAUSE);
        // Woken within half the budget after a full spin: the producer shares our CPU.
        pace.learn_with(PAUSE, Some(Duration::from_micros(3)), budget);
        let mut probes = Vec::new();
        for i in 1..=40 {
            let plan = pace.plan();
            if plan == PAUSE {
                probes.push(i);
                // A probe that parks quickly again keeps the learnt mode.
                pace.learn_with(plan, Some(Duration::from_micros(3)), budget);
            } else {
                assert_eq!(plan, learnt);
                pace.learn_with(plan, Some(Duration::from_micros(3)), budget);
            }
        }
        // After each probe the count restarts at 1, so the probes are 16 waits apart.
        assert_eq!(probes, [16, 32]);
        // A probe that ends while spinning returns to pause hints.
        while pace.plan() != PAUSE {
            pace.learn_with(learnt, None, budget);
        }
        pace.learn_with(PAUSE, None, budget);
        assert_eq!(pace.plan(), PAUSE);
        // So does a probe that sleeps long (the producer was idle, not on our CPU).
        pace.learn_with(PAUSE, Some(Duration::from_micros(3)), budget);
        assert_eq!(pace.plan(), learnt);
        for _ in 1..16 {
            pace.learn_with(learnt, Some(Duration::from_millis(5)), budget);
        }
        assert_eq!(pace.plan(), PAUSE, "the sixteenth wait probes");
        pace.learn_with(PAUSE, Some(Duration::from_millis(5)), budget);
        assert_eq!(pace.plan(), PAUSE);
    }

    #[test]
    fn a_yielding_pace_yields_after_a_quick_park_and_probes_every_sixteenth_wait() {
        learns_and_probes(
            &Pace::yielding(),
            Plan {
                peer: Peer::Busy,
                timed: true,
            },
        );
    }

    #[test]
    fn a_default_pace_skips_the_timed_phase_after_a_quick_park_and_probes() {
        learns_and_probes(
            &Pace::default(),
            Plan {
                peer: Peer::MayBeIdle,
                timed: false,
            },
        );
    }

    #[test]
    fn a_yielding_pace_judges_quickness_against_the_longest_budget() {
        // With a 2 µs calibrated budget, a wake after 10 µs is still the peer on our CPU for
        // a yielding pace (half of MAX_BUDGET), but not for a default one (half of 2 µs).
        let budget = Duration::from_micros(2);
        let woke = Some(Duration::from_micros(10));
        let y = Pace::yielding();
        y.learn_with(PAUSE, woke, budget);
        assert_eq!(y.plan().peer, Peer::Busy);
        let d = Pace::default();
        d.learn_with(PAUSE, woke, budget);
        assert_eq!(d.plan(), PAUSE);
    }

    #[test]
    fn pace_spin_returns_the_attempt_or_parks_and_a_quick_wake_teaches_the_pace() {
        let pace = Pace::yielding();
        // Caught at once: the value, and nothing learnt.
        match pace.spin(|| Some(5)) {
            Paced::Done(v) => assert_eq!(v, 5),
            Paced::Park(_) => panic!("an attempt that succeeds at once does not park"),
        }
        assert_eq!(pace.plan(), PAUSE);
        // Never caught: the spin ends in `Park`; a wait that woke at once (within half the
        // longest budget) was the peer on our CPU, so the next waits yield. A preemption of
        // that length between `Park` and `woke` would make the wake look slow: try a few
        // fresh paces before calling the lesson lost.
        let learnt = (0..10).any(|_| {
            let pace = Pace::yielding();
            match pace.spin(|| None::<()>) {
                Paced::Park(parking) => parking.woke(),
                Paced::Done(()) => panic!("an attempt that never succeeds cannot end the spin"),
            }
            pace.plan().peer == Peer::Busy
        });
        assert!(
            learnt,
            "a quick wake after a full spin did not teach the yielding mode"
        );
    }

    #[test]
    fn spin_gives_up_after_the_budget() {
        // A condition that never holds: the spin phase ends (it does not hang) after its
        // exponential runs and the budget.
        let polls = polls_of_a_spin_that_never_succeeds();
        assert!(polls > SPIN_LIMIT, "{polls} polls");
    }
}
