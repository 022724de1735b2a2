//! Awaiting shared futex words without a runtime (feature `async`).
//!
//! A future that must wait for another process registers the futex word its condition
//! depends on, the value it last saw there and its [`Waker`], then returns
//! [`Poll::Pending`]. A few **helper threads** per process sleep in
//! `futex_waitv` (Linux >= 5.16) on up to 127 registered words each plus one private word
//! of their own, and call the wakers of the registrations whose word was woken
//! (`FUTEX_WAKE` from a project peer, in any process) or changed (an upstream peer that never
//! wakes anyone: a sweeper thread re-checks every word at the end of each slice, with the same
//! adaptive slices as the blocking calls, see [`crate::futex`]). Any runtime works: only
//! [`std::task::Waker`] is used.
//!
//! - Helpers start on the first registration, take up to 127 registrations each (a new one
//!   starts only when all are full, so there are at most `ceil(pending / 127) + 1` while
//!   registrations grow), and exit after 200 ms without any. One more thread, the sweeper,
//!   re-checks every registered word by value once per slice (see below); it too starts on
//!   the first registration and exits 200 ms after the last. [`helper_threads`] counts both
//!   kinds: for 1,000 pending waits, 8 helpers and the sweeper, under `pending / 100`.
//! - Registrations are one-shot: the waker is called once, then the future polls again and
//!   re-registers if it still has to wait.
//! - Without `futex_waitv` (`ENOSYS`, Linux < 5.16) a helper sleeps on its own word only and
//!   the sweeper's checks by value once per slice are what fire its registrations: wakes then
//!   take up to a slice.
//!
//! The primitives' `*_async` methods are built on [`Waiter`]; other crates of the workspace
//! (`zeroipc-codata`) use it the same way.
//!
//! # Examples
//! ```
//! use zeroipc_format::Segment;
//! use zeroipc_sync::Semaphore;
//!
//! let seg = Segment::anonymous(1 << 16, 64)?;
//! let sem = Semaphore::create(&seg, "s", 0, 0)?;
//! let sem2 = sem.clone();
//! let t = std::thread::spawn(move || sem2.release());
//! // Any executor; a minimal one for the example:
//! zeroipc_sync::reactor::block_on(sem.acquire_async())?;
//! t.join().unwrap()?;
//! # Ok::<(), zeroipc_sync::Error>(())
//! ```
// The trait names the hardware `AtomicU32` that a `Region` hands out and the futex accepts.
#![allow(clippy::disallowed_types)]

mod helper;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use zeroipc_format::atomic::Ordering;
use zeroipc_format::atomic::shared::AtomicU32;
use zeroipc_format::{AtomicWords, Region};

use helper::{Entry, State};

/// Owns (keeps mapped) a 32-bit futex word in shared memory, for the helper threads.
pub trait FutexWord: Send + Sync + 'static {
    /// The word; `None` if it cannot be reached (the waiter is then woken at once and finds
    /// the error itself).
    fn word(&self) -> Option<&AtomicU32>;

    /// Whether a condition that the word's value does not show (such as a closed flag) ends
    /// the wait. The helpers check it together with the value, after every wake-up and once
    /// per slice, so a `FUTEX_WAKE` that changed nothing and reached no sleeping helper (the
    /// helper was busy, or `futex_waitv` named another word) is still noticed. Default: none.
    fn flagged(&self) -> bool {
        false
    }

    /// [`FutexWord::word`] as an owned view, if the owner has one. The sweeper keeps it
    /// beside the registration and reads the word through it in its once-per-slice pass over
    /// every pending wait, without a visit to this owner (a cache miss per wait and slice,
    /// which is what an idle process with many pending waits spends its CPU on). Must be
    /// the same word. Default: none (the pass calls `word`).
    fn view(&self) -> Option<AtomicWords> {
        None
    }

    /// Where [`FutexWord::flagged`] looks, if it is one byte in shared memory whose
    /// non-zero value ends the wait (such as a `closed` flag): the region and the byte's
    /// offset in it. The sweeper's pass then reads that byte itself instead of calling
    /// `flagged` (which must mean the same). Default: none (the pass calls `flagged`).
    fn flag_byte(&self) -> Option<(Region, usize)> {
        None
    }
}

/// The word at an offset of a [`Region`] (the region keeps the mapping alive).
#[derive(Debug)]
pub struct RegionWord {
    words: AtomicWords,
}

impl RegionWord {
    /// The aligned `u32` at `offset` of `region`.
    ///
    /// # Errors
    /// `OutOfBounds` if the word is not inside the region or is misaligned.
    pub fn new(region: &Region, offset: usize) -> Result<Self, zeroipc_format::Error> {
        Ok(Self {
            words: region.atomic_words(offset, 1)?,
        })
    }
}

impl FutexWord for RegionWord {
    fn word(&self) -> Option<&AtomicU32> {
        self.words.first()
    }

    fn view(&self) -> Option<AtomicWords> {
        Some(self.words.clone())
    }
}

/// Number of live helper threads in this process (for tests and reports).
pub fn helper_threads() -> usize {
    helper::helper_count()
}

/// Number of registered waits not yet woken in this process (for tests and reports).
pub fn pending_waits() -> usize {
    helper::pending()
}

