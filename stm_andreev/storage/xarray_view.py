"""Any run as an ``xarray.Dataset`` (``RunReader.to_xarray()``): a grid run as its cube
(:func:`.grid_read.read_grid`), every other run as its confirmed spectra.

Spectra: dims ("spectrum", "bias"); variables ``G_S``, ``G_G0``, ``bias_V``, ``lockin_X_V``,
``lockin_Y_V`` (spectrum, bias); coordinates ``spectrum`` (row in write order), ``bias``
(the run's plot axis, V) and every per-spectrum column (``point_index``, ``time_s``,
``setpoint_A``, ``status_text``, ...) along "spectrum"; units and long names from the layout
tables; attributes ``source``, ``sample``, ``status`` and the run's scalar metadata.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .grid_read import has_grid, read_grid
from .layout import POINT_COLUMNS, SPECTRUM_DATASETS, units_from_name


def run_to_xarray(reader: Any) -> xr.Dataset:
    """The run a RunReader reads, as a Dataset (see the module doc). Shows what the reader
    shows: its confirmed spectra as of its last refresh."""
    if has_grid(reader):
        return read_grid(reader)
    arrays = reader.spectra()
    table = reader.table()
    n = reader.n_spectra
    columns = {c.name: c for c in POINT_COLUMNS}
    coords: dict[str, xr.Variable] = {"spectrum": xr.Variable("spectrum", np.arange(n))}
    for name, values in table.items():
        column = columns.get(name)
        units = column.units if column else units_from_name(name)
        long_name = column.long_name if column else name.replace("_", " ")
        coords[name] = xr.Variable("spectrum", values,
                                   {"units": units, "long_name": long_name})
    axis = arrays["bias_V"][0] if n else np.full(reader.n_bias, np.nan)
    coords["bias"] = xr.Variable("bias", np.asarray(axis, dtype=float),
                                 {"units": "V", "long_name": "sample bias (first spectrum)"})
    data = {column.name: xr.Variable(("spectrum", "bias"), arrays[arg],
                                     {"units": column.units, "long_name": column.long_name})
            for arg, column in SPECTRUM_DATASETS}
    meta = reader.metadata
    attrs = {"source": str(reader.path), "sample": str(meta.get("sample", "")),
             "format": "stm_andreev run file"}
    for key, value in meta.items():
        if key not in attrs and isinstance(value, str | int | float | bool):
            attrs[key] = value
    return xr.Dataset(data, coords=coords, attrs=attrs)
