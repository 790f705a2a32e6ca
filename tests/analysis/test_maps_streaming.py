"""A lazy map is analysed a block of pixels at a time: no task ever holds more than one
block of spectra, every spectrum is read once, and an HDF5-backed cube (which h5py cannot
pickle) still reaches the local process pool."""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np
import pytest

from stm_andreev.analysis import maps
from stm_andreev.analysis.maps import analyze_map
from stm_andreev.analysis.maps_cube import open_grid
from stm_andreev.simulators.lab.grid_cube import write_grid_file
from stm_andreev.storage import grid_read

from .maps_cases import N_BIAS, small_cube


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    cube, _ = small_cube(3, 3)
    path = tmp_path_factory.mktemp("grid") / "map.h5"
    write_grid_file(cube, path)
    return path


def test_blocks_are_read_and_analysed_one_at_a_time(grid_file, monkeypatch):
    reads: list[tuple[int, ...]] = []
    blocks: list[tuple[int, ...]] = []
    read = grid_read.GridArray.__getitem__
    analyse = maps.analyze_block

    def counting_read(self, key):
        out = read(self, key)
        if out.size:  # dask reads a 0 x 0 x 0 slice for the array's type: not data
            reads.append(out.shape)
        return out

    def recording_block(G, aux, **kwargs):
        blocks.append(G.shape)
        # The block's numbers are not needed here: mark every pixel "not measured".
        return analyse(G, np.where(np.arange(aux.shape[2]) == maps.AUX.index("done"), 0.0,
                                   aux), **kwargs)

    monkeypatch.setattr(grid_read.GridArray, "__getitem__", counting_read)
    monkeypatch.setattr(maps, "analyze_block", recording_block)
    cube = open_grid(grid_file, block=(2, 2))
    assert isinstance(cube["G_S"].data, da.Array)  # lazy until analysed
    assert reads == []
    analyze_map(cube, scheduler="sync", block=(2, 2))
    assert sorted(blocks) == sorted([(2, 2, N_BIAS), (2, 1, N_BIAS), (1, 2, N_BIAS),
                                     (1, 1, N_BIAS)])
    assert max(int(np.prod(s)) for s in reads) <= 4 * N_BIAS  # never more than a block
    assert sum(int(np.prod(s)) for s in reads) == 9 * N_BIAS  # each spectrum read once


def _h5py_backed(cube, f, y: slice, x: slice, path):
    lazy = cube.isel(y=y, x=x).copy()
    lazy["G_S"] = (("y", "x", "bias"),
                   da.from_array(f["entry/grid/G_S"], chunks=(1, 1, N_BIAS))[y, x])
    lazy.attrs["source"] = str(path)
    return lazy


def test_h5py_backed_cube_reaches_the_process_pool(grid_file, caplog):
    """da.from_array on an h5py dataset cannot be pickled. The whole grid is read again from
    its file through a picklable reader; a slice of it runs on threads (with a warning);
    the numbers are those of this process either way."""
    cube, _ = small_cube(3, 3)
    with h5py.File(grid_file, "r") as f:
        whole = _h5py_backed(cube, f, slice(None), slice(None), grid_file)
        on_pool = analyze_map(whole, workers=2, block=(2, 3))
        part = _h5py_backed(cube, f, slice(0, 1), slice(0, 2), grid_file)
        on_threads = analyze_map(part, workers=2, block=(1, 1))
    assert on_pool.attrs["scheduler"].startswith("local process pool")
    assert on_threads.attrs["scheduler"] == "threads"
    assert "analysed on threads" in caplog.text
    here = analyze_map(cube, scheduler="sync", block=(3, 3))
    np.testing.assert_array_equal(on_pool["E_g"].values, here["E_g"].values)
    np.testing.assert_array_equal(on_threads["E_g"].values, here["E_g"].values[:1, :2])
