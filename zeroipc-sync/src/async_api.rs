//! The `*_async` forms of the blocking waits (feature `async`), built on [`crate::reactor`].
//!
//! Each future first tries the non-blocking path; if it must wait it registers as a waiter
//! where the layout has a waiter counter (so project peers `FUTEX_WAKE` it), then sleeps on
//! the same futex word as the blocking call, through a helper thread.
//!
//! Cancellation: a permit, lock or value is only taken inside the poll that returns it, so
//! dropping a pending future takes nothing and leaves every lock free. A dropped
//! `Barrier::wait_async` withdraws its arrival (as a timed-out `wait_timeout` does).
// Names the hardware `AtomicU32` handed out by `Region` (waiter counters).
#![allow(clippy::disallowed_types)]

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use zeroipc_format::Region;
use zeroipc_format::atomic::shared::AtomicU32;
use zeroipc_format::atomic::{Ordering, fence};

use crate::error::Result;
use crate::event::{SIGNALED, WAITING};
use crate::reactor::{RegionWord, Waiter};
use crate::rwlock::{READERS, WRITER};
use crate::semaphore::{COUNT, RawSemaphore};
use crate::{
    Barrier, Event, EventMode, Latch, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    Semaphore, Signal,
};

/// How often a pending `lock_async` on a mutex that records its owner checks whether that
/// owner died (the blocking lock starts at 10 ms and backs off to 250 ms).
const OWNER_REPOLL: Duration = Duration::from_millis(50);

/// A registered waiter in a layout's waiter counter for as long as it lives.
struct Registered<'a>(&'a AtomicU32);

impl<'a> Registered<'a> {
    fn new(counter: &'a AtomicU32) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        // Store–load handshake with the waker's change, fence, counter load (as the blocking
        // waits; see `semaphore::acquire`).
        fence(Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f` on drop unless defused.
struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    fn defuse(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Waits on the word at `word` of `region` until `attempt` succeeds, registered in the
/// waiter counter at `counter` (if the layout has one) while waiting.
pub(crate) async fn wait_on<R>(
    region: &Region,
    word: usize,
    counter: Option<usize>,
    repoll: Option<Duration>,
    mut attempt: impl FnMut() -> Result<Option<R>>,
) -> Result<R> {
    if let Some(r) = attempt()? {
        return Ok(r);
    }
    let _registered = match counter {
        Some(off) => Some(Registered::new(region.atomic_u32(off)?)),
        None => None,
    };
    let mut waiter = Waiter::new(Arc::new(RegionWord::new(region, word)?));
    if let Some(d) = repoll {
        waiter = waiter.repoll_every(d);
    }
    poll_fn(|cx| waiter.poll_until(cx, &mut attempt)).await
}

/// Waits for a permit of a semaphore-layout entry; `attempt` takes it.
async fn wait_permit<R>(
    raw: &RawSemaphore,
    repoll: Option<Duration>,
    attempt: impl FnMut() -> Result<Option<R>>,
) -> Result<R> {
    wait_on(
        &raw.region,
        COUNT,
        Some(crate::semaphore::WAITING),
        repoll,
        attempt,
    )
    .await
}

async fn take_permit(raw: &RawSemaphore) -> Result<()> {
    wait_permit(raw, None, || Ok(raw.try_acquire()?.then_some(()))).await
}

impl Semaphore {
    /// Takes a permit, awaiting one (the async form of [`Semaphore::acquire`]).
    ///
    /// Cancel-safe: the permit is taken only by the poll that completes the future.
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_format::Segment;
    /// use zeroipc_sync::{Semaphore, reactor::block_on};
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let sem = Semaphore::create(&seg, "s", 1, 0)?;
    /// block_on(sem.acquire_async())?;
    /// assert_eq!(sem.count()?, 0);
    /// # Ok::<(), zeroipc_sync::Error>(())
    /// ```
    pub async fn acquire_async(&self) -> Result<()> {
        take_permit(&self.raw).await
    }
}

impl Mutex {
    /// Locks, awaiting the mutex (the async form of [`Mutex::lock`]); the guard is the usual
    /// one. A holder recorded in the owner entry is checked for death every 50 ms while
    /// waiting (then the lock is taken over and [`MutexGuard::owner_died`] says so).
    ///
    /// Cancel-safe: dropping the pending future leaves the mutex as it was (not taken by us).
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn lock_async(&self) -> Result<MutexGuard<'_>> {
        let repoll = self.tracks_owner().then_some(OWNER_REPOLL);
        wait_permit(&self.raw, repoll, || self.try_lock()).await
    }
}

impl RwLock {
    /// Takes a read lock, awaiting writers (the async form of [`RwLock::read`]).
    ///
    /// Cancel-safe: the lock's inner mutex is only held within one poll.
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn read_async(&self) -> Result<RwLockReadGuard<'_>> {
        let readers = self.state.atomic_u32(READERS)?;
        let writer = self.state.atomic_u32(WRITER)?;
        loop {
            if let Some(g) = self.try_read()? {
                return Ok(g);
            }
            if writer.load(Ordering::Acquire) == 0 {
                // No writer: only the inner mutex was busy. Take it as `reader_lock` does;
                // it is held only until the end of this poll.
                take_permit(&self.rmtx).await?;
                // Acquire: pairs with the writer's Release store of 0 in `roll_back`.
                let free = writer.load(Ordering::Acquire) == 0;
                if free {
                    readers.fetch_add(1, Ordering::AcqRel);
                }
                let _ = self.rmtx.release();
                if free {
                    return Ok(RwLockReadGuard { lock: self });
                }
            }
            wait_on(&self.state, WRITER, None, None, || {
                Ok(((writer.load(Ordering::Acquire) as i32) <= 0).then_some(()))
            })
            .await?;
        }
    }

    /// Takes the write lock, awaiting other writers and readers (the async form of
    /// [`RwLock::write`]).
    ///
    /// Cancel-safe: dropping the pending future releases what it took so far (its writer
    /// flag is rolled back, as a timed-out `write_timeout` does).
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn write_async(&self) -> Result<RwLockWriteGuard<'_>> {
        if let Some(g) = self.try_write()? {
            return Ok(g);
        }
        let readers = self.state.atomic_u32(READERS)?;
        let writer = self.state.atomic_u32(WRITER)?;
        take_permit(&self.wmtx).await?;
        let wmtx = OnDrop(Some(|| {
            let _ = self.wmtx.release();
        }));
        take_permit(&self.rmtx).await?;
        // Under rmtx: readers that take rmtx after us see the flag (as `writer_lock`).
        writer.store(1, Ordering::Release);
        let _ = self.rmtx.release();
        wmtx.defuse();
        let rollback = OnDrop(Some(|| {
            let _ = self.with_words(|w| w.roll_back());
        }));
        wait_on(&self.state, READERS, None, None, || {
            Ok(((readers.load(Ordering::Acquire) as i32) <= 0).then_some(()))
        })
        .await?;
        rollback.defuse();
        Ok(RwLockWriteGuard { lock: self })
    }
}

