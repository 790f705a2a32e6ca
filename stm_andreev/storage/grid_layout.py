"""The ``/entry/grid`` group of a run file that holds a map, and its filling pixel by pixel.

A ``grid`` step's spectra go, as every spectrum does, into the rows of ``entry/data`` and the
ledger (resume, followers and ``verify`` read those); in addition each confirmed spectrum is
copied to its pixel of ``[ny, nx, n_bias]`` cubes here, with the pixel's topography, commanded
position, temperature and start time, so a map reader needs no row bookkeeping:

    /entry/grid               NXdata; signal=G_G0, axes=[y_m, x_m, bias_V]; attrs nx, ny,
                              centre_x_m, centre_y_m, size_x_m, size_y_m, rotation_deg,
                              first_point_index (plan point of pixel (0, 0))
        G_G0, G_S             [ny, nx, n_bias] dI/dV in 2e^2/h and in S, chunks (1, 1, n_bias)
        bias_V [n_bias]       the planned bias axis
        x_m [nx], y_m [ny]    pixel offsets from the centre along the grid's own axes
        pos_x_m, pos_y_m      [ny, nx] commanded lab-frame tip position (drift correction in)
        z_m                   [ny, nx] z at the move setpoint before the spectrum (topography)
        T_K, time_s           [ny, nx] mixing chamber during the spectrum; station time at its
                              start
        done                  [ny, nx] uint8, 1 once the pixel's spectrum is confirmed
        drift_reference_z_m   [n, n] the drift reference patch around the reference point
                              (only with drift correction)

Every dataset exists from the layout on (SWMR creates nothing later), filled with NaN / 0.
Pixel (iy, ix) is plan point ``first_point_index + iy * nx + ix``. The ledger stays the truth:
a pixel is written before its ledger entry and marked done with it; on resume ``done`` is set
from the ledger and any pixel written but not confirmed is cleared.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import h5py
import numpy as np

GRID = "entry/grid"
#: Per-pixel values the writer takes with each grid spectrum (name: (units, long name)).
PIXEL_VALUES: dict[str, tuple[str, str]] = {
    "pos_x_m": ("m", "commanded lab-frame tip x of the pixel (drift correction included)"),
    "pos_y_m": ("m", "commanded lab-frame tip y of the pixel (drift correction included)"),
    "z_m": ("m", "tip height z at the move setpoint before the spectrum (topography)"),
    "T_K": ("K", "mixing-chamber temperature during the spectrum (mean of before and after)"),
    "time_s": ("s", "station time at the start of the spectrum, on the run clock"),
}
DRIFT_REFERENCE = "drift_reference_z_m"


@dataclass(frozen=True)
class GridGeometry:
    """What the layout needs to know of a run's grid step."""

    nx: int
    ny: int
    centre_m: tuple[float, float]
    size_m: tuple[float, float]
    rotation_deg: float
    bias_V: np.ndarray
    x_m: np.ndarray
    y_m: np.ndarray
    first_point: int
    drift_patch_points: int = 0  # 0: no drift correction, no reference dataset

    @property
    def n_pixels(self) -> int:
        return self.nx * self.ny

    def size_bytes(self) -> int:
        """Upper estimate of the group's size on disk (two cubes, six maps, chunk index)."""
        n_bias = len(self.bias_V)
        return self.n_pixels * (2 * (n_bias * 8 + 64) + 6 * 8) + 64 * 1024


def _label(ds: h5py.Dataset, units: str, long_name: str) -> h5py.Dataset:
    ds.attrs["units"] = units
    ds.attrs["long_name"] = long_name
    return ds


def create_grid_layout(f: h5py.File, grid: GridGeometry | None) -> None:
    """Create ``/entry/grid`` for ``grid`` (nothing when None); before SWMR starts."""
    if grid is None:
        return
    ny, nx, n_bias = grid.ny, grid.nx, len(grid.bias_V)
    group = f.create_group(GRID)
    group.attrs["NX_class"] = "NXdata"
    group.attrs["signal"] = "G_G0"
    group.attrs["axes"] = ["y_m", "x_m", "bias_V"]
    group.attrs["y_m_indices"] = 0
    group.attrs["x_m_indices"] = 1
    group.attrs["bias_V_indices"] = 2
    for name, value in (("nx", nx), ("ny", ny), ("first_point_index", grid.first_point)):
        group.attrs[name] = np.int64(value)
    for name, value in (("centre_x_m", grid.centre_m[0]), ("centre_y_m", grid.centre_m[1]),
                        ("size_x_m", grid.size_m[0]), ("size_y_m", grid.size_m[1]),
                        ("rotation_deg", grid.rotation_deg)):
        group.attrs[name] = float(value)
    for name, units, long_name in (
        ("G_G0", "2e^2/h", "differential conductance dI/dV in units of G0 = 2e^2/h"),
        ("G_S", "S", "differential conductance dI/dV"),
    ):
        # One spectrum per chunk, checksummed like the rows of entry/data.
        _label(group.create_dataset(name, shape=(ny, nx, n_bias), dtype=np.float64,
                                    chunks=(1, 1, n_bias), fillvalue=math.nan, fletcher32=True),
               units, long_name)
    # Small fixed axes: written now, so their storage exists before SWMR starts.
    _label(group.create_dataset("bias_V", data=np.asarray(grid.bias_V, dtype=np.float64)),
           "V", "sample bias of each point of the spectra (as planned)")
    _label(group.create_dataset("x_m", data=np.asarray(grid.x_m, dtype=np.float64)),
           "m", "pixel offset from the grid centre along the grid's x axis")
    _label(group.create_dataset("y_m", data=np.asarray(grid.y_m, dtype=np.float64)),
           "m", "pixel offset from the grid centre along the grid's y axis")
    for name, (units, long_name) in PIXEL_VALUES.items():
        _label(group.create_dataset(name, shape=(ny, nx), dtype=np.float64, chunks=(1, nx),
                                    fillvalue=math.nan, fletcher32=True), units, long_name)
    _label(group.create_dataset("done", shape=(ny, nx), dtype=np.uint8, chunks=(1, nx),
                                fillvalue=0, fletcher32=True),
           "1", "1 once the pixel's spectrum is stored (mirrors the ledger)")
    if grid.drift_patch_points:
        _label(group.create_dataset(
            DRIFT_REFERENCE, data=np.full((grid.drift_patch_points,) * 2, math.nan)),
            "m", "drift reference patch: z on a square grid around the reference point "
                 "[y, x]")


