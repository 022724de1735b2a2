//! The registered handles [`Sender`] and [`Receiver`] (see `Channel::sender`/`receiver`).

use super::*;

/// `Drop` (unregistering the end's peer slot) and [`Channel`] access for a registered end.
macro_rules! registered_end {
    ($end:ident, $kind:ident) => {
        impl<T: Pod> Drop for $end<T> {
            fn drop(&mut self) {
                if let Some(s) = self.slot {
                    self.chan.unregister(s, PeersHeader::$kind);
                }
            }
        }

        impl<T: Pod> $end<T> {
            /// The channel.
            pub fn channel(&self) -> &Channel<T> {
                &self.chan
            }
        }
    };
}

/// A registered sending end of a [`Channel`] (see [`Channel::sender`]). Unregisters on drop.
#[derive(Debug)]
pub struct Sender<T: Pod> {
    pub(super) chan: Channel<T>,
    pub(super) slot: Option<usize>,
}

registered_end!(Sender, KIND_SENDER);

impl<T: Pod> Sender<T> {
    /// As [`Channel::send`], failing with [`Error::Disconnected`] when every registered
    /// receiver is gone while we wait.
    ///
    /// # Errors
    /// [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send(&self, v: T) -> Result<()> {
        self.chan.send_until(v, None, &|| {
            self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
        })
    }

    /// As [`Sender::send`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<()> {
        self.chan
            .send_until(v, common::deadline_after(timeout), &|| {
                self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
            })
    }

    /// As [`Channel::try_send`].
    ///
    /// # Errors
    /// As [`Channel::try_send`].
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(v)
    }

    /// As [`Channel::send_slice`], failing with [`Error::Disconnected`] when every
    /// registered receiver is gone while we wait.
    ///
    /// # Errors
    /// [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send_slice(&self, src: &[T]) -> Result<usize> {
        self.chan.send_slice_until(src, None, &|| {
            self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
        })
    }

    /// As [`Sender::send_slice`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Closed`]; [`Error::Disconnected`]; `Corrupt`.
    pub fn send_slice_timeout(&self, src: &[T], timeout: Duration) -> Result<usize> {
        self.chan
            .send_slice_until(src, common::deadline_after(timeout), &|| {
                self.chan.gone(PeersHeader::KIND_RECEIVER, "receiver")
            })
    }
}

/// A registered receiving end of a [`Channel`] (see [`Channel::receiver`]). Unregisters on
/// drop.
#[derive(Debug)]
pub struct Receiver<T: Pod> {
    pub(super) chan: Channel<T>,
    pub(super) slot: Option<usize>,
    /// The pending `Stream::poll_next`, if any (feature `async`).
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(super) next: crate::async_api::NextState,
}

#[cfg(all(feature = "async", not(zeroipc_loom)))]
impl<T: Pod> Receiver<T> {
    /// The channel and the pending stream state, borrowed apart (`crate::async_api`).
    pub(crate) fn parts_for_stream(&mut self) -> (&Channel<T>, &mut crate::async_api::NextState) {
        (&self.chan, &mut self.next)
    }
}

registered_end!(Receiver, KIND_RECEIVER);

impl<T: Pod> Receiver<T> {
    /// As [`Channel::recv`], also ending (`Ok(None)`) once drained when every registered
    /// sender is gone (after at least one registered).
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv(&self) -> Result<Option<T>> {
        self.chan
            .recv_until(None, &|| self.chan.gone(PeersHeader::KIND_SENDER, "sender"))
    }

    /// As [`Receiver::recv`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        self.chan.recv_until(common::deadline_after(timeout), &|| {
            self.chan.gone(PeersHeader::KIND_SENDER, "sender")
        })
    }

    /// As [`Channel::try_recv`].
    ///
    /// # Errors
    /// As [`Channel::try_recv`].
    pub fn try_recv(&self) -> Result<Option<T>> {
        self.chan.try_recv()
    }

    /// As [`Channel::recv_into`], also ending (`Ok(0)`) once drained when every registered
    /// sender is gone (after at least one registered).
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn recv_into(&self, dst: &mut [T]) -> Result<usize> {
        self.chan.recv_into_until(dst, None, &|| {
            self.chan.gone(PeersHeader::KIND_SENDER, "sender")
        })
    }

    /// As [`Receiver::recv_into`] with a timeout.
    ///
    /// # Errors
    /// [`Error::Timeout`]; `Corrupt`.
    pub fn recv_into_timeout(&self, dst: &mut [T], timeout: Duration) -> Result<usize> {
        self.chan
            .recv_into_until(dst, common::deadline_after(timeout), &|| {
                self.chan.gone(PeersHeader::KIND_SENDER, "sender")
            })
    }
}

impl<T: Pod> Iterator for Receiver<T> {
    type Item = Result<T>;

    /// Blocks for the next value; ends when the channel is closed (or every registered
    /// sender is gone) and drained.
    fn next(&mut self) -> Option<Result<T>> {
        self.recv().transpose()
    }
}
