//! The writer: attaches to a reader's buffer and writes frames (protocol §6, §7).

use std::time::{Duration, Instant};

use crate::atomic::{Ordering, fence};
use crate::error::{Error, Result};
use crate::layout::{FRAME_HEADER_SIZE, Geometry, OIEB_SIZE, Oieb};
use crate::liveness::is_process_alive;
use crate::names::Names;
use crate::os::{Mapping, NamedSemaphore};
use crate::reader::DEFAULT_LIVENESS_INTERVAL;
use crate::resources::{map_open_err, shm_open_existing};
use crate::ring::{Placement, frame_bytes, plan};
use crate::wait::{Pace, deadline_after, slice_until, spin};

/// Default overall deadline of a write waiting for space.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Writer tuning knobs.
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    /// Wait slice; reader liveness is checked after each slice and at most this often while
    /// frames flow without waiting.
    pub liveness_interval: Duration,
    /// Overall deadline of [`Writer::write_frame`] / [`Writer::get_frame_buffer`].
    pub write_timeout: Duration,
    /// How long connect retries while a reader is still initialising.
    pub connect_grace: Duration,
    /// Pre-fault the writer's mapping (`MAP_POPULATE`; default `true`).
    pub prefault: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            liveness_interval: DEFAULT_LIVENESS_INTERVAL,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            connect_grace: Duration::from_millis(100),
            prefault: true,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Reservation {
    placement: Placement,
    start: u64,
    len: u64,
    total: u64,
}

