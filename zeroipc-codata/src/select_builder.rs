//! [`Select`]: waits on receive and send arms over channels of different element types, with
//! an optional timeout arm or default arm, in the style of crossbeam's `select!`.
//!
//! Each arm has a handler; the one arm that fires runs its handler, and [`Select::wait`]
//! returns the arm's index (in the order the arms were added, timeout and default arms
//! included) with the handler's result. Arms are tried from a random start each round, so
//! when several are ready each gets a fair share. While none is ready the caller registers
//! as a waiting receiver (or sender) on every arm's channel and sleeps on one arm's futex
//! word at a time, in slices of at most 1 ms, so readiness anywhere is seen within about 1 ms.

use std::cell::Cell;
use std::time::{Duration, Instant};

use bytemuck::Pod;

use crate::channel::{Channel, Registered};
use crate::common::{self, HwU32};
use crate::error::{Error, Result, TrySendError};

trait Arm<'a, R> {
    /// Fires the arm if it is ready now: `Ok(Some(result))` after running the handler.
    fn try_fire(&mut self) -> Result<Option<R>>;
    /// The futex word to sleep on and the waiter counter to register on.
    fn words(&self) -> Result<(&'a HwU32, &'a HwU32)>;
}

struct RecvArm<'a, T: Pod, F> {
    ch: &'a Channel<T>,
    f: Option<F>,
}

impl<'a, T: Pod, R, F: FnOnce(Option<T>) -> R> Arm<'a, R> for RecvArm<'a, T, F> {
    fn try_fire(&mut self) -> Result<Option<R>> {
        let got = match self.ch.poll_recv()? {
            Some(v) => v,
            None => return Ok(None),
        };
        Ok(self.f.take().map(|f| f(got)))
    }
    fn words(&self) -> Result<(&'a HwU32, &'a HwU32)> {
        self.ch.select_recv_words()
    }
}

struct SendArm<'a, T: Pod, F> {
    ch: &'a Channel<T>,
    value: T,
    f: Option<F>,
}

impl<'a, T: Pod, R, F: FnOnce() -> R> Arm<'a, R> for SendArm<'a, T, F> {
    fn try_fire(&mut self) -> Result<Option<R>> {
        match self.ch.try_send(self.value) {
            Ok(()) => Ok(self.f.take().map(|f| f())),
            Err(TrySendError::Full(_)) => Ok(None),
            Err(TrySendError::Failed(e)) => Err(e),
        }
    }
    fn words(&self) -> Result<(&'a HwU32, &'a HwU32)> {
        self.ch.select_send_words()
    }
}

type Fallback<'a, R> = Box<dyn FnOnce() -> R + 'a>;

/// A one-shot selection over channel operations; see the module docs.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use zeroipc_codata::{Channel, Select};
/// use zeroipc_format::Segment;
///
/// #[derive(Debug, PartialEq)]
/// enum Event { Temp(f32), Cmd(u8), Sent, Idle }
///
/// let seg = Segment::anonymous(1 << 20, 64)?;
/// let temps = Channel::<f32>::create(&seg, "temps", 8)?;
/// let cmds = Channel::<u8>::create(&seg, "cmds", 8)?;
/// let acks = Channel::<u64>::create(&seg, "acks", 1)?;
///
/// cmds.send(7)?;
/// let (arm, event) = Select::new()
///     .recv(&temps, |t| Event::Temp(t.unwrap_or(f32::NAN)))
///     .recv(&cmds, |c| Event::Cmd(c.unwrap_or(0)))
///     .timeout(Duration::from_secs(5), || Event::Idle)
///     .wait()?;
/// assert_eq!((arm, event), (1, Event::Cmd(7)));
///
/// // A send arm fires when there is room; the default arm when nothing is ready now.
/// let (arm, event) = Select::new().send(&acks, 1, || Event::Sent).default(|| Event::Idle).wait()?;
/// assert_eq!((arm, event), (0, Event::Sent));
/// while !acks.is_full()? {
///     acks.send(0)?;
/// }
/// let (arm, event) = Select::new().send(&acks, 2, || Event::Sent).default(|| Event::Idle).wait()?;
/// assert_eq!((arm, event), (1, Event::Idle)); // `acks` is full
/// # Ok::<(), zeroipc_codata::Error>(())
/// ```
pub struct Select<'a, R> {
    arms: Vec<(usize, Box<dyn Arm<'a, R> + 'a>)>,
    next_index: usize,
    timeout: Option<(usize, Duration, Fallback<'a, R>)>,
    default: Option<(usize, Fallback<'a, R>)>,
}

impl<R> std::fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("arms", &self.arms.len())
            .field("timeout", &self.timeout.as_ref().map(|t| t.1))
            .field("default", &self.default.is_some())
            .finish()
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    /// xorshift state for the random start of each round (per thread, no shared state).
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (t ^ (u64::from(std::process::id()) << 32)) | 1
}

fn random_below(n: usize) -> usize {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x % n.max(1) as u64) as usize
    })
}

impl<'a, R> Select<'a, R> {
    /// An empty selection.
    pub fn new() -> Self {
        Select {
            arms: Vec::new(),
            next_index: 0,
            timeout: None,
            default: None,
        }
    }

