"""The allocator setting a block applies: freed memory is reused instead of being faulted in
again from the system (the cluster path's extra CPU per spectrum), and no number changes."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = r"""
import os, resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from stm_andreev.allocator import keep_freed_memory
    assert keep_freed_memory()
def work():
    out = 0.0
    for _ in range(200):
        a = np.ones(300_000)  # 2.4 MB: above glibc's default mmap threshold
        out += float(a.sum())
    return out
work()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
work()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_arrays_are_reused_not_faulted_in_again():
    faults = {}
    for mode in ("default", "tuned"):
        # MALLOC_TRIM_THRESHOLD_ as dask.distributed's nanny sets it for its workers.
        env = {"MALLOC_TRIM_THRESHOLD_": "65536", "OMP_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True,
                             text=True, check=True, env={**_base_env(), **env})
        faults[mode] = int(out.stdout.split()[-1])
    # 200 arrays of 586 pages each: ~117,000 faults when every one is a fresh mapping.
    assert faults["default"] > 50_000, faults
    assert faults["tuned"] < 5_000, faults


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