/// The writing side of a buffer.
///
/// # Examples
///
/// Zero-copy write:
///
/// ```
/// use zerobuffer::{BufferConfig, Reader, Writer};
/// # fn main() -> Result<(), zerobuffer::Error> {
/// let name = format!("doc-writer-{}", std::process::id());
/// let reader = Reader::create(&name, BufferConfig::new(0, 4096))?;
/// let mut writer = Writer::connect(&name)?;
/// let buf = writer.get_frame_buffer(4)?;
/// buf.copy_from_slice(&[1, 2, 3, 4]);
/// let seq = writer.commit_frame()?;
/// assert_eq!(seq, 1);
/// let frame = reader.read_frame()?.expect("frame");
/// assert_eq!(frame.data(), &[1, 2, 3, 4]);
/// # Ok(()) }
/// ```
pub struct Writer {
    names: Names,
    geo: Geometry,
    map: Mapping,
    sem_w: NamedSemaphore,
    sem_r: NamedSemaphore,
    pid: u64,
    opts: WriterOptions,
    w: u64,
    seq: u64,
    metadata_written: bool,
    last_check: Duration,
    pending: Option<Reservation>,
    pending_metadata: Option<u64>,
    /// Payload bytes of the frames committed by this handle.
    bytes_written: u64,
    /// Frames committed by this handle.
    frames_written: u64,
    /// How this writer's waits for space spin (learnt from the previous waits).
    pace: Pace,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("name", &self.names.name)
            .field("payload_size", &self.geo.p)
            .field("next_sequence", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Connects to buffer `name` with default options (§6).
    ///
    /// # Errors
    /// [`Error::BufferNotFound`], [`Error::PermissionDenied`], [`Error::InvalidOieb`],
    /// [`Error::Corrupt`], [`Error::NoReader`], [`Error::WriterAlreadyConnected`],
    /// [`Error::Io`].
    pub fn connect(name: &str) -> Result<Self> {
        Self::connect_with(name, WriterOptions::default())
    }

    /// Like [`Writer::connect`] with explicit options.
    ///
    /// # Errors
    /// As [`Writer::connect`].
    pub fn connect_with(name: &str, opts: WriterOptions) -> Result<Self> {
        let names = Names::new(name)?;
        let pid = u64::from(std::process::id());
        let grace = deadline_after(opts.connect_grace);
        let fd = shm_open_existing(&names.shm).map_err(|e| {
            if e == rustix::io::Errno::NOENT {
                Error::BufferNotFound {
                    name: names.name.clone(),
                }
            } else {
                map_open_err(e, &names.shm, "shm_open")
            }
        })?;
        let (map, geo) = loop {
            let size = rustix::fs::fstat(&fd)
                .map_err(|e| Error::io("fstat", e))?
                .st_size;
            let size = u64::try_from(size).unwrap_or(0);
            if size < OIEB_SIZE {
                if Instant::now() < grace {
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                return Err(Error::corrupt(
                    "not a ZeroBuffer (object smaller than 128 bytes)",
                ));
            }
            let map = Mapping::map(&fd, size, opts.prefault).map_err(|e| Error::io("mmap", e))?;
            let o = map.oieb();
            if o.oieb_size.load(Ordering::Acquire) == 0 && Instant::now() < grace {
                std::thread::sleep(Duration::from_millis(2));
                continue; // a reader is still initialising
            }
            o.check_header()?;
            let geo = Geometry::new(
                o.metadata_size.load(Ordering::Relaxed),
                o.payload_size.load(Ordering::Relaxed),
            )?;
            if geo.total > size {
                return Err(Error::corrupt(format!(
                    "segment of {size} bytes smaller than 128 + M + P = {}",
                    geo.total
                )));
            }
            break (map, geo);
        };
        let o = map.oieb();
        let c = o.validate(&geo)?;
        if c.reader_pid == 0 || !is_process_alive(c.reader_pid) {
            return Err(Error::NoReader {
                name: names.name.clone(),
            });
        }
        claim_writer_slot(o, pid)?;
        let sems = loop {
            match (
                NamedSemaphore::open(&names.sem_w),
                NamedSemaphore::open(&names.sem_r),
            ) {
                (Ok(w), Ok(r)) => break Ok((w, r)),
                (Err(e), _) | (_, Err(e)) => {
                    if e.raw_os_error() == Some(libc::ENOENT) {
                        if Instant::now() < grace {
                            std::thread::sleep(Duration::from_millis(2));
                            continue;
                        }
                        break Err(Error::NoReader {
                            name: names.name.clone(),
                        });
                    }
                    if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) {
                        break Err(Error::PermissionDenied {
                            what: names.sem_w.clone(),
                        });
                    }
                    break Err(Error::io("sem_open", e));
                }
            }
        };
        let (sem_w, sem_r) = match sems {
            Ok(s) => s,
            Err(e) => {
                let _ = o
                    .writer_pid
                    .compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Acquire);
                return Err(e);
            }
        };
        let metadata_written = o.metadata_written_bytes.load(Ordering::Acquire) > 0;
        let w = o.payload_write_pos.load(Ordering::Acquire);
        let mut writer = Self::attached(names, geo, map, [sem_w, sem_r], pid);
        writer.opts = opts;
        writer.w = w;
        writer.metadata_written = metadata_written;
        Ok(writer)
    }

    /// A writer holding the writer slot as `pid`, at sequence 1 and payload position 0, with
    /// default options and nothing written or pending.
    fn attached(
        names: Names,
        geo: Geometry,
        map: Mapping,
        sem: [NamedSemaphore; 2],
        pid: u64,
    ) -> Self {
        let [sem_w, sem_r] = sem;
        Writer {
            names,
            geo,
            map,
            sem_w,
            sem_r,
            pid,
            opts: WriterOptions::default(),
            w: 0,
            seq: 1,
            metadata_written: false,
            last_check: coarse_now(),
            pending: None,
            pending_metadata: None,
            bytes_written: 0,
            frames_written: 0,
            pace: Pace::new(),
        }
    }

    fn oieb(&self) -> &Oieb {
        self.map.oieb()
    }

    /// Loom only: attaches a writer to an in-memory segment.
    #[cfg(zeroipc_loom)]
    pub(crate) fn loom_attach(
        names: Names,
        geo: Geometry,
        map: Mapping,
        sem_w: NamedSemaphore,
        sem_r: NamedSemaphore,
    ) -> Result<Self> {
        let pid = u64::from(std::process::id());
        claim_writer_slot(map.oieb(), pid)?;
        Ok(Self::attached(names, geo, map, [sem_w, sem_r], pid))
    }