/// The waiting state of one future: at most one registration at a time.
///
/// Use [`Waiter::poll_until`] in `poll`; dropping the waiter withdraws its registration. If
/// the helper had already passed a kernel wake to this waiter and the future is dropped
/// before it polled again, the drop forwards one `FUTEX_WAKE` on the word, so a
/// wake-one protocol (semaphore, mutex) does not lose the wake-up another waiter needed.
pub struct Waiter {
    word: Arc<dyn FutexWord>,
    entry: Option<Arc<Entry>>,
    since: Option<Instant>,
    repoll: Option<Duration>,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("registered", &self.entry.is_some())
            .field("since", &self.since)
            .finish()
    }
}

impl Waiter {
    /// A waiter on `word`.
    pub fn new(word: Arc<dyn FutexWord>) -> Self {
        Self {
            word,
            entry: None,
            since: None,
            repoll: None,
        }
    }

    /// Also wakes the future every `every` while it waits, for conditions the word does not
    /// show (a peer's death).
    #[must_use]
    pub fn repoll_every(mut self, every: Duration) -> Self {
        self.repoll = Some(every);
        self
    }

    /// The current value of the word (`SeqCst`), or `None` if it cannot be reached.
    pub fn load(&self) -> Option<u32> {
        self.word.word().map(|w| w.load(Ordering::SeqCst))
    }

    /// Registers interest: `waker` is called once the word no longer holds `seen` (or a
    /// `FUTEX_WAKE` reached it, or the re-poll time came). Returns `false` if a previous
    /// registration for `seen` already fired (the caller should re-check at once).
    ///
    /// # Errors
    /// The OS error if a helper thread had to be started and could not be.
    pub fn arm(&mut self, seen: u32, waker: &Waker) -> std::io::Result<bool> {
        self.arm_inner(seen, false, waker)
    }

    /// [`Waiter::arm`]; with `soon`, the registration also fires after one
    /// [`crate::futex::SLICE`] even if nothing changes (see [`Waiter::poll_until_busy`]).
    fn arm_inner(&mut self, seen: u32, soon: bool, waker: &Waker) -> std::io::Result<bool> {
        let now = Instant::now();
        let soon_at = if soon {
            now.checked_add(crate::futex::SLICE)
        } else {
            None
        };
        if let Some(e) = &self.entry
            && e.expected == seen
            && soon_at.is_none_or(|t| e.repoll_at.is_some_and(|r| r <= t))
        {
            let mut s = e.lock();
            if s.state == State::Armed {
                if !s.waker.will_wake(waker) {
                    s.waker = waker.clone();
                }
                return Ok(true);
            }
            if matches!(s.state, State::Fired { .. }) {
                s.state = State::Cancelled;
                drop(s);
                self.entry = None;
                return Ok(false);
            }
        }
        self.disarm();
        let since = *self.since.get_or_insert(now);
        let repoll_at = match (self.repoll.and_then(|d| now.checked_add(d)), soon_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.entry = Some(helper::register(
            Arc::clone(&self.word),
            seen,
            since,
            repoll_at,
            waker.clone(),
        )?);
        Ok(true)
    }

    /// Withdraws the registration, if any (no wake is forwarded).
    pub fn disarm(&mut self) {
        if let Some(e) = self.entry.take() {
            e.cancel();
        }
    }

    /// Whether the registration fired since it was made (the future should re-check).
    fn fired(&self) -> bool {
        self.entry
            .as_ref()
            .is_some_and(|e| matches!(e.lock().state, State::Fired { .. }))
    }

    /// One poll of a wait: loads the word, tries `attempt`; if that has nothing yet, registers
    /// on the value seen, tries once more (so a change between the first try and the
    /// registration is never missed), and returns `Pending`. `attempt` returns `Ok(Some(r))`
    /// when done, `Ok(None)` to keep waiting, `Err(e)` to stop with an error.
    pub fn poll_until<R, E: From<std::io::Error>>(
        &mut self,
        cx: &mut Context<'_>,
        attempt: impl FnMut() -> Result<Option<R>, E>,
    ) -> Poll<Result<R, E>> {
        self.poll_until_busy(cx, attempt, || false)
    }

    /// [`Waiter::poll_until`] for a condition that can become true without a further change
    /// of the word: `busy` says, after a failed attempt, that another process is half-way
    /// through making it true (a queue slot claimed, which moved the word, but not yet
    /// published). A `FUTEX_WAKE` sent when it finishes reaches only a helper that is asleep
    /// on the word at that moment, so while `busy` holds the registration also fires after
    /// one [`crate::futex::SLICE`], as a blocking wait re-checks after each slice.
    pub fn poll_until_busy<R, E: From<std::io::Error>>(
        &mut self,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut() -> Result<Option<R>, E>,
        busy: impl Fn() -> bool,
    ) -> Poll<Result<R, E>> {
        loop {
            let Some(seen) = self.load() else {
                // Unreachable word: the attempt reports why (or we keep polling by slice).
                if let Some(r) = attempt()? {
                    self.disarm();
                    return Poll::Ready(Ok(r));
                }
                return Poll::Ready(Err(std::io::Error::other("futex word unreachable").into()));
            };
            if let Some(r) = attempt().inspect_err(|_| self.disarm())? {
                self.disarm();
                return Poll::Ready(Ok(r));
            }
            if !self.arm_inner(seen, busy(), cx.waker())? {
                continue;
            }
            if let Some(r) = attempt().inspect_err(|_| self.disarm())? {
                self.disarm();
                return Poll::Ready(Ok(r));
            }
            if !self.fired() {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(e) = self.entry.take()
            && e.cancel() == (State::Fired { by_kernel: true })
            && let Some(w) = self.word.word()
        {
            crate::futex::wake_one(w);
        }
    }
}

/// Runs `fut` to completion on the current thread (a minimal executor for examples and
/// blocking callers; any runtime's executor works as well).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
