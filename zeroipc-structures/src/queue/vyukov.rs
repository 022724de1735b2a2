//! The Vyukov queue algorithm (spec §3.2) over any atomic words and slot storage: the
//! hardware mapping for [`Queue`](super::Queue), loom's atomics for the models.

use zeroipc_format::atomic::Ordering;

use crate::common::Fault;
use crate::elem::Slots;
use crate::word::{Word32, spin_hint};

/// Consecutive observations of a slot "ahead" of an unchanged counter before the queue is
/// declared corrupt. In a consistent queue one such observation is impossible (the Acquire
/// load of the slot's sequence makes the newer counter visible); the margin only absorbs
/// nothing-but-paranoia.
const STALL_LIMIT: u32 = 1 << 16;

/// The queue algorithm over any atomic words and slot storage (hardware or loom).
///
/// Invariants: `capacity` is a power of two `<= 2^31`, `seq.len() == capacity`, and the
/// slots hold `capacity` elements.
pub(crate) struct Core<'a, W, S> {
    pub head: &'a W,
    pub tail: &'a W,
    pub seq: &'a [W],
    pub slots: &'a S,
    pub capacity: u32,
}

impl<W: Word32, S> Core<'_, W, S> {
    #[inline]
    pub(crate) fn seq(&self, slot: usize) -> Result<&W, Fault> {
        self.seq
            .get(slot)
            .ok_or_else(|| Fault::field("capacity", u64::from(self.capacity)))
    }

    /// Vyukov enqueue. `Ok(false)` when full.
    #[cfg(zeroipc_loom)]
    #[inline]
    pub fn push<T>(&self, value: T) -> Result<bool, Fault>
    where
        S: Slots<T>,
    {
        let t = self.tail.load(Ordering::Relaxed);
        Ok(self.push_from(t, false, value)?.is_some())
    }

    /// Vyukov dequeue. `Ok(None)` when empty.
    #[cfg(zeroipc_loom)]
    #[inline]
    pub fn pop<T>(&self) -> Result<Option<T>, Fault>
    where
        S: Slots<T>,
    {
        let h = self.head.load(Ordering::Relaxed);
        Ok(self.pop_from(h, false)?.map(|(v, _)| v))
    }

    /// Finds the enqueue position to claim, starting from `t` (the `tail` just loaded, or a
    /// guess when `guessed`: a handle's position after its previous push, which saves loading
    /// the contended header line before the CAS when it is right). `Ok(Some(t))` when slot
    /// `t` is free for position `t` (claim it with a CAS of `tail` from `t`), `Ok(None)` when
    /// the queue is full.
    ///
    /// A wrong guess converges: a position already claimed has a sequence ahead of it (or
    /// equal, if its producer has not published yet, and then the CAS fails with the real
    /// `tail`), and one behind it (possible only if the guess is ahead of `tail`) is checked
    /// against a fresh `tail` before the queue is called full.
    #[inline]
    pub(crate) fn find_push(&self, t: u32, guessed: bool) -> Result<Option<u32>, Fault> {
        self.find(self.tail, t, guessed, 0)
    }

    /// Finds the dequeue position to claim, starting from `h` (the `head` just loaded, or a
    /// guess when `guessed`, as in [`Core::find_push`]). `Ok(Some(h))` when position `h` is
    /// published, `Ok(None)` when the queue is empty.
    #[inline]
    pub(crate) fn find_pop(&self, h: u32, guessed: bool) -> Result<Option<u32>, Fault> {
        self.find(self.head, h, guessed, 1)
    }

    /// The search both sides share: position `p` is ready when its slot's sequence is
    /// `p + ready` (0: free for a producer, 1: published for a consumer); `counter` is the
    /// side's own counter (`tail` or `head`).
    #[inline]
    pub(crate) fn find(
        &self,
        counter: &W,
        mut p: u32,
        mut guessed: bool,
        ready: u32,
    ) -> Result<Option<u32>, Fault> {
        let mask = self.capacity - 1;
        let mut stalls = 0;
        loop {
            let seq = self.seq((p & mask) as usize)?;
            // Acquire: pairs with the Release stores of `seq` in the other side's commit
            // (an element published, or a slot emptied after its copy-out) and in this side's
            // (another producer's or consumer's claim completed).
            let s = seq.load(Ordering::Acquire);
            let diff = (s as i32).wrapping_sub(p.wrapping_add(ready) as i32);
            if diff == 0 {
                return Ok(Some(p));
            }
            let current = counter.load(Ordering::Relaxed);
            if diff < 0 {
                if guessed && current != p {
                    guessed = false;
                    p = current;
                    continue;
                }
                return Ok(None);
            }
            guessed = false;
            if current == p {
                stalls += 1;
                if stalls >= STALL_LIMIT {
                    return Err(Fault::field("seq", u64::from(s)));
                }
                spin_hint();
            } else {
                stalls = 0;
            }
            p = current;
        }
    }

    /// How many consecutive positions from `p` (which is ready) are ready, up to `want`:
    /// slot sequence `pos + ready` for each.
    #[inline]
    pub(crate) fn run_len(&self, p: u32, want: u32, ready: u32) -> Result<u32, Fault> {
        let mask = self.capacity - 1;
        let mut run = 1;
        while run < want {
            let pos = p.wrapping_add(run);
            // Acquire: as in `find`.
            if self.seq((pos & mask) as usize)?.load(Ordering::Acquire) != pos.wrapping_add(ready) {
                break;
            }
            run += 1;
        }
        Ok(run)
    }

    /// Vyukov enqueue from position `t` (see [`Core::find_push`]). `Ok(Some(next))` with
    /// the position after the one claimed, `Ok(None)` when full.
    ///
    /// The claim of a position (the CAS of `tail`, and of `head` in the pops) is `SeqCst`,
    /// so that a caller that then makes a `SeqCst` load of a waiter counter runs one half of
    /// a store-load handshake without a fence: a waiter that registers (`SeqCst` RMW) and
    /// then loads the counter word (`SeqCst`) either is seen by the claimer's load, or sees
    /// the claim, and then must not sleep until the claimed slot is published (codata's
    /// buffered channel does this). On x86 the CAS is the same instruction either way.
    #[inline]
    pub fn push_from<T>(&self, t: u32, guessed: bool, value: T) -> Result<Option<u32>, Fault>
    where
        S: Slots<T>,
    {
        let mask = self.capacity - 1;
        let mut found = self.find_push(t, guessed)?;
        while let Some(t) = found {
            // SeqCst (a plain locked CAS on x86, as Relaxed): the claim is the producer's
            // half of the store-load handshake with waiters that a channel built on this
            // queue runs (see `Core::push_from`'s docs).
            match self.tail.compare_exchange_weak(
                t,
                t.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let slot = (t & mask) as usize;
                    self.slots.store(slot, value)?;
                    // Release: publishes the element; pairs with the Acquire load of `seq`
                    // in `pop`.
                    self.seq(slot)?.store(t.wrapping_add(1), Ordering::Release);
                    return Ok(Some(t.wrapping_add(1)));
                }
                Err(current) => found = self.find_push(current, false)?,
            }
        }
        Ok(None)
    }

    /// Enqueues a prefix of `src` as one run of consecutive positions claimed with a single
    /// CAS of `tail`, starting from `t` (see [`Core::find_push`]). Returns how many were
    /// pushed (0 when full) and the position after the run.
    ///
    /// The run is every position `t + i` whose slot already shows sequence `t + i` (free for
    /// that position). Those sequences cannot change before `tail` passes them, so once the
    /// CAS from `t` succeeds the whole run belongs to this caller. Other producers and
    /// consumers, upstream ones included, see ordinary single pushes.
    pub fn push_run<T: Copy>(&self, t: u32, guessed: bool, src: &[T]) -> Result<(usize, u32), Fault>
    where
        S: Slots<T>,
    {
        let mask = self.capacity - 1;
        let want = src.len().min(self.capacity as usize) as u32;
        if want == 0 {
            return Ok((0, t));
        }
        let mut found = self.find_push(t, guessed)?;
        while let Some(t) = found {
            let run = self.run_len(t, want, 0)?;
            // SeqCst: as in `push_from`.
            match self.tail.compare_exchange_weak(
                t,
                t.wrapping_add(run),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    for (i, v) in src.iter().take(run as usize).enumerate() {
                        let pos = t.wrapping_add(i as u32);
                        let slot = (pos & mask) as usize;
                        self.slots.store(slot, *v)?;
                        // Release: publishes the element; pairs with the Acquire load of
                        // `seq` in `pop`.
                        self.seq(slot)?
                            .store(pos.wrapping_add(1), Ordering::Release);
                    }
                    return Ok((run as usize, t.wrapping_add(run)));
                }
                Err(current) => found = self.find_push(current, false)?,
            }
        }
        Ok((0, t))
    }

    /// Vyukov dequeue from position `h` (see [`Core::find_pop`]). `Ok(Some((value, next)))`
    /// with the position after the one claimed, `Ok(None)` when empty.
    #[inline]
    pub fn pop_from<T>(&self, h: u32, guessed: bool) -> Result<Option<(T, u32)>, Fault>
    where
        S: Slots<T>,
    {
        let mask = self.capacity - 1;
        let mut found = self.find_pop(h, guessed)?;
        while let Some(h) = found {
            // SeqCst: as in `push_from`, for waiters on room.
            match self.head.compare_exchange_weak(
                h,
                h.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    let slot = (h & mask) as usize;
                    let value = self.slots.load(slot)?;
                    // Release: hands the slot back to producers only after the copy; pairs
                    // with the Acquire load of `seq` in `push`.
                    self.seq(slot)?
                        .store(h.wrapping_add(self.capacity), Ordering::Release);
                    return Ok(Some((value, h.wrapping_add(1))));
                }
                Err(current) => found = self.find_pop(current, false)?,
            }
        }
        Ok(None)
    }

    /// Dequeues into a prefix of `dst` one run of consecutive published positions claimed
    /// with a single CAS of `head`, starting from `h`. Returns how many were popped (0 when
    /// empty) and the position after the run. As in [`Core::push_run`], a published
    /// position stays published until `head` passes it, so the run is stable once claimed.
    pub fn pop_run<T>(&self, h: u32, guessed: bool, dst: &mut [T]) -> Result<(usize, u32), Fault>
    where
        S: Slots<T>,
    {
        let mask = self.capacity - 1;
        let want = dst.len().min(self.capacity as usize) as u32;
        if want == 0 {
            return Ok((0, h));
        }
        let mut found = self.find_pop(h, guessed)?;
        while let Some(h) = found {
            let run = self.run_len(h, want, 1)?;
            // SeqCst: as in `push_from`.
            match self.head.compare_exchange_weak(
                h,
                h.wrapping_add(run),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    for (i, out) in dst.iter_mut().take(run as usize).enumerate() {
                        let pos = h.wrapping_add(i as u32);
                        let slot = (pos & mask) as usize;
                        *out = self.slots.load(slot)?;
                        // Release: hands the slot back to producers only after the copy;
                        // pairs with the Acquire load of `seq` in `push`.
                        self.seq(slot)?
                            .store(pos.wrapping_add(self.capacity), Ordering::Release);
                    }
                    return Ok((run as usize, h.wrapping_add(run)));
                }
                Err(current) => found = self.find_pop(current, false)?,
            }
        }
        Ok((0, h))
    }

    /// Elements in the queue, clamped to the capacity.
    pub fn len(&self) -> u32 {
        let tail = self.tail.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(self.capacity)
    }
}
