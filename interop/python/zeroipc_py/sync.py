"""Synchronisation primitives (docs/SPECIFICATION.md §3.8): Semaphore, Mutex, Barrier, Latch,
Once, Event, Signal, RWLock and Monitor, read and written **at rest**.

All words are 32-bit little-endian (signed fields hold two's-complement bits):

| structure | entries (creation order, published at once) | layout |
|---|---|---|
| Semaphore | `N` (16) | i32 count, i32 waiting, i32 max_count (0 = unbounded), i32 pad |
| Mutex | `N` (16), `N_owner` (8, project only, when `N` <= 25 bytes) | a semaphore with max_count 1; owner = u32 pid, u32 reserved |
| RWLock | `N_state` (8), `N_rmtx`, `N_wmtx` (16), marker `N` (1) | state = i32 readers, i32 writer_active |
| Monitor | `N_mtx` (16), `N_cond` (16, semaphore 0/0), `N_count` (4), marker `N` (1) | |
| Barrier | `N` (16) | i32 arrived, i32 generation, i32 num_participants (> 0), i32 pad |
| Latch | `N` (16) | i32 count, i32 initial_count, i32 pad[2] |
| Once | `N` (4) | u32 state: 0 pending, 1 executing, 2 done |
| Event | `N` (12), marker `N_sem` (16, semaphore 0/0) | u32 signaled, u32 mode (0 auto, 1 manual), u32 waiting |
| Signal | `N_state` (align8(8 + es)), `N_mtx` (16), marker `N` (1) | u64 version, T value at 8 |

The internal mutexes of RWLock, Monitor and Signal are plain 16-byte semaphores (1 of 1)
without an owner entry.

Python has no cross-process compare-and-swap and no futex calls here, so **mutation is
single-writer-at-a-time**: every operation that changes a word (acquire, release, lock,
count_down, call, signal, set, ...) is a plain load and store, correct only while no other
process changes the same structure. Nothing here blocks: operations that would wait in the
other implementations return False or raise. zeroipc-rs waiters never depend on a wake-up
from this package: they sleep in bounded slices (1-10 ms) and re-check the words.
"""

import os
import time

from . import errors
from .common import OneEntry, elem_dtype, scalar
from .segment import align8

SEM_SIZE = 16
OWNER_SUFFIX, OWNER_SIZE = "_owner", 8
MAX_NAME = 31


def _exact(entry, size):
    if entry.size != size:
        raise errors.LayoutMismatch(f"{entry.name!r}: entry is {entry.size} bytes, the layout needs {size}")


def _words(seg, entry, n, signed=True):
    return seg.view("<i4" if signed else "<u4", n, entry.offset)


def _check_base(name, suffix):
    if len(name.encode("utf-8")) + len(suffix) > MAX_NAME:
        raise errors.InvalidName(f"{name!r}: at most {MAX_NAME - len(suffix)} bytes with suffix {suffix!r}")


def _init_sem(seg, off, initial, max_count):
    seg.view("<i4", 3, off)[:] = (initial, 0, max_count)


def find_parts(seg, base, names):
    """Every part of a composite structure: none present is NotFound; some present is
    Incomplete (after a 100 ms grace period on a live segment, spec §3.8)."""
    deadline = time.monotonic() + (0.1 if seg.fd is not None else 0.0)
    while True:
        found = [seg.get(n) for n in names]
        missing = [n for n, e in zip(names, found) if e is None]
        if not missing:
            return found
        if len(missing) == len(names):
            raise errors.NotFound(f"{base!r} not found")
        if time.monotonic() >= deadline:
            raise errors.Incomplete(f"{base!r}: missing part {missing[0]!r}")
        time.sleep(0.001)