impl Event {
    /// Awaits the event (the async form of [`Event::wait`]; auto-reset consumes one signal,
    /// only in the poll that completes the future).
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn wait_async(&self) -> Result<()> {
        match self.mode {
            EventMode::AutoReset => {
                wait_permit(&self.sem, None, || Ok(self.try_wait()?.then_some(()))).await
            }
            EventMode::ManualReset => {
                wait_on(&self.region, SIGNALED, Some(WAITING), None, || {
                    Ok(self.is_signaled()?.then_some(()))
                })
                .await
            }
        }
    }
}

impl Latch {
    /// Awaits the count reaching 0 (the async form of [`Latch::wait`]).
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn wait_async(&self) -> Result<()> {
        wait_on(&self.region, crate::latch::COUNT, None, None, || {
            Ok(self.try_wait()?.then_some(()))
        })
        .await
    }
}

impl Barrier {
    /// Arrives (at the first poll) and awaits the other participants (the async form of
    /// [`Barrier::wait`]); `true` for the arrival that completed the phase.
    ///
    /// Dropping the pending future withdraws the arrival, with the same race against a
    /// concurrent completion as a timed-out [`Barrier::wait_timeout`].
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn wait_async(&self) -> Result<bool> {
        use crate::barrier::{ARRIVED, GENERATION, arrive};
        let arrived = self.region.atomic_u32(ARRIVED)?;
        let generation = self.region.atomic_u32(GENERATION)?;
        let Err(g) = arrive(arrived, generation, self.participants) else {
            return Ok(true);
        };
        let withdraw = OnDrop(Some(|| {
            arrived.fetch_sub(1, Ordering::AcqRel);
        }));
        wait_on(&self.region, GENERATION, None, None, || {
            // Acquire: pairs with the completing arrival's Release increment in `arrive`.
            Ok((generation.load(Ordering::Acquire) != g).then_some(()))
        })
        .await?;
        withdraw.defuse();
        Ok(false)
    }
}

impl<T: bytemuck::Pod> Signal<T> {
    /// Awaits a version different from `seen`; returns it (the async form of
    /// [`Signal::wait_for_change`]).
    ///
    /// # Errors
    /// [`crate::Error::Reactor`] if no helper thread could be started.
    pub async fn wait_for_change_async(&self, seen: u64) -> Result<u64> {
        wait_on(&self.state, crate::signal::VERSION, None, None, || {
            let v = self.version()?;
            Ok((v != seen).then_some(v))
        })
        .await
    }
}
