"""Spectra analysed in worker processes: each spectrum's fits are independent and CPU-bound
(threads would wait on the GIL), and every number comes back as one process computes it.

Workers are forked: they inherit the loaded modules and the inputs, so one starts in
milliseconds instead of the ~2 s of importing scipy and matplotlib again, and only an index is
sent to it. Unasked, workers are used only where forking is safe: on Linux (macOS system
libraries are not fork-safe) and from a process without other Python threads (a lock one of
them holds would stay locked in the child); otherwise, with one CPU or with few items, the
items are processed here.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
MIN_ITEMS_PER_WORKER = 2  # a spectrum takes 0.05-0.5 s; a fork and its results ~10 ms

# What forked workers call, inherited at the fork rather than pickled (a caller's function
# may be a closure, and the inputs need not travel twice).
_job: tuple[Callable, Sequence] | None = None


def _call(index: int):
    assert _job is not None
    fn, items = _job
    return fn(items[index])


def default_workers(n_items: int) -> int:
    """Processes to use for ``n_items`` when the caller does not say: 1 unless forking is safe
    and there are several CPUs and at least MIN_ITEMS_PER_WORKER items per process."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), n_items // MIN_ITEMS_PER_WORKER))


def map_items(
    fn: Callable[[object], T], items: Sequence, *, workers: int | None = None,
    catch: tuple[type[BaseException], ...] = (),
) -> list[T | BaseException]:
    """[fn(item) for item in items], in order, with an exception of a type in ``catch`` put in
    place of its item's result (others propagate). ``workers``: processes (None: see
    :func:`default_workers`; 1: this process)."""
    global _job
    n = default_workers(len(items)) if workers is None else min(workers, len(items))
    if n <= 1 or not sys.platform.startswith("linux"):
        return [_outcome(lambda item=item: fn(item), catch) for item in items]
    _job = (fn, items)
    try:
        # Workers are forked when the first task is submitted, before the executor starts its
        # own threads; each takes the next spectrum when done (their costs differ 10x).
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_call, k) for k in range(len(items))]
            return [_outcome(future.result, catch) for future in futures]
    finally:
        _job = None


def _outcome(call: Callable[[], T], catch: tuple[type[BaseException], ...]) -> T | BaseException:
    try:
        return call()
    except catch as exc:
        return exc