    /// Buffer name.
    pub fn name(&self) -> &str {
        &self.names.name
    }

    /// Payload ring size `P`.
    pub fn payload_size(&self) -> u64 {
        self.geo.p
    }

    /// Metadata block size `M`.
    pub fn metadata_size(&self) -> u64 {
        self.geo.m
    }

    /// Largest accepted frame length (`P - 16`, exact fit).
    pub fn max_frame_len(&self) -> u64 {
        self.geo.p - FRAME_HEADER_SIZE
    }

    /// Sequence number the next frame will carry.
    pub fn next_sequence(&self) -> u64 {
        self.seq
    }

    /// Changes the overall write deadline used by [`Writer::write_frame`].
    pub fn set_write_timeout(&mut self, timeout: Duration) {
        self.opts.write_timeout = timeout;
    }

    /// The overall write deadline used by [`Writer::write_frame`] and
    /// [`Writer::get_frame_buffer`] ([`DEFAULT_WRITE_TIMEOUT`] unless changed).
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zerobuffer::{BufferConfig, Reader, Writer, DEFAULT_WRITE_TIMEOUT};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-wtimeout-{}", std::process::id());
    /// let _reader = Reader::create(&name, BufferConfig::new(0, 4096))?;
    /// let mut writer = Writer::connect(&name)?;
    /// assert_eq!(writer.write_timeout(), DEFAULT_WRITE_TIMEOUT);
    /// writer.set_write_timeout(Duration::from_millis(250));
    /// assert_eq!(writer.write_timeout(), Duration::from_millis(250));
    /// # Ok(()) }
    /// ```
    pub fn write_timeout(&self) -> Duration {
        self.opts.write_timeout
    }

    /// Payload bytes of the frames this handle committed (frame headers and wrap padding not
    /// counted).
    ///
    /// # Examples
    /// ```
    /// use zerobuffer::{BufferConfig, Reader, Writer};
    /// # fn main() -> Result<(), zerobuffer::Error> {
    /// let name = format!("doc-wcount-{}", std::process::id());
    /// let _reader = Reader::create(&name, BufferConfig::new(0, 4096))?;
    /// let mut writer = Writer::connect(&name)?;
    /// writer.write_frame(b"abc")?;
    /// writer.write_frame(b"de")?;
    /// assert_eq!((writer.frames_written(), writer.bytes_written()), (2, 5));
    /// # Ok(()) }
    /// ```
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// Frames this handle committed (a reservation abandoned without commit is not counted).
    ///
    /// # Examples
    /// See [`Writer::bytes_written`].
    pub fn frames_written(&self) -> u64 {
        self.frames_written
    }

    /// A snapshot of the buffer's fill level and counters, as the writer sees them.
    ///
    /// # Errors
    /// [`Error::Corrupt`] / [`Error::InvalidOieb`] if the OIEB is inconsistent.
    pub fn health(&self) -> Result<crate::health::Health> {
        crate::health::Health::snapshot(self.oieb(), &self.geo)
    }

    /// Writes one frame only if space is available right now (no waiting).
    ///
    /// # Errors
    /// As [`Writer::write_frame`]; `BufferFull` instead of waiting.
    pub fn try_write_frame(&mut self, data: &[u8]) -> Result<u64> {
        self.write_frame_timeout(data, Duration::ZERO)
    }

    /// `reader_pid` of the buffer (0 once the reader closed).
    pub fn reader_pid(&self) -> u64 {
        self.oieb().reader_pid.load(Ordering::Acquire)
    }

    /// `true` if the reader is present and its process alive.
    pub fn is_reader_connected(&self) -> bool {
        let rp = self.oieb().reader_pid.load(Ordering::Acquire);
        rp != 0 && is_process_alive(rp)
    }

