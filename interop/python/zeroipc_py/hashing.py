"""The C++ hash of Map and Set keys (ZEROIPC-FORMAT §4.5).

Integral keys are sign-extended (signed types) or zero-extended (unsigned types, bool) to 64
bits and multiplied by 2654435761, wrapping. Every other key is hashed over its bytes with
MurmurHash64A, seed 0xc70f6907 (libstdc++'s ``std::hash<std::string_view>``).
"""

import numpy as np

MASK64 = (1 << 64) - 1
SEED = 0xC70F6907
_M = 0xC6A4A7935BD1E995
_R = 47


def murmur64a(data, seed=SEED):
    """MurmurHash64A of `data` (bytes) as the C++ standard library computes it."""
    n = len(data)
    h = (seed ^ (n * _M)) & MASK64
    full = n - n % 8
    for i in range(0, full, 8):
        k = int.from_bytes(data[i:i + 8], "little")
        k = (k * _M) & MASK64
        k ^= k >> _R
        k = (k * _M) & MASK64
        h ^= k
        h = (h * _M) & MASK64
    if n % 8:
        h ^= int.from_bytes(data[full:], "little")
        h = (h * _M) & MASK64
    h ^= h >> _R
    h = (h * _M) & MASK64
    h ^= h >> _R
    return h


def key_hash(dtype, key):
    """The hash of `key` stored as numpy `dtype`."""
    dt = np.dtype(dtype)
    if dt.kind in "iub":
        # int(...) of a signed value is negative; masking is the sign extension to 64 bits.
        return (int(key) & MASK64) * 2654435761 & MASK64
    return murmur64a(np.array(key, dtype=dt).tobytes())
