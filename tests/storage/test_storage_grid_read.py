"""Grid run files as xarray cubes (issue 17): read_grid by the contract's names, pixels not
done are NaN, large grids lazy (dask over the file's chunks, picklable for a cluster), a grid
being written followed live through SWMR showing only finished pixels; RunReader.to_xarray
for grid and spectrum runs."""

import pickle

import dask
import numpy as np
import pytest

from stm_andreev.storage import RunReader
from stm_andreev.storage.errors import NotARunFileError
from stm_andreev.storage.grid_read import read_grid

from .grid_files import G0_S, make_grid_file, pixel_G_S
from .storage_helpers import METADATA, append_point, new_run
from .subprocess_helpers import read_line, send_line, start_module


def test_cube_has_the_contract_names_units_and_values(tmp_path):
    path = make_grid_file(tmp_path / "grid.h5", nx=4, ny=3, n_bias=16)
    cube = read_grid(path)
    assert dict(cube.sizes) == {"y": 3, "x": 4, "bias": 16}
    assert set(cube.data_vars) == {"G_S", "G_G0", "z", "T_K", "time_s", "done"}
    assert {"bias", "x", "y", "pos_x", "pos_y"} <= set(cube.coords)
    assert cube["pos_x"].dims == ("y", "x")
    units = {n: cube[n].attrs["units"] for n in ("G_S", "G_G0", "bias", "x", "y", "pos_x",
                                                 "pos_y", "z", "T_K", "time_s")}
    assert units == {"G_S": "S", "G_G0": "2e^2/h", "bias": "V", "x": "m", "y": "m",
                     "pos_x": "m", "pos_y": "m", "z": "m", "T_K": "K", "time_s": "s"}
    assert cube["done"].dtype == bool and cube["done"].values.all()
    assert np.array_equal(cube["G_S"].values[2, 3], pixel_G_S(2, 3, 16))
    assert np.allclose(cube["G_G0"].values[1, 2], pixel_G_S(1, 2, 16) / G0_S)
    assert cube["z"].values[2, 1] == pytest.approx(3e-9)
    assert cube.attrs["sample"] == METADATA["sample"]
    assert cube.attrs["source"] == str(path)
    assert cube.attrs["temperature_K"] == pytest.approx(0.0665)
    assert cube.attrs["nx"] == 4 and cube.attrs["size_x_m"] == pytest.approx(2e-8)


def test_pixels_not_done_are_nan(tmp_path):
    path = make_grid_file(tmp_path / "grid.h5", nx=4, ny=3, pixels=6)
    with RunReader(path) as reader:
        cube = reader.to_xarray()
    done = cube["done"].values
    assert done.sum() == 6 and done[1, 1] and not done[1, 2]
    assert np.isnan(cube["G_S"].values[~done]).all()
    assert np.isnan(cube["z"].values[~done]).all() and np.isnan(cube["T_K"].values[~done]).all()
    assert np.isfinite(cube["G_S"].values[done]).all()


def test_large_grids_are_lazy_and_their_chunks_pickle(tmp_path):
    path = make_grid_file(tmp_path / "grid.h5", nx=5, ny=4, n_bias=8, pixels=13)
    eager = read_grid(path, lazy=False)
    lazy = read_grid(path, lazy=True)
    assert isinstance(lazy["G_S"].data, dask.array.Array)
    assert not isinstance(eager["G_S"].data, dask.array.Array)
    # the graph travels to a distributed worker as (path, name): rebuilt there, it reads too
    clone = pickle.loads(pickle.dumps(lazy["G_S"].data))
    for values in (lazy["G_S"].values, clone.compute()):
        np.testing.assert_array_equal(values, eager["G_S"].values)
    assert lazy["G_S"].chunks[0][0] >= 1


def test_a_grid_being_written_shows_only_finished_pixels(tmp_path):
    path = tmp_path / "live.h5"
    child = start_module("tests.storage.grid_writer_child", str(path), "3", "2", "8")
    try:
        assert read_line(child) == "ready"
        seen = []
        for command in ("0", "1", "half 2", "2", "3"):
            send_line(child, command)
            assert read_line(child) == "ok"
            for lazy in (False, True):
                cube = read_grid(path, lazy=lazy)
                done = cube["done"].values
                G = cube["G_S"].values
                assert np.isnan(G[~done]).all()
                for iy, ix in zip(*np.nonzero(done), strict=True):
                    np.testing.assert_array_equal(G[iy, ix], pixel_G_S(iy, ix, 8))
            seen.append(int(done.sum()))
        assert seen == [1, 2, 2, 3, 4]  # the half-written pixel is not shown
    finally:
        child.stdin.close()
        child.wait(timeout=60)


def test_a_file_without_grid_is_refused_by_read_grid(tmp_path):
    path = tmp_path / "plain.h5"
    new_run(path).close("finished")
    with pytest.raises(NotARunFileError, match="no entry/grid group"):
        read_grid(path)


def test_spectrum_runs_become_spectrum_by_bias(tmp_path):
    path = tmp_path / "run.h5"
    writer = new_run(path, point_keys=["heater_power_W"])
    for p in (3, 5, 4):
        append_point(writer, p)
    writer.close("finished")
    with RunReader(path) as reader:
        ds = reader.to_xarray()
        spectra = reader.spectra()
    assert dict(ds.sizes) == {"spectrum": 3, "bias": 16}
    np.testing.assert_array_equal(ds["G_S"].values, spectra["G_S"])
    np.testing.assert_array_equal(ds["point_index"].values, [3, 5, 4])
    assert ds["G_S"].attrs["units"] == "S" and ds["lockin_X_V"].attrs["units"] == "V"
    assert ds["setpoint_A"].attrs["units"] == "A" and ds["z_m"].attrs["units"] == "m"
    assert ds["heater_power_W"].attrs["units"] == "W"
    assert list(ds["status_text"].values) == ["ok 3", "ok 5", "ok 4"]
    assert ds["bias"].attrs["units"] == "V" and ds.attrs["sample"] == METADATA["sample"]
    assert ds["G_S"].sel(spectrum=1).values[0] == spectra["G_S"][1, 0]


def test_a_damaged_grid_header_is_named_at_once(tmp_path):
    """One flipped bit in the object header of /entry/grid/T_K of a finished grid file: the
    old reader opened it in SWMR mode, where HDF5 retries the bad checksum for minutes (over
    200 s measured) and then raised a bare KeyError. Now the file is read as a closed file
    first and the damage is named, with the file."""
    import h5py

    from stm_andreev.analysis.errors import AnalysisInputError
    from stm_andreev.analysis.maps_cube import is_grid_file, open_grid

    path = make_grid_file(tmp_path / "grid.h5", nx=4, ny=3, n_bias=16)
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["entry/grid/T_K"].id).addr
    damaged = bytearray(path.read_bytes())
    damaged[header + 12] ^= 0x10
    bad = tmp_path / "flipped.h5"
    bad.write_bytes(bytes(damaged))
    assert is_grid_file(bad)  # the group itself is intact
    with pytest.raises(NotARunFileError, match="the grid cannot be read .damaged file"):
        read_grid(bad)
    with pytest.raises(AnalysisInputError, match=f"{bad}: the grid cannot be read"):
        open_grid(bad)
