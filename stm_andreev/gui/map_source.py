"""Where the map panel gets its data: one small function per source, Qt-free.

The grid cube (``xarray.Dataset``, dims y, x, bias), the map results (dims y, x) and the fit
of one pixel are produced by other parts of the project (storage's grid reader, the map
analysis). Each is reached through exactly one function here, imported lazily, so the GUI
loads without them and a change of where they live is a change of one line.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: HDF5 paths of the grid group and of the map results in a run file (MAPS contract 2, 4).
GRID_GROUP = "entry/grid"
RESULTS_GROUP = "entry/results/map"
#: Where the grid reader and the map analysis live (MAPS contract 3, 4).
GRID_READER = ("stm_andreev.storage.grid_read", "read_grid")
MAP_RESULTS_READER = ("stm_andreev.analysis.maps", "read_map_results")
PIXEL_FITTER = ("stm_andreev.analysis.maps", "fit_pixel")
#: Quantities of the map results (MAPS contract 4): value, value_sigma, value_grade.
RESULT_QUANTITIES = ("E_g", "Delta_c", "Gamma", "Z", "G_N")
GRADE_NOT_APPLICABLE = 3


class MapSourceError(Exception):
    """A map source cannot be read (the message names the file and why)."""


def _function(where: tuple[str, str]):
    module, name = where
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise MapSourceError(f"{module}.{name} is not available in this installation: {exc}") \
            from None


def _groups(path: str | os.PathLike[str]) -> tuple[bool, bool]:
    import h5py

    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as f:
            return GRID_GROUP in f, RESULTS_GROUP in f
    except (OSError, ValueError):
        try:  # files written without SWMR (e.g. a results sibling file)
            with h5py.File(path, "r") as f:
                return GRID_GROUP in f, RESULTS_GROUP in f
        except (OSError, ValueError):
            return False, False


def has_grid(path: str | os.PathLike[str]) -> bool:
    """Whether a run file holds a spectroscopy grid (``/entry/grid``)."""
    return _groups(path)[0]


def has_map_results(path: str | os.PathLike[str]) -> bool:
    """Whether a file holds map results (``/entry/results/map``)."""
    return _groups(path)[1]


def load_grid(path: str | os.PathLike[str]) -> Any:
    """The grid cube of a run file (an ``xarray.Dataset``), read afresh (a live run grows)."""
    read_grid = _function(GRID_READER)
    try:
        return read_grid(Path(path))
    except MapSourceError:
        raise
    except Exception as exc:  # a half-written or damaged file is shown, never fatal
        raise MapSourceError(f"{path}: cannot read the grid: {type(exc).__name__}: {exc}") \
            from None


def load_map_results(path: str | os.PathLike[str]) -> Any:
    """The map results (``xarray.Dataset``, dims y, x) stored in or beside a run file."""
    read = _function(MAP_RESULTS_READER)
    try:
        return read(Path(path))
    except Exception as exc:
        raise MapSourceError(f"{path}: cannot read the map results: "
                             f"{type(exc).__name__}: {exc}") from None


def pixel_spectrum(cube, iy: int, ix: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(bias V, G in 2e^2/h, done) of pixel (iy, ix)."""
    bias = np.asarray(cube["bias"].values, dtype=float)
    G = np.asarray(cube["G_G0"].isel(y=iy, x=ix).values, dtype=float)
    done = bool(np.asarray(cube["done"].isel(y=iy, x=ix).values))
    return bias, G, done


def _fit_pixel_here(cube, iy: int, ix: int):
    """The existing pipeline on pixel (iy, ix): what the map analysis's ``fit_pixel`` does
    (MAPS contract 4), for installations without it."""
    from stm_andreev.analysis.inputs import SpectrumInput
    from stm_andreev.analysis.pipeline import analyze_spectrum

    bias, G, _done = pixel_spectrum(cube, iy, ix)
    T = float(np.asarray(cube["T_K"].isel(y=iy, x=ix).values)) if "T_K" in cube else None
    attrs = cube.attrs
    vmod = attrs.get("modulation_V")
    nx = int(cube.sizes["x"])
    spec = SpectrumInput(
        bias, G, "G0", source=str(attrs.get("source", "grid")), index=iy * nx + ix,
        T_K=T if T is not None and np.isfinite(T) else attrs.get("temperature_K"),
        Vmod_rms_V=float(vmod) if vmod is not None else None,
        label=f"pixel (iy={iy}, ix={ix})",
    )
    return analyze_spectrum(spec)


def fit_pixel(cube, iy: int, ix: int):
    """The pipeline's ``Analysis`` of pixel (iy, ix): the map analysis's own ``fit_pixel``
    where installed (the same fit as its maps), else the pipeline called here."""
    try:
        fitter = _function(PIXEL_FITTER)
    except MapSourceError:
        fitter = _fit_pixel_here
    return fitter(cube, iy, ix)
