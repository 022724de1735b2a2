"""Codata (docs/SPECIFICATION.md §3.9): Future, Lazy, Stream and buffered Channel, read and
written **at rest**.

| structure | entries (creation order, published at once) |
|---|---|
| Future<T> | `N` (align8(16 + es + 256)) |
| Lazy<T> | `N` (the C++ header, 280 bytes for 4-byte T, 304 for 8-byte T), `N_owner` (8, project only, when `N` <= 25 bytes) |
| Stream<T> | `N_header` (56), `N_buffer` (a Ring of buffer_capacity elements), `N_subs` (288, project only) |
| Channel<T> | `N_header` (32), `N_buffer` (a Queue), `N_peers` (272, project only) |

Unbuffered (rendezvous) channels are not supported here (opening one is `Unsupported`).

As for the rest of the package, **mutation is single-writer-at-a-time** (no cross-process
compare-and-swap in Python): set_value/set_error, force, emit, next, send and recv are plain
loads and stores, correct while no other process mutates the same structure. Nothing here
blocks or wakes futex sleepers; zeroipc-rs waiters re-check in bounded slices (1-10 ms).
A Python `emit` refuses a stream that has multicast subscribers (their cursors bound the
producer, spec §3.9.1): use a zeroipc-rs producer for those.
"""

import time

import numpy as np

from . import errors
from .common import OneEntry, elem_dtype, scalar
from .queue import Queue, stored_capacity
from .ring import Ring, byte_capacity, init_ring
from .segment import align8, align_up
from .sync import OWNER_SIZE, find_parts

MSG_LEN = 256
PENDING, COMPUTING, READY, ERROR = 0, 1, 2, 3


def encode_message(msg):
    """`msg` as the 256-byte field: at most 255 bytes, cut at a UTF-8 character boundary,
    NUL-padded."""
    raw = msg.encode("utf-8")[:MSG_LEN - 1]
    while raw:
        try:
            raw.decode("utf-8")
            break
        except UnicodeDecodeError:
            raw = raw[:-1]
    return raw.ljust(MSG_LEN, b"\0")


def decode_message(raw):
    """Text up to the first NUL within the 256 bytes (none: the first 255), lossily decoded."""
    raw = bytes(raw)
    nul = raw.find(b"\0")
    return raw[:nul if nul >= 0 else MSG_LEN - 1].decode("utf-8", errors="replace")


class Future(OneEntry):
    """A value or an error, set once."""

    def __init__(self, seg, entry, dtype):
        self.seg, self.entry, self.dtype = seg, entry, elem_dtype(dtype)
        es = self.dtype.itemsize
        if entry.size < 16 + es + MSG_LEN:  # minimum-size rule (upstream Python is unpadded)
            raise errors.LayoutMismatch(f"{entry.name!r}: {entry.size} bytes, a Future of {self.dtype} needs "
                                        f"{self.size(self.dtype)}")
        off = entry.offset
        self.words = seg.view("<u4", 2, off)
        self.time = seg.view("<u8", 1, off + 8)
        self.value_view = seg.view(self.dtype, 1, off + 16)
        self.msg = seg.view(np.uint8, MSG_LEN, off + 16 + es)
        self.state()

    @staticmethod
    def size(dt):
        return align8(16 + dt.itemsize + MSG_LEN)

    @classmethod
    def create(cls, seg, name, dtype):
        dt = elem_dtype(dtype)
        return cls(seg, seg.add(name, cls.size(dt)), dt)

    def state(self):
        s = int(self.words[0])
        if s > ERROR:
            raise errors.Corrupt(f"{self.entry.name!r}: state {s}")
        return s

    def waiters(self):
        return int(self.words[1])

    def _complete(self, write, final):
        if self.state() != PENDING:
            raise errors.AlreadySet(f"{self.entry.name!r} is already set")
        self.words[0] = COMPUTING
        write()
        self.time[0] = time.monotonic_ns()  # CLOCK_MONOTONIC on Linux, as the spec asks
        self.words[0] = final  # last: publishes the result

    def set_value(self, v):
        self._complete(lambda: self.value_view.__setitem__(0, v), READY)

    def set_error(self, msg):
        self._complete(lambda: self.msg.__setitem__(slice(None), np.frombuffer(encode_message(msg), np.uint8)),
                       ERROR)

    def error_message(self):
        return decode_message(self.msg)

    def try_get(self):
        """The value if READY, None while pending; Failed with the message if ERROR."""
        s = self.state()
        if s == READY:
            return self.value_view[0].item()
        if s == ERROR:
            raise errors.Failed(self.error_message())
        return None

    def to_json(self):
        s = self.state()
        return {"kind": "future", "dtype": self.dtype.name, "state": s, "waiters": self.waiters(),
                "value": scalar(self.dtype, self.value_view[0]) if s == READY else None,
                "error_msg": self.error_message() if s == ERROR else None}


