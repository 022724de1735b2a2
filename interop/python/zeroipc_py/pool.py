"""Pool (ZEROIPC-FORMAT §4.7): fixed nodes handed out by index from a free list.

| off | field |
|---|---|
| 0 | u64 free_head = (generation << 32) | index; index 0xFFFFFFFF = empty |
| 8 | u32 allocated |
| 12 | u32 padding |
| 16 | u32 capacity |
| 20 | u32 elem_size |
| 24 | nodes ``{T data; u32 next}`` (natural C layout) |

Without cross-process compare-and-swap, ``alloc`` and ``free`` are for one mutating process
at a time; the generation is still bumped on every change, as the canonical algorithm does.
"""

from . import errors
from .common import U32, U64, OneEntry, check_size, elem_dtype, open_header
from .segment import align_up

import numpy as np

FREE_HEAD, ALLOCATED, CAPACITY, ELEM_SIZE, NODES = 0, 8, 16, 20, 24
NULL = 0xFFFFFFFF


def node_layout(dt):
    """(next_off, node_size)."""
    next_off = align_up(dt.itemsize, 4)
    return next_off, align_up(next_off + 4, max(dt.alignment, 4))


class Pool(OneEntry):
    def __init__(self, seg, entry, dtype):
        self.seg, self.entry = seg, entry
        self.dtype, off, cap, es = open_header(seg, entry, dtype, NODES, "pool", CAPACITY, ELEM_SIZE)
        if not 0 < cap < NULL:
            raise errors.Corrupt(f"{entry.name!r}: capacity {cap}")
        next_off, self.node_size = node_layout(self.dtype)
        check_size(entry, NODES + cap * self.node_size)
        self.capacity = cap
        rec = np.dtype({"names": ["data", "next"], "formats": [self.dtype, U32],
                        "offsets": [0, next_off], "itemsize": self.node_size})
        self.nodes = seg.view(rec, cap, off + NODES)
        self.head_view = seg.view(U64, 1, off + FREE_HEAD)
        self.allocated_view = seg.view(U32, 1, off + ALLOCATED)

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        dt = elem_dtype(dtype)
        if not 0 < capacity < NULL:
            raise errors.InvalidArgument(f"pool capacity {capacity}")
        next_off, node_size = node_layout(dt)

        def init(off):
            seg.view(U32, 2, off + CAPACITY)[:] = (capacity, dt.itemsize)
            for i in range(capacity):
                seg.view(U32, 1, off + NODES + i * node_size + next_off)[0] = i + 1 if i + 1 < capacity else NULL

        return cls(seg, seg.add(name, NODES + capacity * node_size, init), dt)

    def free_head(self):
        h = int(self.head_view[0])
        return h & 0xFFFFFFFF, h >> 32

    def allocated(self):
        return min(int(self.allocated_view[0]), self.capacity)

    def free_list(self):
        out = []
        idx, _ = self.free_head()
        while idx != NULL:
            if idx >= self.capacity or len(out) >= self.capacity:
                raise errors.Corrupt(f"{self.entry.name!r}: free list index {idx} / cycle")
            out.append(idx)
            idx = int(self.nodes["next"][idx])
        return out

    def _set_head(self, gen, idx):
        self.head_view[0] = (((gen + 1) & 0xFFFFFFFF) << 32) | idx

    def alloc(self):
        idx, gen = self.free_head()
        if idx == NULL:
            return None
        if idx >= self.capacity:
            raise errors.Corrupt(f"{self.entry.name!r}: free head {idx}")
        nxt = int(self.nodes["next"][idx])
        if nxt != NULL and nxt >= self.capacity:
            raise errors.Corrupt(f"{self.entry.name!r}: next link {nxt}")
        self._set_head(gen, nxt)
        self.allocated_view[0] = (int(self.allocated_view[0]) + 1) & 0xFFFFFFFF
        return idx

    def free(self, idx):
        if not 0 <= idx < self.capacity:
            raise errors.OutOfRange(f"index {idx} outside 0..{self.capacity}")
        if idx in self.free_list():
            raise errors.DoubleFree(f"{self.entry.name!r}: index {idx} is already free")
        head, gen = self.free_head()
        self.nodes["next"][idx] = head
        self._set_head(gen, idx)
        self.allocated_view[0] = max(int(self.allocated_view[0]) - 1, 0)

    def get(self, idx):
        if not 0 <= idx < self.capacity:
            raise errors.OutOfRange(f"index {idx} outside 0..{self.capacity}")
        return self.nodes["data"][idx].item()

    def set(self, idx, value):
        if not 0 <= idx < self.capacity:
            raise errors.OutOfRange(f"index {idx} outside 0..{self.capacity}")
        self.nodes["data"][idx] = value
