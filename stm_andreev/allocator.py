"""glibc's allocator told to keep freed memory for reuse in a process that fits many spectra.

A fit allocates and frees arrays of 50 kB - 2 MB dozens of times per spectrum (energy grids,
their FFTs, Jacobians). With glibc's defaults each array above the mmap threshold (128 kB at
start) is a fresh mapping of zeroed pages, and the heap is trimmed back to the system as soon
as 128 kB at its top are free: the pages are faulted in again by the next array. Measured on
the bench's two-gap pixels (401 biases): 14,600 minor page faults and 27 ms of system time
per spectrum (of ~160 ms). dask.distributed's nanny starts every worker with
``MALLOC_TRIM_THRESHOLD_=65536``, which also disables glibc's adaptive mmap threshold:
47,000 faults and 75 ms of system time per spectrum, so the cluster path cost 30 % more CPU
per spectrum than the same code in a plain process. With the thresholds below: 440 faults and
1 ms. The price is at most ``TRIM_THRESHOLD`` of freed memory kept in each process's heap.

The settings are process-wide and stay set (glibc has no way to read them back); they change
no number, only where memory comes from.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 8 << 20  # arrays below 8 MB come from the heap, not fresh mappings
TRIM_THRESHOLD = 64 << 20  # the heap is given back to the system above 64 MB free

_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Set the thresholds in this process (once; later calls cost nothing). True when set;
    False where the C library has no ``mallopt`` that accepts them (not glibc)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _tuned = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and \
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if not _tuned:
        log.debug("mallopt refused the thresholds: allocator left as it was")
    return _tuned
