"""zeroipc_py: a small pure-Python (NumPy + mmap) implementation of the canonical ZeroIPC
layouts — the table; Array, Queue, Stack, Ring, Map, Set, Pool; the synchronisation
primitives Semaphore, Mutex, Barrier, Latch, Once, Event, Signal, RWLock, Monitor (`sync`);
and the codata Future, Lazy, Stream and buffered Channel (`codata`) — written from the
project's specification (docs/SPECIFICATION.md) as a second, independent implementation for
the interop matrix. Composite structures are published as one table update (`add_parts`),
with the project's auxiliary entries (`N_owner`, `N_subs`, `N_peers`) where zeroipc-rs
creates them.

Python has no cross-process compare-and-swap. Reading at rest is always safe; **mutation is
single-writer-at-a-time**: at most one process may mutate a structure (or, for Queue and
Ring, one producer and one consumer) while this package writes it. That holds for the
synchronisation primitives too: `try_acquire`, `try_lock`, `count_down`, `call`, `signal`,
`set`, `set_value`, `emit`, `send`, `recv` are plain loads and stores, so they must not race
another process changing the same words (a zeroipc-rs process blocked on the structure is
fine: it only re-checks). Nothing in this package blocks or issues futex wake-ups. Loads and stores of
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
from .sync import Barrier, Event, Latch, Monitor, Mutex, Once, RWLock, Semaphore, Signal
from .codata import Channel, Future, Lazy, Stream

__all__ = ["Array", "Barrier", "Channel", "Entry", "Event", "Future", "Latch", "Lazy", "Map", "Monitor",
           "Mutex", "Once", "Pool", "Queue", "RWLock", "Ring", "Segment", "Semaphore", "Set", "Signal", "Stack",
           "Stream", "errors", "key_hash", "murmur64a"]