class Semaphore(OneEntry):
    """Counting semaphore, 16 bytes."""

    def __init__(self, seg, entry):
        _exact(entry, SEM_SIZE)
        self.seg, self.entry = seg, entry
        self.words = _words(seg, entry, 4)
        if int(self.words[2]) < 0:
            raise errors.Corrupt(f"{entry.name!r}: max_count {int(self.words[2])}")
        self.max_count = int(self.words[2])

    @staticmethod
    def check_args(initial, max_count):
        if initial < 0 or max_count < 0 or (max_count > 0 and initial > max_count):
            raise errors.InvalidArgument(f"semaphore initial {initial}, max {max_count}")

    @classmethod
    def create(cls, seg, name, initial, max_count=0):
        cls.check_args(initial, max_count)
        e = seg.add(name, SEM_SIZE, lambda off: _init_sem(seg, off, initial, max_count))
        return cls(seg, e)

    def count(self):
        return int(self.words[0])

    def waiting(self):
        return int(self.words[1])

    def try_acquire(self):
        """Takes a permit if there is one (a negative count counts as none)."""
        c = int(self.words[0])
        if c <= 0:
            return False
        self.words[0] = c - 1
        return True

    def release(self):
        c = int(self.words[0])
        if self.max_count > 0 and c >= self.max_count:
            raise errors.Overflow(f"{self.entry.name!r}: release would exceed max_count {self.max_count}")
        self.words[0] = c + 1

    def to_json(self):
        return {"kind": "semaphore", "count": self.count(), "waiting": self.waiting(), "max_count": self.max_count}


class Mutex(Semaphore):
    """A semaphore with max_count 1; `N_owner` (project extension) records the holder's pid."""

    def __init__(self, seg, entry, owner=None):
        super().__init__(seg, entry)
        if self.max_count != 1:
            raise errors.TypeMismatch(f"{entry.name!r}: stored max_count is {self.max_count}, expected 1")
        self.owner = None
        if owner is not None:
            _exact(owner, OWNER_SIZE)
            self.owner = seg.view("<u4", 2, owner.offset)

    @staticmethod
    def owner_name(name):
        n = name + OWNER_SUFFIX
        return n if len(n.encode("utf-8")) <= MAX_NAME else None

    @classmethod
    def create(cls, seg, name):
        parts = [(name, SEM_SIZE)]
        if cls.owner_name(name):
            parts.append((cls.owner_name(name), OWNER_SIZE))
        entries = seg.add_parts(parts, lambda offs: _init_sem(seg, offs[0], 1, 1))
        return cls(seg, entries[0], entries[1] if len(entries) > 1 else None)

    @classmethod
    def open(cls, seg, name):
        entry = seg.find(name)
        on = cls.owner_name(name)
        return cls(seg, entry, seg.get(on) if on else None)

    def is_locked(self):
        return self.count() == 0

    def owner_pid(self):
        return int(self.owner[0]) if self.owner is not None and int(self.owner[0]) else None

    def try_lock(self):
        if not self.try_acquire():
            return False
        if self.owner is not None:
            self.owner[0] = os.getpid()  # after taking the count, as zeroipc-rs does
        return True

    def unlock(self):
        if self.owner is not None:
            self.owner[0] = 0  # cleared before the release
        self.release()

    def to_json(self):
        return dict(super().to_json(), kind="mutex", locked=self.is_locked())


def _plain_mutex(seg, entry):
    """An internal mutex (RWLock, Monitor, Signal): no owner entry."""
    return Mutex(seg, entry)


class Barrier(OneEntry):
    SIZE = 16

    def __init__(self, seg, entry):
        _exact(entry, self.SIZE)
        self.seg, self.entry, self.words = seg, entry, _words(seg, entry, 4)
        self.participants = int(self.words[2])
        if self.participants <= 0:
            raise errors.Corrupt(f"{entry.name!r}: num_participants {self.participants}")

    @classmethod
    def create(cls, seg, name, participants):
        if participants <= 0:
            raise errors.InvalidArgument(f"barrier of {participants} participants")
        return cls(seg, seg.add(name, cls.SIZE, lambda off: seg.view("<i4", 1, off + 8).__setitem__(0, participants)))

    def to_json(self):
        return {"kind": "barrier", "arrived": int(self.words[0]), "generation": int(self.words[1]),
                "num_participants": self.participants}


