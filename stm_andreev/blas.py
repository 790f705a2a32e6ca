"""BLAS on one thread for the small linear algebra of fits and estimates.

A fit's Jacobian (a few thousand rows, a handful of columns) or a ramp estimate's few-hundred
unknowns are far too small for threaded BLAS: the threads only contend, worst on a loaded
machine (an SVD of a 4001 x 7 Jacobian took 45 ms threaded against 0.25 ms on one thread), and
the cost of a fit stops growing linearly with its points. The controller is built once, on
first use, when numpy's and scipy's BLAS are loaded; limiting through it then costs ~15 us
(``threadpool_limits`` would rescan the loaded libraries every time, ~0.8 ms).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_controller = None


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with every loaded BLAS/OpenMP pool limited to one thread."""
    global _controller
    if _controller is None:
        import numpy.linalg  # noqa: F401 - load the BLAS the controller must see
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    with _controller.limit(limits=1):
        yield
