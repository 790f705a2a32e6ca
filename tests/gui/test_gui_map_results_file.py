"""A map results file opened from the browser (MAPS contract 4: ``/entry/results/map``, read
by ``read_map_results``) shows in the Map tab; it is not a run file, so the live spectra
leave it alone."""

from __future__ import annotations

import h5py

from stm_andreev.gui import map_source
from stm_andreev.gui.app import GuiOptions, build_gui
from stm_andreev.gui.main_window import TAB_NAMES

from .grid_cubes import make_cube, make_results


def test_results_file_opens_in_the_map_tab(qtbot, tmp_path, monkeypatch):
    path = tmp_path / "imported.analysis.h5"
    with h5py.File(path, "w") as f:
        f.create_group("entry/results/map")
    results = make_results(make_cube(ny=3, nx=4), {(1, 2): 2})
    monkeypatch.setattr(map_source, "load_map_results", lambda p: results)
    gui = build_gui(GuiOptions(queue=str(tmp_path / "q.json"), runs=str(tmp_path)))
    window = gui.window
    qtbot.addWidget(window)
    try:
        window.browse.refresh()
        row = [p.name for p in window.browse.paths].index(path.name)
        window.browse.open_row(row)
        assert window.tabs.isTabVisible(TAB_NAMES.index("Map"))
        assert window.tabs.currentWidget() is window.maps
        assert window.spectra.follower is None
        maps = window.maps
        maps.quantity_box.setCurrentIndex(maps.quantity_box.findData("E_g"))
        assert "1 failed" in maps.map_plot.titleLabel.text
        maps.select_pixel(1, 2)
        text = maps.pixel_text.text()
        assert "spectrum not available" in text and "failed" in text
    finally:
        gui.close()


def test_results_reader_missing_is_said_not_raised(monkeypatch, tmp_path):
    monkeypatch.setattr(map_source, "MAP_RESULTS_READER", ("stm_andreev.no_such", "read"))
    try:
        map_source.load_map_results(tmp_path / "x.h5")
    except map_source.MapSourceError as exc:
        assert "stm_andreev.no_such.read is not available" in str(exc)
    else:
        raise AssertionError("no error")
