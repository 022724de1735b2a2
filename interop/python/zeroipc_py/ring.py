"""Ring (ZEROIPC-FORMAT §4.4): single-producer single-consumer byte ring.

| off | field |
|---|---|
| 0 | u64 write_pos (bytes ever written) |
| 8 | u64 read_pos (bytes ever read) |
| 16 | u32 capacity (**bytes**, a multiple of elem_size) |
| 20 | u32 elem_size |
| 24 | u8 buffer[capacity] |

``create`` takes the capacity in elements (as zeroipc-rs and upstream Python do) and stores
bytes. One producer and one consumer at a time, as in every implementation.
"""

import numpy as np

from . import errors
from .common import U32, U64, OneEntry, check_size, elem_dtype, open_header

WRITE_POS, READ_POS, CAPACITY, ELEM_SIZE, BUFFER = 0, 8, 16, 20, 24


def byte_capacity(dt, capacity, what):
    """The bytes of a ring of `capacity` elements of `dt`: InvalidArgument unless 1..=u32::MAX.
    `what` names the structure in the message."""
    nbytes = capacity * dt.itemsize
    if capacity <= 0 or nbytes > 0xFFFFFFFF:
        raise errors.InvalidArgument(f"{what} capacity {capacity} elements")
    return nbytes


def init_ring(seg, off, nbytes, dt):
    """Initialises the ring header at `off` (positions are already zero in a fresh entry)."""
    seg.view(U32, 2, off + CAPACITY)[:] = (nbytes, dt.itemsize)


class Ring(OneEntry):
    def __init__(self, seg, entry, dtype):
        self.seg, self.entry = seg, entry
        self.dtype, off, cap, es = open_header(seg, entry, dtype, BUFFER, "ring", CAPACITY, ELEM_SIZE)
        if cap == 0 or cap % es:
            raise errors.Corrupt(f"{entry.name!r}: capacity {cap} bytes is not a multiple of {es}")
        check_size(entry, BUFFER + cap)
        self.capacity_bytes = cap
        self.pos = seg.view(U64, 2, off)
        self.buffer = seg.view(np.uint8, cap, off + BUFFER)

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        nbytes = byte_capacity(dt, capacity, "ring")
        entry = seg.add(name, BUFFER + nbytes, lambda off: init_ring(seg, off, nbytes, dt))
        return cls(seg, entry, dt)

    def positions(self):
        w, r = int(self.pos[WRITE_POS // 8]), int(self.pos[READ_POS // 8])
        if r > w or w - r > self.capacity_bytes:
            raise errors.Corrupt(f"{self.entry.name!r}: write_pos {w}, read_pos {r}")
        return w, r

    def _copy_out(self, pos, n):
        at = pos % self.capacity_bytes
        first = min(n, self.capacity_bytes - at)
        raw = np.concatenate((self.buffer[at:at + first], self.buffer[:n - first]))
        return raw

    def _copy_in(self, pos, raw):
        at = pos % self.capacity_bytes
        first = min(len(raw), self.capacity_bytes - at)
        self.buffer[at:at + first] = raw[:first]
        self.buffer[:len(raw) - first] = raw[first:]

    def available(self):
        w, r = self.positions()
        return (w - r) // self.dtype.itemsize

    def peek_all(self):
        w, r = self.positions()
        n = (w - r) // self.dtype.itemsize * self.dtype.itemsize
        return self._copy_out(r, n).view(self.dtype).tolist()

    def write(self, value):
        w, r = self.positions()
        es = self.dtype.itemsize
        if w - r + es > self.capacity_bytes:
            return False
        self._copy_in(w, np.frombuffer(np.array(value, dtype=self.dtype).tobytes(), np.uint8))
        self.pos[WRITE_POS // 8] = w + es  # publishes the element to the consumer
        return True

    def read(self):
        w, r = self.positions()
        es = self.dtype.itemsize
        if r + es > w:
            return None
        value = self._copy_out(r, es).view(self.dtype)[0].item()
        self.pos[READ_POS // 8] = r + es  # hands the bytes back to the producer
        return value