def lazy_layout(dt):
    """Byte offsets of the C++ Lazy<T> header (spec §3.9): op, data, cached, error, count,
    total."""
    es, a = dt.itemsize, dt.alignment
    ua = max(4, a)
    u = align_up(max(8, 2 * es), ua)
    op = align_up(4, ua)
    data = op + align_up(4, ua)
    cached = align_up(op + align_up(4, ua) + u, a)
    error = cached + es
    count = align_up(error + MSG_LEN, 4)
    return {"op": op, "data": data, "cached": cached, "error": error, "count": count,
            "total": align_up(count + 4, max(4, a))}


class Lazy(OneEntry):
    """A lazily computed value (C++ layout)."""

    NOT_COMPUTED, COMPUTING, COMPUTED, ERROR = 0, 1, 2, 3
    CONSTANT, ADD, MULTIPLY, NEGATE, CHAIN, EXTERNAL = range(6)

    def __init__(self, seg, entry, dtype):
        self.seg, self.entry, self.dtype = seg, entry, elem_dtype(dtype)
        self.layout = lay = lazy_layout(self.dtype)
        if entry.size != lay["total"]:
            raise errors.LayoutMismatch(f"{entry.name!r}: entry is {entry.size} bytes, Lazy<{self.dtype}> "
                                        f"needs {lay['total']}")
        off = entry.offset
        self.state_word = seg.view("<u4", 1, off)
        self.op_word = seg.view("<u4", 1, off + lay["op"])
        self.operands = seg.view(self.dtype, 2, off + lay["data"])
        self.cached = seg.view(self.dtype, 1, off + lay["cached"])
        self.msg = seg.view(np.uint8, MSG_LEN, off + lay["error"])
        self.count = seg.view("<u4", 1, off + lay["count"])
        self.state()
        self.op()

    @staticmethod
    def owner_name(name):
        n = name + "_owner"
        return n if len(n.encode("utf-8")) <= 31 else None

    @classmethod
    def create_constant(cls, seg, name, dtype, value):
        """Already computed (state COMPUTED, op CONSTANT, compute_count 0), as upstream C++."""
        dt = elem_dtype(dtype)
        lay = lazy_layout(dt)

        def init(offs):
            off = offs[0]
            seg.view("<u4", 1, off + lay["op"])[0] = cls.CONSTANT
            seg.view(dt, 1, off + lay["data"])[0] = value
            seg.view(dt, 1, off + lay["cached"])[0] = value
            seg.view("<u4", 1, off)[0] = cls.COMPUTED

        parts = [(name, lay["total"])]
        if cls.owner_name(name):
            parts.append((cls.owner_name(name), OWNER_SIZE))
        return cls(seg, seg.add_parts(parts, init)[0], dt)

    def state(self):
        s = int(self.state_word[0])
        if s > self.ERROR:
            raise errors.Corrupt(f"{self.entry.name!r}: state {s}")
        return s

    def op(self):
        o = int(self.op_word[0])
        if o > self.EXTERNAL:
            raise errors.Corrupt(f"{self.entry.name!r}: op type {o}")
        return o

    def try_get(self):
        s = self.state()
        if s == self.COMPUTED:
            return self.cached[0].item()
        if s == self.ERROR:
            raise errors.Failed(decode_message(self.msg))
        return None

    def force(self):
        """Computes a NOT_COMPUTED value from its stored op (single writer at a time)."""
        s = self.state()
        if s != self.NOT_COMPUTED:
            if s == self.COMPUTING:
                raise errors.Timeout(f"{self.entry.name!r} is being computed elsewhere")
            return self.try_get()
        self.state_word[0] = self.COMPUTING
        op, (a, b) = self.op(), self.operands
        with np.errstate(over="ignore"):  # integers wrap, floats are IEEE
            result = {self.CONSTANT: a, self.ADD: a + b, self.MULTIPLY: a * b, self.NEGATE: -a}.get(op)
        if result is None:
            self.msg[:] = np.frombuffer(encode_message("not yet implemented"), np.uint8)
            self.state_word[0] = self.ERROR
            raise errors.Failed("not yet implemented")
        self.cached[0] = result
        self.state_word[0] = self.COMPUTED
        self.count[0] = int(self.count[0]) + 1
        return self.cached[0].item()

    def to_json(self):
        s = self.state()
        return {"kind": "lazy", "dtype": self.dtype.name, "state": s,
                "value": scalar(self.dtype, self.cached[0]) if s == self.COMPUTED else None}


