//! Loom-checkable twins of the primitives (only under `cfg(zeroipc_loom)`).
//!
//! Each type owns loom atomics laid out like the shared structure and runs the **same**
//! algorithm functions as the production types (which run them over `Region` words); the
//! futex becomes [`crate::futex::ModelWord`]: a sleeper wakes only through the waker's wake,
//! so a lost wake-up is a loom deadlock. `tests/loom.rs` drives them. Not part of the public
//! API.

use crate::futex::ModelWord as AtomicU32;

use crate::{barrier, event, latch, once, rwlock, semaphore};

/// Semaphore words `{count, waiting}` and the cached `max_count`.
#[derive(Debug)]
pub struct Semaphore {
    count: AtomicU32,
    waiting: AtomicU32,
    max: i32,
}

impl Semaphore {
    /// A semaphore with `initial` permits, at most `max` (0 = unbounded).
    pub fn new(initial: u32, max: i32) -> Self {
        Self {
            count: AtomicU32::new(initial),
            waiting: AtomicU32::new(0),
            max,
        }
    }
    /// Blocking acquire.
    pub fn acquire(&self) {
        semaphore::acquire(&self.count, &self.waiting, None);
    }
    /// Non-blocking acquire.
    pub fn try_acquire(&self) -> bool {
        semaphore::try_take(&self.count, zeroipc_format::atomic::Ordering::Acquire).is_ok()
    }
    /// Release; `false` on overflow.
    pub fn release(&self) -> bool {
        semaphore::release(&self.count, &self.waiting, self.max).is_ok()
    }
    /// Current count and registered waiters.
    pub fn snapshot(&self) -> (u32, u32) {
        (self.count.get(), self.waiting.get())
    }
}

/// Barrier words `{arrived, generation}` and `num_participants`.
#[derive(Debug)]
pub struct Barrier {
    arrived: AtomicU32,
    generation: AtomicU32,
    participants: i32,
}

impl Barrier {
    /// A barrier for `participants`.
    pub fn new(participants: i32) -> Self {
        Self {
            arrived: AtomicU32::new(0),
            generation: AtomicU32::new(0),
            participants,
        }
    }
    /// Blocking wait; `true` for the phase's last arriver.
    pub fn wait(&self) -> bool {
        barrier::wait(&self.arrived, &self.generation, self.participants, None) == Some(true)
    }
}

/// Latch word `{count}`.
#[derive(Debug)]
pub struct Latch {
    count: AtomicU32,
}

impl Latch {
    /// A latch at `count`.
    pub fn new(count: u32) -> Self {
        Self {
            count: AtomicU32::new(count),
        }
    }
    /// Count down by `n > 0`; `true` if this call released it.
    pub fn count_down(&self, n: i32) -> bool {
        latch::count_down(&self.count, n)
    }
    /// Blocking wait.
    pub fn wait(&self) {
        latch::wait(&self.count, None);
    }
}

/// Once word `{state}`.
#[derive(Debug)]
pub struct Once {
    state: AtomicU32,
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}

impl Once {
    /// A pending Once.
    pub fn new() -> Self {
        Self {
            state: AtomicU32::new(once::PENDING),
        }
    }
    /// Runs `f` if first; waits for the executor otherwise. `true` if `f` ran here.
    pub fn call(&self, f: impl FnOnce()) -> bool {
        match once::claim(&self.state, None) {
            once::Claim::Run => {
                f();
                once::finish(&self.state);
                true
            }
            _ => false,
        }
    }
}

/// Manual-reset event words `{signaled, waiting}`.
#[derive(Debug)]
pub struct ManualEvent {
    signaled: AtomicU32,
    waiting: AtomicU32,
}

impl Default for ManualEvent {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualEvent {
    /// An unsignalled event.
    pub fn new() -> Self {
        Self {
            signaled: AtomicU32::new(0),
            waiting: AtomicU32::new(0),
        }
    }
    /// Signal (manual reset).
    pub fn signal(&self) {
        event::manual_signal(&self.signaled, &self.waiting);
    }
    /// Blocking wait.
    pub fn wait(&self) {
        event::manual_wait(&self.signaled, &self.waiting, None);
    }
}

/// RWLock words: state `{readers, writer_active}` and two mutexes `{count, waiting}`.
#[derive(Debug)]
pub struct RwLock {
    readers: AtomicU32,
    writer_active: AtomicU32,
    rmtx: [AtomicU32; 2],
    wmtx: [AtomicU32; 2],
}

impl Default for RwLock {
    fn default() -> Self {
        Self::new()
    }
}

impl RwLock {
    /// An idle lock.
    pub fn new() -> Self {
        Self {
            readers: AtomicU32::new(0),
            writer_active: AtomicU32::new(0),
            rmtx: [AtomicU32::new(1), AtomicU32::new(0)],
            wmtx: [AtomicU32::new(1), AtomicU32::new(0)],
        }
    }
    fn words(&self) -> rwlock::RwWords<'_, AtomicU32> {
        rwlock::RwWords {
            readers: &self.readers,
            writer_active: &self.writer_active,
            rmtx: [&self.rmtx[0], &self.rmtx[1]],
            wmtx: [&self.wmtx[0], &self.wmtx[1]],
        }
    }
    /// Blocking read lock.
    pub fn read(&self) {
        self.words().reader_lock(None);
    }
    /// Read unlock; `false` if not held.
    pub fn read_unlock(&self) -> bool {
        self.words().reader_unlock().is_ok()
    }
    /// Blocking write lock.
    pub fn write(&self) {
        self.words().writer_lock(None);
    }
    /// Write unlock; `false` if not held.
    pub fn write_unlock(&self) -> bool {
        self.words().writer_unlock().is_ok()
    }
}
