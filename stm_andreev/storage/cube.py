"""The in-memory shape of a spectroscopic grid ("cube"): one ``xarray.Dataset`` built in one
place, whether the grid comes from a run file (:mod:`.grid_read`) or from a Nanonis ``.3ds``
file (:mod:`stm_andreev.analysis.nanonis_grid`).

dims ("y", "x", "bias"); coords ``bias`` [V], ``x``, ``y`` [m] (offsets from the grid's
centre along its own axes), ``pos_x``, ``pos_y`` (y, x) [m] (lab-frame tip position); data
``G_S`` (y, x, bias) [S], ``G_G0`` (y, x, bias) [2e^2/h], ``z`` (y, x) [m], ``T_K`` (y, x) [K],
``time_s`` (y, x) [s], ``done`` (y, x) bool. Pixels not measured are NaN with ``done`` False.
Arrays may be numpy or dask (large grids stay lazy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

# (name, dims, units, long_name) of every variable of a cube, in contract order.
CUBE_VARIABLES: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("G_S", ("y", "x", "bias"), "S", "differential conductance dI/dV"),
    ("G_G0", ("y", "x", "bias"), "2e^2/h", "dI/dV in units of G0 = 2e^2/h"),
    ("z", ("y", "x"), "m", "tip height (topography) before the spectrum"),
    ("T_K", ("y", "x"), "K", "mixing-chamber temperature during the spectrum"),
    ("time_s", ("y", "x"), "s", "time at the spectrum's start"),
    ("done", ("y", "x"), "1", "the pixel's spectrum is stored"),
)
CUBE_COORDS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("bias", ("bias",), "V", "sample bias"),
    ("x", ("x",), "m", "pixel offset from the grid centre along the grid's x axis"),
    ("y", ("y",), "m", "pixel offset from the grid centre along the grid's y axis"),
    ("pos_x", ("y", "x"), "m", "lab-frame tip x position of the pixel"),
    ("pos_y", ("y", "x"), "m", "lab-frame tip y position of the pixel"),
)
# The attributes every cube carries (NaN / "" when the source does not record them).
CUBE_ATTRS = ("source", "sample", "setpoint_A", "modulation_V", "temperature_K")


def build_cube(arrays: Mapping[str, Any], attrs: Mapping[str, Any]) -> xr.Dataset:
    """A cube from arrays named as in :data:`CUBE_COORDS` and :data:`CUBE_VARIABLES`, and
    attributes (the :data:`CUBE_ATTRS` are filled with NaN / "" when missing)."""
    coords = {name: xr.Variable(dims, arrays[name], {"units": units, "long_name": long})
              for name, dims, units, long in CUBE_COORDS}
    data = {name: xr.Variable(dims, arrays[name], {"units": units, "long_name": long})
            for name, dims, units, long in CUBE_VARIABLES}
    full = {"source": "", "sample": "", "setpoint_A": np.nan, "modulation_V": np.nan,
            "temperature_K": np.nan, **attrs}
    return xr.Dataset(data, coords=coords, attrs=full)
