"""Keep freed memory for reuse instead of handing it back to the system (glibc malloc).

glibc serves a large request (above ``M_MMAP_THRESHOLD``, which adapts from 128 KiB) with a
fresh ``mmap`` and returns it with ``munmap`` when freed, and it trims the heap's top when more
than ``M_TRIM_THRESHOLD`` is free. A training loop that allocates the same few-MB tensors every
batch (HTD's E × E topology blocks, SASRec's attention maps) then pays the kernel for zeroed
pages on every allocation: measured on the 2-core machine, ``bench/kd_overhead.py`` spent 8.6 s
of its 34 s in the kernel, 2.1 s of 26 s with the settings below. Raising both thresholds keeps
those blocks in the heap, where the next batch reuses them. (The same advice as PyTorch's CPU
performance guide gives for jemalloc/tcmalloc, without another dependency.)

Process-wide and idempotent; a no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper limit for this parameter on 64-bit
TRIM_THRESHOLD = 1024 * 1024 * 1024

_done: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (module docstring); True where they were set."""
    global _done
    if _done is None:
        _done = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _done = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                             and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):  # not glibc (musl has no mallopt)
                _done = False
    return _done
