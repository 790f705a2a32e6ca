"""Map results on disk: in a finished run file of ours, else beside the source; never in a
run still being written or in someone else's file; read back as they were."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest

from stm_andreev.analysis.errors import AnalysisInputError
from stm_andreev.analysis.maps import map_dataset
from stm_andreev.analysis.maps_cube import cube_view
from stm_andreev.analysis.maps_histogram import map_histograms
from stm_andreev.analysis.maps_pixels import (
    FAILED,
    GOOD,
    NOT_APPLICABLE,
    POOR,
    QUANTITIES,
    PixelResult,
)
from stm_andreev.analysis.maps_store import (
    RESULTS_GROUP,
    MapResultsError,
    read_map_results,
    sibling_path,
    write_map_results,
)

from ..storage.storage_helpers import append_point, new_run
from .maps_cases import small_cube


@pytest.fixture(scope="module")
def results():
    """Results of a 3 x 3 map with every grade present (no fits: made directly)."""
    cube, _ = small_cube(3, 3)
    grid = np.empty((3, 3), dtype=object)
    codes = [GOOD, GOOD, POOR, FAILED, NOT_APPLICABLE, GOOD, POOR, GOOD, GOOD]
    for k, code in enumerate(codes):
        value = float("nan") if code >= FAILED else 100e-6 + k * 1e-6
        grid.flat[k] = PixelResult(tuple((value, 2e-6, code) for _ in QUANTITIES),
                                   "two_gap" if code < FAILED else "",
                                   f"pixel {k} ünïcode", 1.0 + k)
    return map_dataset(grid, cube_view(cube), cube)


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same(a, b) -> None:
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        assert x.dtype.kind == y.dtype.kind, name
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert (x == y).all(), name
        assert a[name].dims == b[name].dims
        assert a[name].attrs.get("units") == b[name].attrs.get("units")


def test_finished_run_file_gets_the_results_inside(tmp_path, results):
    path = tmp_path / "run.h5"
    writer = new_run(path)
    append_point(writer, 0)
    writer.close()
    assert write_map_results(results, path) == path
    assert not sibling_path(path).exists()
    with h5py.File(path, "r") as f:
        assert RESULTS_GROUP in f
        assert f[RESULTS_GROUP]["E_g_grade"].attrs["flag_meanings"] == \
            "good poor failed not_applicable"
    back = read_map_results(path)
    _same(results, back)
    # Analysing again replaces the results.
    write_map_results(results.isel(y=slice(0, 2)), path)
    assert read_map_results(path).sizes["y"] == 2


def test_run_being_written_is_not_touched(tmp_path, results):
    path = tmp_path / "live.h5"
    writer = new_run(path)
    append_point(writer, 0)
    before = _digest(path)
    try:
        target = write_map_results(results, path)
        assert target == sibling_path(path) == tmp_path / "live.analysis.h5"
        assert _digest(path) == before
        _same(results, read_map_results(path))  # found beside the run
    finally:
        writer.close()


def test_foreign_hdf5_and_imported_grids_get_a_sibling(tmp_path, results):
    foreign = tmp_path / "theirs.h5"
    with h5py.File(foreign, "w") as f:
        f["data"] = np.arange(3)
    before = _digest(foreign)
    assert write_map_results(results, foreign) == tmp_path / "theirs.analysis.h5"
    assert _digest(foreign) == before
    grid = tmp_path / "Grid Spectroscopy001.3ds"
    grid.write_bytes(b"not read here")
    assert write_map_results(results, grid) == tmp_path / "Grid Spectroscopy001.analysis.h5"
    _same(results, read_map_results(grid))


def test_a_sibling_that_is_not_ours_is_not_overwritten(tmp_path, results):
    grid = tmp_path / "g.3ds"
    other = sibling_path(grid)
    other.write_bytes(b"somebody's notes")
    with pytest.raises(MapResultsError, match="not an stm_andreev map-results file"):
        write_map_results(results, grid)
    assert other.read_bytes() == b"somebody's notes"


def test_reading_without_results_says_so(tmp_path):
    with pytest.raises(AnalysisInputError, match="no map results"):
        read_map_results(tmp_path / "nothing.3ds")


def test_histograms_count_good_and_poor_pixels(tmp_path, results):
    h = map_histograms(results, bins=5)
    for q in QUANTITIES:
        assert h[q]["good"].sum() == 5 and h[q]["poor"].sum() == 2
        assert h[q]["n_failed"] == 1 and h[q]["n_not_applicable"] == 1
        assert len(h[q]["edges"]) == 6
    path = write_map_results(results, tmp_path / "g.3ds")
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(f[f"{RESULTS_GROUP}/histograms/E_g/good"][()],
                                      map_histograms(results)["E_g"]["good"])


def test_aborted_run_gets_a_sibling(tmp_path, results):
    path = tmp_path / "aborted.h5"
    writer = new_run(path)
    append_point(writer, 0)
    writer.close(status="aborted")
    before = _digest(path)
    assert write_map_results(results, path) == tmp_path / "aborted.analysis.h5"
    assert _digest(path) == before
