"""NeXus NXsts conformance of run files (docs/nexus.md says what is met and what is not).

The run file is an NXentry that claims the NXsts application definition (scanning tunnelling
spectroscopy; FAIRmat's contributed definitions, which extend NXspm). Its required fields are
laid out here, once, before SWMR starts: the definition, technique and scan mode, an
NXinstrument with the hardware and software, the bias sweep (start, end, offset, points,
step; NaN until the first spectrum gives the sweep, then written in place, like the plot
axis), and the user. The data stay where docs/storage-layout.md puts them: ``/entry/data``
is the NXsts ``DATA`` group.

For a grid run, ``/entry/pixel`` is a small NXdata of one pixel's spectrum (the centre pixel:
an HDF5 virtual dataset onto ``/entry/grid/G_G0``, so it fills when that pixel is measured;
:func:`lay_out_pixel_plot` must run after the grid group is laid out),
and the default chain root -> entry -> pixel leads a generic NeXus viewer to a 1D plot of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

DEFINITION = "NXsts"
# The NeXus definitions release the files are checked against (pynxtools bundles it).
DEFINITIONS_VERSION = "v2026.01"
INSTRUMENT = "entry/instrument"
SWEEP = "entry/instrument/bias_spectroscopy_environment/bias_spectroscopy/bias_sweep"
GRID = "entry/grid"
PIXEL = "entry/pixel"
# The sweep fields written at the first spectrum: name -> (units, long name).
SWEEP_FIELDS: dict[str, tuple[str, str]] = {
    "scan_region/scan_start_bias": ("V", "first bias of the sweep"),
    "scan_region/scan_end_bias": ("V", "last bias of the sweep"),
    "scan_region/scan_offset_bias": ("V", "centre of the sweep, (start + end) / 2"),
    "linear_sweep/step_size_bias": ("V", "mean bias step, (end - start) / (points - 1)"),
}


def _group(parent: h5py.Group, name: str, nx_class: str) -> h5py.Group:
    group = parent.require_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _text(group: h5py.Group, name: str, value: str) -> h5py.Dataset:
    ds = group.create_dataset(name, data=value, dtype=h5py.string_dtype("utf-8"))
    # every dataset of a run file has units ("" for text) and a long name
    ds.attrs["units"] = ""
    ds.attrs["long_name"] = name.replace("_", " ")
    return ds


def _number(group: h5py.Group, name: str, value: float, units: str, long_name: str,
            dtype: Any = np.float64) -> h5py.Dataset:
    ds = group.create_dataset(name, data=dtype(value))
    ds.attrs["units"] = units
    ds.attrs["long_name"] = long_name
    return ds


def lay_out_nxsts(f: h5py.File, *, n_bias: int, metadata: Mapping[str, Any],
                  software_version: str) -> None:
    """Write the NXsts fields of an empty run file (call from create_layout, before SWMR)."""
    entry = f["entry"]
    definition = _text(entry, "definition", DEFINITION)
    definition.attrs["version"] = DEFINITIONS_VERSION
    _text(entry, "experiment_technique", "STS")
    # The feedback sets the height at the setpoint, then is opened for the sweep.
    _text(entry, "scan_mode", "constant height")
    _text(entry, "title", str(metadata.get("title", metadata.get("sample", "stm_andreev run"))))

    instrument = _group(entry, "instrument", "NXinstrument")
    hardware = _group(instrument, "hardware", "NXfabrication")
    # Which controller took the data is in config/station_text; the model is not parsed
    # into NeXus terms, and a vendor guessed here could be wrong.
    _text(hardware, "vendor", str(metadata.get("hardware_vendor", "not recorded")))
    _text(hardware, "name", str(metadata.get("hardware_name",
                                             "STM station (see entry/config/station_text)")))
    software = _group(instrument, "software", "NXfabrication")
    _text(software, "vendor", "stm_andreev project")
    _text(software, "name", "stm_andreev")
    _text(software, "model", software_version)

    environment = _group(instrument, "bias_spectroscopy_environment", "NXenvironment")
    spectroscopy = _group(environment, "bias_spectroscopy", "NXspm_bias_spectroscopy")
    _text(spectroscopy, "measurement_type", "constant_spacing")  # an even bias grid
    sweep = _group(spectroscopy, "bias_sweep", "NXspm_scan_control")
    _group(sweep, "scan_region", "NXspm_scan_region")
    linear = _group(sweep, "linear_sweep", "NXspm_scan_pattern")
    _number(linear, "scan_points_bias", n_bias, "1", "bias points per spectrum", np.int64)
    for name, (units, long_name) in SWEEP_FIELDS.items():
        _number(sweep, name, math.nan, units, long_name)

    # The row axis of /entry/data: the per-spectrum point index, the same dataset.
    entry["data/point_index"] = entry["points/point_index"]

    user = _group(entry, "user", "NXuser")
    _text(user, "name", str(metadata.get("operator", "not recorded")))

    if GRID in f:
        lay_out_pixel_plot(f)


def write_sweep(f: h5py.File, bias_V: np.ndarray) -> None:
    """Fill the sweep fields from the first spectrum's bias (in place: works under SWMR).
    Files laid out without them are left as they are."""
    if SWEEP not in f:
        return
    bias = np.asarray(bias_V, dtype=float)
    start, end = float(bias[0]), float(bias[-1])
    values = {
        "scan_region/scan_start_bias": start, "scan_region/scan_end_bias": end,
        "scan_region/scan_offset_bias": (start + end) / 2,
        "linear_sweep/step_size_bias": (end - start) / max(1, bias.size - 1),
    }
    sweep = f[SWEEP]
    for name, value in values.items():
        sweep[name][()] = value


def lay_out_pixel_plot(f: h5py.File) -> None:
    """``/entry/pixel``: NXdata of the centre pixel's G_G0 against bias, and the entry's
    default. The signal is an HDF5 virtual dataset [1, n_bias] onto the grid's G_G0 (so it
    shows the pixel once measured, NaN before; the leading length-1 axis is ``pixel_index``,
    and nexusformat reads a virtual dataset's first axis as one per source, so it must be
    there). Needs ``/entry/grid`` with ``G_G0`` [ny, nx, n_bias] and ``bias_V``."""
    grid = f[GRID]
    ny, nx, n_bias = grid["G_G0"].shape
    iy, ix = ny // 2, nx // 2
    layout = h5py.VirtualLayout(shape=(1, n_bias), dtype=np.float64)
    # "." is this file: the mapping survives a rename or a copy of the run file.
    source = h5py.VirtualSource(".", f"/{GRID}/G_G0", shape=(ny, nx, n_bias))
    layout[0, :] = source[iy, ix, :]
    pixel = f.create_group(PIXEL)
    pixel.attrs.update(NX_class="NXdata", signal="G_G0", axes=["pixel_index", "bias_V"],
                       pixel_index_indices=0, bias_V_indices=1)
    _text(pixel, "title", f"dI/dV at pixel (iy={iy}, ix={ix}) of the grid")
    signal = pixel.create_virtual_dataset("G_G0", layout, fillvalue=np.nan)
    signal.attrs.update(units=grid["G_G0"].attrs.get("units", "2e^2/h"),
                        long_name=f"dI/dV at pixel (iy={iy}, ix={ix}), units of 2e^2/h")
    index = pixel.create_dataset("pixel_index", data=np.array([iy * nx + ix], dtype=np.int64))
    index.attrs.update(units="1", long_name="pixel number iy * nx + ix (raster order)",
                       iy=iy, ix=ix)
    pixel["bias_V"] = grid["bias_V"]  # a hard link: the same dataset
    f["entry"].attrs["default"] = "pixel"
