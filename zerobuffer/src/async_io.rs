//! Async frame reads and writes (feature `async`): [`Reader::read_frame_async`] and
//! [`Writer::write_frame_async`].
//!
//! ZeroBuffer signals with POSIX named semaphores, which have no futex word this crate may
//! rely on (glibc's `sem_t` layout is private). So a pending read or write is served by a
//! **helper thread of its own**: it blocks in `sem_timedwait` for one liveness slice at a
//! time (the same slice the blocking calls use), and wakes the future when it took a token or
//! when a slice passed (so the future re-checks the peer's liveness, as the blocking call
//! does after each empty slice). The thread starts when the future first has to wait and
//! ends with it; a future that finds a frame (or space) at once starts none. A buffer has one
//! reader and one writer, so a process has at most one such thread per buffer it waits on.
//!
//! Cancellation:
//! - Dropping a pending `read_frame_async` loses no frame and no semaphore token: a token the
//!   helper took for a future that is gone is posted back (`sem_post`), so the count of
//!   signalled frames stays exact; the frame itself stays in the ring for the next read.
//! - Dropping a pending `write_frame_async` wrote nothing: the frame is written only by the
//!   poll that completes the future. (`sem-r` tokens are only wake-ups for the writer, which
//!   drains them before each wait, so none needs to be given back.)
// Process-private flags between a future and its helper thread (std sync, no shared memory).

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::os::NamedSemaphore;
use crate::reader::{Frame, Reader};
use crate::writer::Writer;

struct Flags {
    waker: Waker,
    /// The helper took a token that the future has not consumed yet.
    token: bool,
    /// The future is gone (or done): the helper gives back what it takes and exits.
    cancelled: bool,
    /// The helper thread has exited.
    exited: bool,
}

struct Shared {
    flags: Mutex<Flags>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The helper of one pending wait on a named semaphore.
struct SemWait {
    shared: Arc<Shared>,
    sem: Arc<NamedSemaphore>,
    /// Post back a token taken for a future that no longer wants it.
    give_back: bool,
}

impl SemWait {
    /// Opens (another handle to) semaphore `name` and starts the helper thread.
    fn start(name: &str, slice: Duration, waker: &Waker, give_back: bool) -> Result<Self> {
        let sem = Arc::new(NamedSemaphore::open(name).map_err(|e| Error::io("sem_open", e))?);
        let shared = Arc::new(Shared {
            flags: Mutex::new(Flags {
                waker: waker.clone(),
                token: false,
                cancelled: false,
                exited: false,
            }),
        });
        let (s, sem2) = (Arc::clone(&shared), Arc::clone(&sem));
        std::thread::Builder::new()
            .name("zerobuffer-async".into())
            .spawn(move || helper(&s, &sem2, slice, give_back))
            .map_err(|e| Error::io("spawn async helper thread", e))?;
        Ok(Self {
            shared,
            sem,
            give_back,
        })
    }

    /// Consumes the token the helper took, if any.
    fn take_token(&self) -> bool {
        std::mem::take(&mut self.shared.lock().token)
    }

