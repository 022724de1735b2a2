"""Array (ZEROIPC-FORMAT §4.1): ``{u64 capacity; T data[capacity]}``; no synchronisation."""

from . import errors
from .common import U64, OneEntry, check_size, elem_dtype


class Array(OneEntry):
    HEADER = 8

    def __init__(self, seg, entry, dtype):
        self.seg, self.entry, self.dtype = seg, entry, elem_dtype(dtype)
        self.capacity = seg.u64(entry.offset)
        check_size(entry, self.HEADER + self.capacity * self.dtype.itemsize)
        self.data = seg.view(self.dtype, self.capacity, entry.offset + self.HEADER)

    @classmethod
    def memory_size(cls, dtype, capacity):
        return cls.HEADER + capacity * elem_dtype(dtype).itemsize

    @classmethod
    def create(cls, seg, name, dtype, capacity):
        if capacity <= 0:
            raise errors.InvalidArgument("array capacity must be > 0")
        entry = seg.add(name, cls.memory_size(dtype, capacity),
                        lambda off: seg.view(U64, 1, off).__setitem__(0, capacity))
        return cls(seg, entry, dtype)

    def __len__(self):
        return self.capacity

    def __getitem__(self, i):
        if not 0 <= i < self.capacity:
            raise errors.OutOfRange(f"index {i} outside 0..{self.capacity}")
        return self.data[i].item()

    def __setitem__(self, i, v):
        if not 0 <= i < self.capacity:
            raise errors.OutOfRange(f"index {i} outside 0..{self.capacity}")
        self.data[i] = v

    def write(self, start, values):
        if start < 0 or start + len(values) > self.capacity:
            raise errors.OutOfRange(f"{start}..{start + len(values)} outside 0..{self.capacity}")
        self.data[start:start + len(values)] = values

    def to_list(self):
        return self.data.tolist()
