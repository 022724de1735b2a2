"""Helpers shared by the structures: element types and entry checks."""

import numpy as np

from . import errors
from .segment import align8

U32 = "<u4"
I32 = "<i4"
U64 = "<u8"


class OneEntry:
    """A structure kept in one table entry, named as the structure: `open` finds the entry and
    hands it to the constructor with the element types."""

    @classmethod
    def open(cls, seg, name, *types):
        return cls(seg, seg.find(name), *types)


def elem_dtype(dtype):
    """The little-endian numpy dtype for a dtype name; POD, 1..8-byte aligned."""
    dt = np.dtype(dtype)
    if dt.kind not in "iubf" or dt.itemsize < 1 or dt.alignment > 8:
        raise errors.InvalidArgument(f"unsupported element type {dtype!r}")
    return dt.newbyteorder("<") if dt.itemsize > 1 else dt


def scalar(dt, v):
    """`v` stored as `dt` and read back as a Python int/float (exact for in-range values)."""
    return np.array(v, dtype=dt)[()].item()


def check_size(entry, expected):
    if entry.size != expected:
        raise errors.LayoutMismatch(f"{entry.name!r}: entry is {entry.size} bytes, the layout needs {expected}")


def check_elem(entry, what, stored, dt_size):
    if stored != dt_size:
        raise errors.TypeMismatch(f"{entry.name!r}: stored {what} is {stored}, expected {dt_size}")


def open_header(seg, entry, dtype, header, what, cap_off, es_off):
    """The checks every structure with a u32 capacity and a u32 elem_size in its header makes
    first on open: the entry holds the `header` bytes of a `what` header, and the stored
    elem_size is the element type's size. Returns (element dtype, offset, stored capacity,
    stored elem_size); the caller checks the capacity and the entry's full size."""
    dt = elem_dtype(dtype)
    off = entry.offset
    if entry.size < header:
        raise errors.LayoutMismatch(f"{entry.name!r}: {entry.size} bytes is too small for a {what} header")
    cap, es = seg.u32(off + cap_off), seg.u32(off + es_off)
    check_elem(entry, "elem_size", es, dt.itemsize)
    return dt, off, cap, es


def wrap_i32(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def slots_total(cap, es):
    """Entry size of a Queue or a Stack: the 16-byte header, `cap` elements of `es` bytes, then
    one u32 word per slot (the Queue's seq, the Stack's state) at 16 + align8(cap * es)."""
    return 16 + align8(cap * es) + 4 * cap


def slot_views(seg, entry, off, dt, cap, es):
    """A Queue's or Stack's entry checked against `slots_total`, and its two arrays: the `cap`
    elements at 16 and the u32 word per slot after them."""
    check_size(entry, slots_total(cap, es))
    return seg.view(dt, cap, off + 16), seg.view(U32, cap, off + 16 + align8(cap * es))
