"""What the per-pixel analysis needs from a grid cube (the xarray.Dataset of a grid, see
docs/maps.md), and a lazy HDF5 array that worker processes can receive.

h5py objects cannot be pickled, so a dask array read straight from an h5py dataset cannot be
sent to the local process pool. :class:`H5Array` holds only the file's path and the dataset's
name and opens the file read-only for each slice it is asked for (HDF5 reads one chunk at a
time anyway), so the same lazy array works on the local pool and on a distributed cluster.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AnalysisInputError

GRID_GROUP = "entry/grid"


_FLAG_CLASHES = ("don't match", "not the same")
# Most to least permissive; HDF5 shares one open file per process and refuses a second handle
# whose locking or SWMR flag differs from the first one's, so the others are tried in turn.
_READ_OPTIONS = ({"locking": False, "swmr": True}, {"swmr": True}, {"locking": False}, {})


def _open_read(path: str):
    """The file read-only: in SWMR mode (a finished or a still-growing file alike) without
    HDF5's file lock (a writer that has it open is never in the way: we only read), unless
    this process already has it open otherwise (then with that handle's flags)."""
    import h5py

    for options in _READ_OPTIONS[:-1]:
        try:
            return h5py.File(path, "r", **options)
        except OSError as exc:
            if not any(text in str(exc) for text in _FLAG_CLASHES):
                raise
    return h5py.File(path, "r")


class H5Array:
    """A read-only, picklable view of one HDF5 dataset: ``shape``, ``dtype``, ``ndim`` and
    ``__getitem__`` as numpy arrays have (what ``dask.array.from_array`` needs)."""

    def __init__(self, path: str | os.PathLike[str], name: str) -> None:
        self.path, self.name = str(path), name
        with _open_read(self.path) as f:
            ds = f[name]
            self.shape: tuple[int, ...] = tuple(ds.shape)
            self.dtype = ds.dtype
            self.chunks: tuple[int, ...] | None = ds.chunks
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        with _open_read(self.path) as f:
            return np.asarray(f[self.name][key])

    def __repr__(self) -> str:
        return f"H5Array({self.path!r}, {self.name!r}, shape={self.shape})"


@dataclass(frozen=True)
class CubeView:
    """The pieces of a cube the analysis uses: ``G`` (ny, nx, n_bias), numpy or dask, in
    ``G_unit`` ("S" or "G0"), the bias axis (V), per-pixel temperature (K, NaN: unknown),
    tip positions (m), the ``done`` mask, the rms modulation (V) and the cube's source."""

    G: Any
    G_unit: str
    bias_V: np.ndarray
    T_K: np.ndarray
    pos_x_m: np.ndarray
    pos_y_m: np.ndarray
    done: np.ndarray
    Vmod_rms_V: float | None
    default_T_K: float | None
    source: str

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.G.shape[0]), int(self.G.shape[1])


def _small(cube, name: str, shape: tuple[int, int], fill: float) -> np.ndarray:
    """A (y, x) variable or coordinate of the cube read into memory, or ``fill``."""
    if name in cube.variables:
        return np.asarray(cube[name].values, dtype=float).reshape(shape)
    return np.full(shape, fill)


def _attr_float(attrs: dict, key: str) -> float | None:
    value = attrs.get(key)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def cube_view(cube) -> CubeView:
    """Check a grid cube and take out what the analysis needs. Raises AnalysisInputError
    naming what is missing."""
    source = str(cube.attrs.get("source", "grid"))
    if "G_S" in cube.data_vars:
        var = cube["G_S"]
        # An importer without an absolute scale (a lock-in output in V or A) says so in the
        # units; G_N is then not applicable.
        unit = {"S": "S", "2e^2/h": "G0", "G0": "G0"}.get(
            str(var.attrs.get("units", "S")), "arb")
    elif "G_G0" in cube.data_vars:
        var, unit = cube["G_G0"], "G0"
    else:
        raise AnalysisInputError(f"{source}: the grid has no conductance (G_S or G_G0); "
                                 f"it has {', '.join(map(str, cube.data_vars)) or 'nothing'}")
    if tuple(var.dims) != ("y", "x", "bias"):
        raise AnalysisInputError(f"{source}: conductance dims are {tuple(var.dims)}; expected "
                                 "('y', 'x', 'bias')")
    if "bias" not in cube.coords:
        raise AnalysisInputError(f"{source}: the grid has no bias coordinate")
    bias = np.asarray(cube["bias"].values, dtype=float)
    ny, nx = int(var.shape[0]), int(var.shape[1])
    if ny == 0 or nx == 0 or bias.size < 7:
        raise AnalysisInputError(f"{source}: grid of {ny} x {nx} pixels with {bias.size} "
                                 "biases; expected at least one pixel and 7 biases")
    done = (np.asarray(cube["done"].values, dtype=bool) if "done" in cube.variables
            else np.ones((ny, nx), dtype=bool))
    return CubeView(
        G=var.data, G_unit=unit, bias_V=bias,
        T_K=_small(cube, "T_K", (ny, nx), np.nan),
        pos_x_m=_small(cube, "pos_x", (ny, nx), np.nan),
        pos_y_m=_small(cube, "pos_y", (ny, nx), np.nan),
        done=done,
        Vmod_rms_V=_attr_float(cube.attrs, "modulation_V"),
        default_T_K=_attr_float(cube.attrs, "temperature_K"),
        source=source,
    )


