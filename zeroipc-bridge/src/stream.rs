//! `Stream<T>` links: the exporter is a subscriber of the local stream; importers emit into
//! a local stream of the same name (created if missing). Any number of importers.

use std::time::Duration;

use bytemuck::Pod;
use zeroipc_codata::{Error as CodataError, Stream, Subscription};

use crate::Link;
use crate::elem::with_elem;
use crate::error::Result;
use crate::items::{self, Sink, Source, Taken};

/// Runs the export side of a stream link until the local stream is closed and every live
/// importer has acknowledged the close, or `link.stop` is stopped.
///
/// # Errors
/// Configuration, segment, stream and zenoh errors.
pub fn export(link: Link<'_>) -> Result<()> {
    with_elem!(link.cfg.elem_size()?, export_t(link))
}

/// Runs the import side of a stream link until the exporter closes the stream, or `link.stop` is
/// stopped.
///
/// # Errors
/// Configuration, segment, stream and zenoh errors.
pub fn import(link: Link<'_>) -> Result<()> {
    with_elem!(link.cfg.elem_size()?, import_t(link))
}

/// Whether `e` says the object does not exist.
pub(crate) fn not_found(e: &CodataError) -> bool {
    matches!(
        e,
        CodataError::Format(zeroipc_format::Error::NotFound { .. })
    )
}

fn export_t<T: Pod>(link: Link<'_>) -> Result<()> {
    let Link {
        cfg, stats, stop, ..
    } = link;
    let seg = cfg.open_segment()?;
    let mut said = false;
    let stream = loop {
        match Stream::<T>::open(&seg, &cfg.name) {
            Ok(s) => break s,
            Err(e) if not_found(&e) => {
                if !said {
                    stats.set_state("waiting for the local stream");
                    said = true;
                }
                if stop.is_stopped() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let mut sub = stream.subscribe()?;
    // Park instead of spinning while the local producer is quiet: the CPU is better left to
    // zenoh's threads, which are carrying the last message on (bench, 2 CPUs: round-trip
    // p50 lower with the exporters parking).
    sub.set_spin(false);
    items::export(link, sub, false)
}

fn import_t<T: Pod>(link: Link<'_>) -> Result<()> {
    let cfg = link.cfg;
    let seg = cfg.open_segment()?;
    let stream = match Stream::<T>::open(&seg, &cfg.name) {
        Ok(s) => s,
        Err(e) if not_found(&e) => {
            let cap = cfg.capacity.unwrap_or(zeroipc_codata::DEFAULT_CAPACITY);
            match Stream::<T>::create(&seg, &cfg.name, cap) {
                Ok(s) => {
                    cfg.mark_created(&seg, "import");
                    s
                }
                // Created by someone else in between.
                Err(_) => Stream::<T>::open(&seg, &cfg.name)?,
            }
        }
        Err(e) => return Err(e.into()),
    };
    items::import(link, stream)
}

impl<T: Pod> Source<T> for Subscription<T> {
    fn take_into(&mut self, dst: &mut [T], wait: Duration) -> Result<Taken> {
        Taken::from_wait(self.recv_into_timeout(dst, wait))
    }

    fn try_take_into(&mut self, dst: &mut [T]) -> Result<Taken> {
        Taken::from_try(self.try_recv_into(dst))
    }

    fn position(&self) -> Option<u64> {
        Subscription::position(self).ok()
    }
}

impl<T: Pod> Sink<T> for Stream<T> {
    fn put_slice(&self, vs: &[T], wait: Duration) -> Result<usize> {
        match self.emit_slice_timeout(vs, wait) {
            Ok(n) => Ok(n),
            Err(e) if e.is_timeout() => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    fn try_put_slice(&self, vs: &[T]) -> Result<usize> {
        Ok(self.try_emit_slice(vs)?)
    }

    fn close(&self) -> Result<()> {
        Ok(Stream::close(self)?)
    }

    fn room(&self) -> Option<u64> {
        None
    }

    fn capacity(&self) -> u64 {
        (Stream::capacity(self) as u64).max(64)
    }

    fn position(&self) -> Option<u64> {
        // The importer is the stream's one producer: the stream's write position counts
        // exactly what it published, also across a kill of the importer (`sequence` is
        // bumped after publishing, so a kill in between leaves it one behind).
        Stream::position(self).ok()
    }
}
