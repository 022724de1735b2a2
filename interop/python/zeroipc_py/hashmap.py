"""Map and Set (ZEROIPC-FORMAT §4.5, §4.6): open addressing with linear probing, the C++
entry layouts and the C++ hash (`hashing.key_hash`).

Map header ``{u32 size, u32 capacity, u32 key_size, u32 value_size}``, entries
``{u32 state; K key; V value}`` in natural C layout. Set header ``{u32 size, u32 capacity,
u32 elem_size, u32 reserved = 0}``, entries ``{u32 state; T value}``. States: EMPTY 0,
OCCUPIED 1, DELETED 2, INSERTING 3. Probe ``i`` visits slot ``(hash + i) mod 2^64 % capacity``.

Without cross-process compare-and-swap, ``insert`` and ``remove`` are for one mutating
process at a time; they still move slots through INSERTING so that readers never see a
half-written entry.
"""

import numpy as np

from . import errors
from .common import U32, OneEntry, check_elem, check_size, elem_dtype, scalar
from .hashing import MASK64, key_hash
from .segment import align_up

EMPTY, OCCUPIED, DELETED, INSERTING = 0, 1, 2, 3
HEADER = 16


def map_entry_layout(kd, vd):
    """(key_off, val_off, entry_size) of ``{u32 state; K key; V value}``."""
    key_off = align_up(4, kd.alignment)
    val_off = align_up(key_off + kd.itemsize, vd.alignment)
    return key_off, val_off, align_up(val_off + vd.itemsize, max(4, kd.alignment, vd.alignment))


def set_entry_layout(dt):
    """(val_off, entry_size) of ``{u32 state; T value}``."""
    val_off = align_up(4, dt.alignment)
    return val_off, align_up(val_off + dt.itemsize, max(4, dt.alignment))


class _Table:
    """Probing shared by Map and Set over a structured view with fields state/key[/value]."""

    def _setup(self, seg, entry, key_dt, fields, entry_size, capacity):
        self.seg, self.entry, self.key_dt, self.capacity = seg, entry, key_dt, capacity
        rec = np.dtype({"names": [f[0] for f in fields], "formats": [f[1] for f in fields],
                        "offsets": [f[2] for f in fields], "itemsize": entry_size})
        self.slots = seg.view(rec, capacity, entry.offset + HEADER)
        self.size_view = seg.view(U32, 1, entry.offset)

    def _state(self, i):
        st = int(self.slots["state"][i])
        if st > INSERTING:
            raise errors.Corrupt(f"{self.entry.name!r}: slot {i} state {st}")
        return st

    def _probe(self, key):
        h = key_hash(self.key_dt, key)
        for i in range(self.capacity):
            yield ((h + i) & MASK64) % self.capacity

    def _find(self, key):
        """Slot of the OCCUPIED entry equal to `key`, or None."""
        k = scalar(self.key_dt, key)
        for slot in self._probe(key):
            st = self._state(slot)
            if st == EMPTY:
                return None
            if st == OCCUPIED and self.slots["key"][slot].item() == k:
                return slot
        return None

    def _target(self, key):
        """(existing slot or None, free slot or None) for inserting `key`."""
        k = scalar(self.key_dt, key)
        deleted = None
        for slot in self._probe(key):
            st = self._state(slot)
            if st == OCCUPIED and self.slots["key"][slot].item() == k:
                return slot, None
            if st == DELETED and deleted is None:
                deleted = slot
            if st == EMPTY:
                return None, deleted if deleted is not None else slot
        return None, deleted

    def __len__(self):
        return int(self.size_view[0])

    def _remove(self, key):
        """Claims the entry (OCCUPIED → INSERTING), tombstones it, then uncounts it."""
        slot = self._find(key)
        if slot is None:
            return False
        self.slots["state"][slot] = INSERTING
        self.slots["state"][slot] = DELETED
        self.size_view[0] = (int(self.size_view[0]) - 1) & 0xFFFFFFFF  # wrapping, as upstream
        return True

    def _count(self):
        # Counted before OCCUPIED is published, as zeroipc-rs does: a remover that finds
        # the entry always finds it counted.
        self.size_view[0] = (int(self.size_view[0]) + 1) & 0xFFFFFFFF

    def _store(self, slot, key, fresh, **fields):
        """Writes `slot` under the INSERTING state: the key if the slot is `fresh` (then also
        counted), and `fields`; OCCUPIED last. True."""
        self.slots["state"][slot] = INSERTING
        if fresh:
            self.slots["key"][slot] = key
        for field, v in fields.items():
            self.slots[field][slot] = v
        if fresh:
            self._count()
        self.slots["state"][slot] = OCCUPIED
        return True

    def _occupied(self):
        return [i for i in range(self.capacity) if self._state(i) == OCCUPIED]