def lazy_grid_array(path: str | os.PathLike[str], name: str, chunks: tuple[int, ...]):
    """A dask array of a run file's grid dataset (e.g. "G_S") that worker processes can
    receive (see :class:`H5Array`)."""
    import dask.array as da

    arr = H5Array(path, f"{GRID_GROUP}/{name}")
    return da.from_array(arr, chunks=chunks, name=f"h5-{Path(path).name}-{name}-{id(arr)}",
                         asarray=True, lock=False)


def is_grid_file(path: str | os.PathLike[str]) -> bool:
    """True for an HDF5 file with a ``/entry/grid`` group (a grid run), or a Nanonis .3ds."""
    p = Path(path)
    if p.suffix.lower() == ".3ds":
        return True
    import h5py

    try:
        with h5py.File(p, "r", locking=False) as f:
            return GRID_GROUP in f and "G_S" in f[GRID_GROUP]
    except (OSError, RuntimeError, KeyError, ValueError):
        # a damaged file is no grid here; the run-file check that follows names the damage
        return False


def grid_file_cube(path: str | os.PathLike[str], block: tuple[int, int] = (8, 8)):
    """The cube of an HDF5 file's ``/entry/grid`` group (names as a grid run writes them),
    conductances lazy and read a block of pixels at a time, small per-pixel maps in memory.
    The run's own reader (``stm_andreev.storage.grid_read.read_grid``) is used instead where
    it exists; this reads the grid group alone."""
    import h5py
    import xarray as xr

    with h5py.File(path, "r", locking=False) as f:
        g = f[GRID_GROUP]
        nb = g["G_S"].shape[2]
        small = {k: g[k][()] for k in ("bias_V", "x_m", "y_m", "pos_x_m", "pos_y_m", "z_m",
                                       "T_K", "time_s", "done") if k in g}
    ny, nx = small["done"].shape
    chunks = (block[0], block[1], nb)
    per_pixel = {name: (("y", "x"), small[key]) for name, key in
                 (("z", "z_m"), ("T_K", "T_K"), ("time_s", "time_s")) if key in small}
    T = small.get("T_K")
    finite_T = T[np.isfinite(T) & (T > 0)] if T is not None else np.array([])
    return xr.Dataset(
        {"G_S": (("y", "x", "bias"), lazy_grid_array(path, "G_S", chunks), {"units": "S"}),
         "G_G0": (("y", "x", "bias"), lazy_grid_array(path, "G_G0", chunks),
                  {"units": "2e^2/h"}),
         **per_pixel, "done": (("y", "x"), small["done"].astype(bool))},
        coords={"bias": ("bias", small["bias_V"], {"units": "V"}),
                "x": ("x", small.get("x_m", np.arange(nx, dtype=float)), {"units": "m"}),
                "y": ("y", small.get("y_m", np.arange(ny, dtype=float)), {"units": "m"}),
                **{name: (("y", "x"), small[key], {"units": "m"}) for name, key in
                   (("pos_x", "pos_x_m"), ("pos_y", "pos_y_m")) if key in small}},
        attrs={"source": str(path),
               **({"temperature_K": float(np.mean(finite_T))} if finite_T.size else {})})


def open_grid(path: str | os.PathLike[str], **read_3ds_options):
    """The cube of a grid file: a Nanonis .3ds (``stm_andreev.analysis.nanonis_grid``) or a
    grid run file (``stm_andreev.storage.grid_read`` where present, else the grid group read
    directly). ``read_3ds_options`` (g_col, use, sign) choose a .3ds file's channel. Raises
    AnalysisInputError when the file holds no grid."""
    p = Path(path)
    if p.suffix.lower() == ".3ds":
        reader = _optional("stm_andreev.analysis.nanonis_grid", "read_3ds")
        if reader is None:
            raise AnalysisInputError(f"{p}: reading Nanonis .3ds grids is not available in "
                                     "this build (stm_andreev.analysis.nanonis_grid)")
        return reader(p, **read_3ds_options)
    if not is_grid_file(p):
        raise AnalysisInputError(f"{p}: no grid (expected /{GRID_GROUP} with G_S)")
    from stm_andreev.storage.errors import NotARunFileError

    reader = _optional("stm_andreev.storage.grid_read", "read_grid")
    if reader is not None:
        try:
            return reader(p)
        except NotARunFileError:
            pass  # a bare /entry/grid file (not a run's): read the group directly below
    return grid_file_cube(p)


def _optional(module: str, name: str):
    """``module.name`` if that module exists, else None. The grid readers (the .3ds importer,
    the run file's grid view) are optional parts of a build; imported by name at call time
    so that a build without them still analyses the grids it can read."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module exists but something it needs does not
            raise
        return None
