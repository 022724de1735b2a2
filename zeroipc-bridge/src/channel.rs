//! `Channel<T>` links, point to point: the exporter is a receiver of the local channel and
//! takes an item only when the importer has announced room for it (the importer's credit is
//! the free space of its local channel), so a full remote channel leaves the items in the
//! local channel and the local senders block. `close()` travels.

use std::time::Duration;

use bytemuck::Pod;
use zeroipc_codata::Channel;

use crate::Link;
use crate::config::LinkConfig;
use crate::elem::with_elem;
use crate::error::Result;
use crate::items::{self, Sink, Source, Taken};
use crate::stream::not_found;

/// Runs the export side of a channel link until the local channel is closed and drained and
/// the importer has acknowledged the close, or `link.stop` is stopped.
///
/// # Errors
/// Configuration, segment, channel and zenoh errors.
pub fn export(link: Link<'_>) -> Result<()> {
    with_elem!(link.cfg.elem_size()?, export_t(link))
}

/// Runs the import side of a channel link until the exporter closes the channel, or `link.stop`
/// is stopped.
///
/// # Errors
/// Configuration, segment, channel and zenoh errors.
pub fn import(link: Link<'_>) -> Result<()> {
    with_elem!(link.cfg.elem_size()?, import_t(link))
}

fn open<T: Pod>(cfg: &LinkConfig, role: &str) -> Result<Channel<T>> {
    let seg = cfg.open_segment()?;
    match Channel::<T>::open(&seg, &cfg.name) {
        Ok(c) => Ok(c),
        Err(e) if not_found(&e) => {
            let cap = cfg.capacity.unwrap_or(1024);
            match Channel::<T>::create(&seg, &cfg.name, cap) {
                Ok(c) => {
                    cfg.mark_created(&seg, role);
                    Ok(c)
                }
                // Created by someone else in between.
                Err(_) => Ok(Channel::<T>::open(&seg, &cfg.name)?),
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn export_t<T: Pod>(link: Link<'_>) -> Result<()> {
    let ch = open::<T>(link.cfg, "export")?;
    // Register as a receiver, so local senders see a live receiver while the bridge runs.
    let rx = ch.receiver()?;
    items::export(link, rx, true)
}

fn import_t<T: Pod>(link: Link<'_>) -> Result<()> {
    let ch = open::<T>(link.cfg, "import")?;
    let tx = ch.sender()?;
    items::import(link, tx)
}

impl<T: Pod> Source<T> for zeroipc_codata::Receiver<T> {
    fn take_into(&mut self, dst: &mut [T], wait: Duration) -> Result<Taken> {
        Taken::from_wait(self.recv_into_timeout(dst, wait))
    }

    fn try_take_into(&mut self, dst: &mut [T]) -> Result<Taken> {
        Taken::from_try(self.channel().try_recv_into(dst))
    }
}

impl<T: Pod> Sink<T> for zeroipc_codata::Sender<T> {
    fn put_slice(&self, vs: &[T], wait: Duration) -> Result<usize> {
        match self.send_slice_timeout(vs, wait) {
            Ok(n) => Ok(n),
            Err(e) if e.is_timeout() => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn try_put_slice(&self, vs: &[T]) -> Result<usize> {
        Ok(self.channel().try_send_slice(vs)?)
    }

    fn close(&self) -> Result<()> {
        Ok(self.channel().close()?)
    }

    fn room(&self) -> Option<u64> {
        let c = self.channel();
        // An unreadable length announces no room (the link waits rather than overfill).
        c.is_buffered()
            .then(|| c.len().map_or(0, |l| c.capacity().saturating_sub(l)) as u64)
    }

    fn capacity(&self) -> u64 {
        (self.channel().capacity() as u64).max(1)
    }
}
