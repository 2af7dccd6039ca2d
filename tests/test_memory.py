"""Returning freed heap memory to the system."""

import sys

import pytest

from sphereapp.core.memory import _malloc_trim, release_free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim is a Linux feature")
def test_glibc_trim_is_found_and_runs():
    assert _malloc_trim() is not None
    release_free_memory()
