"""The ``/entry/grid`` group of a run file as a cube (:mod:`.cube`), finished or being written.

The group (laid out before SWMR starts, filled pixel by pixel; docs/storage-layout.md) holds
``G_G0``, ``G_S`` [ny, nx, n_bias], ``bias_V``, ``x_m``, ``y_m``, ``pos_x_m``, ``pos_y_m``,
``z_m``, ``T_K``, ``time_s`` and ``done`` [ny, nx]. ``done`` is read first, through the
process's shared SWMR handle of the file (:mod:`.shared_file`), and every pixel it does not
mark is NaN: a pixel's spectrum is written before it is marked, so what the cube shows is
complete. Large grids stay lazy: dask arrays whose chunks are read from the file when
computed (the chunk reader pickles as a path, so a ``dask.distributed`` worker reads it too).
"""

from __future__ import annotations

import json
import math
import os
import threading
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import shared_file
from .cube import build_cube
from .errors import NotARunFileError, RunFileNotFoundError
from .layout import CONFIG, FORMAT_NAME, POINTS

GRID = "entry/grid"
# Grids larger than this (G_S alone, float64) come back lazy unless asked otherwise.
LAZY_BYTES = 32 * 1024 * 1024
# Target size of one dask chunk: whole rows of pixels.
CHUNK_BYTES = 16 * 1024 * 1024


class GridArray:
    """One dataset of a run file as an array dask can slice: each read refreshes the
    dataset (SWMR) through the shared handle and reads the slice. Pickles as (path, name)."""

    def __init__(self, path: str | os.PathLike[str], name: str, shape: tuple[int, ...],
                 dtype: np.dtype) -> None:
        self.path = Path(path)
        self.name = name
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.ndim = len(shape)
        self._shared: shared_file.SharedFile | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "name": self.name, "shape": self.shape, "dtype": self.dtype}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["name"], state["shape"], state["dtype"])

    def _handle(self) -> shared_file.SharedFile:
        with self._lock:
            if self._shared is None or not self._shared.file.id.valid:
                self._shared = shared_file.acquire(self.path)
                # held while this object lives (the dask graph holds it)
                weakref.finalize(self, self._shared.release)
            return self._shared

    def __getitem__(self, key: Any) -> np.ndarray:
        shared = self._handle()
        with shared.lock:
            shared.refresh([self.name])
            return np.asarray(shared.dataset(self.name)[key])


def _path_of(source: Any) -> Path:
    # A RunReader (anything with a .path) or a path; no import of the reader (it imports us).
    return Path(getattr(source, "path", source))


def _attr_float(attrs: Any, key: str) -> float:
    try:
        value = float(attrs[key])
    except (KeyError, TypeError, ValueError):
        return math.nan
    return value


