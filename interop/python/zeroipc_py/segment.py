"""Segment and table (ZEROIPC-FORMAT §3): create, open, validate, look up, add.

A segment is the POSIX shared-memory object ``/dev/shm/NAME`` mapped whole. The table is a
32-byte header followed by ``max_entries`` 48-byte entries; structures follow.

Python has no cross-process atomics: loads and stores of aligned words through NumPy are
single machine accesses on x86-64 and AArch64, which is enough for reading at rest and for
the single-writer-at-a-time use this package supports. Table additions take the same
``flock`` creation lock as zeroipc-rs, so Python and Rust creators exclude each other.
"""

import fcntl
import mmap
import os
import time

import numpy as np

from . import errors

MAGIC = 0x5A49504D
VERSION = 2
HEADER_SIZE = 32
ENTRY_SIZE = 48
NAME_SIZE = 32
DEFAULT_MAX_ENTRIES = 64
SHM_DIR = "/dev/shm"

# Header field offsets.
_MAGIC, _VERSION, _ENTRY_COUNT, _MAX_ENTRIES, _MEMORY_SIZE, _NEXT_OFFSET = 0, 4, 8, 12, 16, 24


def align8(n):
    return (n + 7) & ~7


def align_up(n, a):
    return (n + a - 1) & ~(a - 1)


def table_size(max_entries):
    return HEADER_SIZE + ENTRY_SIZE * max_entries


def segment_name(name):
    """``name`` or ``/name`` → ``name``, validated as in spec D6."""
    bare = name[1:] if name.startswith("/") else name
    raw = bare.encode("utf-8")
    if not raw or len(raw) > 255 or "/" in bare or "\0" in bare or bare in (".", ".."):
        raise errors.InvalidName(f"invalid segment name {name!r}")
    return bare


def validate_entry_name(name):
    raw = name.encode("utf-8")
    if not raw or len(raw) > NAME_SIZE - 1 or b"\0" in raw:
        raise errors.InvalidName(f"invalid entry name {name!r} (1..=31 bytes, no NUL)")
    return raw


class Entry:
    """A published table entry."""

    __slots__ = ("index", "name", "offset", "size")

    def __init__(self, index, name, offset, size):
        self.index, self.name, self.offset, self.size = index, name, offset, size

    def to_json(self):
        return {"name": self.name, "offset": self.offset, "size": self.size}

    def __repr__(self):
        return f"Entry({self.name!r} @ {self.offset}, {self.size} bytes)"