    /// Writes the metadata (write-once, also across writer reconnects).
    ///
    /// # Errors
    /// [`Error::MetadataAlreadyWritten`], [`Error::MetadataTooLarge`] when `8 + len > M`.
    pub fn set_metadata(&mut self, data: &[u8]) -> Result<()> {
        self.pending_metadata = None;
        let len = data.len() as u64;
        self.check_metadata_space(len)?;
        if !self.map.write_from(OIEB_SIZE + 8, data) {
            return Err(Error::corrupt("metadata block outside the mapping"));
        }
        self.publish_metadata(len)
    }

    /// Zero-copy metadata: returns the `len` content bytes of the metadata block to fill;
    /// [`Writer::commit_metadata`] then publishes them. Nothing is visible before the commit.
    ///
    /// # Errors
    /// As [`Writer::set_metadata`].
    pub fn get_metadata_buffer(&mut self, len: usize) -> Result<&mut [u8]> {
        self.check_metadata_space(len as u64)?;
        self.pending_metadata = Some(len as u64);
        self.map
            .slice_mut(OIEB_SIZE + 8, len)
            .ok_or_else(|| Error::corrupt("metadata block outside the mapping"))
    }

    /// Publishes the metadata filled through [`Writer::get_metadata_buffer`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if nothing is reserved; [`Error::MetadataAlreadyWritten`].
    pub fn commit_metadata(&mut self) -> Result<()> {
        let len = self
            .pending_metadata
            .take()
            .ok_or(Error::InvalidArgument("no metadata buffer reserved"))?;
        self.check_metadata_space(len)?;
        self.publish_metadata(len)
    }

    fn check_metadata_space(&mut self, len: u64) -> Result<u64> {
        if self.metadata_written || self.oieb().metadata_written_bytes.load(Ordering::Acquire) > 0 {
            self.metadata_written = true;
            return Err(Error::MetadataAlreadyWritten);
        }
        len.checked_add(8)
            .filter(|t| *t <= self.geo.m)
            .ok_or(Error::MetadataTooLarge {
                len,
                capacity: self.geo.m,
            })
    }

    fn publish_metadata(&mut self, len: u64) -> Result<()> {
        let total = len + 8; // checked in check_metadata_space
        if !self.map.write_u64(OIEB_SIZE, len) {
            return Err(Error::corrupt("metadata block outside the mapping"));
        }
        let o = self.oieb();
        o.metadata_free_bytes
            .store(self.geo.m - total, Ordering::Relaxed);
        // Release: publishes the metadata bytes; pairs with the Acquire load in
        // `Reader::metadata`.
        o.metadata_written_bytes.store(total, Ordering::Release);
        self.metadata_written = true;
        Ok(())
    }

    /// Writes one frame (copy), waiting up to the write timeout for space. Returns its
    /// sequence number.
    ///
    /// # Errors
    /// [`Error::InvalidFrameSize`] (empty), [`Error::FrameTooLarge`], [`Error::BufferFull`]
    /// (timeout, or unplaceable at the current position), [`Error::ReaderDead`],
    /// [`Error::Corrupt`].
    pub fn write_frame(&mut self, data: &[u8]) -> Result<u64> {
        self.write_frame_timeout(data, self.opts.write_timeout)
    }

    /// [`Writer::write_frame`] with an explicit overall deadline.
    ///
    /// # Errors
    /// As [`Writer::write_frame`].
    pub fn write_frame_timeout(&mut self, data: &[u8], timeout: Duration) -> Result<u64> {
        self.write_frame_parts_timeout(&[data], timeout)
    }

    /// Writes one frame made of `parts`, back to back (a gather write: e.g. a header and a
    /// body, or a message that arrived in pieces, without joining them first), waiting up
    /// to the write timeout for space. The reader sees one frame of the parts' total
    /// length. Returns its sequence number.
    ///
    /// ```no_run
    /// # fn main() -> zerobuffer::Result<()> {
    /// let mut w = zerobuffer::Writer::connect("camera")?;
    /// let (header, pixels) = ([1u8; 16], vec![0u8; 640 * 480]);
    /// w.write_frame_parts(&[&header, &pixels])?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Writer::write_frame`] (the frame is empty when every part is).
    pub fn write_frame_parts(&mut self, parts: &[&[u8]]) -> Result<u64> {
        self.write_frame_parts_timeout(parts, self.opts.write_timeout)
    }