class GridFiller:
    """The writer's access to ``/entry/grid``: one pixel per confirmed grid spectrum."""

    def __init__(self, group: h5py.Group) -> None:
        self._group = group
        self.nx = int(group.attrs["nx"])
        self.ny = int(group.attrs["ny"])
        self.first = int(group.attrs["first_point_index"])
        self._cubes = (group["G_S"], group["G_G0"])
        self._maps = {name: group[name] for name in PIXEL_VALUES}
        self._done = group["done"]

    @classmethod
    def open(cls, f: h5py.File) -> GridFiller | None:
        """The filler of ``f``'s grid, or None for a run without one."""
        return cls(f[GRID]) if GRID in f else None

    def pixel_of(self, point_index: int) -> tuple[int, int] | None:
        """(iy, ix) of a plan point, or None if the point is not a pixel of the grid."""
        k = point_index - self.first
        if not 0 <= k < self.nx * self.ny:
            return None
        return divmod(k, self.nx)

    @staticmethod
    def check_values(values: Mapping[str, float] | None, point_index: int) -> dict[str, float]:
        """The per-pixel values as floats; names every missing or unknown key."""
        from .errors import RecordFieldError

        if not isinstance(values, Mapping):
            raise RecordFieldError(f"point {point_index} is a grid pixel: its grid values "
                                   f"({', '.join(PIXEL_VALUES)}) are needed")
        unknown = sorted(set(values) - set(PIXEL_VALUES))
        missing = sorted(set(PIXEL_VALUES) - set(values))
        if unknown or missing:
            raise RecordFieldError(f"grid values of point {point_index}: unknown {unknown}, "
                                   f"missing {missing}")
        return {name: float(values[name]) for name in PIXEL_VALUES}

    def write_pixel(self, point_index: int, G_S: np.ndarray, G_G0: np.ndarray,
                    values: Mapping[str, float]) -> None:
        """Copy a spectrum and its values to its pixel (before the ledger confirms it)."""
        iy, ix = self.pixel_of(point_index)
        self._cubes[0][iy, ix, :] = G_S
        self._cubes[1][iy, ix, :] = G_G0
        for name, ds in self._maps.items():
            ds[iy, ix] = values[name]

    def mark_done(self, point_index: int) -> None:
        iy, ix = self.pixel_of(point_index)
        self._done[iy, ix] = 1

    def reconcile(self, finished: np.ndarray) -> int:
        """After a crash: ``done`` from the ledger; pixels written but never confirmed are
        cleared (NaN). Returns how many were cleared."""
        n = self.nx * self.ny
        confirmed = np.zeros(n, dtype=bool)
        part = finished[self.first:self.first + n]
        confirmed[:part.size] = part
        confirmed = confirmed.reshape(self.ny, self.nx)
        touched = np.isfinite(self._maps["time_s"][()]) | (self._done[()] != 0)
        stale = np.argwhere(touched & ~confirmed)
        for iy, ix in stale:
            for cube in self._cubes:
                cube[iy, ix, :] = math.nan
            for ds in self._maps.values():
                ds[iy, ix] = math.nan
        self._done[...] = confirmed.astype(np.uint8)
        return len(stale)

    def set_reference(self, profiles: np.ndarray) -> None:
        """Store the drift reference patch ([n, n] z, m)."""
        self._group[DRIFT_REFERENCE][...] = np.asarray(profiles, dtype=np.float64)

    def state(self) -> dict:
        """What a resumed run needs to continue the grid's drift correction: the stored
        reference patch (or None) and the commanded position of the last pixel taken."""
        out: dict = {"reference": None, "last_pixel": None}
        if DRIFT_REFERENCE in self._group:
            ref = self._group[DRIFT_REFERENCE][()]
            if np.isfinite(ref).all():
                out["reference"] = ref
        done = np.flatnonzero(self._done[()].ravel())
        if done.size:
            last = int(done.max())
            iy, ix = divmod(last, self.nx)
            out.update(last_pixel=last, pos_x_m=float(self._maps["pos_x_m"][iy, ix]),
                       pos_y_m=float(self._maps["pos_y_m"][iy, ix]))
        return out
