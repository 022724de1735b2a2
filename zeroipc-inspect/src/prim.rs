//! Decoding the synchronisation kinds (`zeroipc-sync`, spec §3.8) and the codata kinds
//! (`zeroipc-codata`, spec §3.9), with the keys of the golden JSON (spec §8.2) first.
//!
//! Every structure is first opened with its crate's `open`, which validates the layout and
//! writes nothing (the segment is also mapped copy-on-write). State is then read with the
//! crates' read-only accessors, or, where they have none (header words, the project's
//! auxiliary entries `NAME_owner`, `NAME_subs`, `NAME_peers`), through the crates' `layout`
//! types (`SignalHeader`, `OwnerLayout`, `ChannelHeader`, `SlotFlags`, `SubsHeader`,
//! `PeersHeader`, `FutureHeader`): no offset is restated here. Nothing here takes a lock or
//! registers a peer, so a value guarded by a lock (a `Signal`'s) is an unsynchronised
//! snapshot.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use serde_json::{Map as JsonMap, Value, json};
use zeroipc_codata::layout::{
    ChannelHeader, FutureHeader, PeersHeader, SlotFlags, SubSlot, SubsHeader,
};
use zeroipc_codata::{Channel, Future, FutureState, Lazy, LazyOp, LazyState, Stream};
use zeroipc_format::{Entry, Region, Segment};
use zeroipc_structures::{Queue, Ring};
use zeroipc_sync::layout::{OwnerLayout, SignalHeader};
use zeroipc_sync::owner::is_dead;
use zeroipc_sync::{Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, OnceState, RwLock};
use zeroipc_sync::{Semaphore, Signal};

use crate::decode::{Fields, QueueState, Scalar, View};
use crate::dtype::{Dtype, Kind, Spec};
use crate::error::{CliError, Result};
use crate::with_dtype;

/// Where a signal's value starts in `NAME_state`.
const SIGNAL_VALUE: usize = size_of::<SignalHeader>();

/// Who defines an entry of a composite structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The upstream (C++) layout: every implementation creates it.
    Upstream,
    /// A project extension (owner pid, subscriber and peer tables, the rendezvous slot):
    /// optional for a reader.
    Project,
}

/// The entries a kind stores, by suffix of the base name (`""` is the base entry itself), in
/// creation order, with who defines each.
pub fn parts(kind: Kind) -> &'static [(&'static str, Origin)] {
    use Origin::{Project as P, Upstream as U};
    match kind {
        Kind::Mutex => &[("", U), ("_owner", P)],
        Kind::Lazy => &[("_chain", P), ("", U), ("_owner", P)],
        Kind::RwLock => &[("_state", U), ("_rmtx", U), ("_wmtx", U), ("", U)],
        Kind::Monitor => &[("_mtx", U), ("_cond", U), ("_count", U), ("", U)],
        Kind::Event => &[("", U), ("_sem", U)],
        Kind::Signal => &[("_state", U), ("_mtx", U), ("", U)],
        Kind::Stream => &[("_header", U), ("_buffer", U), ("_subs", P)],
        Kind::Channel => &[("_header", U), ("_buffer", U), ("_slot", P), ("_peers", P)],
        _ => &[("", U)],
    }
}

/// The entry names of the upstream (C++) layout of `kind` for base name `name`, in creation
/// order: whatever else a writer creates for the structure is a project auxiliary entry.
pub fn upstream_parts(kind: Kind, name: &str) -> Vec<String> {
    parts(kind)
        .iter()
        .filter(|(_, origin)| *origin == Origin::Upstream)
        .map(|(suffix, _)| format!("{name}{suffix}"))
        .collect()
}

