"""`stm-andreev analyze` on a grid: every pixel analysed, results stored beside a file that is
not a finished run, figures with --report, a clear error for an unreachable cluster."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stm_andreev.analysis.maps_store import read_map_results
from stm_andreev.cli import main
from stm_andreev.simulators.lab.grid_cube import write_grid_file
from tests.analysis.maps_cases import small_cube


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    cube, truth = small_cube(3, 3)
    cube = cube.isel(y=slice(0, 1), x=slice(0, 2))
    path = tmp_path_factory.mktemp("grid") / "grid.h5"
    write_grid_file(cube, path)
    return path, truth


def test_grid_is_analysed_stored_and_drawn(grid_file, tmp_path, capsys):
    path, truth = grid_file
    code = main(["analyze", str(path), "--json", "--report", str(tmp_path / "report"),
                 "--scheduler", "sync"])
    out, err = capsys.readouterr()
    assert code == 0, err
    line = json.loads(out.strip().splitlines()[-1])
    assert line["kind"] == "map" and line["n_pixels"] == 2
    assert line["results_file"] == str(path.with_name("grid.analysis.h5"))
    assert line["E_g"]["good"] == 2
    r = read_map_results(path)
    np.testing.assert_allclose(r["E_g"].values, truth["E_g_eV"][:1, :2], rtol=0.02)
    names = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"map_grid_E_g.png", "map_grid_Delta_c.png", "map_grid_histograms.png",
            "fig3_map_grid_delta_c_vs_E_g.png", "map_grid_summary.json"} <= names


def test_unreachable_cluster_is_a_clear_error(grid_file, capsys):
    path, _ = grid_file
    code = main(["analyze", str(path), "--scheduler", "tcp://127.0.0.1:9"])
    _, err = capsys.readouterr()
    assert code == 1
    assert "cannot reach the dask.distributed scheduler at tcp://127.0.0.1:9" in err
    assert "Traceback" not in err
