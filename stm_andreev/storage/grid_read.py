"""The ``/entry/grid`` group of a run file as a cube (:mod:`.cube`), finished or being written.

The group (laid out before SWMR starts, filled pixel by pixel; docs/storage-layout.md) holds
``G_G0``, ``G_S`` [ny, nx, n_bias], ``bias_V``, ``x_m``, ``y_m``, ``pos_x_m``, ``pos_y_m``,
``z_m``, ``T_K``, ``time_s`` and ``done`` [ny, nx]. ``done`` is read first, through the
process's shared SWMR handle of the file (:mod:`.shared_file`), and every pixel it does not
mark is NaN: a pixel's spectrum is written before it is marked, so what the cube shows is
complete. Large grids stay lazy: dask arrays whose chunks are read from the file when
computed (the chunk reader pickles as a path, so a local worker process or a
``dask.distributed`` worker reads it too). This is the one reader of the group: the map
analysis (:mod:`stm_andreev.analysis.maps_cube`), ``RunReader.to_xarray`` and the GUI's map
panel all get their cube here. A file no reader of this process holds is checked as a
closed file first, so a damaged header is named at once (:func:`_check_closed`).
"""

from __future__ import annotations

import json
import math
import os
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import xarray as xr

from . import shared_file
from .cube import build_cube
from .errors import NotARunFileError, RunFileNotFoundError
from .layout import CONFIG, FORMAT_NAME, POINTS

GRID = "entry/grid"
# What every grid group must have, and what a run file's has besides (MAPS contract 2).
REQUIRED = ("G_S", "G_G0", "bias_V", "done")
OPTIONAL = ("x_m", "y_m", "pos_x_m", "pos_y_m", "z_m", "T_K", "time_s")
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
    """True if the file (path or RunReader) has an ``/entry/grid`` group; False for a file
    that is not HDF5 or is damaged (whoever opens it next says how). Bounded on a damaged
    file: a file no reader of this process holds is opened as a closed file first (in SWMR
    mode HDF5 retries a damaged header's reads for minutes; storage.verify)."""
    path = _path_of(source)
    shared = shared_file.held(path)
    try:
        if shared is not None:
            with shared.lock:
                return GRID in shared.file
        from .verify import open_for_reading

        with open_for_reading(path) as f:
            return GRID in f
    except Exception:  # noqa: BLE001 - whatever HDF5 raises on a damaged file: no grid here
        return False
    finally:
        if shared is not None:
            shared.release()


def grid_array(path: str | os.PathLike[str], name: str, chunks: tuple[int, ...],
               shape: tuple[int, ...] | None = None):
    """A lazy dask array of dataset ``name`` of the file's grid group ("G_S", "G_G0"), in
    ``chunks``, read through :class:`GridArray` (SWMR-refreshed, picklable: it reaches
    local worker processes and dask.distributed workers). Nothing of the data is read here."""
    import dask.array as da

    path = Path(path)
    if shape is None:
        shared = shared_file.acquire(path)
        try:
            with shared.lock:
                shared.refresh([f"{GRID}/{name}"])
                shape = tuple(shared.dataset(f"{GRID}/{name}").shape)
        finally:
            shared.release()
    arr = GridArray(path, f"{GRID}/{name}", shape, np.float64)
    # a fresh name per call: two reads of a growing grid are different arrays
    return da.from_array(arr, chunks=chunks, asarray=False, lock=False,
                         name=f"grid-{name}-{uuid.uuid4().hex}")