    /// Updates the waker; `false` if the helper already exited (start a new one).
    fn rearm(&self, waker: &Waker) -> bool {
        let mut f = self.shared.lock();
        if f.exited {
            return false;
        }
        if !f.waker.will_wake(waker) {
            f.waker = waker.clone();
        }
        true
    }
}

impl Drop for SemWait {
    fn drop(&mut self) {
        let mut f = self.shared.lock();
        f.cancelled = true;
        if std::mem::take(&mut f.token) && self.give_back {
            let _ = self.sem.post();
        }
    }
}

fn helper(shared: &Shared, sem: &NamedSemaphore, slice: Duration, give_back: bool) {
    loop {
        if shared.lock().cancelled {
            break;
        }
        let got = match sem.wait_timeout(slice) {
            Ok(got) => got,
            Err(_) => {
                // Never seen for a valid semaphore; keep the slice rhythm instead of spinning.
                std::thread::sleep(slice);
                false
            }
        };
        let mut f = shared.lock();
        if f.cancelled {
            if got && give_back {
                let _ = sem.post();
            }
            break;
        }
        let waker = f.waker.clone();
        if got {
            f.token = true;
            f.exited = true;
            drop(f);
            waker.wake();
            return;
        }
        drop(f);
        // A slice passed: the future re-checks the peer's liveness.
        waker.wake();
    }
    shared.lock().exited = true;
}

impl Reader {
    /// Reads the next frame, awaiting one (the async form of [`Reader::read_frame`], without
    /// its timeout: use the runtime's, e.g. `tokio::time::timeout`). Returns `Ok(Some(frame))`;
    /// `Ok(None)` is not returned (the signature matches the blocking call's).
    ///
    /// While pending, a helper thread of this future waits on the buffer's `sem-w` (see the
    /// module docs). Cancel-safe: dropping the pending future loses no frame and no token.
    /// The future is `Send`: a multi-thread runtime may move it between workers (the reader
    /// still serves one call at a time).
    ///
    /// # Errors
    /// As [`Reader::read_frame_timeout`] ([`Error::WriterDead`] once the writer died or
    /// closed and everything it sent was read); [`Error::Io`] if the helper thread could not
    /// be started.
    pub async fn read_frame_async(&self) -> Result<Option<Frame<'_>>> {
        let mut wait: Option<SemWait> = None;
        poll_fn(|cx| {
            let token = wait.as_ref().is_some_and(SemWait::take_token);
            match self.try_read_now(token) {
                Ok(Some(f)) => return Poll::Ready(Ok(Some(f))),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if !wait.as_ref().is_some_and(|w| w.rearm(cx.waker())) {
                match SemWait::start(
                    self.data_semaphore_name(),
                    self.liveness_slice(),
                    cx.waker(),
                    true,
                ) {
                    Ok(w) => wait = Some(w),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            // A token posted between the attempt and the helper's start stays in the
            // semaphore, so the helper takes it: nothing is missed.
            Poll::Pending
        })
        .await
    }
}

impl Writer {
    /// Writes one frame, awaiting space (the async form of [`Writer::write_frame`], without
    /// its timeout: use the runtime's). Returns the frame's sequence number.
    ///
    /// While pending, a helper thread of this future waits on the buffer's `sem-r`. Dropping
    /// the pending future wrote nothing.
    ///
    /// # Errors
    /// As [`Writer::write_frame`] except `BufferFull` for lack of space (it waits instead):
    /// [`Error::ReaderDead`], [`Error::FrameTooLarge`], [`Error::InvalidFrameSize`],
    /// [`Error::Corrupt`]; [`Error::Io`] if the helper thread could not be started.
    pub async fn write_frame_async(&mut self, data: &[u8]) -> Result<u64> {
        self.write_frame_parts_async(&[data]).await
    }

    /// Writes one frame made of `parts`, awaiting space: the async form of
    /// [`Writer::write_frame_parts`], as [`Writer::write_frame_async`] is of
    /// [`Writer::write_frame`].
    ///
    /// # Errors
    /// As [`Writer::write_frame_async`].
    pub async fn write_frame_parts_async(&mut self, parts: &[&[u8]]) -> Result<u64> {
        let mut wait: Option<SemWait> = None;
        let name = self.space_semaphore_name().to_owned();
        let slice = self.liveness_slice();
        poll_fn(|cx| {
            if let Some(w) = &wait {
                w.take_token();
            }
            match self.write_frame_parts_timeout(parts, Duration::ZERO) {
                Err(Error::BufferFull { .. }) => {}
                other => return Poll::Ready(other),
            }
            if !wait.as_ref().is_some_and(|w| w.rearm(cx.waker())) {
                match SemWait::start(&name, slice, cx.waker(), false) {
                    Ok(w) => wait = Some(w),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            Poll::Pending
        })
        .await
    }
}