class Latch(OneEntry):
    SIZE = 16

    def __init__(self, seg, entry):
        _exact(entry, self.SIZE)
        self.seg, self.entry, self.words = seg, entry, _words(seg, entry, 4)

    @classmethod
    def create(cls, seg, name, count):
        if count < 0:
            raise errors.InvalidArgument(f"latch count {count}")
        return cls(seg, seg.add(name, cls.SIZE, lambda off: seg.view("<i4", 2, off).__setitem__(slice(None),
                                                                                              (count, count))))

    def count(self):
        return int(self.words[0])

    def initial_count(self):
        return int(self.words[1])

    def count_down(self, n=1):
        """Lowers the count by `n`, not below 0; True if this call released the latch."""
        if n <= 0:
            raise errors.InvalidArgument(f"count_down({n})")
        c = self.count()
        if c <= 0:
            return False
        self.words[0] = max(c - n, 0)
        return c <= n

    def to_json(self):
        return {"kind": "latch", "count": self.count(), "initial_count": self.initial_count()}


class Once(OneEntry):
    SIZE = 4
    PENDING, EXECUTING, DONE = 0, 1, 2

    def __init__(self, seg, entry):
        _exact(entry, self.SIZE)
        self.seg, self.entry, self.word = seg, entry, _words(seg, entry, 1, signed=False)
        self.state()

    @classmethod
    def create(cls, seg, name):
        return cls(seg, seg.add(name, cls.SIZE))

    def state(self):
        s = int(self.word[0])
        if s > self.DONE:
            raise errors.Corrupt(f"{self.entry.name!r}: state {s}")
        return s

    def call(self, f=lambda: None):
        """Runs `f` if nobody has: True if it ran it here. EXECUTING (another process is
        running it, or died doing so) raises Timeout instead of waiting."""
        s = self.state()
        if s == self.DONE:
            return False
        if s == self.EXECUTING:
            raise errors.Timeout(f"{self.entry.name!r} is being executed elsewhere")
        self.word[0] = self.EXECUTING
        try:
            f()
        finally:
            self.word[0] = self.DONE  # also when f fails
        return True

    def to_json(self):
        return {"kind": "once", "state": self.state()}


class Event:
    SIZE = 12
    AUTO, MANUAL = 0, 1

    def __init__(self, seg, entry, sem_entry):
        _exact(entry, self.SIZE)
        self.seg, self.entry, self.words = seg, entry, _words(seg, entry, 3, signed=False)
        self.mode = int(self.words[1])
        if self.mode > 1:
            raise errors.Corrupt(f"{entry.name!r}: mode {self.mode}")
        self.sem = Semaphore(seg, sem_entry)

    @classmethod
    def create(cls, seg, name, mode):
        _check_base(name, "_sem")
        mode = {"auto": cls.AUTO, "manual": cls.MANUAL}.get(mode, mode)
        if mode not in (cls.AUTO, cls.MANUAL):
            raise errors.InvalidArgument(f"event mode {mode!r}")

        def init(offs):
            seg.view("<u4", 1, offs[0] + 4)[0] = mode
            _init_sem(seg, offs[1], 0, 0)

        e, s = seg.add_parts([(name, cls.SIZE), (name + "_sem", SEM_SIZE)], init)
        return cls(seg, e, s)

    @classmethod
    def open(cls, seg, name):
        e, s = find_parts(seg, name, [name, name + "_sem"])
        return cls(seg, e, s)

    def is_signaled(self):
        return int(self.words[0]) == 1

    def signal(self):
        self.words[0] = 1
        if self.mode == self.AUTO:
            self.sem.release()  # permits accumulate while nobody waits

    def reset(self):
        """Clears `signaled`; auto-reset also discards the pending permits."""
        self.words[0] = 0
        if self.mode == self.AUTO and self.sem.count() > 0:
            self.sem.words[0] = 0

    def to_json(self):
        return {"kind": "event", "signaled": int(self.words[0]), "mode": self.mode, "waiting": int(self.words[2])}


