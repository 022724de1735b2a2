"""Helpers shared by the structures: element types and entry checks."""

import numpy as np

from . import errors
from .segment import align8

U32 = "<u4"
I32 = "<i4"
U64 = "<u8"


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


def wrap_i32(x):
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


def slots_total(cap, es):
    """Entry size of a Queue or a Stack: the 16-byte header, `cap` elements of `es` bytes, then
    one u32 word per slot (the Queue's seq, the Stack's state) at 16 + align8(cap * es)."""
    return 16 + align8(cap * es) + 4 * cap
