"""Errors of zeroipc_py, one class per kind of the spec's error table (ZEROIPC-FORMAT §2).

Every error has `kind`, the spec's name for it (``NotFound``, ``LayoutMismatch``, ...), so the
Python and Rust peers report the same kinds.
"""


class ZeroIPCError(Exception):
    """Base class; `kind` is the spec's error kind."""

    kind = "Error"


def _kind(name):
    return type(name, (ZeroIPCError,), {"kind": name, "__doc__": f"The spec's `{name}` error."})


NotFound = _kind("NotFound")
AlreadyExists = _kind("AlreadyExists")
InvalidName = _kind("InvalidName")
InvalidArgument = _kind("InvalidArgument")
NotInitialised = _kind("NotInitialised")
Truncated = _kind("Truncated")
BadMagic = _kind("BadMagic")
UnsupportedVersion = _kind("UnsupportedVersion")
Corrupt = _kind("Corrupt")
TypeMismatch = _kind("TypeMismatch")
LayoutMismatch = _kind("LayoutMismatch")
TableFull = _kind("TableFull")
OutOfSpace = _kind("OutOfSpace")
Timeout = _kind("Timeout")
Full = _kind("Full")
DoubleFree = _kind("DoubleFree")
OutOfRange = _kind("OutOfRange")
SlotBusy = _kind("SlotBusy")
Incomplete = _kind("Incomplete")
Overflow = _kind("Overflow")
NotHeld = _kind("NotHeld")
Closed = _kind("Closed")
AlreadySet = _kind("AlreadySet")
Failed = _kind("Failed")
Unsupported = _kind("Unsupported")
