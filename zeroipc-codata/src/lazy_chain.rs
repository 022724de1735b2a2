//! Derived lazy values (op CHAIN, a project extension; docs/SPECIFICATION.md §4.18.1):
//! [`Lazy::add`], [`Lazy::mul`] and [`Lazy::map`] combine other lazy values of the table.
//!
//! A derived value `NAME` is an ordinary `Lazy<T>` entry (same bytes as upstream) with op
//! type CHAIN (4) and `first = second = 0`, plus a companion entry `NAME_chain` created just
//! before it:
//!
//! | off | type | field |
//! |---|---|---|
//! | 0 | u32 | `kind`: ADD 1, MUL 2, MAP 3 |
//! | 4 | atomic u32 | `request` — bumped by forcers of a MAP value (futex word of its computer) |
//! | 8 | u32 | `declarer` — pid of the process whose closure computes a MAP value (else 0) |
//! | 12 | u32 | reserved (0) |
//! | 16 | u8[32] | `first` — name of the first input entry, NUL-terminated |
//! | 48 | u8[32] | `second` — name of the second input entry (empty for MAP) |
//!
//! Forcing ADD/MUL: the process that wins the value's NOT_COMPUTED → COMPUTING race (the
//! ordinary Lazy protocol) forces both inputs (each, in turn, exactly once across processes)
//! and stores `a + b` / `a * b`. Forcing MAP: the closure exists only in the declaring
//! process, so forcers bump `request` and wait; a thread of the declaring process wakes on
//! it, forces the input and stores `f(input)`. An input's failure fails the derived value
//! with a message naming the input. Upstream peers see op CHAIN and fail with their "Chain
//! computation not yet implemented" error (never a value).

use std::mem::offset_of;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use zeroipc_format::atomic::{AtomicU32, Ordering};
use zeroipc_format::{Error as FormatError, Region, Segment};

use crate::common;
use crate::error::{Error, Result};
use crate::lazy::{Lazy, LazyState, LazyValue, OP_CHAIN};

/// `NAME_chain` (project extension), for the offset asserts; accessed through `Region`.
#[repr(C)]
struct ChainHeader {
    kind: u32,
    request: u32,
    declarer: u32,
    _reserved: u32,
    first: [u8; 32],
    second: [u8; 32],
}

const KIND: usize = offset_of!(ChainHeader, kind);
const REQUEST: usize = offset_of!(ChainHeader, request);
const DECLARER: usize = offset_of!(ChainHeader, declarer);
const FIRST: usize = offset_of!(ChainHeader, first);
const SECOND: usize = offset_of!(ChainHeader, second);
const CHAIN_SIZE: u64 = size_of::<ChainHeader>() as u64;
const _: () = assert!(
    KIND == 0 && REQUEST == 4 && DECLARER == 8 && FIRST == 16 && SECOND == 48 && CHAIN_SIZE == 80
);

const KIND_ADD: u32 = 1;
const KIND_MUL: u32 = 2;
const KIND_MAP: u32 = 3;
const SUFFIX: &str = "_chain";
/// Longest sleep of a MAP computer thread between looks at its stop flag.
const SERVE_SLICE: Duration = Duration::from_millis(20);

/// The decoded `NAME_chain` of a derived lazy value.
pub(crate) struct Chain {
    name: String,
    region: Region,
    kind: u32,
    first: String,
    second: String,
}

fn encode_name(n: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (d, c) in out.iter_mut().zip(n.bytes()) {
        *d = c;
    }
    out
}

fn decode_name(entry: &str, field: &'static str, raw: [u8; 32]) -> Result<String> {
    let len = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
    let bytes = raw.get(..len).unwrap_or_default();
    match std::str::from_utf8(bytes) {
        Ok(s) if len < raw.len() => Ok(s.to_owned()),
        _ => Err(FormatError::corrupt_field(entry, field, len as u64).into()),
    }
}

impl Chain {
    /// The chain entry of derived value `name`, if it has one.
    pub(crate) fn find(seg: &Segment, name: &str) -> Result<Option<Chain>> {
        let chain_name = format!("{name}{SUFFIX}");
        if chain_name.len() > zeroipc_format::MAX_ENTRY_NAME {
            return Ok(None);
        }
        let Some(entry) = seg.get(&chain_name)? else {
            return Ok(None);
        };
        entry.expect_size(CHAIN_SIZE)?;
        let region = seg.region(&entry)?;
        let kind = region.read::<u32>(KIND)?;
        if !(KIND_ADD..=KIND_MAP).contains(&kind) {
            return Err(FormatError::corrupt_field(&chain_name, "kind", u64::from(kind)).into());
        }
        let first = decode_name(&chain_name, "first", region.read(FIRST)?)?;
        let second = decode_name(&chain_name, "second", region.read(SECOND)?)?;
        Ok(Some(Chain {
            name: name.to_owned(),
            region,
            kind,
            first,
            second,
        }))
    }