/// Decodes the sync/codata structure `name` as `spec` into `f` (after `kind`).
///
/// # Errors
/// The crates' open errors (missing parts, sizes, corrupt words), read errors, and a typed
/// kind without a type where the value cannot be shown without one.
pub fn decode(seg: &Segment, name: &str, spec: Spec, view: &View, f: &mut Fields) -> Result<()> {
    match spec.kind {
        Kind::Semaphore => semaphore(seg, name, f),
        Kind::Mutex => mutex(seg, name, f),
        Kind::RwLock => rwlock(seg, name, f),
        Kind::Monitor => monitor(seg, name, f),
        Kind::Barrier => barrier(seg, name, f),
        Kind::Latch => latch(seg, name, f),
        Kind::Once => once(seg, name, f),
        Kind::Event => event(seg, name, f),
        Kind::Signal => {
            put_dtype(f, spec.dtype);
            match spec.dtype {
                Some(d) => with_dtype!(d, T => signal::<T>(seg, name, view, f)),
                None => signal_raw(seg, name, f),
            }
        }
        Kind::Future => {
            put_dtype(f, spec.dtype);
            match spec.dtype {
                Some(d) => with_dtype!(d, T => future::<T>(seg, name, view, f, None)),
                None => future::<u8>(seg, name, view, f, Some(())),
            }
        }
        Kind::Lazy => {
            put_dtype(f, spec.dtype);
            match spec.dtype {
                Some(d) => with_dtype!(d, T => lazy::<T>(seg, name, view, f, false)),
                // 280 bytes: any of the 1-, 2- and 4-byte types; the header words are shared.
                None => lazy::<u8>(seg, name, view, f, true),
            }
        }
        Kind::Stream => {
            let d = needs_dtype(spec)?;
            put_dtype(f, Some(d));
            with_dtype!(d, T => stream::<T>(seg, name, view, f))
        }
        Kind::Channel => {
            let d = needs_dtype(spec)?;
            put_dtype(f, Some(d));
            with_dtype!(d, T => channel::<T>(seg, name, view, f))
        }
        other => Err(CliError::other(format!(
            "internal: {other} is not a sync or codata kind"
        ))),
    }
}

fn needs_dtype(spec: Spec) -> Result<Dtype> {
    spec.dtype.ok_or_else(|| {
        CliError::other(format!(
            "the element size of this {} is not stored; pass --as {}:TYPE",
            spec.kind, spec.kind
        ))
    })
}

fn put_dtype(f: &mut Fields, d: Option<Dtype>) {
    f.put("dtype", d.map_or(Value::Null, |d| Value::from(d.numpy())));
}

fn entry(seg: &Segment, name: &str) -> Result<Entry> {
    Ok(seg.find(name)?)
}

fn region_of(seg: &Segment, name: &str) -> Result<Region> {
    Ok(seg.region(&entry(seg, name)?)?)
}

/// The optional auxiliary entry `name` (a project extension).
fn aux(seg: &Segment, name: &str) -> Result<Option<Region>> {
    match seg.get(name)? {
        Some(e) => Ok(Some(seg.region(&e)?)),
        None => Ok(None),
    }
}

/// `{pid, alive}` of a recorded pid (null for 0 = none).
fn pid_json(pid: u32) -> (Value, Value) {
    if pid == 0 {
        (Value::Null, Value::Null)
    } else {
        (Value::from(pid), Value::Bool(!is_dead(pid)))
    }
}

/// Whether the semaphore-as-mutex entry `name` is held (`count <= 0`).
fn mutex_word_locked(seg: &Segment, name: &str) -> Result<bool> {
    Ok(Semaphore::open(seg, name)?.count()? <= 0)
}

fn semaphore(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let s = Semaphore::open(seg, name)?;
    f.put("count", s.count()?);
    f.put("waiting", s.waiting()?);
    f.put("max_count", s.max_count());
    Ok(())
}

fn mutex(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let m = Mutex::open(seg, name)?;
    // A mutex is a semaphore with max_count 1: its words read through that view.
    semaphore(seg, name, f)?;
    f.put("locked", m.is_locked()?);
    f.put("tracks_owner", m.tracks_owner());
    let (pid, alive) = pid_json(m.owner_pid()?.unwrap_or(0));
    f.put("owner_pid", pid);
    f.put("owner_alive", alive);
    Ok(())
}