class Signal:
    """A versioned value guarded by a mutex."""

    def __init__(self, seg, state, mtx, dtype):
        self.seg, self.dtype = seg, elem_dtype(dtype)
        if state.size < 8 + self.dtype.itemsize:  # minimum-size rule (spec §3.8)
            raise errors.TypeMismatch(f"{state.name!r}: {state.size} bytes cannot hold version and {self.dtype}")
        self.entry = state
        self.version_word = seg.view("<u8", 1, state.offset)
        self.value_view = seg.view(self.dtype, 1, state.offset + 8)
        self.mtx = _plain_mutex(seg, mtx)

    @staticmethod
    def state_size(dt):
        return align8(8 + dt.itemsize)

    @classmethod
    def create(cls, seg, name, dtype, initial):
        _check_base(name, "_state")
        dt = elem_dtype(dtype)

        def init(offs):
            seg.view(dt, 1, offs[0] + 8)[0] = initial
            _init_sem(seg, offs[1], 1, 1)

        st, m, _ = seg.add_parts([(name + "_state", cls.state_size(dt)), (name + "_mtx", SEM_SIZE), (name, 1)], init)
        return cls(seg, st, m, dt)

    @classmethod
    def open(cls, seg, name, dtype):
        st, m, _ = find_parts(seg, name, [name + "_state", name + "_mtx", name])
        return cls(seg, st, m, dtype)

    def version(self):
        return int(self.version_word[0])

    def _locked(self):
        if not self.mtx.try_lock():
            raise errors.Timeout(f"{self.entry.name!r}: the signal's mutex is held")

    def get(self):
        self._locked()
        try:
            return self.value_view[0].item()
        finally:
            self.mtx.unlock()

    def set(self, value):
        self._locked()
        try:
            self.value_view[0] = value
            self.version_word[0] = self.version() + 1
        finally:
            self.mtx.unlock()

    def to_json(self):
        return {"kind": "signal", "dtype": self.dtype.name, "version": self.version(),
                "value": scalar(self.dtype, self.get())}


class _Marked:
    """A composite of named parts then a 1-byte marker entry `name`, added last (spec §3.8).
    A subclass lists its PARTS ((suffix, size) in table order) and SEMS ({index of a
    semaphore part: (initial, max)}); its constructor takes the parts' entries."""

    @classmethod
    def create(cls, seg, name):
        _check_base(name, max((suffix for suffix, _ in cls.PARTS), key=len))

        def init(offs):
            for i, (initial, max_count) in cls.SEMS.items():
                _init_sem(seg, offs[i], initial, max_count)

        entries = seg.add_parts([(name + suffix, size) for suffix, size in cls.PARTS] + [(name, 1)], init)
        return cls(seg, *entries[:-1])

    @classmethod
    def open(cls, seg, name):
        return cls(seg, *find_parts(seg, name, [name + suffix for suffix, _ in cls.PARTS] + [name])[:-1])


class RWLock(_Marked):
    PARTS = [("_state", 8), ("_rmtx", SEM_SIZE), ("_wmtx", SEM_SIZE)]
    SEMS = {1: (1, 1), 2: (1, 1)}

    def __init__(self, seg, state, rmtx, wmtx):
        _exact(state, 8)
        self.seg, self.entry = seg, state
        self.words = _words(seg, state, 2)
        self.rmtx, self.wmtx = _plain_mutex(seg, rmtx), _plain_mutex(seg, wmtx)


    def readers(self):
        return int(self.words[0])

    def writer_active(self):
        return int(self.words[1])

    def to_json(self):
        return {"kind": "rwlock", "readers": self.readers(), "writer_active": self.writer_active()}


class Monitor(_Marked):
    PARTS = [("_mtx", SEM_SIZE), ("_cond", SEM_SIZE), ("_count", 4)]
    SEMS = {0: (1, 1), 1: (0, 0)}

    def __init__(self, seg, mtx, cond, count):
        _exact(count, 4)
        self.seg, self.entry = seg, mtx
        self.mtx, self.cond = _plain_mutex(seg, mtx), Semaphore(seg, cond)
        self.count = _words(seg, count, 1, signed=False)


    def waiters(self):
        return int(self.count[0])

    def to_json(self):
        return {"kind": "monitor", "waiting_count": self.waiters()}