    fn request_word(&self) -> Result<&common::HwU32> {
        Ok(self.region.atomic_u32(REQUEST)?)
    }

    /// Forces the derived value `lazy` (whose chain this is).
    pub(crate) fn force<T: LazyValue>(
        &self,
        lazy: &Lazy<T>,
        deadline: Option<Instant>,
    ) -> Result<T> {
        match self.kind {
            KIND_MAP => self.wait_for_declarer(lazy, deadline),
            kind => {
                let seg = lazy.seg.clone();
                let (first, second) = (self.first.clone(), self.second.clone());
                lazy.run(deadline, move |_| {
                    let a = force_input::<T>(&seg, &first, deadline)?;
                    let b = force_input::<T>(&seg, &second, deadline)?;
                    Ok(if kind == KIND_ADD {
                        T::add(a, b)
                    } else {
                        T::mul(a, b)
                    })
                })
            }
        }
    }

    /// A MAP value: asks the declaring process to compute it and waits.
    fn wait_for_declarer<T: LazyValue>(
        &self,
        lazy: &Lazy<T>,
        deadline: Option<Instant>,
    ) -> Result<T> {
        let request = self.request_word()?;
        let state = lazy.state_word()?;
        let since = Instant::now();
        loop {
            if let Some(v) = lazy.try_get()? {
                return Ok(v);
            }
            request.fetch_add(1, Ordering::SeqCst);
            common::wake_all(request);
            let declarer = self.region.read::<u32>(DECLARER)?;
            if lazy.state()? == LazyState::NotComputed && common::is_dead(declarer) {
                return Err(Error::Failed {
                    name: self.name.clone(),
                    message: format!(
                        "computed by the closure of process {declarer}, which has exited; \
                         declare it again with Lazy::map"
                    ),
                });
            }
            let Some(slice) = common::next_slice(deadline, since) else {
                return Err(Error::Timeout {
                    what: "a lazy value",
                });
            };
            let seen = state.load(Ordering::Acquire);
            if seen != 2 && seen != 3 {
                common::park(state, seen, slice);
            }
        }
    }
}

/// Forces input `name`, turning its failure into a message for the derived value.
fn force_input<T: LazyValue>(
    seg: &Segment,
    name: &str,
    deadline: Option<Instant>,
) -> std::result::Result<T, String> {
    Lazy::<T>::open(seg, name)
        .and_then(|l| l.force_until(deadline))
        .map_err(|e| format!("input {name:?} failed: {e}"))
}

/// Creates `NAME_chain`, then the CHAIN entry `name`.
fn create_chain<T: LazyValue>(
    seg: &Segment,
    name: &str,
    kind: u32,
    first: &str,
    second: &str,
) -> Result<Lazy<T>> {
    let chain_name = format!("{name}{SUFFIX}");
    if chain_name.len() > zeroipc_format::MAX_ENTRY_NAME {
        return Err(FormatError::InvalidArgument(format!(
            "derived lazy name {name:?} is longer than {} bytes (it needs a {SUFFIX:?} entry)",
            zeroipc_format::MAX_ENTRY_NAME - SUFFIX.len()
        ))
        .into());
    }
    if seg.get(name)?.is_some() {
        return Err(FormatError::AlreadyExists {
            name: name.to_owned(),
        }
        .into());
    }
    let declarer = if kind == KIND_MAP {
        common::my_pid()
    } else {
        0
    };
    seg.add(&chain_name, CHAIN_SIZE, |r: &Region| -> Result<()> {
        r.write::<u32>(KIND, kind)?;
        r.write::<u32>(DECLARER, declarer)?;
        r.write(FIRST, encode_name(first))?;
        r.write(SECOND, encode_name(second))?;
        Ok(())
    })?;
    Lazy::<T>::create_with(seg, name, |r, l| {
        r.write::<u32>(l.op, OP_CHAIN)?;
        Ok(())
    })
}

