"""What the per-pixel analysis needs from a grid cube (the xarray.Dataset of a grid, see
docs/maps.md), and the grid files it opens.

Reading a run file's ``/entry/grid`` is storage's (:mod:`stm_andreev.storage.grid_read`:
one reader, SWMR-following, picklable lazy arrays); a Nanonis ``.3ds`` is read by
:mod:`.nanonis_grid`. Both give the same cube (:func:`stm_andreev.storage.cube.build_cube`);
here the analysis asks for it lazy, in blocks of pixels, and takes out what it uses.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AnalysisInputError

DEFAULT_BLOCK = (8, 8)


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
    """A dask array of a grid file's dataset (e.g. "G_S") that worker processes can
    receive (:func:`stm_andreev.storage.grid_read.grid_array`)."""
    from stm_andreev.storage.grid_read import grid_array

    return grid_array(path, name, chunks)


def is_grid_file(path: str | os.PathLike[str]) -> bool:
    """True for an HDF5 file with a ``/entry/grid`` group (a grid run), or a Nanonis .3ds.
    A damaged HDF5 file is no grid here (in bounded time); the run-file check that follows
    names the damage."""
    p = Path(path)
    if p.suffix.lower() == ".3ds":
        return True
    from stm_andreev.storage.grid_read import has_grid

    return p.is_file() and has_grid(p)


def open_grid(path: str | os.PathLike[str], *, block: tuple[int, int] = DEFAULT_BLOCK,
              **read_3ds_options):
    """The cube of a grid file: a Nanonis .3ds (:mod:`.nanonis_grid`; ``read_3ds_options``
    g_col, use, sign choose its channel) or an HDF5 file with ``/entry/grid`` (a grid run,
    finished or being written, or a bare grid group), its conductances lazy in chunks of
    ``block`` pixels. Raises AnalysisInputError naming the file and what is wrong."""
    from stm_andreev.storage.errors import StorageError
    from stm_andreev.storage.grid_read import read_grid

    p = Path(path)
    if p.suffix.lower() == ".3ds":
        from .nanonis_grid import read_3ds

        return read_3ds(p, **read_3ds_options)
    try:
        return read_grid(p, lazy=True, chunks=block)
    except StorageError as exc:
        message = str(exc)
        raise AnalysisInputError(message if str(p) in message else f"{p}: {message}") \
            from None
