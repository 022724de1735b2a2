//! `Lazy<T>`: a value computed once, on first demand, by whichever process asks first
//! (spec §4.18, the upstream C++ layout).
//!
//! ```text
//! Header { atomic u32 state; ComputationOp op; T cached_value; u8 error_msg[256]; atomic u32 compute_count }
//! ComputationOp { u32 type; union { T constant; struct { T a, b }; T unary; struct { u32 first, second }; u32 external_id } data }
//! ```
//!
//! Offsets follow the C layout rules of the spec (304 bytes for 8-byte `T`, 280 for 4-byte
//! `T`); [`Lazy::layout`] computes them.
//!
//! # Detecting a dead computer (project extension)
//! The upstream layout has no owner field, so a process that dies while COMPUTING would leave
//! every other process waiting forever. Lazies created by this crate (with a base name of at
//! most 25 bytes) get a second entry `name_owner`, published together with `name`: 8 bytes,
//! `atomic u32 pid` (the computing process, 0 = none) and `u32` reserved. The winner of the
//! NOT_COMPUTED → COMPUTING race claims it with a CAS 0 → pid and clears it when done. A waiter
//! checks it after every sleep slice: if the pid no longer exists (or is a zombie), or stays 0
//! for [`Lazy::TAKEOVER_GRACE`] while the state stays COMPUTING (a winner that died between
//! its two CASes), the waiter CASes the owner word to its own pid and computes in the dead
//! process's place. Only one waiter wins that CAS. `compute_count` counts completed
//! computations, so a takeover after a crash still gives 1. Pids can be reused: a dead
//! computer whose pid was reused by a live process is only noticed by timeouts.
//! Lazies without `name_owner` (upstream-created) fall back to timeouts.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::time::{Duration, Instant};
use zeroipc_format::Error as FormatError;

use bytemuck::Pod;
use zeroipc_format::atomic::Ordering;
use zeroipc_format::{Entry, Region, Segment};

use crate::common::{self, HwU32};
use crate::error::{Error, Result};

const NOT_COMPUTED: u32 = 0;
const COMPUTING: u32 = 1;
const COMPUTED: u32 = 2;
const ERROR: u32 = 3;

const OP_CONSTANT: u32 = 0;
const OP_ADD: u32 = 1;
const OP_MULTIPLY: u32 = 2;
const OP_NEGATE: u32 = 3;
pub(crate) const OP_CHAIN: u32 = 4;
const OP_EXTERNAL: u32 = 5;

/// Where a lazy value stands (decoded; unknown codes are `Corrupt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LazyState {
    /// Not computed yet.
    NotComputed,
    /// A process is computing it.
    Computing,
    /// The value is cached.
    Computed,
    /// The computation failed; the message is stored.
    Error,
}

impl LazyState {
    /// The states by their code in the `state` word.
    const BY_CODE: [Self; 4] = [
        Self::NotComputed,
        Self::Computing,
        Self::Computed,
        Self::Error,
    ];
}
const _: () = assert!(NOT_COMPUTED == 0 && COMPUTING == 1 && COMPUTED == 2 && ERROR == 3);

/// The stored C++ `ComputationOp` (decoded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LazyOp<T> {
    /// `constant`.
    Constant(T),
    /// `a + b` (integers wrap, floats are IEEE).
    Add(T, T),
    /// `a * b`.
    Multiply(T, T),
    /// `-unary` (integers wrap).
    Negate(T),
    /// Upstream CHAIN (`first`, `second`): not computable.
    Chain(u32, u32),
    /// Upstream EXTERNAL (`external_id`): computed only by [`Lazy::get_or_compute`].
    External(u32),
}

/// Element types a stored [`LazyOp`] can compute with.
pub trait LazyValue: Pod {
    /// `a + b` (wrapping for integers).
    fn add(a: Self, b: Self) -> Self;
    /// `a * b` (wrapping for integers).
    fn mul(a: Self, b: Self) -> Self;
    /// `-a` (wrapping for integers).
    fn neg(a: Self) -> Self;
}

