"""Queue (ZEROIPC-FORMAT §4.2): bounded Vyukov MPMC queue.

| off | field |
|---|---|
| 0 | u32 head (dequeue counter) |
| 4 | u32 tail (enqueue counter) |
| 8 | u32 capacity (power of two) |
| 12 | u32 elem_size |
| 16 | T data[capacity] |
| 16 + align8(capacity*es) | u32 seq[capacity] |

Python has no cross-process compare-and-swap, so ``push`` and ``pop`` here claim the counter
with a plain store: they are correct with at most **one producer process and one consumer
process** at a time (any implementations), never with several producers or several
consumers. Within that rule the slot's ``seq`` word still orders the hand-over: data are
written before ``seq`` is stored, and read only after ``seq`` says the slot is ready.
"""

from . import errors
from .common import U32, OneEntry, elem_dtype, open_header, slot_views, slots_total, wrap_i32
from .segment import align8

HEAD, TAIL, CAPACITY, ELEM_SIZE, DATA = 0, 4, 8, 12, 16
MAX_CAPACITY = 1 << 31


def stored_capacity(requested):
    if not 1 <= requested <= MAX_CAPACITY:
        raise errors.InvalidArgument(f"queue capacity must be in 1..=2^31, got {requested}")
    return max(2, 1 << (requested - 1).bit_length())


class Queue(OneEntry):
    def __init__(self, seg, entry, dtype):
        self.seg, self.entry = seg, entry
        self.dtype, off, cap, es = open_header(seg, entry, dtype, DATA, "queue", CAPACITY, ELEM_SIZE)
        if cap < 2 or cap > MAX_CAPACITY or cap & (cap - 1):
            raise errors.Corrupt(f"{entry.name!r}: capacity {cap} is not a power of two in 2..=2^31")
        self.capacity = cap
        self.counters_view = seg.view(U32, 2, off)
        self.data, self.seq = slot_views(seg, entry, off, self.dtype, cap, es)

    total = staticmethod(slots_total)

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        cap = stored_capacity(capacity)

        def init(off):
            seg.view(U32, 2, off + CAPACITY)[:] = (cap, dt.itemsize)
            seg.view(U32, cap, off + DATA + align8(cap * dt.itemsize))[:] = range(cap)

        return cls(seg, seg.add(name, cls.total(cap, dt.itemsize), init), dt)

    def counters(self):
        return int(self.counters_view[0]), int(self.counters_view[1])

    def __len__(self):
        head, tail = self.counters()
        return min((tail - head) & 0xFFFFFFFF, self.capacity)

    def push(self, value):
        """Appends `value`; False if full. Single producer at a time (see module doc)."""
        t = int(self.counters_view[1])
        slot = t & (self.capacity - 1)
        diff = wrap_i32(int(self.seq[slot]) - t)
        if diff < 0:
            return False
        if diff > 0:
            raise errors.SlotBusy(f"{self.entry.name!r}: another producer is ahead (tail {t})")
        self.counters_view[1] = (t + 1) & 0xFFFFFFFF
        self.data[slot] = value
        self.seq[slot] = (t + 1) & 0xFFFFFFFF  # publishes the slot to the consumer
        return True

    def pop(self):
        """Removes and returns the oldest value, or None if empty. Single consumer at a time."""
        h = int(self.counters_view[0])
        slot = h & (self.capacity - 1)
        diff = wrap_i32(int(self.seq[slot]) - (h + 1))
        if diff < 0:
            return None
        if diff > 0:
            raise errors.SlotBusy(f"{self.entry.name!r}: another consumer is ahead (head {h})")
        self.counters_view[0] = (h + 1) & 0xFFFFFFFF
        value = self.data[slot].item()
        self.seq[slot] = (h + self.capacity) & 0xFFFFFFFF  # hands the slot back to producers
        return value
