"""Give a process's freed memory back to the OS between the requests of a worker process.

A worker that just handled a large request (a million grants validated, a tenant's member pages
batched) keeps the freed memory in its allocators: Python's cyclic garbage, Arrow's pool (mimalloc)
and glibc's heap. Idle until its next request or its end, it would hold that beside the sync's
own peak; both worker processes call `release_unused_memory` after each request.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa


def release_unused_memory(*, collect: bool = True) -> None:
    """`collect=False` skips the cyclic collection (the sync freezes its objects for speed)."""
    if collect:
        gc.collect()
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)  # glibc keeps freed heap pages otherwise


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _load_libc()