macro_rules! lazy_int {
    ($($t:ty),*) => {$(
        impl LazyValue for $t {
            fn add(a: Self, b: Self) -> Self { a.wrapping_add(b) }
            fn mul(a: Self, b: Self) -> Self { a.wrapping_mul(b) }
            fn neg(a: Self) -> Self { a.wrapping_neg() }
        }
    )*};
}
lazy_int!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! lazy_float {
    ($($t:ty),*) => {$(
        impl LazyValue for $t {
            fn add(a: Self, b: Self) -> Self { a + b }
            fn mul(a: Self, b: Self) -> Self { a * b }
            fn neg(a: Self) -> Self { -a }
        }
    )*};
}
lazy_float!(f32, f64);

/// Byte offsets of the C++ `Lazy<T>` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LazyLayout {
    /// `op.type`.
    pub op: usize,
    /// `op.data` (`constant`, `unary`, `a`; `b` at `+ es`).
    pub data: usize,
    /// `cached_value`.
    pub cached: usize,
    /// `error_msg` (256 bytes).
    pub error: usize,
    /// `compute_count`.
    pub count: usize,
    /// Total size.
    pub total: usize,
}

impl LazyLayout {
    /// Offset of `state` (the C struct's first field, the same for every `T`).
    pub const STATE: usize = 0;
}

const fn align_up(n: usize, a: usize) -> usize {
    (n + a - 1) & !(a - 1)
}

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
}

// The spec's table (§4.18), pinned at compile time.
const _: () = {
    let l = Lazy::<f64>::layout();
    assert!(l.op == 8 && l.data == 16 && l.cached == 32 && l.error == 40);
    assert!(l.count == 296 && l.total == 304);
    let l = Lazy::<i32>::layout();
    assert!(l.op == 4 && l.data == 8 && l.cached == 16 && l.error == 20);
    assert!(l.count == 276 && l.total == 280);
    let l = Lazy::<u8>::layout();
    assert!(l.cached == 16 && l.error == 17 && l.count == 276 && l.total == 280);
};

/// A lazily computed shared value.
///
/// # Examples
/// ```
/// use zeroipc_format::Segment;
/// use zeroipc_codata::Lazy;
///
/// let seg = Segment::anonymous(1 << 16, 64)?;
/// let config = Lazy::<u64>::create(&seg, "config")?;
/// assert_eq!(config.get_or_compute(|| 6 * 7)?, 42);
/// assert_eq!(config.get_or_compute(|| unreachable!())?, 42); // cached
/// assert_eq!(config.compute_count()?, 1);
///
/// let sum = Lazy::<f64>::create_add(&seg, "sum", 2.5, 4.0)?;
/// assert_eq!(sum.force()?, 6.5);
/// # Ok::<(), zeroipc_codata::Error>(())
/// ```
pub struct Lazy<T> {
    name: String,
    entry: Entry,
    region: Region,
    owner: Option<Region>,
    /// The segment, for a CHAIN value's inputs (`crate::lazy_chain`).
    pub(crate) seg: Segment,
    _elem: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy").field("name", &self.name).finish()
    }
}

impl<T: Pod> Lazy<T> {
    const ELEMENT_OK: () = assert!(
        size_of::<T>() >= 1 && align_of::<T>() <= 8,
        "element types must be 1 or more bytes with alignment at most 8"
    );

    /// A waiter that sees COMPUTING with no owner recorded for this long takes over.
    pub const TAKEOVER_GRACE: Duration = Duration::from_millis(500);