    fn index(&mut self) -> usize {
        let i = self.next_index;
        self.next_index += 1;
        i
    }

    /// Adds a receive arm: fires when `ch` has a value (`f(Some(v))`) or is closed and
    /// drained (`f(None)`).
    ///
    /// # Examples
    /// See [`Select`].
    pub fn recv<T: Pod>(mut self, ch: &'a Channel<T>, f: impl FnOnce(Option<T>) -> R + 'a) -> Self {
        let i = self.index();
        self.arms.push((i, Box::new(RecvArm { ch, f: Some(f) })));
        self
    }

    /// Adds a send arm: fires when `value` was sent on `ch` (then runs `f`). A send on a
    /// closed channel makes [`Select::wait`] return [`Error::Closed`].
    ///
    /// # Examples
    /// See [`Select`].
    pub fn send<T: Pod>(
        mut self,
        ch: &'a Channel<T>,
        value: T,
        f: impl FnOnce() -> R + 'a,
    ) -> Self {
        let i = self.index();
        self.arms.push((
            i,
            Box::new(SendArm {
                ch,
                value,
                f: Some(f),
            }),
        ));
        self
    }

    /// Adds a timeout arm: fires when no other arm fired within `after`. A later call
    /// replaces an earlier timeout (its index stays the one first given).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_codata::{Channel, Select};
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let quiet = Channel::<u32>::create(&seg, "quiet", 4)?;
    /// let (arm, what) = Select::new()
    ///     .recv(&quiet, |_| "value")
    ///     .timeout(Duration::from_millis(5), || "timed out")
    ///     .wait()?;
    /// assert_eq!((arm, what), (1, "timed out"));
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn timeout(mut self, after: Duration, f: impl FnOnce() -> R + 'a) -> Self {
        let i = match &self.timeout {
            Some((i, ..)) => *i,
            None => self.index(),
        };
        self.timeout = Some((i, after, Box::new(f)));
        self
    }

    /// Adds a default arm: fires at once when no other arm is ready (the selection then
    /// never blocks).
    ///
    /// # Examples
    /// See [`Select`].
    pub fn default(mut self, f: impl FnOnce() -> R + 'a) -> Self {
        let i = match &self.default {
            Some((i, _)) => *i,
            None => self.index(),
        };
        self.default = Some((i, Box::new(f)));
        self
    }

    /// One pass over the arms from a random start; the fired arm's index and result.
    fn pass(&mut self) -> Result<Option<(usize, R)>> {
        let n = self.arms.len();
        let start = random_below(n);
        for k in 0..n {
            if let Some((i, arm)) = self.arms.get_mut((start + k) % n)
                && let Some(r) = arm.try_fire()?
            {
                return Ok(Some((*i, r)));
            }
        }
        Ok(None)
    }

    /// Waits until one arm fires and returns its index (the order arms were added) and its
    /// handler's result. Without a timeout or default arm it blocks until an arm fires.
    ///
    /// # Errors
    /// [`Error::Timeout`] never (a timeout is an arm); [`crate::Error::Format`] with
    /// `InvalidArgument` for a selection with no arm at all; [`Error::Closed`] from a send
    /// arm on a closed channel; `Corrupt`.
    ///
    /// # Examples
    /// See [`Select`].
    pub fn wait(mut self) -> Result<(usize, R)> {
        if self.arms.is_empty() && self.default.is_none() && self.timeout.is_none() {
            return Err(
                zeroipc_format::Error::InvalidArgument("select with no arms".into()).into(),
            );
        }
        if let Some(fired) = self.pass()? {
            return Ok(fired);
        }
        if let Some((i, f)) = self.default.take() {
            return Ok((i, f()));
        }
        let deadline = self
            .timeout
            .as_ref()
            .and_then(|(_, d, _)| common::deadline_after(*d));
        let mut words = Vec::with_capacity(self.arms.len());
        for (_, arm) in &self.arms {
            words.push(arm.words()?);
        }
        let _registered: Vec<Registered<'_, crate::common::HwU32>> = words
            .iter()
            .map(|(_, waiters)| Registered::new(*waiters))
            .collect();
        let mut turn = 0usize;
        loop {
            // Observe the word to sleep on before the pass, so a change after the pass
            // ends the sleep at once.
            let park = words.get(turn % words.len().max(1)).map(|(w, _)| *w);
            let seen = park.map(|w| w.load(zeroipc_format::atomic::Ordering::SeqCst));
            if let Some(fired) = self.pass()? {
                return Ok(fired);
            }
            let now = Instant::now();
            let mut slice = zeroipc_sync::futex::SLICE;
            if let Some(d) = deadline {
                if now >= d {
                    return match self.timeout.take() {
                        Some((i, _, f)) => Ok((i, f())),
                        None => Err(Error::Timeout {
                            what: "a select arm",
                        }),
                    };
                }
                slice = slice.min(d - now);
            }
            match (park, seen) {
                (Some(w), Some(v)) => common::park(w, v, slice),
                _ => std::thread::sleep(slice), // a timeout arm alone
            }
            turn = turn.wrapping_add(1);
        }
    }
}