class Map(_Table, OneEntry):
    def __init__(self, seg, entry, key_dtype, value_dtype):
        kd, vd = elem_dtype(key_dtype), elem_dtype(value_dtype)
        off = entry.offset
        if entry.size < HEADER:
            raise errors.LayoutMismatch(f"{entry.name!r}: too small for a map header")
        cap, ks, vs = seg.u32(off + 4), seg.u32(off + 8), seg.u32(off + 12)
        check_elem(entry, "key_size", ks, kd.itemsize)
        check_elem(entry, "value_size", vs, vd.itemsize)
        if cap == 0:
            raise errors.Corrupt(f"{entry.name!r}: capacity 0")
        key_off, val_off, self.entry_size = map_entry_layout(kd, vd)
        check_size(entry, HEADER + cap * self.entry_size)
        self.value_dt = vd
        self._setup(seg, entry, kd, [("state", U32, 0), ("key", kd, key_off), ("value", vd, val_off)],
                    self.entry_size, cap)

    @classmethod
    def create(cls, seg, name, key_dtype, value_dtype, capacity):
        kd, vd = elem_dtype(key_dtype), elem_dtype(value_dtype)
        if capacity <= 0 or vd.itemsize > 8:
            raise errors.InvalidArgument(f"map capacity {capacity}, value size {vd.itemsize}")
        size = HEADER + capacity * map_entry_layout(kd, vd)[2]
        entry = seg.add(name, size, lambda off: seg.view(U32, 3, off + 4).__setitem__(
            slice(None), (capacity, kd.itemsize, vd.itemsize)))
        return cls(seg, entry, kd, vd)

    def get(self, key):
        slot = self._find(key)
        return None if slot is None else self.slots["value"][slot].item()

    def insert(self, key, value):
        """Inserts or updates; False if the map is full. One mutating process at a time."""
        if isinstance(key, float) and key != key:
            raise errors.InvalidArgument("NaN keys can never be found")
        existing, free = self._target(key)
        slot = existing if existing is not None else free
        if slot is None:
            return False
        return self._store(slot, key, existing is None, value=value)

    def remove(self, key):
        return self._remove(key)

    def items(self):
        return [(self.slots["key"][i].item(), self.slots["value"][i].item()) for i in self._occupied()]


class Set(_Table, OneEntry):
    def __init__(self, seg, entry, dtype):
        dt = elem_dtype(dtype)
        off = entry.offset
        if entry.size < HEADER:
            raise errors.LayoutMismatch(f"{entry.name!r}: too small for a set header")
        cap, es, reserved = seg.u32(off + 4), seg.u32(off + 8), seg.u32(off + 12)
        check_elem(entry, "elem_size", es, dt.itemsize)
        if cap == 0:
            raise errors.Corrupt(f"{entry.name!r}: capacity 0")
        val_off, self.entry_size = set_entry_layout(dt)
        check_size(entry, HEADER + cap * self.entry_size)
        if reserved != 0:
            # The upstream Python "set" is a Map<T, u8> (value_size 1 in this word).
            raise errors.TypeMismatch(f"{entry.name!r}: reserved word is {reserved}, not 0")
        self._setup(seg, entry, dt, [("state", U32, 0), ("key", dt, val_off)], self.entry_size, cap)

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        if capacity <= 0:
            raise errors.InvalidArgument(f"set capacity {capacity}")
        size = HEADER + capacity * set_entry_layout(dt)[1]
        entry = seg.add(name, size, lambda off: seg.view(U32, 2, off + 4).__setitem__(
            slice(None), (capacity, dt.itemsize)))
        return cls(seg, entry, dt)

    def contains(self, value):
        return self._find(value) is not None

    def insert(self, value):
        """Adds `value`; False if present or full. One mutating process at a time."""
        if isinstance(value, float) and value != value:
            raise errors.InvalidArgument("NaN values can never be found")
        existing, free = self._target(value)
        if existing is not None or free is None:
            return False
        return self._store(free, value, True)

    def remove(self, value):
        return self._remove(value)

    def items(self):
        return [self.slots["key"][i].item() for i in self._occupied()]
