"""Where a map's Dask graph runs: the local process pool, or a dask.distributed cluster.

One graph, one ``dask.compute`` call; only the scheduler differs:

- ``None`` or ``"processes"``: Dask's local process pool with one process per CPU (or
  ``workers``). Per-pixel fits are CPU-bound Python, so threads would wait on the GIL. On
  Linux, from a process without other Python threads, the pool is forked (a worker starts in
  milliseconds with the modules already imported, instead of ~2 s of importing scipy again);
  elsewhere it is spawned. Tasks (blocks) are handed out one at a time.
- ``"threads"``, ``"sync"``: Dask's threaded or single-threaded scheduler (debugging, or
  inputs that cannot be sent to another process).
- an address such as ``"tcp://10.0.0.5:8786"``, a ``distributed.Client`` or a cluster object
  (e.g. ``distributed.LocalCluster``): the graph goes to that cluster.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from .errors import AnalysisError

log = logging.getLogger(__name__)

ADDRESS_PREFIXES = ("tcp://", "tls://", "inproc://", "ucx://", "ws://", "wss://")
LOCAL = ("processes", "threads", "sync", "synchronous")


class SchedulerError(AnalysisError):
    """The scheduler asked for cannot be used (unknown name, unreachable cluster)."""


def local_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def fork_is_safe() -> bool:
    """Forking copies only the calling thread: safe on Linux from a single-threaded process
    (a lock held by another thread would stay locked in the child; macOS system libraries are
    not fork-safe)."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def describe(scheduler: Any, workers: int | None) -> str:
    """Words for a log line or a report: where the computation ran."""
    if scheduler is None or scheduler == "processes":
        return f"local process pool ({workers or local_cpus()} workers)"
    if isinstance(scheduler, str):
        return scheduler if scheduler in LOCAL else f"dask.distributed cluster at {scheduler}"
    return f"dask.distributed ({type(scheduler).__name__})"


@contextlib.contextmanager
def compute_options(scheduler: Any = None, workers: int | None = None
                    ) -> Iterator[dict[str, Any]]:
    """Keyword arguments for ``dask.compute`` running on ``scheduler`` (see the module
    docstring), with whatever the scheduler needs set up for the duration."""
    import dask

    if scheduler is None or scheduler == "processes":
        n = workers or local_cpus()
        if n <= 1:
            # One worker: the pool would only add pickling; this process is that worker.
            yield {"scheduler": "sync"}
            return
        context = "fork" if fork_is_safe() else "spawn"
        # chunksize 1: Dask's local scheduler otherwise hands tasks out in batches of 6, so
        # on a map of 9 blocks one worker got 6 and the other 3 and then sat idle for half
        # the run (measured: busy 61 s against 31 s). A block is seconds of fits; sending
        # them one at a time costs nothing in comparison.
        with dask.config.set({"multiprocessing.context": context}):
            yield {"scheduler": "processes", "num_workers": n, "chunksize": 1}
        return
    if scheduler in ("threads", "sync", "synchronous"):
        yield {"scheduler": "sync" if scheduler == "synchronous" else scheduler,
               **({"num_workers": workers} if workers and scheduler == "threads" else {})}
        return
    if isinstance(scheduler, str) and not scheduler.startswith(ADDRESS_PREFIXES):
        raise SchedulerError(
            f"unknown scheduler {scheduler!r}: expected one of {', '.join(LOCAL)} or a "
            "dask.distributed address such as tcp://HOST:8786")
    if hasattr(scheduler, "get") and hasattr(scheduler, "submit"):  # a Client
        yield {"scheduler": scheduler}
        return
    # an address or a cluster object: a client of our own, closed when done
    if isinstance(scheduler, str) or hasattr(scheduler, "scheduler_address"):
        client = _connect(scheduler)
        try:
            yield {"scheduler": client}
        finally:
            client.close()
        return
    raise SchedulerError(f"cannot run on {scheduler!r}: give None, one of {', '.join(LOCAL)}, "
                         "an address, a distributed.Client or a cluster")


def _connect(target: Any):
    from distributed import Client

    try:
        # set_as_default=False: the caller's own dask configuration is left as it was.
        return Client(target, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerError(f"cannot reach the dask.distributed scheduler at {target}: "
                             f"{exc}") from None
