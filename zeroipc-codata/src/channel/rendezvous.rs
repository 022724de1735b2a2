//! The unbuffered flavour: a rendezvous slot (`N_slot`) handed from one sender to one
//! receiver with the shared protocol of `crate::protocol`.

use super::*;

impl<T: Pod> Channel<T> {
    pub(super) fn rendezvous<'a>(
        &'a self,
        word: &'a AtomicWords,
        slot: &'a Region,
        data: usize,
    ) -> RegionSlot<'a, T> {
        RegionSlot {
            chan: self,
            word,
            slot,
            data,
        }
    }

    pub(super) fn rendezvous_send(
        &self,
        slot: &RegionSlot<'_, T>,
        v: T,
        deadline: Option<Instant>,
        abort: Abort<'_>,
    ) -> Result<()> {
        let _local = self
            .inner
            .send_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        protocol::rendezvous_send(slot, v, deadline, abort, &self.inner.send_pace).map_err(|stop| {
            match stop {
                SendStop::Closed => self.closed_err(),
                SendStop::Timeout => Error::Timeout {
                    what: "a receiver to take the value",
                },
                SendStop::Abort(e) | SendStop::Fault(e) => e,
            }
        })
    }
}

/// The rendezvous slot of a channel in shared memory, for the shared protocol code.
pub(super) struct RegionSlot<'a, T> {
    chan: &'a Channel<T>,
    /// The slot's first 4 bytes.
    word: &'a AtomicWords,
    slot: &'a Region,
    data: usize,
}

impl<T: Pod> protocol::Slot<T> for RegionSlot<'_, T> {
    type W = HwU32;

    fn word(&self) -> &HwU32 {
        // Validated at open: one word.
        &self.word[0]
    }
    fn senders(&self) -> &HwU32 {
        &self.chan.inner.words[ChannelHeader::W_SENDERS]
    }
    fn receivers(&self) -> &HwU32 {
        &self.chan.inner.words[ChannelHeader::W_RECEIVERS]
    }
    fn flags(&self) -> Result<(u32, u8, u8)> {
        let w = self.word().load(Ordering::SeqCst);
        let [ready, consumed, ..] = w.to_le_bytes();
        let name = &self.chan.inner.name;
        if ready > 1 {
            return Err(Error::from(FormatError::corrupt_field(
                name,
                "ready",
                u64::from(ready),
            )));
        }
        if consumed > 1 {
            return Err(Error::from(FormatError::corrupt_field(
                name,
                "consumed",
                u64::from(consumed),
            )));
        }
        Ok((w, ready, consumed))
    }
    fn set_ready(&self, v: u8, order: Ordering) -> Result<()> {
        self.slot.atomic_u8(SlotFlags::READY)?.store(v, order);
        Ok(())
    }
    fn set_consumed(&self, v: u8, order: Ordering) -> Result<()> {
        self.slot.atomic_u8(SlotFlags::CONSUMED)?.store(v, order);
        Ok(())
    }
    fn withdraw(&self) -> Result<bool> {
        Ok(self
            .slot
            .atomic_u8(SlotFlags::READY)?
            .compare_exchange(1, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok())
    }
    fn write(&self, v: T) -> Result<()> {
        Ok(self.slot.write(self.data, v)?)
    }
    fn read(&self) -> Result<T> {
        Ok(self.slot.read(self.data)?)
    }
    fn closed(&self) -> Result<bool> {
        self.chan.is_closed()
    }
}