def _median_column(shared: shared_file.SharedFile, name: str) -> float:
    try:
        ds = shared.dataset(f"{POINTS}/{name}")
    except KeyError:
        return math.nan
    values = np.asarray(ds[()], dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def has_grid(source: Any) -> bool:
    """True if the run file (path or RunReader) has an ``/entry/grid`` group."""
    shared = shared_file.acquire(_path_of(source))
    try:
        with shared.lock:
            return GRID in shared.file
    finally:
        shared.release()


def read_grid(source: Any, *, lazy: bool | None = None) -> xr.Dataset:
    """The grid of a run file (a path or a RunReader) as a cube: dims (y, x, bias), the
    contract's coordinates and variables with units; pixels not yet ``done`` are NaN.

    ``lazy``: dask arrays for the spectra (None: when G_S exceeds 32 MiB). Attributes:
    ``source``, ``sample`` (run metadata), ``setpoint_A``, ``modulation_V`` (the grid
    group's attributes if it has them, else the median of the per-spectrum table),
    ``temperature_K`` (median of the pixels' temperatures), and the group's nx, ny, centre,
    size and rotation."""
    path = _path_of(source)
    if not path.is_file():
        raise RunFileNotFoundError(f"run file {path} does not exist")
    try:
        shared = shared_file.acquire(path)
    except OSError as exc:
        raise NotARunFileError(f"{path} cannot be opened as an HDF5 run file: {exc}") from exc
    try:
        with shared.lock:
            if shared.file.attrs.get("stm_andreev_format") != FORMAT_NAME:
                raise NotARunFileError(f"{path} is HDF5 but not an stm_andreev run file")
            if GRID not in shared.file:
                raise NotARunFileError(f"{path} has no {GRID} group: not a grid run")
            group = shared.file[GRID]
            names = ("G_S", "G_G0", "bias_V", "x_m", "y_m", "pos_x_m", "pos_y_m", "z_m",
                     "T_K", "time_s", "done")
            missing = [n for n in names if n not in group]
            if missing:
                raise NotARunFileError(f"{path}: {GRID} lacks {', '.join(missing)}")
            # done first: every pixel it marks has its spectrum in the file already.
            shared.refresh([f"{GRID}/done"])
            done = np.asarray(shared.dataset(f"{GRID}/done")[()]).astype(bool)
            small = {}
            for name in ("bias_V", "x_m", "y_m", "pos_x_m", "pos_y_m", "z_m", "T_K", "time_s"):
                shared.refresh([f"{GRID}/{name}"])
                small[name] = np.asarray(shared.dataset(f"{GRID}/{name}")[()], dtype=float)
            shape = group["G_S"].shape
            group_attrs = dict(group.attrs)
            try:
                metadata = json.loads(shared.dataset(f"{CONFIG}/metadata_json")[()])
            except (KeyError, ValueError, TypeError):
                metadata = {}
            setpoint = _attr_float(group_attrs, "setpoint_A")
            if math.isnan(setpoint):
                setpoint = _median_column(shared, "setpoint_A")
            modulation = _attr_float(group_attrs, "modulation_V")
            if math.isnan(modulation):
                modulation = _median_column(shared, "modulation_Vrms")
    except BaseException:
        shared.release()
        raise
    ny, nx, n_bias = shape
    if done.shape != (ny, nx):
        shared.release()
        raise NotARunFileError(f"{path}: {GRID}/done is {done.shape}, G_S is {shape}")
    if lazy is None:
        lazy = ny * nx * n_bias * 8 > LAZY_BYTES
    spectra = {}
    for name in ("G_S", "G_G0"):
        if lazy:
            import dask.array as da

            rows = max(1, min(ny, CHUNK_BYTES // max(1, nx * n_bias * 8)))
            arr = da.from_array(GridArray(path, f"{GRID}/{name}", shape, np.float64),
                                chunks=(rows, nx, n_bias), asarray=False,
                                name=f"grid-{name}-{path}-{shared.key}")
            spectra[name] = da.where(done[..., None], arr, np.nan)
        else:
            with shared.lock:
                shared.refresh([f"{GRID}/{name}"])
                values = np.asarray(shared.dataset(f"{GRID}/{name}")[()], dtype=float)
            values[~done] = np.nan
            spectra[name] = values
    shared.release()
    per_pixel = {name: np.where(done, small[name], np.nan)
                 for name in ("z_m", "T_K", "time_s")}
    temperature = float(np.nanmedian(per_pixel["T_K"])) \
        if np.isfinite(per_pixel["T_K"]).any() else math.nan
    attrs: dict[str, Any] = {
        "source": str(path), "sample": str(metadata.get("sample", "")),
        "setpoint_A": setpoint, "modulation_V": modulation, "temperature_K": temperature,
        "format": "stm_andreev run file",
    }
    for key in ("nx", "ny", "centre_x_m", "centre_y_m", "size_x_m", "size_y_m",
                "rotation_deg"):
        if key in group_attrs:
            value = group_attrs[key]
            attrs[key] = value.item() if isinstance(value, np.generic) else value
    return build_cube({
        "bias": small["bias_V"], "x": small["x_m"], "y": small["y_m"],
        "pos_x": small["pos_x_m"], "pos_y": small["pos_y_m"],
        "G_S": spectra["G_S"], "G_G0": spectra["G_G0"], "z": per_pixel["z_m"],
        "T_K": per_pixel["T_K"], "time_s": per_pixel["time_s"], "done": done,
    }, attrs)
