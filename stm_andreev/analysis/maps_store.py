"""Map results on disk: ``/entry/results/map`` of a finished run file, or a sibling
``<name>.analysis.h5`` for anything else (imported grids, runs not finished).

A run file is written into only when it is ours (an stm_andreev run file), its status is
"finished" and no writer holds it (the run file's single-writer lock is taken for the
duration, so a resume cannot start meanwhile). Otherwise the results go to the sibling file,
and the source is never opened for writing. Re-analysing replaces earlier results.

Each result variable is a dataset named as in the xarray.Dataset, with its attributes
(``units``, ``long_name``, ``flag_values``/``flag_meanings`` of grades) and ``dims``;
coordinates likewise with ``coordinate`` = 1. ``histograms/`` holds, per quantity, the bin
edges and the counts of good and poor pixels.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from stm_andreev.storage.errors import RunFileBusyError
from stm_andreev.storage.h5open import open_h5
from stm_andreev.storage.layout import FORMAT_NAME, STATUS
from stm_andreev.storage.writer_lock import WriterLock

from .errors import AnalysisError, AnalysisInputError
from .maps_histogram import map_histograms

log = logging.getLogger(__name__)

RESULTS_GROUP = "entry/results/map"
SIBLING_SUFFIX = ".analysis.h5"
SIBLING_FORMAT = "stm_andreev.map_results"


class MapResultsError(AnalysisError):
    """Map results cannot be written or read where asked (the message says why)."""


def sibling_path(path: str | os.PathLike[str]) -> Path:
    """``<dir>/<stem>.analysis.h5`` next to ``path``."""
    p = Path(path)
    return p.with_name(p.stem + SIBLING_SUFFIX)


def _run_status(path: Path) -> str | None:
    """The status of an stm_andreev run file, or None when ``path`` is not one."""
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as f:
            if f.attrs.get("stm_andreev_format") != FORMAT_NAME or STATUS not in f:
                return None
            value = f[STATUS][()]
    except OSError:
        return None
    return (value.decode() if isinstance(value, bytes) else str(value)).strip("\0 ")


def results_location(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """(file to write, why): the run file itself when it is a finished run of ours, else
    the sibling file."""
    p = Path(path)
    status = _run_status(p)
    if status is None:
        return sibling_path(p), f"{p.name} is not an stm_andreev run file"
    if status != "finished":
        return sibling_path(p), (f"{p.name} is not finished (status {status!r}): it is not "
                                 "written into")
    return p, "finished run file"


def write_map_results(results, path: str | os.PathLike[str]) -> Path:
    """Store ``results`` (from analyze_map) for the grid read from ``path``; returns the file
    written (the run file or its sibling, see the module docstring)."""
    target, why = results_location(path)
    if target == Path(path):
        try:
            lock = WriterLock(target)
        except RunFileBusyError as exc:
            raise MapResultsError(f"{target}: a writer holds the run file ({exc}); results "
                                  "not written") from None
        try:
            if _run_status(target) != "finished":  # resumed between the check and the lock
                raise MapResultsError(f"{target}: no longer finished; results not written")
            with open_h5(target, "r+") as f:
                _write(f, results)
        finally:
            lock.release()
    else:
        log.info("map results of %s go to %s (%s)", path, target, why)
        _write_sibling(target, results, Path(path))
    return target


def _write_sibling(target: Path, results, source: Path) -> None:
    import h5py

    if target.exists():
        try:
            with h5py.File(target, "r", locking=False) as f:
                ours = f.attrs.get("stm_andreev_format") == SIBLING_FORMAT
        except OSError:
            ours = False
        if not ours:
            raise MapResultsError(f"{target} exists and is not an stm_andreev map-results "
                                  "file: not overwritten; move it away")
    with h5py.File(target, "w") as f:
        f.attrs["stm_andreev_format"] = SIBLING_FORMAT
        f.attrs["source_file"] = str(source)
        _write(f, results)


def _write(f, results) -> None:
    import h5py

    if RESULTS_GROUP in f:
        del f[RESULTS_GROUP]
    group = f.require_group(RESULTS_GROUP)
    group.attrs["NX_class"] = "NXcollection"
    for key, value in results.attrs.items():
        group.attrs[key] = json.dumps(value) if isinstance(value, list | dict) else value
    for name, var in [*results.coords.items(), *results.data_vars.items()]:
        values = np.asarray(var.values)
        if values.dtype.kind in "UO":
            ds = group.create_dataset(name, data=values.astype(object),
                                      dtype=h5py.string_dtype())
        else:
            ds = group.create_dataset(name, data=values)
        for key, value in var.attrs.items():
            ds.attrs[key] = value
        ds.attrs["dims"] = json.dumps(list(var.dims))
        if name in results.coords:
            ds.attrs["coordinate"] = 1
    hist = group.create_group("histograms")
    for q, h in map_histograms(results).items():
        sub = hist.create_group(q)
        for key, value in h.items():
            sub.create_dataset(key, data=value) if isinstance(value, np.ndarray) \
                else sub.attrs.__setitem__(key, value)


def read_map_results(path: str | os.PathLike[str]):
    """The xarray.Dataset stored by :func:`write_map_results` for ``path`` (a run file, its
    sibling, or an imported grid's sibling). Raises AnalysisInputError when there is none."""
    import h5py
    import xarray as xr

    p = Path(path)
    for candidate in (p, sibling_path(p)):
        if not candidate.is_file():
            continue
        try:
            f = h5py.File(candidate, "r", locking=False)
        except OSError:
            continue
        with f:
            if RESULTS_GROUP not in f:
                continue
            group = f[RESULTS_GROUP]
            coords: dict[str, Any] = {}
            data: dict[str, Any] = {}
            for name, ds in group.items():
                if not isinstance(ds, h5py.Dataset):
                    continue
                values = ds[()]
                if ds.dtype.kind == "O":
                    values = np.array([v.decode() if isinstance(v, bytes) else str(v)
                                       for v in np.asarray(values).ravel()],
                                      dtype=str).reshape(ds.shape)
                attrs = {k: v for k, v in ds.attrs.items() if k not in ("dims", "coordinate")}
                entry = (tuple(json.loads(ds.attrs["dims"])), values, attrs)
                (coords if ds.attrs.get("coordinate") else data)[name] = entry
            attrs = {k: _attr(v) for k, v in group.attrs.items() if k != "NX_class"}
        return xr.Dataset(data, coords=coords, attrs=attrs)
    raise AnalysisInputError(f"{p}: no map results (looked for {RESULTS_GROUP} in it and in "
                             f"{sibling_path(p).name}); run `stm-andreev analyze {p.name}` "
                             "on the grid first")


def _attr(value: Any) -> Any:
    """An attribute as written: JSON text back to its list, numpy scalars to Python."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value.item() if isinstance(value, np.generic) else value
