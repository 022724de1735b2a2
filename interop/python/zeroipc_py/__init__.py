"""zeroipc_py: a small pure-Python (NumPy + mmap) implementation of the canonical ZeroIPC
layouts — the table and Array, Queue, Stack, Ring, Map, Set, Pool — written from the
project's specification as a second, independent implementation for the interop matrix.

Python has no cross-process compare-and-swap. Reading at rest is always safe; **mutation is
single-writer-at-a-time**: at most one process may mutate a structure (or, for Queue and
Ring, one producer and one consumer) while this package writes it. Loads and stores of
aligned words are single machine accesses; ordering relies on the hardware keeping the
program order of plain stores and of plain loads (x86-64 TSO), and is not guaranteed on
weaker memory models (AArch64).
"""

from . import errors
from .array import Array
from .hashing import key_hash, murmur64a
from .hashmap import Map, Set
from .pool import Pool
from .queue import Queue
from .ring import Ring
from .segment import Entry, Segment
from .stack import Stack

__all__ = ["Array", "Entry", "Map", "Pool", "Queue", "Ring", "Segment", "Set", "Stack",
           "errors", "key_hash", "murmur64a"]