class Segment:
    """A mapped segment. Use the class methods to get one."""

    def __init__(self, buf, label, fd=None):
        self.buf = buf  # mmap or bytearray: writable, supports the buffer protocol
        self.label = label
        self.fd = fd
        self._validate()

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, name, size, max_entries=DEFAULT_MAX_ENTRIES, mode=0o600):
        bare = segment_name(name)
        if not 1 <= max_entries <= 0xFFFFFFFF:
            raise errors.InvalidArgument(f"max_entries {max_entries} out of range")
        table = table_size(max_entries)
        if size < table:
            raise errors.InvalidArgument(f"size {size} cannot hold the {table}-byte table")
        path = os.path.join(SHM_DIR, bare)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            raise errors.AlreadyExists(f"/{bare} already exists") from None
        try:
            os.fchmod(fd, mode)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, size)
            buf = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            buf[0:table] = bytes(table)
            words = np.frombuffer(buf, "<u4", 4, 0)
            words[1], words[2], words[3] = VERSION, 0, max_entries
            sizes = np.frombuffer(buf, "<u8", 2, _MEMORY_SIZE)
            sizes[0], sizes[1] = size, table
            words[0] = MAGIC  # last: openers wait for a non-zero magic
            del words, sizes
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            os.unlink(path)
            os.close(fd)
            raise
        return cls(buf, f"/{bare}", fd)

    @classmethod
    def create_or_replace(cls, name, size, max_entries=DEFAULT_MAX_ENTRIES, mode=0o600):
        try:
            cls.unlink(name)
        except errors.NotFound:
            pass
        return cls.create(name, size, max_entries, mode)

    @classmethod
    def open(cls, name, grace=0.1):
        bare = segment_name(name)
        try:
            fd = os.open(os.path.join(SHM_DIR, bare), os.O_RDWR)
        except FileNotFoundError:
            raise errors.NotFound(f"/{bare} not found") from None
        deadline = time.monotonic() + grace
        while True:
            size = os.fstat(fd).st_size
            if size >= HEADER_SIZE:
                buf = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                if int(np.frombuffer(buf, "<u4", 1, 0)[0]) != 0:
                    return cls(buf, f"/{bare}", fd)
                buf.close()
            if time.monotonic() > deadline:
                os.close(fd)
                raise errors.NotInitialised(f"/{bare} is not initialised")
            time.sleep(0.001)

    @classmethod
    def open_path(cls, path):
        """A private copy-on-write mapping of an image file (the file never changes)."""
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < HEADER_SIZE:
                raise errors.Truncated(f"{path}: {size} bytes, shorter than the header")
            buf = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        return cls(buf, str(path))

    @classmethod
    def from_bytes(cls, data, label="<bytes>"):
        """A private heap copy of an image."""
        if len(data) < HEADER_SIZE:
            raise errors.Truncated(f"{len(data)} bytes, shorter than the header")
        return cls(bytearray(data), label)

    @staticmethod
    def unlink(name):
        bare = segment_name(name)
        try:
            os.unlink(os.path.join(SHM_DIR, bare))
        except FileNotFoundError:
            raise errors.NotFound(f"/{bare} not found") from None

    def close(self):
        if isinstance(self.buf, mmap.mmap):
            try:
                self.buf.close()
            except BufferError:
                pass  # NumPy views still alive; the mapping goes with them
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def to_bytes(self):
        return bytes(self.buf)

    def __len__(self):
        return len(self.buf)

    # -- raw access ------------------------------------------------------------------------

    def u32(self, off):
        return int(np.frombuffer(self.buf, "<u4", 1, off)[0])

    def u64(self, off):
        return int(np.frombuffer(self.buf, "<u8", 1, off)[0])

    def view(self, dtype, count, off):
        """A NumPy view of `count` elements of `dtype` at byte `off`, bounds-checked."""
        dt = np.dtype(dtype)
        if off < 0 or count < 0 or off + count * dt.itemsize > len(self.buf):
            raise errors.Corrupt(f"{count} x {dt} at {off} is outside the {len(self.buf)}-byte segment")
        return np.frombuffer(self.buf, dt, count, off)

    # -- table -----------------------------------------------------------------------------

    def _validate(self):
        n = len(self.buf)
        if n < HEADER_SIZE:
            raise errors.Truncated(f"{self.label}: {n} bytes")
        magic = self.u32(_MAGIC)
        if magic == 0:
            raise errors.NotInitialised(f"{self.label}: magic is 0")
        if magic != MAGIC:
            raise errors.BadMagic(f"{self.label}: magic {magic:#x}")
        version = self.u32(_VERSION)
        if version != VERSION:
            raise errors.UnsupportedVersion(f"{self.label}: version {version}")
        stored = self.u32(_MAX_ENTRIES)
        self.max_entries = stored or DEFAULT_MAX_ENTRIES
        self.table_size = table_size(self.max_entries)
        if self.table_size > n:
            raise errors.Corrupt(f"table of {self.max_entries} entries exceeds the file")
        self.memory_size = self.u64(_MEMORY_SIZE)
        if self.memory_size > n:
            raise errors.Corrupt("memory_size exceeds the file")
        if self.memory_size < self.table_size:
            raise errors.Corrupt("memory_size below the table size")
        self.header()  # checks entry_count and next_offset
        self.entries()  # checks every published entry

    def header(self):
        h = {
            "magic": self.u32(_MAGIC), "version": self.u32(_VERSION),
            "entry_count": self.u32(_ENTRY_COUNT), "max_entries": self.u32(_MAX_ENTRIES),
            "memory_size": self.u64(_MEMORY_SIZE), "next_offset": self.u64(_NEXT_OFFSET),
        }
        if h["entry_count"] > self.max_entries:
            raise errors.Corrupt(f"entry_count {h['entry_count']} > max_entries {self.max_entries}")
        if not self.table_size <= h["next_offset"] <= self.memory_size:
            raise errors.Corrupt(f"next_offset {h['next_offset']} out of range")
        return h

    def _entry(self, i):
        base = HEADER_SIZE + ENTRY_SIZE * i
        raw = bytes(self.buf[base:base + NAME_SIZE])
        nul = raw.find(b"\0")
        if nul < 0:
            raise errors.Corrupt(f"entry {i}: name not NUL-terminated")
        if nul == 0:
            return None  # an upstream creator bumps entry_count before writing the entry
        try:
            name = raw[:nul].decode("utf-8")
        except UnicodeDecodeError:
            raise errors.Corrupt(f"entry {i}: name is not UTF-8") from None
        offset, size = self.u64(base + 32), self.u64(base + 40)
        if offset % 8:
            raise errors.Corrupt(f"entry {name!r}: offset {offset} not 8-aligned")
        if offset < self.table_size:
            raise errors.Corrupt(f"entry {name!r}: offset {offset} inside the table")
        if offset + size > self.memory_size:
            raise errors.Corrupt(f"entry {name!r}: {offset}+{size} past memory_size")
        return Entry(i, name, offset, size)

    def entries(self):
        count = self.u32(_ENTRY_COUNT)
        if count > self.max_entries:
            raise errors.Corrupt(f"entry_count {count} > max_entries {self.max_entries}")
        return [e for e in (self._entry(i) for i in range(count)) if e is not None]

    def find(self, name):
        for e in self.entries():
            if e.name == name:
                return e  # first match wins
        raise errors.NotFound(f"{name!r} not found")

    def get(self, name):
        try:
            return self.find(name)
        except errors.NotFound:
            return None

    def _lock(self, timeout=5.0):
        seg = self

        class _Held:
            def __enter__(self):
                if seg.fd is None:
                    return self  # a private copy: nobody else can see it
                deadline = time.monotonic() + timeout
                while True:
                    try:
                        fcntl.flock(seg.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        return self
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise errors.Timeout("creation lock") from None
                        time.sleep(0.001)

            def __exit__(self, *exc):
                if seg.fd is not None:
                    fcntl.flock(seg.fd, fcntl.LOCK_UN)

        return _Held()

    def add(self, name, size, init=None, exist_ok=False):
        """Allocates entry `name` of `size` bytes under the creation lock, zeroes it, runs
        `init(offset)` and publishes the entry (spec §2.3). With `exist_ok`, an existing
        entry of that name is returned instead (open-or-create)."""
        return self.add_parts([(name, size)], None if init is None else lambda offs: init(offs[0]),
                              exist_ok)[0]

    def add_parts(self, parts, init=None, exist_ok=False):
        """Adds the entries `parts` = [(name, size), ...] as one unit (spec §2.3): under the
        creation lock, each part at `align8(previous end)`, all zeroed, `init([offsets])`,
        then the entries written and `entry_count` published once, so readers see all the
        parts of a composite structure at once. A failed add changes nothing. With
        `exist_ok`, parts that all exist already are returned instead (decided under the
        lock)."""
        raws = [validate_entry_name(n) for n, _ in parts]
        if len({n for n, _ in parts}) != len(parts):
            raise errors.AlreadyExists(f"duplicate part names in {[n for n, _ in parts]}")
        with self._lock():
            h = self.header()
            n = h["entry_count"]
            if exist_ok:
                existing = [self.get(name) for name, _ in parts]
                if all(e is not None for e in existing):
                    return existing
            for name, _ in parts:
                if self.get(name) is not None:
                    raise errors.AlreadyExists(f"{name!r} already exists")
            if n + len(parts) > self.max_entries:
                raise errors.TableFull(f"{len(parts)} entries do not fit in {self.max_entries}")
            offsets, end = [], h["next_offset"]
            for name, size in parts:
                off = align8(end)
                end = off + size
                if end > self.memory_size:
                    raise errors.OutOfSpace(f"{name!r}: {size} bytes do not fit")
                offsets.append(off)
            next_offset = np.frombuffer(self.buf, "<u8", 1, _NEXT_OFFSET)
            next_offset[0] = end
            for off, (_, size) in zip(offsets, parts):
                self.buf[off:off + size] = bytes(size)
            if init is not None:
                try:
                    init(offsets)
                except BaseException:
                    next_offset[0] = h["next_offset"]  # a failed add changes nothing
                    raise
            for i, (raw, off, (_, size)) in enumerate(zip(raws, offsets, parts)):
                base = HEADER_SIZE + ENTRY_SIZE * (n + i)
                self.buf[base:base + NAME_SIZE] = raw.ljust(NAME_SIZE, b"\0")
                np.frombuffer(self.buf, "<u8", 2, base + 32)[:] = (off, size)
            # Published last, all parts at once (a plain store; x86-64 keeps store order).
            np.frombuffer(self.buf, "<u4", 1, _ENTRY_COUNT)[0] = n + len(parts)
        return [Entry(n + i, name, off, size) for i, ((name, size), off) in enumerate(zip(parts, offsets))]
