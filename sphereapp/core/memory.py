"""Giving freed heap memory back to the operating system during long runs.

Frames, detector batches and face crops change size from call to call; glibc's allocator keeps the freed blocks
in its heaps, so without a trim the resident size of a long run grows steadily although nothing is leaked
(scripts/rss_check.py; docs/MEASURED.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None on other C libraries (macOS, Windows, musl without it)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Return the heap's free memory to the operating system where the C library can (glibc `malloc_trim(0)`)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
