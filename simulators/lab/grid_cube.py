"""A synthetic spectroscopic map (grid cube) of a sample's gap map, for tests and benches.

Each pixel is the physics core's two-gap conductance with the local E_g and Delta_c of the
lab's :class:`~simulators.lab.gapmap.GapMap` at that position, times G_N, with Gaussian noise
relative to G_N. The cube has the layout every grid reader returns (dims y, x, bias; see
docs/maps.md), so the analysis cannot tell it from a measured grid; ``write_grid_file`` stores
it as a run file's ``/entry/grid`` group for lazy reading.
"""

from __future__ import annotations

import os

import numpy as np

from stm_andreev.physics import G0_S, conductance, get_sample

from .gapmap import GapMap

_ROWS_PER_CALL = 512  # conductance() rows per call: bounds the energy-grid scratch memory


def synthetic_grid(ny: int, nx: int, n_bias: int = 401, *, sample: str = "InO-2",
                   size_m: float = 100e-9, bias_max_V: float = 1.5e-3, Z: float = 0.8,
                   G_N_G0: float = 4.0, T_K: float = 0.065, Vmod_rms_V: float = 10e-6,
                   noise: float = 0.005, seed: int = 0, source: str = "synthetic"):
    """(cube, truth): an xarray.Dataset grid of ``ny`` x ``nx`` pixels over a square of side
    ``size_m`` centred on the gap map's origin, and the true E_g, Delta_c (eV) maps."""
    import xarray as xr

    params = get_sample(sample)
    gaps = GapMap(params, seed)
    x = (np.arange(nx) - (nx - 1) / 2) * (size_m / max(nx, 1))
    y = (np.arange(ny) - (ny - 1) / 2) * (size_m / max(ny, 1))
    X, Y = np.meshgrid(x, y)
    local = [gaps.gaps_at(float(px), float(py)) for px, py in zip(X.ravel(), Y.ravel(),
                                                                  strict=True)]
    Eg = np.array([g.at_temperature(params, T_K)[0] for g in local]).reshape(ny, nx)
    Dc = np.array([g.at_temperature(params, T_K)[1] for g in local]).reshape(ny, nx)
    V = np.linspace(-bias_max_V, bias_max_V, n_bias)
    g = np.empty((ny * nx, n_bias))
    for i in range(0, ny * nx, _ROWS_PER_CALL):
        rows = slice(i, i + _ROWS_PER_CALL)
        k = len(Eg.ravel()[rows])
        g[rows] = conductance(V, Eg_eV=Eg.ravel()[rows, None], Dc_eV=Dc.ravel()[rows, None],
                              Z=np.full((k, 1), Z), gamma_eV=np.full((k, 1), params.gamma_eV),
                              gamma_c_eV=np.full((k, 1), params.gamma_c_eV), T_K=T_K,
                              Vmod_rms_V=Vmod_rms_V)
    rng = np.random.default_rng(seed)
    G_G0 = (g + noise * rng.standard_normal(g.shape)) * G_N_G0
    G_G0 = G_G0.reshape(ny, nx, n_bias)
    cube = xr.Dataset(
        {"G_S": (("y", "x", "bias"), G_G0 * G0_S, {"units": "S"}),
         "G_G0": (("y", "x", "bias"), G_G0, {"units": "2e^2/h"}),
         "z": (("y", "x"), np.zeros((ny, nx)), {"units": "m"}),
         "T_K": (("y", "x"), np.full((ny, nx), T_K), {"units": "K"}),
         "time_s": (("y", "x"), np.arange(ny * nx, dtype=float).reshape(ny, nx),
                    {"units": "s"}),
         "done": (("y", "x"), np.ones((ny, nx), dtype=bool))},
        coords={"bias": ("bias", V, {"units": "V"}), "x": ("x", x, {"units": "m"}),
                "y": ("y", y, {"units": "m"}), "pos_x": (("y", "x"), X, {"units": "m"}),
                "pos_y": (("y", "x"), Y, {"units": "m"})},
        attrs={"source": source, "sample": sample, "setpoint_A": 0.0,
               "modulation_V": Vmod_rms_V, "temperature_K": T_K})
    return cube, {"E_g_eV": Eg, "Delta_c_eV": Dc, "Z": Z, "G_N_S": G_N_G0 * G0_S}


def write_grid_file(cube, path: str | os.PathLike[str], *, rows_per_write: int = 8) -> None:
    """Store ``cube`` as ``/entry/grid`` (chunks of one spectrum, as a run file has them),
    writing ``rows_per_write`` rows of pixels at a time."""
    import h5py

    ny, nx, nb = cube["G_S"].shape
    with h5py.File(path, "w") as f:
        grid = f.create_group("entry/grid")
        grid.attrs.update(NX_class="NXdata", signal="G_G0", nx=nx, ny=ny)
        grid.attrs["axes"] = ["y_m", "x_m", "bias_V"]
        for name in ("G_G0", "G_S"):
            ds = grid.create_dataset(name, (ny, nx, nb), "f8", chunks=(1, 1, nb))
            ds.attrs["units"] = cube[name].attrs["units"]
            for i in range(0, ny, rows_per_write):
                ds[i:i + rows_per_write] = np.asarray(cube[name][i:i + rows_per_write].values)
        grid["bias_V"] = cube["bias"].values
        grid["x_m"], grid["y_m"] = cube["x"].values, cube["y"].values
        grid["pos_x_m"], grid["pos_y_m"] = cube["pos_x"].values, cube["pos_y"].values
        grid["z_m"], grid["T_K"] = cube["z"].values, cube["T_K"].values
        grid["time_s"] = cube["time_s"].values
        grid["done"] = cube["done"].values.astype(np.uint8)


def open_grid_file(path: str | os.PathLike[str], block: tuple[int, int] = (8, 8)):
    """The cube of a file written by :func:`write_grid_file`, conductances lazy in chunks of
    ``block`` pixels (the storage's grid reader)."""
    from stm_andreev.storage.grid_read import read_grid

    return read_grid(path, lazy=True, chunks=block)
