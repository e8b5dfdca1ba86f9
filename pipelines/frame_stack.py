"""Python's frame stack in one large chunk, so that calls at a chunk's edge map no memory.

CPython 3.11 keeps a thread's frames on a stack of 16 KiB chunks: a call that does not fit in the
current chunk maps a new one, and the return that empties it unmaps it at once. Code that calls
back and forth across such an edge pays an mmap, a page fault or more and an munmap per call. The
import system does exactly that, at every depth: each `import` and each function-level
`from package import name` (GX has many) runs its Python frames (`_find_and_load`,
`_handle_fromlist`). In the expectations worker, importing GX and registering the suites took
72,000 page faults and 1.18-1.27 CPU-s that way, 40,000 and 1.03-1.06 CPU-s on one chunk
(docs/benchmarks.md, fifteenth round).

`on_one_chunk` calls a function from a frame that reserves 512 KiB of stack slots it never uses.
CPython sizes a new chunk in powers of two to fit the frame that needs it, so that frame gets a
1 MiB chunk of its own and every frame below it fits in the rest: the stack never crosses an edge.
The reserved slots are never written, so they cost address space, not memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_RESERVED_SLOTS = 1 << 16  # 8-byte slots: 512 KiB, so the frame's chunk is 1 MiB with ~490 KiB free


def _call(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    return function(*args, **kwargs)


# a frame's size is its locals plus its code's value-stack depth: a larger declared depth is valid
# (the interpreter never uses more than the code needs) and makes the frame that large
_call.__code__ = _call.__code__.replace(co_stacksize=_call.__code__.co_stacksize + _RESERVED_SLOTS)


def on_one_chunk(function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`function(*args, **kwargs)`, with every frame it runs on the one chunk of this thread's stack."""
    return _call(function, *args, **kwargs)