fn rwlock(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let l = RwLock::open(seg, name)?;
    f.put("readers", l.readers()?);
    f.put("writer_active", u32::from(l.writer_active()?));
    f.put(
        "read_mutex_locked",
        mutex_word_locked(seg, &format!("{name}_rmtx"))?,
    );
    f.put(
        "write_mutex_locked",
        mutex_word_locked(seg, &format!("{name}_wmtx"))?,
    );
    Ok(())
}

fn monitor(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let m = Monitor::open(seg, name)?;
    f.put("waiting_count", m.waiters()?);
    f.put("locked", mutex_word_locked(seg, &format!("{name}_mtx"))?);
    Ok(())
}

fn barrier(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let b = Barrier::open(seg, name)?;
    f.put("arrived", b.arrived()?);
    f.put("generation", b.generation()?);
    f.put("num_participants", b.participants());
    Ok(())
}

fn latch(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let l = Latch::open(seg, name)?;
    f.put("count", l.count()?);
    f.put("initial_count", l.initial_count()?);
    f.put("released", l.count()? <= 0);
    Ok(())
}

fn once(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let o = Once::open(seg, name)?;
    let (code, text) = match o.state()? {
        OnceState::Pending => (0, "pending"),
        OnceState::Executing => (1, "executing"),
        OnceState::Done => (2, "done"),
    };
    f.put("state", code);
    f.put("state_name", text);
    Ok(())
}

fn event(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let e = Event::open(seg, name)?;
    f.put("signaled", u32::from(e.is_signaled()?));
    let (code, text) = match e.mode() {
        EventMode::AutoReset => (0, "auto"),
        EventMode::ManualReset => (1, "manual"),
    };
    f.put("mode", code);
    f.put("waiting", e.waiting()?);
    f.put("mode_name", text);
    Ok(())
}

fn signal<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let s = Signal::<T>::open(seg, name)?;
    f.put("version", s.version()?);
    // Read without the signal's mutex (inspecting never locks): a snapshot.
    let state = region_of(seg, &format!("{name}_state"))?;
    f.put("value", view.value(state.read::<T>(SIGNAL_VALUE)?));
    f.put("locked", mutex_word_locked(seg, &format!("{name}_mtx"))?);
    Ok(())
}

/// A signal whose element type is unknown: the value's bytes in hex.
fn signal_raw(seg: &Segment, name: &str, f: &mut Fields) -> Result<()> {
    let s = Signal::<u8>::open(seg, name)?;
    f.put("version", s.version()?);
    let state = region_of(seg, &format!("{name}_state"))?;
    f.put("value", Value::Null);
    let end = state
        .len()
        .min(SIGNAL_VALUE.saturating_add(size_of::<u64>()));
    f.put("value_hex", hex_of(&state, SIGNAL_VALUE, end)?);
    f.put("locked", mutex_word_locked(seg, &format!("{name}_mtx"))?);
    Ok(())
}

fn hex_of(r: &Region, from: usize, to: usize) -> Result<String> {
    let bytes = r.to_vec();
    let slice = bytes
        .get(from..to)
        .ok_or_else(|| CliError::other("internal: byte range outside the entry"))?;
    Ok(crate::fmt::hex(slice))
}