def read_grid(source: Any, *, lazy: bool | None = None,
              chunks: tuple[int, int] | None = None) -> xr.Dataset:
    """The grid of a run file (a path or a RunReader) as a cube: dims (y, x, bias), the
    contract's coordinates and variables with units; pixels not yet ``done`` are NaN.

    Also reads a bare ``/entry/grid`` group (an HDF5 file that is not a run file but has
    the group's names): what it lacks besides G_S, G_G0, bias_V and done is NaN.

    ``lazy``: dask arrays for the spectra (None: when G_S exceeds 32 MiB). ``chunks``:
    pixels (y, x) per dask chunk of a lazy cube, all biases in each (None: whole rows, up to
    16 MiB). Attributes: ``source``, ``sample`` (run metadata), ``setpoint_A``,
    ``modulation_V`` (the grid group's attributes if it has them, else the median of the
    per-spectrum table), ``temperature_K`` (median of the pixels' temperatures), and the
    group's nx, ny, centre, size and rotation.

    Raises RunFileNotFoundError, or NotARunFileError naming the file and what is wrong (not
    HDF5, no grid, a dataset missing, damaged metadata)."""
    path = _path_of(source)
    if not path.is_file():
        raise RunFileNotFoundError(f"run file {path} does not exist")
    _check_closed(path)
    try:
        shared = shared_file.acquire(path)
    except (OSError, RuntimeError) as exc:
        raise NotARunFileError(f"{path} cannot be opened as an HDF5 run file: {exc}") from exc
    try:
        with shared.lock:
            small, shape, group_attrs, file_attrs = _read_small(shared, path)
    except NotARunFileError:
        shared.release()
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        # h5py raises RuntimeError (and others) on damaged metadata: name it, no traceback
        shared.release()
        raise NotARunFileError(f"{path}: the grid cannot be read (damaged file?): "
                               f"{type(exc).__name__}: {exc}") from exc
    done = small.pop("done")
    ny, nx, n_bias = shape
    if lazy is None:
        lazy = ny * nx * n_bias * 8 > LAZY_BYTES
    spectra = {}
    try:
        for name in ("G_S", "G_G0"):
            if lazy:
                import dask.array as da

                if chunks is None:
                    rows = max(1, min(ny, CHUNK_BYTES // max(1, nx * n_bias * 8)))
                    block = (rows, nx, n_bias)
                else:
                    block = (max(1, int(chunks[0])), max(1, int(chunks[1])), n_bias)
                arr = grid_array(path, name, block, shape)
                spectra[name] = da.where(done[..., None], arr, np.nan)
            else:
                with shared.lock:
                    shared.refresh([f"{GRID}/{name}"])
                    values = np.asarray(shared.dataset(f"{GRID}/{name}")[()], dtype=float)
                values[~done] = np.nan
                spectra[name] = values
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise NotARunFileError(f"{path}: the grid's spectra cannot be read (damaged file?): "
                               f"{type(exc).__name__}: {exc}") from exc
    finally:
        shared.release()
    per_pixel = {name: np.where(done, small[name], np.nan)
                 for name in ("z_m", "T_K", "time_s")}
    temperature = float(np.nanmedian(per_pixel["T_K"])) \
        if np.isfinite(per_pixel["T_K"]).any() else math.nan
    ours = file_attrs.get("format") == FORMAT_NAME
    attrs: dict[str, Any] = {
        "source": str(path), "sample": str(file_attrs.get("sample", "")),
        "setpoint_A": file_attrs["setpoint_A"], "modulation_V": file_attrs["modulation_V"],
        "temperature_K": temperature,
        "format": "stm_andreev run file" if ours else "HDF5 grid group (not a run file)",
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


def _check_closed(path: Path) -> None:
    """Read the grid group's metadata once through a handle opened as a closed file
    (:func:`.verify.open_for_reading`) unless a reader of this process holds the file: the
    shared handle reads in SWMR mode, where HDF5 retries a damaged header's reads for
    minutes; opened closed, a damaged header fails on its first read. A file being written
    is opened with SWMR by that function too (its metadata is whole: the writer flushes it)."""
    shared = shared_file.held(path)
    if shared is not None:
        shared.release()
        return
    from .verify import open_for_reading

    try:
        with open_for_reading(path) as f:
            group = f.get(GRID)
            if isinstance(group, h5py.Group):
                for name in (*REQUIRED, *OPTIONAL):
                    if name in group:
                        group[name].shape  # noqa: B018 - opens the object header
                dict(group.attrs)
    except (OSError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise NotARunFileError(f"{path}: the grid cannot be read (damaged file?): "
                               f"{type(exc).__name__}: {exc}") from exc


def _read_small(shared: shared_file.SharedFile, path: Path
                ) -> tuple[dict[str, np.ndarray], tuple[int, int, int], dict, dict]:
    """(small arrays incl. ``done``, G_S's shape, the group's attrs, file-level facts) of
    the grid group, read through the shared handle (its lock held by the caller)."""
    fmt = shared.file.attrs.get("stm_andreev_format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt is not None and fmt != FORMAT_NAME:
        raise NotARunFileError(f"{path} is HDF5 but not an stm_andreev run file ({fmt})")
    if GRID not in shared.file:
        raise NotARunFileError(f"{path} has no {GRID} group: not a grid run")
    group = shared.file[GRID]
    missing = [n for n in REQUIRED if n not in group]
    if fmt is not None:  # a run file lays out every name
        missing += [n for n in OPTIONAL if n not in group]
    if missing:
        raise NotARunFileError(f"{path}: {GRID} lacks {', '.join(missing)}")
    # done first: every pixel it marks has its spectrum in the file already.
    shared.refresh([f"{GRID}/done"])
    done = np.asarray(shared.dataset(f"{GRID}/done")[()]).astype(bool)
    shape = tuple(int(n) for n in group["G_S"].shape)
    if len(shape) != 3 or done.shape != shape[:2]:
        raise NotARunFileError(f"{path}: {GRID}/done is {done.shape}, G_S is {shape}")
    ny, nx = done.shape
    fill = {"x_m": np.arange(nx, dtype=float), "y_m": np.arange(ny, dtype=float)}
    small: dict[str, np.ndarray] = {"done": done}
    for name in ("bias_V", *OPTIONAL):
        if name in group:
            shared.refresh([f"{GRID}/{name}"])
            small[name] = np.asarray(shared.dataset(f"{GRID}/{name}")[()], dtype=float)
        else:
            small[name] = fill.get(name, np.full((ny, nx), np.nan))
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
    facts = {"format": fmt, "sample": metadata.get("sample", ""), "setpoint_A": setpoint,
             "modulation_V": modulation}
    return small, shape, group_attrs, facts
