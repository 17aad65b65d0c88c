"""Keep freed memory for reuse instead of returning it to the system after every forward pass.

Why: PyTorch has no caching allocator on the CPU, so each large temporary (a (batch, L, channels)
activation of a long window) comes from glibc's malloc, which serves blocks above a threshold with a
fresh ``mmap`` and unmaps them when freed; the next forward pass then page-faults the same memory
back in, zero-filled. On a 16k-token Caduceus forward that churn was about a fifth of the time.
Raising the mmap threshold to its maximum (32 MiB) and the trim threshold lets freed blocks stay
in the heap and be reused. Peak memory is unchanged (the blocks were needed anyway); a long run
keeps its high-water mark instead of giving it back between batches. Other C libraries (no
``mallopt``) are left alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import Callable, Iterator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's ceiling on 64-bit systems
_TRIM_THRESHOLD = 1 << 30


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, looked up once (the lookup runs a subprocess); None without it."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to tune
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 32 MiB for reuse; False where that is not possible."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )


_M_MMAP_MAX = -4  # how many blocks malloc may serve with mmap at once (glibc default 65,536)
_MMAP_MAX_DEFAULT = 65536


@contextlib.contextmanager
def heap_only() -> Iterator[None]:
    """Inside: every block comes from the heap, none from mmap, so freed blocks above 32 MiB are
    reused too. Why: a 131k-token Caduceus forward allocates ~60 activations of 128 MiB, each
    page-faulted and zero-filled afresh (13 s; 8.4 s with them reused, peak 1.7 -> 2.1 GB). Scoped
    to that forward, since a heap that never unmaps could hold on to other commands' peaks."""
    mallopt = _mallopt()
    if mallopt is None:
        yield
        return
    mallopt(_M_MMAP_MAX, 0)
    try:
        yield
    finally:
        mallopt(_M_MMAP_MAX, _MMAP_MAX_DEFAULT)