def _header(entry, size, what):
    """`entry`, checked to be the `size` bytes of a `what` header."""
    if entry.size != size:
        raise errors.LayoutMismatch(f"{entry.name!r}: {entry.size} bytes, a {what} header is {size}")
    return entry


def _closed(byte, entry):
    """The `closed` byte of a Stream's or a Channel's header: Corrupt unless 0 or 1."""
    c = int(byte[0])
    if c > 1:
        raise errors.Corrupt(f"{entry.name!r}: closed {c}")
    return c == 1


STREAM_HEADER, SUBS_SLOTS, SUBS_SIZE, JOINING = 56, 16, 32 + 16 * 16, (1 << 64) - 1


class Stream:
    """Single-producer stream over a Ring; `next` is an upstream-style competing consumer."""

    def __init__(self, seg, header, buffer, subs, dtype):
        self.seg, self.dtype, self.entry = seg, elem_dtype(dtype), _header(header, STREAM_HEADER, "stream")
        self.ring = Ring(seg, buffer, self.dtype)
        h = header.offset
        self.sequence_word = seg.view("<u8", 1, h)
        self.subscribers = seg.view("<u4", 1, h + 8)
        self.closed_byte = seg.view(np.uint8, 1, h + 12)
        self.buffer_capacity = seg.u32(h + 16)
        self.transform = seg.view(np.uint8, 32, h + 20)
        if self.buffer_capacity * self.dtype.itemsize != self.ring.capacity_bytes:
            raise errors.LayoutMismatch(f"{header.name!r}: buffer_capacity {self.buffer_capacity} x "
                                        f"{self.dtype.itemsize} != ring capacity {self.ring.capacity_bytes}")
        self.subs = None
        if subs is not None:
            if subs.size != SUBS_SIZE:
                raise errors.LayoutMismatch(f"{subs.name!r}: {subs.size} bytes, subscriber slots need {SUBS_SIZE}")
            if seg.u32(subs.offset) != SUBS_SLOTS:
                raise errors.Corrupt(f"{subs.name!r}: {seg.u32(subs.offset)} subscriber slots")
            self.subs = subs
        self.closed()

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        nbytes = byte_capacity(dt, capacity, "stream")
        if len(name.encode("utf-8")) > 24:
            raise errors.InvalidName(f"{name!r}: stream names are at most 24 bytes")

        def init(offs):
            h, b, s = offs
            seg.view("<u4", 1, h + 16)[0] = capacity
            init_ring(seg, b, nbytes, dt)
            seg.view("<u4", 1, s)[0] = SUBS_SLOTS
            for i in range(SUBS_SLOTS):
                seg.view("<u8", 1, s + 32 + 16 * i)[0] = JOINING  # free slot

        h, b, s = seg.add_parts([(name + "_header", STREAM_HEADER), (name + "_buffer", 24 + nbytes),
                                 (name + "_subs", SUBS_SIZE)], init)
        return cls(seg, h, b, s, dt)

    @classmethod
    def open(cls, seg, name, dtype):
        h, b = find_parts(seg, name, [name + "_header", name + "_buffer"])
        return cls(seg, h, b, seg.get(name + "_subs"), dtype)

    def sequence(self):
        return int(self.sequence_word[0])

    def closed(self):
        return _closed(self.closed_byte, self.entry)

    def multicast(self):
        if self.subs is None:
            return False
        m = self.seg.u32(self.subs.offset + 16)
        if m > 1:
            raise errors.Corrupt(f"{self.subs.name!r}: multicast {m}")
        return m == 1

    def emit(self, value):
        """Appends `value`: False if the buffer is full; Closed if closed."""
        if self.closed():
            raise errors.Closed(f"{self.entry.name!r} is closed")
        if self.multicast():
            raise errors.Unsupported(f"{self.entry.name!r} has multicast subscribers; emit from zeroipc-rs")
        if not self.ring.write(value):
            return False
        self.sequence_word[0] = self.sequence() + 1
        return True

    def next(self):
        """Takes the oldest element (competing consumer), or None."""
        return self.ring.read()

    def close(self):
        self.closed_byte[0] = 1

    def to_json(self, items):
        return {"kind": "stream", "dtype": self.dtype.name, "sequence": self.sequence(), "closed": self.closed(),
                "buffer_capacity": self.buffer_capacity, "items": items}