    /// The C++ layout for `T` (spec §4.18).
    pub const fn layout() -> LazyLayout {
        let () = Self::ELEMENT_OK;
        let es = size_of::<T>();
        let a = align_of::<T>();
        let ua = max(4, a);
        let u = align_up(max(8, 2 * es), ua);
        let op = align_up(4, ua);
        let data = op + align_up(4, ua);
        let op_size = align_up(4, ua) + u;
        let cached = align_up(op + op_size, a);
        let error = cached + es;
        let count = align_up(error + 256, 4);
        let total = align_up(count + 4, max(4, a));
        LazyLayout {
            op,
            data,
            cached,
            error,
            count,
            total,
        }
    }

    /// Entry size of a `Lazy<T>`.
    pub const fn memory_size() -> u64 {
        Self::layout().total as u64
    }

    pub(crate) fn create_with(
        seg: &Segment,
        name: &str,
        init: impl FnOnce(&Region, &LazyLayout) -> Result<()>,
    ) -> Result<Self> {
        zeroipc_format::validate_entry_name(name)?;
        let l = Self::layout();
        let mut lock = seg.lock_table()?;
        let (entry, region, owner) =
            zeroipc_sync::add_with_owner(&mut lock, name, l.total as u64, |r| init(r, &l))?;
        drop(lock);
        Ok(Self {
            name: name.to_owned(),
            entry,
            region,
            owner,
            seg: seg.clone(),
            _elem: PhantomData,
        })
    }

    fn write_op(r: &Region, l: &LazyLayout, op: u32, a: T, b: Option<T>) -> Result<()> {
        r.write::<u32>(l.op, op)?;
        r.write(l.data, a)?;
        if let Some(b) = b {
            r.write(l.data + size_of::<T>(), b)?;
        }
        Ok(())
    }

    /// Creates a lazy value computed by the first [`Lazy::get_or_compute`] caller (stored
    /// op EXTERNAL, id 0: upstream peers cannot force it).
    ///
    /// # Errors
    /// The segment's errors.
    pub fn create(seg: &Segment, name: &str) -> Result<Self> {
        Self::create_with(seg, name, |r, l| {
            r.write::<u32>(l.op, OP_EXTERNAL)?;
            Ok(())
        })
    }

    /// Creates a lazy value that is already computed (op CONSTANT, state COMPUTED,
    /// `compute_count` 0), as upstream C++ does.
    ///
    /// # Errors
    /// The segment's errors.
    pub fn create_constant(seg: &Segment, name: &str, value: T) -> Result<Self> {
        Self::create_with(seg, name, |r, l| {
            Self::write_op(r, l, OP_CONSTANT, value, None)?;
            r.write(l.cached, value)?;
            r.atomic_u32(LazyLayout::STATE)?
                .store(COMPUTED, Ordering::Release);
            Ok(())
        })
    }

    /// Creates a deferred `a + b`.
    ///
    /// # Errors
    /// The segment's errors.
    pub fn create_add(seg: &Segment, name: &str, a: T, b: T) -> Result<Self> {
        Self::create_with(seg, name, |r, l| Self::write_op(r, l, OP_ADD, a, Some(b)))
    }

    /// Creates a deferred `a * b`.
    ///
    /// # Errors
    /// The segment's errors.
    pub fn create_multiply(seg: &Segment, name: &str, a: T, b: T) -> Result<Self> {
        Self::create_with(seg, name, |r, l| {
            Self::write_op(r, l, OP_MULTIPLY, a, Some(b))
        })
    }

    /// Creates a deferred `-v`.
    ///
    /// # Errors
    /// The segment's errors.
    pub fn create_negate(seg: &Segment, name: &str, v: T) -> Result<Self> {
        Self::create_with(seg, name, |r, l| Self::write_op(r, l, OP_NEGATE, v, None))
    }