/// Decodes a future; with `raw`, the element type is unknown and the value is shown as the
/// bytes between the header and the end of the value slot (8 bytes for a 280-byte entry).
fn future<T: Scalar>(
    seg: &Segment,
    name: &str,
    view: &View,
    f: &mut Fields,
    raw: Option<()>,
) -> Result<()> {
    let fut = Future::<T>::open(seg, name)?;
    let state = fut.state()?;
    let (code, text) = match state {
        FutureState::Pending => (0, "pending"),
        FutureState::Computing => (1, "computing"),
        FutureState::Ready => (2, "ready"),
        FutureState::Error => (3, "error"),
    };
    f.put("state", code);
    f.put("waiters", fut.waiters()?);
    let ready = state == FutureState::Ready;
    match raw {
        None if ready => f.put(
            "value",
            fut.try_get()?.map_or(Value::Null, |x| view.value(x)),
        ),
        _ => f.put("value", Value::Null),
    }
    let msg = match (state, raw) {
        (FutureState::Error, None) => Value::from(fut.error_message()?),
        // Unknown element size: the message starts after the (zero) value slot.
        (FutureState::Error, Some(())) => {
            let r = region_of(seg, name)?;
            match crate::infer::error_elem_size(&r) {
                Some(es) => {
                    let at = usize::try_from(es)
                        .ok()
                        .and_then(|es| es.checked_add(FutureHeader::VALUE));
                    let at = at.ok_or_else(|| CliError::corrupt("error message offset"))?;
                    let raw: [u8; FutureHeader::MESSAGE_LEN] = r.read(at)?;
                    let last = FutureHeader::MESSAGE_LEN.saturating_sub(1);
                    let end = raw.iter().position(|&b| b == 0).unwrap_or(last);
                    Value::from(String::from_utf8_lossy(raw.get(..end).unwrap_or_default()))
                }
                None => Value::from(""),
            }
        }
        _ => Value::Null,
    };
    f.put("error_msg", msg);
    f.put("state_name", text);
    f.put("completion_time_ns", fut.completion_time()?);
    if raw.is_some() && ready {
        let r = region_of(seg, name)?;
        // The value slot: from the header to the message (at most 8 bytes).
        let (first, widest) = (FutureHeader::VALUE, size_of::<u64>());
        let end = usize::try_from(fut.entry().size())
            .unwrap_or(usize::MAX)
            .saturating_sub(FutureHeader::MESSAGE_LEN)
            .clamp(first.saturating_add(1), first.saturating_add(widest));
        f.put("value_hex", hex_of(&r, first, end)?);
    }
    Ok(())
}

fn lazy<T: Scalar>(
    seg: &Segment,
    name: &str,
    view: &View,
    f: &mut Fields,
    raw: bool,
) -> Result<()> {
    let l = Lazy::<T>::open(seg, name)?;
    let state = l.state()?;
    let (code, text) = match state {
        LazyState::NotComputed => (0, "not_computed"),
        LazyState::Computing => (1, "computing"),
        LazyState::Computed => (2, "computed"),
        LazyState::Error => (3, "error"),
    };
    f.put("state", code);
    let v = match (state, raw) {
        (LazyState::Computed, false) => l.try_get()?.map_or(Value::Null, |x| view.value(x)),
        _ => Value::Null,
    };
    f.put("value", v);
    f.put("state_name", text);
    let op = l.op()?;
    let t = |x: T| if raw { Value::Null } else { view.value(x) };
    let op = match op {
        LazyOp::Constant(c) => json!({"type": "constant", "value": t(c)}),
        LazyOp::Add(a, b) => json!({"type": "add", "a": t(a), "b": t(b)}),
        LazyOp::Multiply(a, b) => json!({"type": "multiply", "a": t(a), "b": t(b)}),
        LazyOp::Negate(a) => json!({"type": "negate", "value": t(a)}),
        LazyOp::Chain(first, second) => json!({"type": "chain", "first": first, "second": second}),
        LazyOp::External(id) => json!({"type": "external", "id": id}),
    };
    f.put("op", op);
    f.put("compute_count", l.compute_count()?);
    let msg = if state == LazyState::Error {
        Value::from(l.error_message()?)
    } else {
        Value::Null
    };
    f.put("error_msg", msg);
    f.put("detects_dead_computer", l.detects_dead_computer());
    let owner = match aux(seg, &format!("{name}_owner"))? {
        Some(r) if l.detects_dead_computer() => r.read::<OwnerLayout>(0)?.pid,
        _ => 0,
    };
    let (pid, alive) = pid_json(owner);
    f.put("owner_pid", pid);
    f.put("owner_alive", alive);
    Ok(())
}

/// `base + stride * i`: the offset of slot `i` of a table.
fn table_offset(base: usize, stride: usize, i: usize) -> Result<usize> {
    stride
        .checked_mul(i)
        .and_then(|o| o.checked_add(base))
        .ok_or_else(|| {
            CliError::corrupt(format!("slot {i} of a table lies beyond the address space"))
        })
}