    /// [`Writer::write_frame_parts`] with an explicit overall deadline (zero: only if space
    /// is available right now, as [`Writer::try_write_frame`]).
    ///
    /// # Errors
    /// As [`Writer::write_frame`].
    pub fn write_frame_parts_timeout(&mut self, parts: &[&[u8]], timeout: Duration) -> Result<u64> {
        self.pending = None;
        let len = parts
            .iter()
            .fold(0u64, |n, p| n.saturating_add(p.len() as u64));
        let res = self.reserve(len, timeout)?;
        let mut at = self.geo.payload_offset + res.start + FRAME_HEADER_SIZE;
        for part in parts {
            if !self.map.write_from(at, part) {
                return Err(Error::corrupt("frame outside the mapping"));
            }
            at += part.len() as u64;
        }
        Ok(self.commit(res))
    }

    /// Reserves space for a frame of `len` bytes and returns its payload bytes in the ring
    /// (zero copy). Fill it, then call [`Writer::commit_frame`]. Calling this again (or
    /// dropping the writer) abandons the reservation without any effect on the buffer.
    ///
    /// # Errors
    /// As [`Writer::write_frame`].
    pub fn get_frame_buffer(&mut self, len: usize) -> Result<&mut [u8]> {
        self.pending = None;
        let res = self.reserve(len as u64, self.opts.write_timeout)?;
        self.pending = Some(res);
        let at = self.geo.payload_offset + res.start + FRAME_HEADER_SIZE;
        self.map
            .slice_mut(at, len)
            .ok_or_else(|| Error::corrupt("frame outside the mapping"))
    }

    /// Publishes the frame reserved by [`Writer::get_frame_buffer`]; returns its sequence.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if nothing is reserved.
    pub fn commit_frame(&mut self) -> Result<u64> {
        let res = self
            .pending
            .take()
            .ok_or(Error::InvalidArgument("no frame buffer reserved"))?;
        Ok(self.commit(res))
    }

    /// `/sem-r-NAME`, for the async helper's own handle.
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn space_semaphore_name(&self) -> &str {
        &self.names.sem_r
    }

    /// The wait slice after which the reader's liveness is checked.
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn liveness_slice(&self) -> Duration {
        self.opts.liveness_interval
    }

    fn check_reader(&mut self, reader_pid: u64, force: bool) -> Result<()> {
        if reader_pid == 0 {
            return Err(Error::ReaderDead { pid: 0 });
        }
        // Coarse clock (vDSO, no TSC read): enough to rate-limit a 100 ms check.
        let now = coarse_now();
        if force || now.saturating_sub(self.last_check) >= self.opts.liveness_interval {
            self.last_check = now;
            if !is_process_alive(reader_pid) {
                return Err(Error::ReaderDead { pid: reader_pid });
            }
        }
        Ok(())
    }

