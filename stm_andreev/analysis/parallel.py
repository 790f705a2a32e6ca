"""Spectra analysed side by side on Dask's local scheduler: each spectrum's fits are
independent and CPU-bound (threads would wait on the GIL), and every number comes back as one
process computes it.

The same scheduler as the maps' (:mod:`.maps_schedule`): Dask's local process pool, one
process per CPU, forked on Linux from a single-threaded process (a worker starts in
milliseconds with the modules loaded, instead of ~2 s of importing scipy again), spawned
elsewhere. Each spectrum is one task, handed to the next free worker (their costs differ
10x). Unasked, workers are used only where forking is safe and there are enough spectra to
pay for them; otherwise the items are processed here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from .maps_schedule import compute_options, fork_is_safe, local_cpus

T = TypeVar("T")
MIN_ITEMS_PER_WORKER = 2  # a spectrum takes 0.05-0.5 s; a fork and its results ~10 ms


def default_workers(n_items: int) -> int:
    """Processes to use for ``n_items`` when the caller does not say: 1 unless forking is safe
    and there are several CPUs and at least MIN_ITEMS_PER_WORKER items per process."""
    if not fork_is_safe():
        return 1
    return max(1, min(local_cpus(), n_items // MIN_ITEMS_PER_WORKER))


def map_items(
    fn: Callable[[object], T], items: Sequence, *, workers: int | None = None,
    catch: tuple[type[BaseException], ...] = (),
) -> list[T | BaseException]:
    """[fn(item) for item in items], in order, with an exception of a type in ``catch`` put in
    place of its item's result (others propagate). ``workers``: processes (None: see
    :func:`default_workers`; 1: this process). ``fn`` and the items travel to the workers
    pickled (cloudpickle: closures too)."""
    n = default_workers(len(items)) if workers is None else min(workers, len(items))
    if n <= 1:
        return [_outcome(fn, item, catch) for item in items]
    import dask

    tasks = [dask.delayed(_outcome, pure=False)(fn, _Opaque(item), catch) for item in items]
    with compute_options("processes", n) as options:
        return list(dask.compute(*tasks, **options))


class _Opaque:
    """An item as Dask must pass it: untouched. Dask looks into the arguments of a task for
    other tasks and rebuilds the dataclasses, lists and dicts it finds (a SpectrumInput would
    be constructed again); it does not look into this."""

    __slots__ = ("item",)

    def __init__(self, item: object) -> None:
        self.item = item


def _outcome(fn: Callable[[object], T], item: object,
             catch: tuple[type[BaseException], ...]) -> T | BaseException:
    if isinstance(item, _Opaque):
        item = item.item
    try:
        return fn(item)
    except catch as exc:
        return exc