impl<T: LazyValue> Lazy<T> {
    /// Declares the derived lazy value `name = a + b` (op CHAIN, a project extension): the
    /// first process to force it forces `a` and `b` (each exactly once across processes)
    /// and caches the sum. Any process of this crate can force it by name; an upstream peer
    /// gets its "not yet implemented" error, never a value.
    ///
    /// # Errors
    /// `AlreadyExists`; [`FormatError::InvalidArgument`] for a name over 25 bytes (the
    /// `NAME_chain` entry must fit); the segment's errors.
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::Lazy;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let a = Lazy::<i64>::create_multiply(&seg, "a", 6, 7)?;
    /// let b = Lazy::<i64>::create_constant(&seg, "b", 8)?;
    /// let total = Lazy::add(&seg, "total", &a, &b)?;
    /// let elsewhere = Lazy::<i64>::open(&seg, "total")?; // as another process would
    /// assert_eq!(elsewhere.force()?, 50);
    /// assert_eq!(total.force()?, 50);
    /// assert_eq!(a.compute_count()?, 1);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn add(seg: &Segment, name: &str, a: &Lazy<T>, b: &Lazy<T>) -> Result<Lazy<T>> {
        create_chain(seg, name, KIND_ADD, a.entry().name(), b.entry().name())
    }

    /// Declares the derived lazy value `name = a * b`; see [`Lazy::add`].
    ///
    /// # Errors
    /// As [`Lazy::add`].
    ///
    /// # Examples
    /// ```
    /// use zeroipc_codata::Lazy;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let w = Lazy::<f64>::create_constant(&seg, "w", 1.5)?;
    /// let h = Lazy::<f64>::create_add(&seg, "h", 1.0, 1.0)?;
    /// let area = Lazy::mul(&seg, "area", &w, &h)?;
    /// assert_eq!(area.force()?, 3.0);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn mul(seg: &Segment, name: &str, a: &Lazy<T>, b: &Lazy<T>) -> Result<Lazy<T>> {
        create_chain(seg, name, KIND_MUL, a.entry().name(), b.entry().name())
    }

    /// Declares the derived lazy value `name = f(input)`. `f` lives in this process: a
    /// thread of this process computes the value when any process forces it (forcers in
    /// other processes ask through the `NAME_chain` entry and wait). Keep the returned
    /// [`LazyMap`] alive while others may force the value; once this process has exited,
    /// forcing an uncomputed value fails with a message that says so. After
    /// [`Lazy::reset`] the next force computes `f` again (the input stays cached unless it
    /// is reset too).
    ///
    /// # Errors
    /// As [`Lazy::add`].
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use zeroipc_codata::Lazy;
    /// use zeroipc_format::Segment;
    ///
    /// let seg = Segment::anonymous(1 << 16, 64)?;
    /// let celsius = Lazy::<f64>::create_constant(&seg, "celsius", 100.0)?;
    /// let fahrenheit = Lazy::map(&seg, "fahrenheit", &celsius, |c| c * 9.0 / 5.0 + 32.0)?;
    /// let elsewhere = Lazy::<f64>::open(&seg, "fahrenheit")?; // as another process would
    /// assert_eq!(elsewhere.force_timeout(Duration::from_secs(30))?, 212.0);
    /// assert_eq!(fahrenheit.compute_count()?, 1);
    /// # Ok::<(), zeroipc_codata::Error>(())
    /// ```
    pub fn map(
        seg: &Segment,
        name: &str,
        input: &Lazy<T>,
        mut f: impl FnMut(T) -> T + Send + 'static,
    ) -> Result<LazyMap<T>>
    where
        T: Send,
    {
        let lazy = create_chain::<T>(seg, name, KIND_MAP, input.entry().name(), "")?;
        let chain = Chain::find(seg, name)?.ok_or_else(|| {
            Error::from(FormatError::InvalidArgument("chain entry vanished".into()))
        })?;
        let served = Lazy::<T>::open(seg, name)?;
        let stop = std::sync::Arc::new(AtomicU32::new(0));
        let stopped = std::sync::Arc::clone(&stop);
        let input_name = input.entry().name().to_owned();
        let seg2 = seg.clone();
        let worker = std::thread::spawn(move || -> Result<()> {
            let request = chain.request_word()?;
            let mut seen = request.load(Ordering::SeqCst);
            loop {
                // Acquire: pairs with the Release store in `LazyMap`'s drop.
                if stopped.load(Ordering::Acquire) == 1 {
                    return Ok(());
                }
                let now = request.load(Ordering::SeqCst);
                if now != seen && served.state()? == LazyState::NotComputed {
                    // Again after a `reset`: `f` runs once per computation.
                    let r = served.run(None, |_| {
                        force_input::<T>(&seg2, &input_name, None).map(&mut f)
                    });
                    if let Err(e @ Error::Format(_)) = r {
                        return Err(e);
                    }
                }
                seen = now;
                common::park(request, now, SERVE_SLICE);
            }
        });
        Ok(LazyMap {
            lazy,
            stop,
            worker: Some(worker),
        })
    }
}

/// A derived lazy value computed by a closure of this process; see [`Lazy::map`].
/// Dereferences to the [`Lazy`]; dropping it stops the computing thread.
#[derive(Debug)]
pub struct LazyMap<T: Pod> {
    lazy: Lazy<T>,
    stop: std::sync::Arc<AtomicU32>,
    worker: Option<JoinHandle<Result<()>>>,
}

impl<T: Pod> std::ops::Deref for LazyMap<T> {
    type Target = Lazy<T>;
    fn deref(&self) -> &Lazy<T> {
        &self.lazy
    }
}

impl<T: Pod> Drop for LazyMap<T> {
    fn drop(&mut self) {
        // Release: pairs with the Acquire load in the computing thread.
        self.stop.store(1, Ordering::Release);
        // The thread sleeps at most SERVE_SLICE between looks at the flag.
        if let Some(t) = self.worker.take() {
            let _ = t.join();
        }
    }
}
