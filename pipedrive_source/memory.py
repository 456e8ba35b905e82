"""Giving the memory a finished step used back to the operating system before the next step starts.

A full load reads and converts pages in Python and Arrow, then hands the files to DuckDB, which allocates up
to its own limit. Freed Python objects and Arrow buffers stay in the process's heap (glibc's arenas, Arrow's
mimalloc pool) unless handed back, so without this the load step's peak is the extraction's high-water mark
plus DuckDB's: measured at 200,000 deals, 645 MB peak RSS, against 576 MB when released in between.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

import pyarrow as pa


def _malloc_trim() -> None:
    # glibc only (Linux); elsewhere (macOS, musl) the allocator returns memory on its own terms
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def release_memory() -> None:
    """Collect garbage and return the free heap and Arrow pool pages to the operating system."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    _malloc_trim()