    fn reserve(&mut self, len: u64, timeout: Duration) -> Result<Reservation> {
        let p = self.geo.p;
        let total = frame_bytes(p, len)?;
        let mut deadline: Option<Instant> = None;
        loop {
            let c = self.oieb().validate(&self.geo)?;
            self.check_reader(c.reader_pid, false)?;
            let (placement, required) = plan(p, self.w, total)?;
            if c.free >= required {
                let start = match placement {
                    Placement::InPlace => self.w,
                    Placement::Wrap { .. } => 0,
                };
                return Ok(Reservation {
                    placement,
                    start,
                    len,
                    total,
                });
            }
            if timeout.is_zero() {
                // A try: no spin, no sleep (a caller that cannot block, e.g. a network
                // receive thread, must not spend a spin on a full ring either).
                self.check_reader(c.reader_pid, true)?;
                return Err(Error::BufferFull {
                    frame_bytes: required,
                });
            }
            let deadline = *deadline.get_or_insert_with(|| deadline_after(timeout));
            let free = &self.oieb().payload_free_bytes;
            let Some(parked) = spin(&self.pace, || free.load(Ordering::Acquire) >= required) else {
                continue;
            };
            // `sem-r` collects one token per release, also while nobody waits, so it can hold
            // thousands of stale tokens. Drop them, then re-check: a release after this point
            // posts a fresh token, so the wait below cannot miss it.
            while self.sem_r.try_wait() {}
            if self.oieb().payload_free_bytes.load(Ordering::Acquire) >= required {
                continue;
            }
            let slice = slice_until(deadline, self.opts.liveness_interval);
            let got = !slice.is_zero()
                && self
                    .sem_r
                    .wait_timeout(slice)
                    .map_err(|e| Error::io("sem_timedwait", e))?;
            if got {
                // Acquire: pairs with the reader's fence(Release) before sem_post(sem-r).
                fence(Ordering::Acquire);
                parked.learn();
            } else {
                let rp = self.oieb().reader_pid.load(Ordering::Acquire);
                self.check_reader(rp, true)?;
                if Instant::now() >= deadline {
                    return Err(Error::BufferFull {
                        frame_bytes: required,
                    });
                }
            }
        }
    }

    fn commit(&mut self, res: Reservation) -> u64 {
        let p = self.geo.p;
        let base = self.geo.payload_offset;
        let o = self.map.oieb();
        if let Placement::Wrap { waste } = res.placement {
            if waste >= FRAME_HEADER_SIZE {
                // Marker {0, 0}; in bounds because w + 16 <= P.
                self.map.write_u64(base + self.w, 0);
                self.map.write_u64(base + self.w + 8, 0);
                bump(&o.payload_written_count);
            }
            if waste > 0 {
                o.payload_free_bytes.fetch_sub(waste, Ordering::AcqRel);
            }
        }
        let seq = self.seq;
        self.map.write_u64(base + res.start, res.len);
        self.map.write_u64(base + res.start + 8, seq);
        let end = res.start + res.total; // <= P by plan()
        self.w = if end == p { 0 } else { end };
        // Release: diagnostic (health, reconnect); pairs with Acquire loads in validate().
        o.payload_write_pos.store(self.w, Ordering::Release);
        o.payload_free_bytes.fetch_sub(res.total, Ordering::AcqRel);
        bump(&o.payload_written_count);
        // Release: publishes header and payload; pairs with the reader's fence(Acquire)
        // after its wait on sem-w.
        fence(Ordering::Release);
        let _ = self.sem_w.post();
        self.seq = self.seq.wrapping_add(1);
        self.bytes_written = self.bytes_written.wrapping_add(res.len);
        self.frames_written = self.frames_written.wrapping_add(1);
        seq
    }
}

/// `CLOCK_MONOTONIC_COARSE` as a duration since boot.
fn coarse_now() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

fn bump(counter: &crate::atomic::AtomicU64) {
    let v = counter.load(Ordering::Relaxed);
    counter.store(v.wrapping_add(1), Ordering::Relaxed);
}

/// §6 step 5 (R10): compare-and-swap claim of `writer_pid`.
fn claim_writer_slot(o: &Oieb, pid: u64) -> Result<()> {
    loop {
        let cur = o.writer_pid.load(Ordering::Acquire);
        if cur != 0 && cur != pid && is_process_alive(cur) {
            return Err(Error::WriterAlreadyConnected { pid: cur });
        }
        // AcqRel: pairs with the Acquire loads of `writer_pid` by the reader and by other
        // connecting writers.
        if o.writer_pid
            .compare_exchange(cur, pid, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Ok(());
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Release (in the AcqRel CAS): pairs with the reader's Acquire load of `writer_pid`.
        let _ = self.map.oieb().writer_pid.compare_exchange(
            self.pid,
            0,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}
