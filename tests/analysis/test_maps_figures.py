"""Map figures: colour scales from the good pixels, grades visible, Fig. 3 from the pixels,
nothing drawn where nothing is known."""

from __future__ import annotations

import json

import numpy as np

from stm_andreev.analysis.maps import map_dataset
from stm_andreev.analysis.maps_cube import cube_view
from stm_andreev.analysis.maps_figures import (
    colour_limits,
    fig3_from_map,
    map_panel,
    write_map_figures,
)
from stm_andreev.analysis.maps_pixels import (
    FAILED,
    GOOD,
    NOT_APPLICABLE,
    POOR,
    QUANTITIES,
    PixelResult,
)

from .maps_cases import small_cube


def _results(codes, values):
    cube, _ = small_cube(3, 3)
    grid = np.empty((3, 3), dtype=object)
    for k, (code, v) in enumerate(zip(codes, values, strict=True)):
        grid.flat[k] = PixelResult(tuple((v, 1e-6, code) for _ in QUANTITIES), "two_gap",
                                   "", 1.0)
    return map_dataset(grid, cube_view(cube), cube)


def test_colour_scale_ignores_wild_poor_values():
    values = [300e-6, 310e-6, 5e-3, 320e-6, 330e-6, 340e-6, 350e-6, 360e-6, np.nan]
    codes = [GOOD, GOOD, POOR, GOOD, GOOD, GOOD, GOOD, GOOD, FAILED]
    lo, hi = colour_limits(_results(codes, values), "E_g")
    assert 300e-6 <= lo < hi <= 360e-6


def test_nothing_usable_draws_nothing(tmp_path):
    r = _results([FAILED] * 4 + [NOT_APPLICABLE] * 5, [np.nan] * 9)
    assert map_panel(r, "E_g") is None and fig3_from_map(r) is None
    written = write_map_figures(r, tmp_path)
    assert [p.name for p in written] == ["map_histograms.png", "map_summary.json"]
    summary = json.loads((tmp_path / "map_summary.json").read_text())
    assert summary["E_g"]["failed"] == 4 and summary["E_g"]["median_good"] is None


def test_panels_and_fig3_are_drawn_with_grades(tmp_path):
    values = [300e-6 + 10e-6 * k for k in range(9)]
    codes = [GOOD, POOR, GOOD, GOOD, FAILED, GOOD, GOOD, GOOD, NOT_APPLICABLE]
    r = _results(codes, values)
    fig = fig3_from_map(r)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("good (6 pixels)" in t for t in labels)
    assert any("poor (1 pixels)" in t for t in labels)
    panel = map_panel(r, "E_g")
    assert "6 good, 1 poor" in panel.axes[0].get_title()
    written = write_map_figures(r, tmp_path)
    assert len(written) == 8 and all(p.stat().st_size > 0 for p in written)


def test_write_report_on_a_grid_writes_map_results_and_figures(tmp_path):
    """The end-of-run report of a grid: the map analysed, stored and drawn."""
    from stm_andreev.analysis.maps_store import read_map_results
    from stm_andreev.analysis.report import write_report
    from stm_andreev.simulators.lab.grid_cube import write_grid_file

    cube, _ = small_cube(3, 3)
    path = tmp_path / "grid.h5"
    write_grid_file(cube.isel(y=slice(0, 1), x=slice(0, 2)), path)
    report = write_report([path], tmp_path / "report")
    text = report.read_text()
    assert "## Map: grid.h5" in text and "![map_grid_E_g.png](map_grid_E_g.png)" in text
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["maps"][str(path)]["E_g"]["good"] == 2
    assert (tmp_path / "report" / "fig3_map_grid_delta_c_vs_E_g.png").is_file()
    assert read_map_results(path).sizes == {"y": 1, "x": 2}
