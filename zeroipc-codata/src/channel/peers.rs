//! The peer registry (`N_peers`, project extension): registered senders and receivers,
//! so a side whose every peer died sees the channel as closed or disconnected.

use super::*;

impl<T: Pod> Channel<T> {
    pub(super) fn peer_words(&self) -> Option<Result<(&HwU32, &HwU32, Vec<&HwU64>)>> {
        let r = self.inner.peers.as_ref()?;
        Some((|| {
            let s = r.atomic_u32(PeersHeader::SENDERS_EVER)?;
            let rcv = r.atomic_u32(PeersHeader::RECEIVERS_EVER)?;
            let mut slots = Vec::with_capacity(PeersHeader::SLOT_COUNT as usize);
            for i in 0..PeersHeader::SLOT_COUNT as usize {
                slots.push(r.atomic_u64(PeersHeader::SLOTS + 8 * i)?);
            }
            Ok((s, rcv, slots))
        })())
    }

    pub(super) fn register(&self, kind: u64) -> Result<Option<usize>> {
        let Some(p) = self.peer_words() else {
            return Ok(None);
        };
        let (s_ever, r_ever, slots) = p?;
        let me = (kind << 32) | u64::from(common::my_pid());
        for (i, w) in slots.iter().enumerate() {
            let cur = w.load(Ordering::Acquire);
            let free = cur == 0 || common::is_dead(cur as u32);
            if free
                && w.compare_exchange(cur, me, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                let ever = if kind == PeersHeader::KIND_SENDER {
                    s_ever
                } else {
                    r_ever
                };
                ever.fetch_add(1, Ordering::SeqCst);
                return Ok(Some(i));
            }
        }
        Err(FormatError::InvalidArgument(format!(
            "{:?}: all {} peer slots are taken",
            self.inner.name,
            PeersHeader::SLOT_COUNT
        ))
        .into())
    }

    pub(super) fn unregister(&self, slot: usize, kind: u64) {
        if let Some(Ok((_, _, slots))) = self.peer_words()
            && let Some(w) = slots.get(slot)
        {
            let me = (kind << 32) | u64::from(common::my_pid());
            let _ = w.compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// `(ever registered, alive now)` for peers of `kind`; `None` without a registry.
    pub(super) fn peer_counts(&self, kind: u64) -> Result<Option<(u32, u32)>> {
        let Some(p) = self.peer_words() else {
            return Ok(None);
        };
        let (s_ever, r_ever, slots) = p?;
        let ever = if kind == PeersHeader::KIND_SENDER {
            s_ever
        } else {
            r_ever
        }
        .load(Ordering::SeqCst);
        let mut alive = 0;
        for w in slots {
            let v = w.load(Ordering::Acquire);
            if v >> 32 == kind && !common::is_dead(v as u32) {
                alive += 1;
            }
        }
        Ok(Some((ever, alive)))
    }

    /// Registered [`Sender`]s whose process is alive (`None` for a channel without the
    /// project's peer registry, e.g. one created by upstream C++).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn live_senders(&self) -> Result<Option<u32>> {
        Ok(self.peer_counts(PeersHeader::KIND_SENDER)?.map(|(_, a)| a))
    }

    /// Registered [`Receiver`]s whose process is alive (`None` without a registry).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn live_receivers(&self) -> Result<Option<u32>> {
        Ok(self
            .peer_counts(PeersHeader::KIND_RECEIVER)?
            .map(|(_, a)| a))
    }

    pub(super) fn gone(&self, kind: u64, side: &'static str) -> Result<()> {
        match self.peer_counts(kind)? {
            Some((ever, 0)) if ever > 0 => Err(Error::Disconnected {
                name: self.inner.name.clone(),
                side,
            }),
            _ => Ok(()),
        }
    }

    /// A registered sending end: while any sender is registered, receivers wait; once every
    /// registered sender has dropped its handle or died, [`Receiver`]s see the end of the
    /// channel after draining it.
    ///
    /// # Errors
    /// [`FormatError::InvalidArgument`] when all 32 peer slots are taken by live processes.
    pub fn sender(&self) -> Result<Sender<T>> {
        let slot = self.register(PeersHeader::KIND_SENDER)?;
        Ok(Sender {
            chan: self.clone(),
            slot,
        })
    }

    /// A registered receiving end; a [`Sender`] blocked on a full (or unbuffered) channel
    /// gets [`Error::Disconnected`] once every registered receiver is gone.
    ///
    /// # Errors
    /// As [`Channel::sender`].
    pub fn receiver(&self) -> Result<Receiver<T>> {
        let slot = self.register(PeersHeader::KIND_RECEIVER)?;
        Ok(Receiver {
            chan: self.clone(),
            slot,
            #[cfg(all(feature = "async", not(zeroipc_loom)))]
            next: None,
        })
    }
}

#[cfg(all(feature = "async", not(zeroipc_loom)))]
impl<T: Pod> Channel<T> {
    /// The futex word or waiter counter an async wait uses (`crate::async_api`), as an
    /// owned view: the reactor reads it on every sweep, without going through the handle.
    pub(crate) fn async_word(&self, which: crate::async_api::ChannelWord) -> Option<AtomicWords> {
        use crate::async_api::ChannelWord as W;
        match (which, &self.inner.kind) {
            // The queue's `tail` (receivers) and `head` (senders) words.
            (W::Recv, Kind::Buffered { qwords, .. }) => qwords.range(1, 1),
            (W::Send, Kind::Buffered { qwords, .. }) => qwords.range(0, 1),
            (W::Recv | W::Send, Kind::Unbuffered { word, .. }) => word.range(0, 1),
            (W::Receivers, _) => self.inner.words.range(ChannelHeader::W_RECEIVERS, 1),
            (W::Senders, _) => self.inner.words.range(ChannelHeader::W_SENDERS, 1),
        }
    }

    /// The header region (the async waits read its `closed` flag on every sweep).
    pub(crate) fn header_region(&self) -> Region {
        self.inner.header.clone()
    }

    /// [`Error::Disconnected`] once every registered receiver (`receivers`) or sender is
    /// gone, as the blocking handles check once per slice.
    pub(crate) fn peers_gone(&self, receivers: bool) -> Result<()> {
        if receivers {
            self.gone(PeersHeader::KIND_RECEIVER, "receiver")
        } else {
            self.gone(PeersHeader::KIND_SENDER, "sender")
        }
    }
}
