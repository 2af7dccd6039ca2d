"""The C heap's treatment of large blocks: reused while the pipeline runs, handed back every so often."""

import subprocess
import sys

import pytest

from sphereapp.core.memory import _libc, release_free_memory

# Where a 256 MiB block lives while in use and after it is freed (glibc's mallinfo2, in bytes), in a process of
# its own: mapped on its own, or in the heap and kept there.
LARGE_BLOCK_PLACES = """
import ctypes, sys
import numpy as np
from sphereapp.core.memory import reuse_large_blocks
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
if sys.argv[1] == "reuse":
    assert reuse_large_blocks()
block = np.ones(1 << 25)
mapped = mallinfo2().hblkhd
del block
print(mapped, mallinfo2().fordblks)
"""

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is a Linux feature")


def large_block_places(mode: str) -> tuple[int, int]:
    """(bytes mapped outside the heap while the block lives, free bytes the heap keeps after it is freed)."""
    done = subprocess.run([sys.executable, "-c", LARGE_BLOCK_PLACES, mode], capture_output=True, text=True, check=True)
    mapped, kept = map(int, done.stdout.split())
    return mapped, kept


@linux_only
def test_large_blocks_come_from_the_heap_and_stay_there_for_reuse():
    block = 1 << 28
    mapped, kept = large_block_places("default")
    assert mapped >= block and kept < block  # glibc's default: mapped for itself, unmapped when freed
    mapped, kept = large_block_places("reuse")
    assert mapped < block <= kept


@linux_only
def test_glibc_trim_is_found_and_runs():
    assert _libc() is not None
    release_free_memory()