/// One occupied subscriber slot of `NAME_subs` (spec §3.9.1).
fn subscriber_json(i: usize, cursor: u64, pid: u32, w: u64, cap: u64, es: u64) -> Value {
    let (pid_v, alive) = pid_json(pid);
    // A valid cursor is at most one ring behind the write position, on an element boundary.
    let lag = (cursor != SubSlot::JOINING)
        .then(|| w.checked_sub(cursor))
        .flatten()
        .filter(|d| *d <= cap && d.is_multiple_of(es) && cursor.is_multiple_of(es))
        .and_then(|d| d.checked_div(es.max(1)));
    json!({
        "slot": i,
        "pid": pid_v,
        "alive": alive,
        "joining": cursor == SubSlot::JOINING,
        "cursor": (cursor != SubSlot::JOINING).then_some(cursor),
        "lag": lag,
    })
}

/// The subscriber slots of a stream's `NAME_subs` entry: `(multicast, occupied slots)`.
pub fn subscribers(subs: &Region, w: u64, cap: u64, es: u64) -> Result<(u32, Vec<Value>)> {
    let h: SubsHeader = subs.read(0)?;
    if usize::try_from(h.slots).ok() != Some(SubsHeader::SLOT_COUNT) {
        return Err(CliError::corrupt(format!(
            "subscriber table holds {} slots, the layout has {}",
            h.slots,
            SubsHeader::SLOT_COUNT
        )));
    }
    let mut out = Vec::new();
    for i in 0..SubsHeader::SLOT_COUNT {
        let slot: SubSlot = subs.read(SubsHeader::slot(i))?;
        if slot.pid != 0 {
            out.push(subscriber_json(i, slot.cursor, slot.pid, w, cap, es));
        }
    }
    Ok((h.multicast, out))
}

fn stream<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let s = Stream::<T>::open(seg, name)?;
    let ring = Ring::<T>::open(seg, &format!("{name}_buffer"))?;
    let (w, r) = ring.positions_snapshot()?;
    let items = ring.snapshot()?;
    let es = size_of::<T>() as u64;
    f.put("sequence", s.sequence()?);
    f.put("closed", s.is_closed()?);
    f.put("buffer_capacity", s.capacity());
    f.list("items", items.len(), view, |i| {
        Ok(items.get(i).copied().map_or(Value::Null, |x| view.value(x)))
    })?;
    f.put("size", items.len());
    f.put("elem_size", es);
    f.put("write_pos", w);
    f.put("read_pos", r);
    f.put("subscribers", s.subscribers()?);
    f.put("transform", s.transform()?);
    match aux(seg, &format!("{name}_subs"))? {
        Some(subs) => {
            let (multicast, slots) = subscribers(&subs, w, ring.capacity_bytes() as u64, es)
                .map_err(|e| e.context(format!("{name}_subs")))?;
            f.put("multicast", multicast == 1);
            let max_lag = slots.iter().filter_map(|s| s["lag"].as_u64()).max();
            f.put("max_lag", max_lag);
            f.put("subscriber_slots", slots);
        }
        None => {
            f.put("multicast", Value::Null);
            f.put("max_lag", Value::Null);
            f.put("subscriber_slots", Value::Null);
        }
    }
    Ok(())
}

/// `(senders_ever, receivers_ever, registered peers)` of a channel's `NAME_peers` entry.
pub fn peers(r: &Region) -> Result<(u32, u32, Vec<Value>)> {
    let h: PeersHeader = r.read(0)?;
    if h.slots != PeersHeader::SLOT_COUNT {
        return Err(CliError::corrupt(format!(
            "peer table holds {} slots, the layout has {}",
            h.slots,
            PeersHeader::SLOT_COUNT
        )));
    }
    let mut out = Vec::new();
    for i in 0..usize::try_from(PeersHeader::SLOT_COUNT).unwrap_or(0) {
        let word = r.read::<u64>(table_offset(PeersHeader::SLOTS, size_of::<u64>(), i)?)?;
        if word == 0 {
            continue;
        }
        let kind = match word >> 32 {
            PeersHeader::KIND_SENDER => "sender",
            PeersHeader::KIND_RECEIVER => "receiver",
            _ => "unknown",
        };
        let (pid, alive) = pid_json(word as u32);
        out.push(json!({"slot": i, "role": kind, "pid": pid, "alive": alive}));
    }
    Ok((h.senders_ever, h.receivers_ever, out))
}

