"""Stack (ZEROIPC-FORMAT §4.3): bounded LIFO with per-slot states.

| off | field |
|---|---|
| 0 | i32 top (-1 when empty) |
| 4 | u32 capacity |
| 8 | u32 elem_size |
| 12 | u32 reserved = 0 |
| 16 | T data[capacity] |
| 16 + align8(capacity*es) | u32 state[capacity]: EMPTY 0, WRITING 1, READY 2, READING 3 |

Without cross-process compare-and-swap, ``push`` and ``pop`` are for one mutating process at
a time (any implementation); they still go through the slot states, so a slot left claimed
by a crashed peer is refused rather than overwritten.
"""

from . import errors
from .common import I32, U32, OneEntry, elem_dtype, open_header, slot_views, slots_total

TOP, CAPACITY, ELEM_SIZE, RESERVED, DATA = 0, 4, 8, 12, 16
EMPTY, WRITING, READY, READING = 0, 1, 2, 3


class Stack(OneEntry):
    def __init__(self, seg, entry, dtype):
        self.seg, self.entry = seg, entry
        self.dtype, off, cap, es = open_header(seg, entry, dtype, DATA, "stack", CAPACITY, ELEM_SIZE)
        if not 0 < cap <= 0x7FFFFFFF:
            raise errors.Corrupt(f"{entry.name!r}: capacity {cap}")
        self.capacity = cap
        self.top_view = seg.view(I32, 1, off + TOP)
        self.data, self.states = slot_views(seg, entry, off, self.dtype, cap, es)

    total = staticmethod(slots_total)

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        if not 0 < capacity <= 0x7FFFFFFF:
            raise errors.InvalidArgument(f"stack capacity {capacity}")

        def init(off):
            seg.view(I32, 1, off + TOP)[0] = -1
            seg.view(U32, 2, off + CAPACITY)[:] = (capacity, dt.itemsize)

        return cls(seg, seg.add(name, cls.total(capacity, dt.itemsize), init), dt)

    def top(self):
        t = int(self.top_view[0])
        if not -1 <= t <= self.capacity - 1:
            raise errors.Corrupt(f"{self.entry.name!r}: top {t} out of range")
        return t

    def __len__(self):
        return self.top() + 1

    def slot_states(self):
        states = self.states.tolist()
        if any(s > READING for s in states):
            raise errors.Corrupt(f"{self.entry.name!r}: slot state above 3")
        return states

    def snapshot(self):
        """Elements bottom → top, without claiming slots (inspection at rest)."""
        return self.data[:self.top() + 1].tolist()

    def push(self, value):
        cur = self.top()
        if cur >= self.capacity - 1:
            return False
        new = cur + 1
        if int(self.states[new]) != EMPTY:
            return False  # claimed by a crashed or concurrent peer
        self.top_view[0] = new
        self.states[new] = WRITING
        self.data[new] = value
        self.states[new] = READY
        return True

    def pop(self):
        cur = self.top()
        if cur < 0:
            return None
        if int(self.states[cur]) != READY:
            return None  # being written or read by a peer
        self.top_view[0] = cur - 1
        self.states[cur] = READING
        value = self.data[cur].item()
        self.states[cur] = EMPTY
        return value
