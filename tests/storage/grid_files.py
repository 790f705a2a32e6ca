"""Run files with an ``/entry/grid`` group laid out by the names of the maps contract
(section 2), built with h5py: the grid writer of the acquisition lives in another module;
these tests only need files of that shape."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from stm_andreev.storage.nexus import lay_out_pixel_plot

from .storage_helpers import new_run

G0_S = 7.748091729e-5


def pixel_G_S(iy: int, ix: int, n_bias: int) -> np.ndarray:
    """A spectrum whose values encode the pixel, so a test can tell pixels apart."""
    return 1e-6 * (1 + iy * 100 + ix) * (1.0 + np.arange(n_bias) / n_bias)


def lay_out_grid(path: Path, *, nx: int, ny: int, n_bias: int) -> None:
    """A finished run file (no spectra) plus an empty /entry/grid group, NaN / 0 filled."""
    new_run(path, n_planned=nx * ny, n_bias=n_bias).close("finished")
    with h5py.File(path, "r+", libver="latest") as f:
        g = f.create_group("entry/grid")
        g.attrs.update(NX_class="NXdata", signal="G_G0", axes=["y_m", "x_m", "bias_V"],
                       nx=nx, ny=ny, centre_x_m=1e-7, centre_y_m=-1e-7, size_x_m=2e-8,
                       size_y_m=1e-8, rotation_deg=0.0)
        for name, units in (("G_G0", "2e^2/h"), ("G_S", "S")):
            ds = g.create_dataset(name, shape=(ny, nx, n_bias), dtype="f8",
                                  chunks=(1, 1, n_bias), fillvalue=np.nan)
            ds.attrs["units"] = units
        x = np.linspace(-1e-8, 1e-8, nx)
        y = np.linspace(-0.5e-8, 0.5e-8, ny)
        for name, data, units in (("bias_V", np.linspace(-2e-3, 2e-3, n_bias), "V"),
                                  ("x_m", x, "m"), ("y_m", y, "m"),
                                  ("pos_x_m", 1e-7 + np.broadcast_to(x, (ny, nx)), "m"),
                                  ("pos_y_m", -1e-7 + np.broadcast_to(y[:, None], (ny, nx)),
                                   "m")):
            g.create_dataset(name, data=data).attrs["units"] = units
        for name, units in (("z_m", "m"), ("T_K", "K"), ("time_s", "s")):
            ds = g.create_dataset(name, shape=(ny, nx), dtype="f8", fillvalue=np.nan)
            ds[...] = np.nan
            ds.attrs["units"] = units
        g.create_dataset("done", shape=(ny, nx), dtype="u1", fillvalue=0)[...] = 0
        g["done"].attrs["units"] = "1"
        # what create_layout does after the grid group is laid out (storage/nexus.py)
        lay_out_pixel_plot(f)


def write_pixel(f: h5py.File, iy: int, ix: int) -> None:
    """A pixel as the acquisition stores it: spectrum and per-pixel values, flush, then done."""
    g = f["entry/grid"]
    n_bias = g["G_S"].shape[2]
    G = pixel_G_S(iy, ix, n_bias)
    g["G_S"][iy, ix] = G
    g["G_G0"][iy, ix] = G / G0_S
    g["z_m"][iy, ix] = 1e-9 * (iy + ix)
    g["T_K"][iy, ix] = 0.065 + 1e-3 * ix
    g["time_s"][iy, ix] = 10.0 * (iy * 100 + ix)
    f.flush()
    g["done"][iy, ix] = 1
    f.flush()


def make_grid_file(path: Path, *, nx: int = 4, ny: int = 3, n_bias: int = 16,
                   pixels: int | None = None) -> Path:
    """A grid run file with the first ``pixels`` pixels (raster order) done (all if None)."""
    lay_out_grid(path, nx=nx, ny=ny, n_bias=n_bias)
    with h5py.File(path, "r+", libver="latest") as f:
        for p in range(nx * ny if pixels is None else pixels):
            write_pixel(f, *divmod(p, nx))
    return path
