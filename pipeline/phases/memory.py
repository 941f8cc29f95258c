"""Memory: give what a phase freed back to the system, so that a long run's peak stays flat."""

from __future__ import annotations

import pyarrow as pa

_libc: object = None


def release_memory() -> None:
    """Give freed memory back to the system between chunks: Arrow's pool keeps what it freed,
    and glibc's heap keeps freed blocks below its top, so a long run's peak would creep up with
    every chunk's temporary tables and frames. A few milliseconds a call."""
    global _libc
    pa.default_memory_pool().release_unused()
    if _libc is None:
        import ctypes
        import ctypes.util

        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to trim
            _libc = False
    if _libc:
        _libc(0)
