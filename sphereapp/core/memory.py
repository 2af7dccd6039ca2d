"""How the process's C heap treats the large, short-lived blocks of tensors.

Frames, detector batches and face crops change size from call to call. glibc maps every block above its mmap
threshold (at most 32 MiB) afresh and unmaps it when freed, so each large tensor (MTCNN's first pyramid levels run
to tens of MiB) costs page faults and zeroed pages every time it is made: more than the arithmetic on it. Served
from the heap instead and kept there once freed, the next call reuses them (`reuse_large_blocks`). What the heap
keeps is handed back every so often (`release_free_memory`), so the resident size of a long run stays flat
although it grows between trims (scripts/rss_check.py; docs/MEASURED.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
LARGE_BLOCK_BYTES = 1 << 30  # blocks below this come from the heap: a 4K frame's largest tensors fit


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, or None on other C libraries (macOS, Windows, musl) that lack `malloc_trim` or `mallopt`."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def reuse_large_blocks() -> bool:
    """Serve blocks up to LARGE_BLOCK_BYTES from the heap and keep them there when freed, for the whole process
    (glibc `mallopt`); True when the C library took the setting. Call once, before the pipeline runs."""
    libc = _libc()
    return libc is not None and all(libc.mallopt(parameter, LARGE_BLOCK_BYTES) == 1
                                    for parameter in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD))


def release_free_memory() -> None:
    """Return the heap's free memory to the operating system where the C library can (glibc `malloc_trim(0)`)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
