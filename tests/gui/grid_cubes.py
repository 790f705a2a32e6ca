"""Grid cubes and map results built to the MAPS contract (sections 3 and 4) for the GUI tests:
xarray Datasets with the contract's names, physics-made spectra, partly done where asked."""

from __future__ import annotations

import numpy as np
import xarray as xr

from stm_andreev.physics import G0_S, conductance, get_sample

N_BIAS = 121
PIXEL_M = 2e-9
NOISE = 0.005  # of G_N, white
GRADE_ATTRS = {"flag_values": [0, 1, 2, 3], "flag_meanings": "good poor failed not_applicable"}


def pixel_gap_eV(iy: int, ix: int, nx: int) -> float:
    """E_g of pixel (iy, ix): rises along x (a gap map with a factor of ~2 across)."""
    return 400e-6 + 300e-6 * ix / max(nx - 1, 1) + 10e-6 * iy


def make_cube(ny: int = 6, nx: int = 8, *, n_done: int | None = None,
              n_bias: int = N_BIAS) -> xr.Dataset:
    """A grid cube (dims y, x, bias); the first ``n_done`` pixels in raster order measured
    (default all), the rest NaN with done False, as a run still going."""
    sample = get_sample("InO-2")
    bias = np.linspace(-1.5e-3, 1.5e-3, n_bias)
    G = np.full((ny, nx, n_bias), np.nan)
    z = np.full((ny, nx), np.nan)
    T = np.full((ny, nx), np.nan)
    t = np.full((ny, nx), np.nan)
    done = np.zeros((ny, nx), dtype=bool)
    n_done = ny * nx if n_done is None else n_done
    G_N = 2.0  # units of 2e^2/h
    rng = np.random.default_rng(17)
    for k in range(n_done):
        iy, ix = divmod(k, nx)
        g = conductance(bias, Eg_eV=pixel_gap_eV(iy, ix, nx), Dc_eV=sample.delta_c_eV(0.065),
                        Z=0.8, gamma_eV=sample.gamma_eV, T_K=0.065, Vmod_rms_V=20e-6)
        G[iy, ix] = g * G_N + rng.normal(0.0, NOISE * G_N, n_bias)
        z[iy, ix] = 1e-10 * np.sin(ix / 2.0) + 0.3e-10 * iy
        T[iy, ix] = 0.065
        t[iy, ix] = 30.0 * k
        done[iy, ix] = True
    x = (np.arange(nx) - (nx - 1) / 2) * PIXEL_M
    y = (np.arange(ny) - (ny - 1) / 2) * PIXEL_M
    pos_y, pos_x = np.meshgrid(y + 1e-7, x + 2e-7, indexing="ij")
    ds = xr.Dataset(
        {
            "G_G0": (("y", "x", "bias"), G, {"units": "2e^2/h"}),
            "G_S": (("y", "x", "bias"), G * G0_S, {"units": "S"}),
            "z": (("y", "x"), z, {"units": "m"}),
            "T_K": (("y", "x"), T, {"units": "K"}),
            "time_s": (("y", "x"), t, {"units": "s"}),
            "done": (("y", "x"), done),
        },
        coords={"bias": ("bias", bias, {"units": "V"}), "x": ("x", x, {"units": "m"}),
                "y": ("y", y, {"units": "m"}), "pos_x": (("y", "x"), pos_x, {"units": "m"}),
                "pos_y": (("y", "x"), pos_y, {"units": "m"})},
        attrs={"source": "test-grid.h5", "sample": "InO-2", "setpoint_A": 1e-7,
               "modulation_V": 20e-6, "temperature_K": 0.065},
    )
    return ds


def make_results(cube: xr.Dataset, grades: dict[tuple[int, int], int] | None = None) -> xr.Dataset:
    """Map results for ``cube`` (dims y, x): E_g the truth of each pixel, every grade good
    except where ``grades`` says otherwise; pixels not done are NaN with grade 3."""
    ny, nx = cube.sizes["y"], cube.sizes["x"]
    done = cube["done"].values
    grade = np.where(done, 0, 3).astype(np.int8)
    for (iy, ix), code in (grades or {}).items():
        grade[iy, ix] = code
    E_g = np.array([[pixel_gap_eV(iy, ix, nx) for ix in range(nx)] for iy in range(ny)])
    values = {"E_g": E_g, "Delta_c": np.full((ny, nx), 150e-6),
              "Gamma": np.full((ny, nx), 40e-6), "Z": np.full((ny, nx), 0.8),
              "G_N": np.full((ny, nx), 2.0 * G0_S)}
    units = {"E_g": "eV", "Delta_c": "eV", "Gamma": "eV", "Z": "1", "G_N": "S"}
    data = {}
    for q, v in values.items():
        v = np.where(done, v, np.nan)
        data[q] = (("y", "x"), v, {"units": units[q]})
        data[f"{q}_sigma"] = (("y", "x"), np.abs(v) * 0.02, {"units": units[q]})
        data[f"{q}_grade"] = (("y", "x"), grade.copy(), dict(GRADE_ATTRS))
    model = np.where(done, "two_gap", "").astype(object)
    reason = np.where(grade == 2, "chi2 is 80 x the noise variance",
                      np.where(grade == 1, "E_g at a bound", "")).astype(object)
    data["model"] = (("y", "x"), model)
    data["reason"] = (("y", "x"), reason)
    return xr.Dataset(data, coords={"x": cube["x"], "y": cube["y"]})
