"""Host memory: keep freed blocks in the process for reuse instead of handing them back to the kernel.

glibc's ``malloc`` serves every request above its mmap threshold (which never grows past 32 MiB) with a
fresh ``mmap`` and unmaps it again on ``free``. A training step allocates and frees the same large
activations every time (one ``(32, 64, 251, 64)`` float32 map of the official baseline is 132 MB), so
each step gets them back as new pages that the kernel zeroes and faults in one by one. On the 2-core
machines of this project that kernel work took a third of the baseline's training time
(``python benchmarks/bench_train.py --allocator-compare``).

:func:`keep_freed_memory` turns chunk mmaps off and raises the trim threshold to 2 GiB, so freed blocks
stay in the heap and later steps reuse them. The price is memory: a process keeps its peak heap until
it exits, and the heap holds a few freed copies of the largest blocks before their holes merge (peak
memory measured in ``docs/training.md``). Only
where and how memory is obtained changes, never what is computed: results are the same to the last bit
(``tests/test_hostmem.py``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# mallopt(3) parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: the largest value it can carry, 2 GiB

_applied = False


def keep_freed_memory() -> bool:
    """Keep freed memory in this process (see the module docstring); idempotent.

    Returns True where it took effect (glibc on Linux), False elsewhere (macOS, musl, Windows), where
    the C library's own policy stays in place.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl has mallopt as a no-op stub)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _applied
