"""Per-pixel analysis of a spectroscopic map (a grid cube) as one Dask computation.

    analyze_map(cube, *, scheduler=None) -> xarray.Dataset   (dims y, x)
    fit_pixel(cube, iy, ix) -> Analysis                      (one pixel, for display)

The cube (an ``xarray.Dataset`` with ``G_S`` or ``G_G0`` over (y, x, bias), see docs/maps.md)
may be lazy: its conductance is cut into blocks of pixels (``block``, default 8 x 8 = 64
spectra, ~200 kB at 401 biases, finer on small maps: :func:`map_blocks`) and each block is
one task that reads its spectra and runs the project's single-spectrum pipeline on each
(:mod:`.maps_pixels`). Only the results (a few numbers per pixel) come back, so memory stays
bounded by the blocks in flight whatever the map's size. The scheduler (local process pool by default, or a dask.distributed cluster) is
chosen in :mod:`.maps_schedule`; the graph is the same either way.

Result variables, for q in E_g, Delta_c, Gamma, Z, G_N: ``q`` (eV for energies, S for G_N),
``q_sigma`` (1 sigma, including the spread over models that fit as well), ``q_grade`` (int8:
0 good, 1 poor, 2 failed, 3 not measured / not applicable), plus ``model``, ``reason`` and
``chi2_noise`` per pixel.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import numpy as np

from .errors import AnalysisInputError
from .maps_cube import CubeView, cube_view, lazy_grid_array
from .maps_pixels import (
    AUX,
    FLAG_MEANINGS,
    NOT_APPLICABLE,
    QUANTITIES,
    PixelResult,
    analyze_block,
    pixel_spectrum,
)
from .maps_schedule import compute_options, describe, fork_is_safe, local_cpus
from .maps_store import read_map_results, write_map_results
from .pipeline import Analysis, analyze_spectrum

log = logging.getLogger(__name__)

DEFAULT_BLOCK = (8, 8)
MIN_BLOCKS = 16  # a map is cut into at least this many tasks where it can be (see map_blocks)
UNITS = {"E_g": "eV", "Delta_c": "eV", "Gamma": "eV", "Z": "", "G_N": "S"}
LONG_NAMES = {
    "E_g": "single-particle gap E_g",
    "Delta_c": "collective gap Delta_c (two-gap fit)",
    "Gamma": "Dynes broadening Gamma",
    "Z": "BTK barrier Z",
    "G_N": "normal-state conductance G_N",
}

__all__ = ["QUANTITIES", "analyze_map", "fit_pixel", "map_dataset", "read_map_results",
           "write_map_results"]


def _aux(view: CubeView) -> np.ndarray:
    ny, nx = view.shape
    index = np.arange(ny * nx, dtype=float).reshape(ny, nx)
    cols = {"T_K": view.T_K, "pos_x_m": view.pos_x_m, "pos_y_m": view.pos_y_m,
            "done": view.done.astype(float), "index": index}
    return np.stack([cols[c] for c in AUX], axis=-1)


def _conductance_blocks(view: CubeView, block: tuple[int, int], local_pool: bool):
    """(G, scheduler override): the conductance as a dask array in blocks of pixels (all
    biases in one chunk). On the local process pool every task is pickled: an array read
    straight from an h5py dataset cannot be. It is then read again from its file through a
    picklable reader when the file holds it whole (/entry/grid); otherwise (a slice of a
    grid, another format) the map runs on threads in this process, slower but the same
    numbers, and a warning says so."""
    import dask.array as da

    chunks = (block[0], block[1], -1)
    G = view.G
    if not isinstance(G, da.Array):
        return da.from_array(np.asarray(G), chunks=chunks, asarray=True), None
    G = G.rechunk(chunks)
    if not local_pool:
        return G, None
    import cloudpickle

    try:
        cloudpickle.dumps(G)
        return G, None
    except TypeError as exc:
        problem = str(exc)
    name = "G_S" if view.G_unit == "S" else "G_G0"
    try:
        again = lazy_grid_array(view.source, name, chunks=(block[0], block[1], G.shape[2]))
    except (OSError, KeyError) as exc:
        again, problem = None, f"{problem}; not read again from {view.source}: {exc}"
    if again is not None and again.shape == G.shape:
        return again, None
    log.warning("%s: the lazy grid cannot be sent to worker processes (%s): analysed on "
                "threads in this process instead", view.source, problem)
    return G, "threads"


def map_blocks(shape: tuple[int, int], block: tuple[int, int] | None = None
               ) -> tuple[int, int]:
    """Pixels per task (y, x): ``block`` when given, else DEFAULT_BLOCK halved (its longer
    side first) until the map has MIN_BLOCKS blocks or the blocks are 2 x 2. A small map in
    8 x 8 blocks is only a few tasks and the last one keeps a worker busy alone (24 x 24:
    9 blocks, 5 for one of 2 workers, 4 for the other). Depends on the map's shape only,
    never on the workers, so the neighbour reseed (within a block) gives the same numbers
    on every scheduler."""
    if block is not None:
        return max(1, int(block[0])), max(1, int(block[1]))
    ny, nx = shape
    by, bx = DEFAULT_BLOCK
    while -(-ny // by) * -(-nx // bx) < MIN_BLOCKS and max(by, bx) > 2:
        if by >= bx:
            by = -(-by // 2)
        else:
            bx = -(-bx // 2)
    return min(by, max(ny, 1)), min(bx, max(nx, 1))


def analyze_map(cube, *, scheduler: Any = None, workers: int | None = None,
                block: tuple[int, int] | None = None, neighbours: bool = False,
                T_K: float | None = None, Vmod_rms_V: float | None = None):
    """Analyse every measured pixel of ``cube`` (xarray.Dataset, see the module docstring).

    ``scheduler``: None (local process pool, ``workers`` processes, default one per CPU),
    "threads", "sync", a dask.distributed address ("tcp://HOST:PORT"), Client or cluster.
    ``block``: pixels per task (y, x); default :func:`map_blocks`. ``neighbours``: refit pixels not graded good from
    their good neighbours' two-gap solutions. ``T_K`` (K), ``Vmod_rms_V`` (V rms): override
    what the cube recorded. Returns an xarray.Dataset over (y, x)."""
    import dask
    import dask.array as da

    view = _overridden(cube_view(cube), T_K, Vmod_rms_V)
    by, bx = map_blocks(view.shape, block)
    local_pool = scheduler in (None, "processes") and (workers or local_cpus()) > 1
    G, override = _conductance_blocks(view, (by, bx), local_pool)
    if override is not None:
        scheduler, local_pool = override, False
    aux = da.from_array(_aux(view), chunks=(by, bx, -1))
    results = da.blockwise(
        analyze_block, "ij", G, "ijk", aux, "ijl", concatenate=True, dtype=object,
        meta=np.empty((0, 0), dtype=object), bias_V=view.bias_V, unit=view.G_unit,
        Vmod_rms_V=view.Vmod_rms_V, default_T_K=view.default_T_K, source=view.source,
        neighbours=neighbours)
    where = describe(scheduler, workers)
    t0 = time.perf_counter()
    with compute_options(scheduler, workers) as options:
        (grid,) = dask.compute(results, **options)
    seconds = time.perf_counter() - t0
    log.info("%s: %d x %d pixels analysed in %.1f s on %s%s", view.source, *view.shape,
             seconds, where, " (forked)" if local_pool and fork_is_safe() else "")
    out = map_dataset(grid, view, cube)
    out.attrs.update(scheduler=where, neighbours=int(neighbours), block=list((by, bx)))
    return out


def map_dataset(grid: np.ndarray, view: CubeView, cube=None):
    """The xarray.Dataset of a grid of PixelResults (object array (ny, nx))."""
    import xarray as xr

    ny, nx = grid.shape
    flat: list[PixelResult] = list(grid.ravel())
    data: dict[str, Any] = {}
    for k, q in enumerate(QUANTITIES):
        v = np.array([p.values[k][0] for p in flat], dtype=float).reshape(ny, nx)
        s = np.array([p.values[k][1] for p in flat], dtype=float).reshape(ny, nx)
        g = np.array([p.values[k][2] for p in flat], dtype=np.int8).reshape(ny, nx)
        unit = UNITS[q]
        data[q] = (("y", "x"), v, {"units": unit, "long_name": LONG_NAMES[q]})
        data[f"{q}_sigma"] = (("y", "x"), s, {"units": unit,
                                              "long_name": f"1-sigma uncertainty of {q}"})
        data[f"{q}_grade"] = (("y", "x"), g, {
            "flag_values": np.arange(NOT_APPLICABLE + 1, dtype=np.int8),
            "flag_meanings": FLAG_MEANINGS, "long_name": f"quality grade of {q}"})
    data["model"] = (("y", "x"), np.array([p.model for p in flat], dtype=str).reshape(ny, nx),
                     {"long_name": "model chosen by evidence (dynes, btk, two_gap)"})
    data["reason"] = (("y", "x"),
                      np.array([p.reason for p in flat], dtype=str).reshape(ny, nx),
                      {"long_name": "why the grade is what it is"})
    data["chi2_noise"] = (("y", "x"),
                          np.array([p.chi2_noise for p in flat], dtype=float).reshape(ny, nx),
                          {"units": "", "long_name": "chi2_red over the spectrum's noise"})
    coords: dict[str, Any] = {}
    if cube is not None:
        for name in ("y", "x"):
            if name in cube.coords:
                coords[name] = (name, np.asarray(cube[name].values),
                                dict(cube[name].attrs) or {"units": "m"})
        for name in ("pos_x", "pos_y"):
            if name in cube.coords or name in cube.data_vars:
                coords[name] = (("y", "x"), np.asarray(cube[name].values), {"units": "m"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(source=view.source, n_pixels=int(ny * nx),
                    n_measured=int(np.count_nonzero(view.done)))
    return ds


def _overridden(view: CubeView, T_K: float | None, Vmod_rms_V: float | None) -> CubeView:
    if T_K is not None:
        view = replace(view, T_K=np.full(view.shape, float(T_K)), default_T_K=float(T_K))
    if Vmod_rms_V is not None:
        view = replace(view, Vmod_rms_V=float(Vmod_rms_V))
    return view


def fit_pixel(cube, iy: int, ix: int, *, T_K: float | None = None,
              Vmod_rms_V: float | None = None) -> Analysis:
    """The pipeline's Analysis of pixel (iy, ix) (its spectrum, fits and peaks, for display).
    Raises AnalysisInputError for a pixel outside the grid or not measured."""
    view = _overridden(cube_view(cube), T_K, Vmod_rms_V)
    ny, nx = view.shape
    if not (0 <= iy < ny and 0 <= ix < nx):
        raise AnalysisInputError(f"{view.source}: pixel ({iy}, {ix}) is outside the "
                                 f"{ny} x {nx} grid")
    if not view.done[iy, ix]:
        raise AnalysisInputError(f"{view.source}: pixel ({iy}, {ix}) was not measured")
    row = np.asarray(view.G[iy, ix], dtype=float)
    aux = _aux(view)[iy, ix]
    spec = pixel_spectrum(row, view.bias_V, view.G_unit, aux, Vmod_rms_V=view.Vmod_rms_V,
                          default_T_K=view.default_T_K, source=view.source)
    return analyze_spectrum(spec)