fn channel<T: Scalar>(seg: &Segment, name: &str, view: &View, f: &mut Fields) -> Result<()> {
    let ch = Channel::<T>::open(seg, name)?;
    let header = region_of(seg, &format!("{name}_header"))?;
    f.put("closed", ch.is_closed()?);
    f.put("capacity", ch.capacity());
    if ch.is_buffered() {
        let q = Queue::<T>::open(seg, &format!("{name}_buffer"))?;
        let s = QueueState::of(&q)?;
        f.put("size", s.size);
        s.items_list(view, f)?;
        f.put("buffered", true);
        f.put("head", s.head);
        f.put("tail", s.tail);
    } else {
        let slot = region_of(seg, &format!("{name}_slot"))?;
        let SlotFlags { ready, consumed } = slot.read(0)?;
        let offered = ready == 1 && consumed == 0;
        f.put("size", usize::from(offered));
        let items: Vec<Value> = if offered {
            vec![view.value(slot.read::<T>(Channel::<T>::slot_data_offset())?)]
        } else {
            Vec::new()
        };
        f.put("items", items);
        f.put("buffered", false);
        f.put("ready", ready);
        f.put("consumed", consumed);
    }
    f.put("elem_size", size_of::<T>());
    let h: ChannelHeader = header.read(0)?;
    f.put("waiting_senders", h.senders);
    f.put("waiting_receivers", h.receivers);
    f.put("live_senders", ch.live_senders()?);
    f.put("live_receivers", ch.live_receivers()?);
    match aux(seg, &format!("{name}_peers"))? {
        Some(r) => {
            let (s_ever, r_ever, list) =
                peers(&r).map_err(|e| e.context(format!("{name}_peers")))?;
            f.put("senders_ever", s_ever);
            f.put("receivers_ever", r_ever);
            f.put("peers", list);
        }
        None => {
            f.put("senders_ever", Value::Null);
            f.put("receivers_ever", Value::Null);
            f.put("peers", Value::Null);
        }
    }
    Ok(())
}

/// The JSON list of the parts of composite structure `name` of kind `kind` that exist.
pub fn parts_json(seg: &Segment, name: &str, kind: Kind) -> Result<Value> {
    let mut out = Vec::new();
    for (suffix, _) in parts(kind) {
        if let Some(e) = seg.get(&format!("{name}{suffix}"))? {
            let mut m = JsonMap::new();
            m.insert("name".into(), e.name().into());
            m.insert("offset".into(), e.offset().into());
            m.insert("size".into(), e.size().into());
            out.push(Value::Object(m));
        }
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn upstream_parts_are_the_cpp_entries() {
        assert_eq!(
            upstream_parts(Kind::RwLock, "rw"),
            ["rw_state", "rw_rmtx", "rw_wmtx", "rw"]
        );
        assert_eq!(upstream_parts(Kind::Channel, "c"), ["c_header", "c_buffer"]);
        assert_eq!(upstream_parts(Kind::Stream, "s"), ["s_header", "s_buffer"]);
        assert_eq!(upstream_parts(Kind::Mutex, "m"), ["m"]);
        assert_eq!(upstream_parts(Kind::Queue, "q"), ["q"]);
        // Every kind has its base entry or its header among its upstream parts.
        for kind in Kind::ALL {
            assert!(!upstream_parts(kind, "x").is_empty(), "{kind}");
        }
        assert_eq!(parts(Kind::Channel).len(), 4, "slot and peer table too");
    }
}