    /// Opens the existing lazy value `name` (and its `name_owner` entry if present).
    ///
    /// # Errors
    /// `NotFound`; [`FormatError::SizeMismatch`] if the entry is not exactly the C++ size (this
    /// rejects upstream Python's layout); `Corrupt` for a state above 3 or an op above 5.
    pub fn open(seg: &Segment, name: &str) -> Result<Self> {
        let entry = seg.find(name)?;
        let l = Self::layout();
        entry.expect_size(l.total as u64)?;
        let region = seg.region(&entry)?;
        let lazy = Self {
            owner: zeroipc_sync::find_owner(seg, name)?,
            name: name.to_owned(),
            entry,
            region,
            seg: seg.clone(),
            _elem: PhantomData,
        };
        lazy.state()?;
        lazy.op()?;
        Ok(lazy)
    }

    /// The table entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Whether this lazy value has the project's owner entry (dead-computer detection).
    pub fn detects_dead_computer(&self) -> bool {
        self.owner.is_some()
    }

    pub(crate) fn state_word(&self) -> Result<&HwU32> {
        Ok(self.region.atomic_u32(LazyLayout::STATE)?)
    }

    fn decode(&self, code: u32) -> Result<LazyState> {
        common::state_of(&self.name, code, &LazyState::BY_CODE)
    }

    /// The current state.
    ///
    /// # Errors
    /// `Corrupt` for a state code above 3.
    pub fn state(&self) -> Result<LazyState> {
        self.decode(self.state_word()?.load(Ordering::Acquire))
    }

    /// The stored operation.
    ///
    /// # Errors
    /// `Corrupt` for an op type above 5.
    pub fn op(&self) -> Result<LazyOp<T>> {
        let l = Self::layout();
        let r = &self.region;
        let es = size_of::<T>();
        let ty = r.atomic_u32(l.op)?.load(Ordering::Relaxed);
        Ok(match ty {
            OP_CONSTANT => LazyOp::Constant(r.read(l.data)?),
            OP_ADD => LazyOp::Add(r.read(l.data)?, r.read(l.data + es)?),
            OP_MULTIPLY => LazyOp::Multiply(r.read(l.data)?, r.read(l.data + es)?),
            OP_NEGATE => LazyOp::Negate(r.read(l.data)?),
            OP_CHAIN => LazyOp::Chain(r.read(l.data)?, r.read(l.data + 4)?),
            OP_EXTERNAL => LazyOp::External(r.read(l.data)?),
            other => {
                return Err(Error::from(FormatError::corrupt_field(
                    &self.name,
                    "op type",
                    u64::from(other),
                )));
            }
        })
    }

    /// Completed computations (`compute_count`).
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn compute_count(&self) -> Result<u32> {
        Ok(self
            .region
            .atomic_u32(Self::layout().count)?
            .load(Ordering::Relaxed))
    }

    /// The stored error message.
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn error_message(&self) -> Result<String> {
        let raw: [u8; 256] = self.region.read(Self::layout().error)?;
        Ok(common::decode_message(&raw))
    }

    /// The cached value if computed, without blocking or computing.
    ///
    /// # Errors
    /// [`Error::Failed`] if the computation failed; `Corrupt`.
    pub fn try_get(&self) -> Result<Option<T>> {
        self.outcome(self.state_word()?.load(Ordering::Acquire))
    }

    fn outcome(&self, code: u32) -> Result<Option<T>> {
        match self.decode(code)? {
            // Acquire (caller's load): pairs with the Release store of COMPUTED in `finish`.
            LazyState::Computed => Ok(Some(self.region.read(Self::layout().cached)?)),
            LazyState::Error => Err(Error::Failed {
                name: self.name.clone(),
                message: self.error_message()?,
            }),
            LazyState::NotComputed | LazyState::Computing => Ok(None),
        }
    }

