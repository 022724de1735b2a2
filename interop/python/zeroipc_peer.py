#!/usr/bin/env python3
"""zeroipc_peer.py: the Python side of the ZeroIPC interop matrix, on top of the pure-Python
`zeroipc_py` package (NumPy + mmap). Same command line and JSON as the Rust `zeroipc-peer`:

    zeroipc_peer.py write SEG [--scenario F] [--size N] [--max-entries N]
    zeroipc_peer.py read SEG [--scenario F] [--consume] [--path]
    zeroipc_peer.py table SEG [--path]
    zeroipc_peer.py unlink SEG
    zeroipc_peer.py mutate SEG
    zeroipc_peer.py pingpong SEG --role first|second [--rounds R] [--batch K] [--capacity C] [--create]
    zeroipc_peer.py stream SEG --role producer|consumer [--count N] [--capacity C] [--create]
    zeroipc_peer.py channel SEG --role sender|receiver [--count N] [--capacity C] [--create]

SEG is a shared-memory name, or for read/table an image file (--path, or a '/' after the
first character). Every command prints one JSON document; exit status 1 on an error.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from zeroipc_py import (Array, Barrier, Channel, Event, Future, Latch, Lazy, Map, Monitor, Mutex, Once,  # noqa: E402
                        Pool, Queue, Ring, RWLock, Segment, Semaphore, Set, Signal, Stack, Stream, errors)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SCENARIO = os.path.join(HERE, "..", "golden", "zeroipc", "standard-scenario.json")
SUPPORTED = ("array", "queue", "stack", "ring", "map", "set", "pool", "semaphore", "mutex", "barrier", "latch",
             "once", "rwlock", "monitor", "event", "signal", "future", "lazy", "stream", "channel")


def canonical_parts(kind, name):
    """The entries of a kind's canonical (upstream C++) layout; anything else a writer creates
    for the structure is a project auxiliary entry."""
    suffixes = {"rwlock": ["_state", "_rmtx", "_wmtx", ""], "monitor": ["_mtx", "_cond", "_count", ""],
                "event": ["", "_sem"], "signal": ["_state", "_mtx", ""], "stream": ["_header", "_buffer"],
                "channel": ["_header", "_buffer"]}.get(kind, [""])
    return [name + x for x in suffixes]


class PeerError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message = kind, message


def key_text(v):
    """The JSON text of a value, used as an object key (`"lookup": {"1": 1.5}`)."""
    return json.dumps(v)


def is_path(seg, flag):
    return flag or "/" in seg[1:]


def label_of(seg):
    return "/" + seg.lstrip("/")


# -- write --------------------------------------------------------------------------------

def put_then_take(name, put, values, take=None, taken=0, mismatch=""):
    """Puts every value in order (a refused one is a Full error), then takes the first `taken`
    back and checks each against the value put (`mismatch` formats a difference)."""
    for v in values:
        if not put(v):
            raise PeerError("Full", f"{name}: full at {v}")
    for want in values[:taken]:
        got = take()
        if got != want:
            raise PeerError("Mismatch", f"{name}: " + mismatch.format(got=got, want=want))


def write_structure(seg, s):
    """Writes one supported structure; False for a kind this project does not implement."""
    kind, name = s["kind"], s["name"]
    if kind == "array":
        a = Array.create(seg, name, s["dtype"], s["capacity"])
        a.write(0, s["values"])
    elif kind == "queue":
        q = Queue.create(seg, name, s["dtype"], s["capacity"])
        put_then_take(name, q.push, s["push"], q.pop, s["pop"], "popped {got}, pushed {want}")
    elif kind == "stack":
        st = Stack.create(seg, name, s["dtype"], s["capacity"])
        put_then_take(name, st.push, s["push"])
    elif kind == "ring":
        r = Ring.create(seg, name, s["dtype"], s["capacity"])
        put_then_take(name, r.write, s["write"], r.read, s["read"], "read {got}, wrote {want}")
    elif kind == "map":
        m = Map.create(seg, name, s["key_dtype"], s["value_dtype"], s["capacity"])
        for k, v in s["items"]:
            if not m.insert(k, v):
                raise PeerError("Full", f"{name}: full at {k}")
    elif kind == "set":
        st = Set.create(seg, name, s["dtype"], s["capacity"])
        for v in s["items"]:
            st.insert(v)
    elif kind == "pool":
        p = Pool.create(seg, name, s["dtype"], s["capacity"])
        for v in s["alloc"]:
            i = p.alloc()
            if i is None:
                raise PeerError("Full", f"{name}: pool exhausted")
            p.set(i, v)
    elif kind == "semaphore":
        Semaphore.create(seg, name, s["initial"], s["max"])
    elif kind == "mutex":
        m = Mutex.create(seg, name)
        if s.get("locked"):
            must(m.try_lock(), f"{name} lock")  # held on exit, owner = this pid
    elif kind == "barrier":
        Barrier.create(seg, name, s["participants"])
    elif kind == "latch":
        lat = Latch.create(seg, name, s["count"])
        if s.get("count_down", 0) > 0:
            lat.count_down(s["count_down"])
    elif kind == "once":
        o = Once.create(seg, name)
        if s.get("call"):
            o.call()
    elif kind == "rwlock":
        RWLock.create(seg, name)
    elif kind == "monitor":
        Monitor.create(seg, name)
    elif kind == "event":
        if s["mode"] not in ("manual", "auto"):
            raise PeerError("Scenario", f"{name}: event mode {s['mode']!r} (manual or auto)")
        e = Event.create(seg, name, s["mode"])
        if s.get("signal"):
            e.signal()
    elif kind == "signal":
        sig = Signal.create(seg, name, s["dtype"], s["initial"])
        for v in s.get("set", []):
            sig.set(v)
    elif kind == "future":
        f = Future.create(seg, name, s["dtype"])
        if "value" in s and "error" in s:
            raise PeerError("Scenario", f"{name}: a future has a value or an error, not both")
        if "value" in s:
            f.set_value(s["value"])
        elif "error" in s:
            f.set_error(s["error"])
    elif kind == "lazy":
        Lazy.create_constant(seg, name, s["dtype"], s["value"])
    elif kind == "stream":
        st = Stream.create(seg, name, s["dtype"], s["capacity"])
        for v in s["emit"]:
            must(st.emit(v), f"{name} emit (buffer full)")
    elif kind == "channel":
        c = Channel.create(seg, name, s["dtype"], s["capacity"])
        for v in s["send"]:
            must(c.send(v), f"{name} send (buffer full)")
    else:
        return False
    return True


# -- decode -------------------------------------------------------------------------------

def decode_structure(seg, s, consume):
    """The decoded-JSON object of one supported structure, or None for other kinds."""
    kind, name = s["kind"], s["name"]
    if kind == "array":
        a = Array.open(seg, name, s["dtype"])
        return {"kind": kind, "dtype": s["dtype"], "capacity": len(a), "values": a.to_list()}
    if kind == "queue":
        q = Queue.open(seg, name, s["dtype"])
        head, tail = q.counters()
        size = len(q)
        if not consume:
            # Peek by popping from a private copy, through the same algorithm.
            q = Queue.open(Segment.from_bytes(seg.to_bytes()), name, s["dtype"])
        items = []
        while (v := q.pop()) is not None:
            items.append(v)
        return {"kind": kind, "dtype": s["dtype"], "capacity": q.capacity, "elem_size": q.dtype.itemsize,
                "head": head, "tail": tail, "size": size, "items": items}
    if kind == "stack":
        st = Stack.open(seg, name, s["dtype"])
        top, states = st.top(), st.slot_states()
        if consume:
            items = []
            while (v := st.pop()) is not None:
                items.append(v)
            items.reverse()  # bottom -> top, like the peeked form
        else:
            items = st.snapshot()
        return {"kind": kind, "dtype": s["dtype"], "capacity": st.capacity, "elem_size": st.dtype.itemsize,
                "top": top, "size": top + 1, "items": items, "slot_states": states}
    if kind == "ring":
        r = Ring.open(seg, name, s["dtype"])
        w, rd = r.positions()
        if consume:
            items = []
            while (v := r.read()) is not None:
                items.append(v)
        else:
            items = r.peek_all()
        return {"kind": kind, "dtype": s["dtype"], "capacity_bytes": r.capacity_bytes,
                "elem_size": r.dtype.itemsize, "write_pos": w, "read_pos": rd, "items": items}
    if kind == "map":
        m = Map.open(seg, name, s["key_dtype"], s["value_dtype"])
        items = m.items()
        return {"kind": kind, "key_dtype": s["key_dtype"], "value_dtype": s["value_dtype"],
                "capacity": m.capacity, "size": len(m), "key_size": m.key_dt.itemsize,
                "value_size": m.value_dt.itemsize, "entry_size": m.entry_size,
                "items": [[k, v] for k, v in items], "lookup": {key_text(k): m.get(k) for k, _ in items}}
    if kind == "set":
        st = Set.open(seg, name, s["dtype"])
        items = st.items()
        return {"kind": kind, "dtype": s["dtype"], "capacity": st.capacity, "size": len(st), "items": items,
                "contains": {key_text(v): st.contains(v) for v in items}}
    if kind == "pool":
        p = Pool.open(seg, name, s["dtype"])
        idx, gen = p.free_head()
        free = p.free_list()
        return {"kind": kind, "dtype": s["dtype"], "capacity": p.capacity, "elem_size": p.dtype.itemsize,
                "allocated": p.allocated(), "free_head_index": idx, "free_head_generation": gen,
                "node_size": p.node_size, "free_list": free,
                "allocated_values": {str(i): p.get(i) for i in range(p.capacity) if i not in free}}
    # Synchronisation kinds. --consume: a semaphore gives up every permit, a latch is counted
    # down to 0, a pending once is called; the others are only read (see interop/README.md).
    if kind == "semaphore":
        sem = Semaphore.open(seg, name)
        v = sem.to_json()
        while consume and sem.try_acquire():
            pass
        return v
    if kind == "latch":
        lat = Latch.open(seg, name)
        v = lat.to_json()
        if consume and lat.count() > 0:
            lat.count_down(lat.count())
        return v
    if kind == "once":
        o = Once.open(seg, name)
        v = o.to_json()
        if consume and o.state() == Once.PENDING:
            o.call()
        return v
    simple = {"mutex": Mutex, "barrier": Barrier, "rwlock": RWLock, "monitor": Monitor, "event": Event}
    if kind in simple:
        return simple[kind].open(seg, name).to_json()
    if kind in ("signal", "future", "lazy"):
        return {"signal": Signal, "future": Future, "lazy": Lazy}[kind].open(seg, name, s["dtype"]).to_json()
    # Codata with elements. --consume reads every stream element (competing consumer) and
    # receives every channel element; otherwise they are peeked.
    if kind == "stream":
        st = Stream.open(seg, name, s["dtype"])
        if consume:
            items = []
            while (v := st.next()) is not None:
                items.append(v)
        else:
            items = st.ring.peek_all()
        return st.to_json(items)
    if kind == "channel":
        c = Channel.open(seg, name, s["dtype"])
        size = len(c)
        if not consume:
            c = Channel.open(Segment.from_bytes(seg.to_bytes()), name, s["dtype"])
        items = []
        while True:
            try:
                v = c.recv()
            except errors.Closed:
                break  # closed and drained
            if v is None:
                break
            items.append(v)
        return c.to_json(items, size)
    return None


def table_json(seg):
    return seg.header(), [e.to_json() for e in seg.entries()]


def open_segment(seg, path):
    if is_path(seg, path):
        return Segment.open_path(seg), seg
    return Segment.open(seg), label_of(seg)


def load_scenario(path):
    with open(path) as f:
        doc = json.load(f)
    structures = doc.get("structures")
    if not isinstance(structures, list):
        raise PeerError("Scenario", 'scenario has no "structures" array')
    return structures


def cmd_write(a):
    specs = load_scenario(a.scenario)
    seg = Segment.create_or_replace(a.seg, a.size, a.max_entries)
    written, skipped, aux = [], [], []
    try:
        for s in specs:
            if s["kind"] in SUPPORTED:
                before = len(seg.entries())
                try:
                    write_structure(seg, s)
                except errors.ZeroIPCError as e:
                    raise PeerError(e.kind, f"{s['name']}: {e}") from None
                written.append(s["name"])
                canonical = canonical_parts(s["kind"], s["name"])
                aux += [e.name for e in seg.entries()[before:] if e.name not in canonical]
            else:
                skipped.append(s["name"])
        header = seg.header()
    finally:
        seg.close()
    return {"ok": True, "driver": "python", "segment": label_of(a.seg), "written": written,
            "skipped": skipped, "aux": aux, "header": header}


def cmd_read(a):
    specs = load_scenario(a.scenario)
    live, label = open_segment(a.seg, a.path)
    header, entries = table_json(live)
    # Peeking never writes the live segment; image files are never written either.
    seg = live if a.consume and not is_path(a.seg, a.path) else Segment.from_bytes(live.to_bytes())
    structures, skipped = {}, []
    for s in specs:
        try:
            v = decode_structure(seg, s, a.consume)
        except errors.ZeroIPCError as e:
            v = {"error": e.kind, "message": str(e), "kind": s["kind"]}
        if v is None:
            skipped.append(s["name"])
        else:
            structures[s["name"]] = v
    return {"driver": "python", "segment": label, "file_size": len(live), "consumed": a.consume,
            "header": header, "entries": entries, "structures": structures, "skipped": skipped}


def cmd_table(a):
    seg, label = open_segment(a.seg, a.path)
    header, entries = table_json(seg)
    return {"driver": "python", "segment": label, "file_size": len(seg), "header": header, "entries": entries}


def cmd_unlink(a):
    Segment.unlink(a.seg)
    return {"ok": True}


# -- mutate: the fixed script of interop/src/bin/zeroipc-peer/mutate.rs ----------------------

def must(ok, what):
    if not ok:
        raise PeerError("Mutate", f"{what} failed")


def cmd_mutate(a):
    seg = Segment.open(a.seg)
    out = []
    q = Queue.open(seg, "q_i32", "int32")
    out.append(q.pop())
    for v in (60, 70, 80, 90, 100):
        must(q.push(v), "q_i32 push")
    q = Queue.open(seg, "q_f64", "float64")
    out.append(q.pop())
    must(q.push(3.5), "q_f64 push")

    s = Stack.open(seg, "stk_i32", "int32")
    out.append(s.pop())
    must(s.push(10) and s.push(11), "stk_i32 push")
    s = Stack.open(seg, "stk_u8", "uint8")
    out += [s.pop(), s.pop()]
    must(s.push(200), "stk_u8 push")

    r = Ring.open(seg, "ring_i32", "int32")
    out.append(r.read())
    for v in (6, 7, 8, 9):
        must(r.write(v), "ring_i32 write")

    def insert(m, k, v):
        new = m.get(k) is None
        must(m.insert(k, v), f"{m.entry.name} insert")
        return new

    m = Map.open(seg, "map_i32_f64", "int32", "float64")
    out.append(m.remove(2))
    out += [insert(m, k, v) for k, v in ((18, 9.0), (2, 7.0), (1, -1.5))]
    m = Map.open(seg, "map_i32_i32", "int32", "int32")
    out += [insert(m, k, v) for k, v in ((12, 120), (20, 200))]
    out.append(m.remove(4))
    out.append(insert(m, -3, -30))

    st = Set.open(seg, "set_i32", "int32")
    out.append(st.remove(5))
    out += [st.insert(v) for v in (7, 13, -1, 6)]

    p = Pool.open(seg, "pool_i32", "int32")
    i = p.alloc()
    must(i is not None, "pool alloc")
    p.set(i, 333)
    out.append(i)
    p.free(0)
    i = p.alloc()
    must(i is not None, "pool alloc")
    p.set(i, 444)
    out.append(i)

    Array.open(seg, "arr_i64", "int64")[2] = -7
    Array.open(seg, "arr_f32", "float32")[9] = -9.25

    sem = Semaphore.open(seg, "sem")
    out.append(sem.try_acquire())
    sem.release()
    sem.release()
    out.append(sem.count())
    mtx = Mutex.open(seg, "mtx")
    locked = mtx.try_lock()
    if locked:
        mtx.unlock()
    out.append(locked)
    out.append(Latch.open(seg, "lat").count_down(1))
    out.append(Once.open(seg, "once_pend").call())
    Event.open(seg, "evt").reset()
    sig = Signal.open(seg, "sig_i32", "int32")
    sig.set(8)
    out.append(sig.version())
    st = Stream.open(seg, "stream_i32", "int32")
    out.append(st.next())
    out += [st.emit(v) for v in (4, 5)]
    ch = Channel.open(seg, "chan_i32", "int32")
    out.append(ch.recv())
    out += [ch.send(v) for v in (300, 400, 500, 600)]
    try:
        Future.open(seg, "fut_f64", "float64").set_value(1.0)
        out.append(False)
    except errors.AlreadySet:
        out.append(True)
    out.append(Lazy.open(seg, "lazy_f64", "float64").force())
    seg.close()
    return {"ok": True, "driver": "python", "results": out}


# -- pingpong: see interop/src/bin/zeroipc-peer/pingpong.rs for the protocol ----------------

PP_QUEUE, PP_TURN = "pp_q", "pp_turn"


def pp_value(r, i, from_first):
    v = r * 1_000_000 + i + 1
    return v if from_first else -v


class Backoff:
    def __init__(self):
        self.n = 0

    def snooze(self):
        self.n += 1
        time.sleep(0 if self.n < 64 else 50e-6)


def retry(attempt, ready, limit, stuck):
    """Calls `attempt` until `ready` holds for its result, snoozing between calls; past `limit`
    (a time.monotonic() value) raises a Timeout with the message `stuck()`. Returns the result
    and how many calls were not ready."""
    b = Backoff()
    waits = 0
    while not ready(got := attempt()):
        waits += 1
        if time.monotonic() > limit:
            raise PeerError("Timeout", stuck())
        b.snooze()
    return got, waits


def is_some(v):
    return v is not None


def attach(a, deadline, create, open_entries):
    """The live test's entries: `create(seg)` in a fresh segment with --create, else
    `open_entries(seg)` as soon as the creating peer has published the segment and the
    entries (retried while not found, until `deadline`)."""
    if a.create:
        return create(Segment.create_or_replace(a.seg, 65536, 64))
    while True:
        try:
            return open_entries(Segment.open(a.seg))
        except errors.NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def cmd_pingpong(a):
    first = a.role == "first"
    out = {"impl": "python", "role": a.role, "rounds": a.rounds, "batch": a.batch, "pushed": 0, "popped": 0,
           "bad": 0, "full_waits": 0, "empty_waits": 0, "ok": False, "error": None}
    deadline = time.monotonic() + a.timeout
    q, turn_arr = attach(a, deadline,
                         lambda seg: (Queue.create(seg, PP_QUEUE, "int64", a.capacity),
                                      Array.create(seg, PP_TURN, "uint64", 1)),
                         lambda seg: (Queue.open(seg, PP_QUEUE, "int64"), Array.open(seg, PP_TURN, "uint64")))
    turn = turn_arr.data  # the single u64: loads and stores are single aligned accesses

    def wait_turn(r):
        retry(lambda: int(turn[0]) == r, bool, time.monotonic() + a.timeout, lambda: f"waiting for turn {r}")

    pushed = popped = bad = full_waits = empty_waits = 0
    first_bad = None
    for r in range(a.rounds):
        wait_turn(r)
        limit = time.monotonic() + a.timeout
        if (r % 2 == 0) == first:
            for i in range(a.batch):
                v = pp_value(r, i, first)
                _, waits = retry(lambda: q.push(v), bool, limit, lambda: f"round {r}: queue stayed full")
                full_waits += waits
                pushed += 1
        else:
            for i in range(a.batch):
                want = pp_value(r, i, not first)
                got, waits = retry(q.pop, is_some, limit, lambda: f"round {r}: queue stayed empty at {i}")
                empty_waits += waits
                popped += 1
                if got != want:
                    bad += 1
                    first_bad = first_bad or f"round {r} item {i}: got {got}, want {want}"
            turn[0] = r + 1  # after every pop: the peer's wait_turn sees the queue drained
    wait_turn(a.rounds)
    head, tail = q.counters()
    total = (a.rounds * a.batch) & 0xFFFFFFFF
    mine = ((a.rounds + 1) // 2 if first else a.rounds // 2) * a.batch
    theirs = a.rounds * a.batch - mine
    out.update(pushed=pushed, popped=popped, bad=bad, first_bad=first_bad, full_waits=full_waits,
               empty_waits=empty_waits, final_head=head, final_tail=tail)
    out["ok"] = bad == 0 and pushed == mine and popped == theirs and head == total and tail == total and len(q) == 0
    if not out["ok"]:
        raise PeerError("Pingpong", json.dumps(out))
    return out


# -- stream: see interop/src/bin/zeroipc-peer/stream.rs for the protocol --------------------

ST_RING = "st_ring"


def st_value(i):
    return (i * 2654435761 + 12345) & 0xFFFFFFFF


def cmd_stream(a):
    producer = a.role == "producer"
    out = {"impl": "python", "role": a.role, "count": a.count, "done": 0, "bad": 0, "waits": 0, "ok": False,
           "error": None}
    deadline = time.monotonic() + a.timeout
    ring = attach(a, deadline, lambda seg: Ring.create(seg, ST_RING, "uint32", a.capacity),
                  lambda seg: Ring.open(seg, ST_RING, "uint32"))
    done = bad = waits = 0
    first_bad = None
    while done < a.count:
        if producer:
            _, n = retry(lambda: ring.write(st_value(done)), bool, deadline, lambda: f"ring stayed full at {done}")
            waits += n
        else:
            got, n = retry(ring.read, is_some, deadline, lambda: f"ring stayed empty at {done}")
            waits += n
            if got != st_value(done):
                bad += 1
                first_bad = first_bad or f"item {done}: got {got}, want {st_value(done)}"
        done += 1
    total = 4 * a.count
    b = Backoff()
    while True:
        w, r = ring.positions()
        if r == total or time.monotonic() > deadline:
            break
        b.snooze()
    out.update(done=done, bad=bad, first_bad=first_bad, waits=waits, write_pos=w, read_pos=r)
    out["ok"] = bad == 0 and done == a.count and w == total and r == total
    if not out["ok"]:
        raise PeerError("Stream", json.dumps(out))
    return out


# -- channel: see interop/src/bin/zeroipc-peer/chanlive.rs for the protocol -----------------

CH_LIVE = "ch_live"


def cmd_channel(a):
    """One side of a live buffered channel. Python never blocks in the kernel nor wakes
    anyone: it retries with a short back-off, and a blocked zeroipc-rs peer re-checks after
    each of its bounded sleep slices."""
    sender = a.role == "sender"
    out = {"impl": "python", "role": a.role, "count": a.count, "done": 0, "bad": 0, "blocked": 0,
           "closed_seen": False, "ok": False, "error": None}
    deadline = time.monotonic() + a.timeout
    ch = attach(a, deadline, lambda seg: Channel.create(seg, CH_LIVE, "uint32", a.capacity),
                lambda seg: Channel.open(seg, CH_LIVE, "uint32"))
    done = bad = blocked = 0
    first_bad = None
    closed_seen = False
    if sender:
        while done < a.count:
            _, waits = retry(lambda: ch.send(st_value(done)), bool, deadline,
                             lambda: f"channel stayed full at {done}")
            blocked += waits > 0
            done += 1
        ch.close()
        closed_seen = True
    else:
        while True:
            try:
                got, waits = retry(ch.recv, is_some, deadline, lambda: f"channel stayed empty at {done}")
                blocked += waits > 0
            except errors.Closed:
                closed_seen = True
                break
            if done >= a.count or got != st_value(done):
                bad += 1
                first_bad = first_bad or f"item {done}: got {got}"
            done += 1
    out.update(done=done, bad=bad, first_bad=first_bad, blocked=blocked, closed_seen=closed_seen)
    out["ok"] = bad == 0 and done == a.count and closed_seen
    if not out["ok"]:
        raise PeerError("Channel", json.dumps(out))
    return out


def main():
    p = argparse.ArgumentParser(description="ZeroIPC interop peer (Python, zeroipc_py)")
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("seg")
    w.add_argument("--scenario", default=DEFAULT_SCENARIO)
    w.add_argument("--size", type=int, default=65536)
    w.add_argument("--max-entries", type=int, default=64)
    r = sub.add_parser("read")
    r.add_argument("seg")
    r.add_argument("--scenario", default=DEFAULT_SCENARIO)
    r.add_argument("--consume", action="store_true")
    r.add_argument("--path", action="store_true")
    t = sub.add_parser("table")
    t.add_argument("seg")
    t.add_argument("--path", action="store_true")
    u = sub.add_parser("unlink")
    u.add_argument("seg")

    def live(cmd, roles, counts, capacity, timeout):
        """A live test's subcommand: the segment, the side it plays, how much it moves (flag:
        default), the capacity of what it creates with --create, and its deadline in seconds."""
        sp = sub.add_parser(cmd)
        sp.add_argument("seg")
        sp.add_argument("--role", choices=roles, required=True)
        for flag, default in counts.items():
            sp.add_argument(flag, type=int, default=default)
        sp.add_argument("--capacity", type=int, default=capacity)
        sp.add_argument("--create", action="store_true")
        sp.add_argument("--timeout", type=float, default=timeout)

    live("stream", ["producer", "consumer"], {"--count": 20000}, 61, 30.0)
    live("channel", ["sender", "receiver"], {"--count": 2000}, 4, 30.0)
    mu = sub.add_parser("mutate")
    mu.add_argument("seg")
    live("pingpong", ["first", "second"], {"--rounds": 40, "--batch": 250}, 16, 20.0)
    a = p.parse_args()
    handlers = {"write": cmd_write, "read": cmd_read, "table": cmd_table, "unlink": cmd_unlink, "mutate": cmd_mutate, "stream": cmd_stream,
                "channel": cmd_channel,
                "pingpong": cmd_pingpong}
    try:
        out = handlers[a.cmd](a)
    except (PeerError, errors.ZeroIPCError) as e:
        kind = e.kind
        msg = e.message if isinstance(e, PeerError) else str(e)
        try:
            doc = json.loads(msg)  # pingpong/stream failures carry their full summary
            if not isinstance(doc, dict):
                raise ValueError
        except ValueError:
            doc = {"error": kind, "message": msg}
        print(json.dumps(doc))
        print(f"zeroipc_peer.py: {kind}: {msg}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