CHANNEL_HEADER, PEER_SLOTS = 32, 32
PEERS_SIZE = 16 + 8 * PEER_SLOTS


class Channel:
    """Buffered channel: a header and a Queue."""

    def __init__(self, seg, header, buffer, peers, dtype):
        self.seg, self.dtype, self.entry = seg, elem_dtype(dtype), _header(header, CHANNEL_HEADER, "channel")
        h = header.offset
        self.capacity = seg.u32(h)
        self.closed_byte = seg.view(np.uint8, 1, h + 12)
        if self.capacity == 0:
            raise errors.Unsupported(f"{header.name!r}: unbuffered channels are not supported by zeroipc_py")
        if self.capacity & (self.capacity - 1):
            raise errors.Corrupt(f"{header.name!r}: capacity {self.capacity} is not a power of two")
        self.queue = Queue(seg, buffer, self.dtype)
        if self.queue.capacity != self.capacity:
            raise errors.Corrupt(f"{header.name!r}: capacity {self.capacity}, queue {self.queue.capacity}")
        if peers is not None:
            if peers.size != PEERS_SIZE:
                raise errors.LayoutMismatch(f"{peers.name!r}: {peers.size} bytes, the peer registry is {PEERS_SIZE}")
            if seg.u32(peers.offset) != PEER_SLOTS:
                raise errors.Corrupt(f"{peers.name!r}: {seg.u32(peers.offset)} peer slots")
        self.closed()

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        if capacity == 0:
            raise errors.Unsupported("unbuffered channels are not supported by zeroipc_py")
        if len(name.encode("utf-8")) > 24:
            raise errors.InvalidName(f"{name!r}: channel names are at most 24 bytes")
        cap = stored_capacity(capacity)

        def init(offs):
            h, b, p = offs
            seg.view("<u4", 1, h)[0] = cap
            seg.view("<u4", 2, b + 8)[:] = (cap, dt.itemsize)
            seg.view("<u4", cap, b + 16 + align8(cap * dt.itemsize))[:] = range(cap)
            seg.view("<u4", 1, p)[0] = PEER_SLOTS

        h, b, p = seg.add_parts([(name + "_header", CHANNEL_HEADER), (name + "_buffer", Queue.total(cap, dt.itemsize)),
                                 (name + "_peers", PEERS_SIZE)], init)
        return cls(seg, h, b, p, dt)

    @classmethod
    def open(cls, seg, name, dtype):
        h = seg.get(name + "_header")
        if h is None:
            raise errors.NotFound(f"{name!r} not found")
        if seg.u32(h.offset) == 0 and h.size == CHANNEL_HEADER:
            raise errors.Unsupported(f"{name!r}: unbuffered channels are not supported by zeroipc_py")
        h, b = find_parts(seg, name, [name + "_header", name + "_buffer"])
        return cls(seg, h, b, seg.get(name + "_peers"), dtype)

    def closed(self):
        return _closed(self.closed_byte, self.entry)

    def __len__(self):
        return len(self.queue)

    def send(self, value):
        """Buffers `value`: False if full; Closed if closed."""
        if self.closed():
            raise errors.Closed(f"{self.entry.name!r} is closed")
        return self.queue.push(value)

    def recv(self):
        """The oldest value, or None if empty and open; Closed once closed and drained."""
        v = self.queue.pop()
        if v is None and self.closed():
            raise errors.Closed(f"{self.entry.name!r} is closed")
        return v

    def close(self):
        self.closed_byte[0] = 1

    def to_json(self, items, size):
        return {"kind": "channel", "dtype": self.dtype.name, "closed": self.closed(), "capacity": self.capacity,
                "size": size, "items": items}