    /// Resets a computed value to NOT_COMPUTED (CAS COMPUTED → NOT_COMPUTED); returns
    /// whether it did.
    ///
    /// # Errors
    /// Never for a validated handle.
    pub fn reset(&self) -> Result<bool> {
        Ok(self
            .state_word()?
            .compare_exchange(COMPUTED, NOT_COMPUTED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok())
    }

    fn owner_word(&self) -> Result<Option<&HwU32>> {
        match &self.owner {
            Some(r) => Ok(Some(r.atomic_u32(zeroipc_sync::layout::OwnerLayout::PID)?)),
            None => Ok(None),
        }
    }

    /// Stores the result of a computation, releases ownership and wakes every waiter.
    fn finish(&self, result: std::result::Result<T, String>) -> Result<T> {
        let l = Self::layout();
        let state = self.state_word()?;
        let out = match result {
            Ok(v) => {
                self.region.write(l.cached, v)?;
                // Release: publishes `cached` to the Acquire load in `try_get`/`outcome`.
                state.store(COMPUTED, Ordering::Release);
                self.region
                    .atomic_u32(l.count)?
                    .fetch_add(1, Ordering::Relaxed);
                Ok(v)
            }
            Err(msg) => {
                self.region.write(l.error, common::encode_message(&msg))?;
                state.store(ERROR, Ordering::Release);
                Err(Error::Failed {
                    name: self.name.clone(),
                    message: common::decode_message(&common::encode_message(&msg)),
                })
            }
        };
        if let Some(o) = self.owner_word()? {
            o.store(0, Ordering::Release);
        }
        common::wake_all(state);
        out
    }

    /// The shared driver: `compute` runs in this process if it wins the race (or takes over
    /// from a dead computer).
    pub(crate) fn run(
        &self,
        deadline: Option<Instant>,
        compute: impl FnOnce(LazyOp<T>) -> std::result::Result<T, String>,
    ) -> Result<T> {
        self.run_with(deadline, &mut None, compute)
    }

    /// [`Lazy::run`] with the start of an ownerless COMPUTING state kept by the caller, so a
    /// caller that polls (the async form) still takes over after [`Lazy::TAKEOVER_GRACE`].
    fn run_with(
        &self,
        deadline: Option<Instant>,
        ownerless_since: &mut Option<Instant>,
        compute: impl FnOnce(LazyOp<T>) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let state = self.state_word()?;
        let me = common::my_pid();
        let mut compute = Some(compute);
        let mut do_compute = |this: &Self| -> Result<T> {
            let op = this.op()?;
            match compute.take() {
                Some(f) => this.finish(f(op)),
                None => Err(FormatError::InvalidArgument("computation already used".into()).into()),
            }
        };
        let since = Instant::now();
        loop {
            let code = state.load(Ordering::Acquire);
            if let Some(v) = self.outcome(code)? {
                return Ok(v);
            }
            if code == NOT_COMPUTED {
                if state
                    .compare_exchange(
                        NOT_COMPUTED,
                        COMPUTING,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    match self.owner_word()? {
                        None => return do_compute(self),
                        Some(o) => {
                            if o.compare_exchange(0, me, Ordering::SeqCst, Ordering::Relaxed)
                                .is_ok()
                            {
                                return do_compute(self);
                            }
                            // A waiter took over during our claim (it judged us dead):
                            // wait for its result like any other waiter.
                        }
                    }
                }
                continue;
            }
            // COMPUTING: is the computer alive?
            if let Some(o) = self.owner_word()? {
                let pid = o.load(Ordering::SeqCst);
                let takeover = if pid == 0 {
                    let t = *ownerless_since.get_or_insert_with(Instant::now);
                    t.elapsed() >= Self::TAKEOVER_GRACE
                } else {
                    *ownerless_since = None;
                    pid != me && common::is_dead(pid)
                };
                if takeover
                    && o.compare_exchange(pid, me, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                {
                    if state.load(Ordering::Acquire) == COMPUTING {
                        return do_compute(self);
                    }
                    // Finished meanwhile: give the owner word back, or the next computation
                    // after a reset could not claim it.
                    let _ = o.compare_exchange(me, 0, Ordering::SeqCst, Ordering::Relaxed);
                }
            }
            let Some(slice) = common::next_slice(deadline, since) else {
                return Err(Error::Timeout {
                    what: "a lazy value",
                });
            };
            common::park(state, COMPUTING, slice);
        }
    }

    /// The value: computed here by `f` if nobody has computed it yet (exactly once across
    /// processes), otherwise the cached value, waiting while another process computes it.
    ///
    /// # Errors
    /// [`Error::Failed`] if the computation failed (here or elsewhere); `Corrupt`.
    pub fn get_or_compute(&self, f: impl FnOnce() -> T) -> Result<T> {
        self.run(None, |_| Ok(f()))
    }

    /// As [`Lazy::get_or_compute`], waiting at most `timeout` for another computer (the
    /// computation itself, if it runs here, is not interrupted).
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::Failed`]; `Corrupt`.
    pub fn get_or_compute_timeout(&self, f: impl FnOnce() -> T, timeout: Duration) -> Result<T> {
        self.run(common::deadline_after(timeout), |_| Ok(f()))
    }

    /// As [`Lazy::get_or_compute`] with a fallible computation: an `Err(message)` is stored
    /// (state ERROR) and every caller gets [`Error::Failed`] with it.
    ///
    /// # Errors
    /// [`Error::Failed`]; [`Error::Timeout`]; `Corrupt`.
    pub fn get_or_try_compute(
        &self,
        f: impl FnOnce() -> std::result::Result<T, String>,
        timeout: Duration,
    ) -> Result<T> {
        self.run(common::deadline_after(timeout), |_| f())
    }
}

impl<T: LazyValue> Lazy<T> {
    fn eval(op: LazyOp<T>) -> std::result::Result<T, String> {
        match op {
            LazyOp::Constant(v) => Ok(v),
            LazyOp::Add(a, b) => Ok(T::add(a, b)),
            LazyOp::Multiply(a, b) => Ok(T::mul(a, b)),
            LazyOp::Negate(v) => Ok(T::neg(v)),
            LazyOp::Chain(..) => Err("Chain computation not yet implemented".into()),
            LazyOp::External(_) => Err("External computation not yet implemented".into()),
        }
    }

    /// Forces a value defined by its stored op (CONSTANT, ADD, MULTIPLY, NEGATE, and the
    /// project's derived CHAIN values of [`Lazy::add`], [`Lazy::mul`] and [`Lazy::map`]),
    /// computing it here if nobody has.
    ///
    /// # Errors
    /// [`Error::Failed`] for EXTERNAL ops and for CHAIN ops without a `NAME_chain` entry
    /// (created upstream; as upstream), or when an input failed; `Corrupt`.
    pub fn force(&self) -> Result<T> {
        self.force_until(None)
    }

    /// One non-waiting round of [`Lazy::force`] for the async form: the value, or
    /// [`Error::Timeout`] while another live process computes it.
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn force_step(&self, ownerless_since: &mut Option<Instant>) -> Result<T> {
        self.run_with(Some(Instant::now()), ownerless_since, Self::eval)
    }

    /// The region and the offset of the `state` word (async waits).
    #[cfg(all(feature = "async", not(zeroipc_loom)))]
    pub(crate) fn async_word(&self) -> (&Region, usize) {
        (&self.region, 0)
    }

    /// As [`Lazy::force`] with a timeout for waiting on another computer.
    ///
    /// # Errors
    /// As [`Lazy::force`], plus [`Error::Timeout`].
    pub fn force_timeout(&self, timeout: Duration) -> Result<T> {
        self.force_until(common::deadline_after(timeout))
    }

    pub(crate) fn force_until(&self, deadline: Option<Instant>) -> Result<T> {
        if let LazyOp::Chain(..) = self.op()?
            && let Some(chain) = crate::lazy_chain::Chain::find(&self.seg, &self.name)?
        {
            return chain.force(self, deadline);
        }
        self.run(deadline, Self::eval)
    }
}
