"""Live spectra views on physics-made and engine-made run files, and the run browser."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt5 import QtCore, QtWidgets

from stm_andreev.gui.browse import BrowseWidget, describe_run
from stm_andreev.gui.live_analysis import analyze_live
from stm_andreev.gui.runfile import RunFollower
from stm_andreev.gui.spectra_model import MAX_WATERFALL_CURVES, SpectraModel
from stm_andreev.gui.spectra_view import LiveSpectraWidget
from stm_andreev.storage import G0_S

from .physics_runs import append, create_run, plan_rows, spectrum


def test_in_line_gaps_of_model_spectra():
    bias = np.linspace(-1.5e-3, 1.5e-3, 301)
    G, _ = spectrum(bias, 1e-6, 0.065)  # contact: Andreev peaks at +-Delta_c ~ 150 ueV
    contact = analyze_live(bias, G / G0_S)
    assert contact.delta_c_eV == pytest.approx(150e-6, abs=25e-6)
    G, _ = spectrum(bias, 1e-9, 0.065)  # tunnelling: only the E_g = 650 ueV edge
    tunnel = analyze_live(bias, G / G0_S, tunnelling=True)
    assert tunnel.delta_c_eV is None
    assert tunnel.E_g_eV == pytest.approx(660e-6, abs=40e-6)


def test_model_groups_setpoint_and_temperature_steps(physics_run):
    model = SpectraModel()
    model.add(RunFollower(physics_run).poll())
    assert model.setpoint_rows().tolist() == list(range(12))
    assert model.temperature_rows().tolist() == list(range(12, 19))
    curves = model.waterfall()
    setpoints = [c[2] for c in curves]
    assert setpoints == sorted(setpoints) and len(curves) == 12
    image = model.map_image(budget_s=10.0)
    assert image.measured_T_K == pytest.approx([0.065, 0.4, 0.8, 1.1, 1.3, 1.45, 1.55])
    assert image.image.shape == (image.T_K.size, image.bias_V.size)
    T, dc, eg = model.gaps_vs_temperature()
    # the in-gap pair (Delta_c ~ 150 ueV; -d2G/dV2 maxima sit a little inside on 20 uV steps)
    assert 100e-6 < dc[0] < 170e-6 and eg[0] > 500e-6


def test_waterfall_is_capped_for_long_sweeps(tmp_path):
    rows = [(0, float(I), 0.065) for I in np.geomspace(1e-9, 1e-6, 100)]
    bias = np.linspace(-1.5e-3, 1.5e-3, 41)
    writer = create_run(tmp_path / "long.h5", len(rows), n_bias=41)
    for i, row in enumerate(rows):
        append(writer, i, row, bias)
    writer.close("finished")
    model = SpectraModel()
    model.add(RunFollower(tmp_path / "long.h5").poll())
    curves = model.waterfall()
    assert len(curves) <= MAX_WATERFALL_CURVES
    assert curves[0][2] == pytest.approx(1e-9) and curves[-1][2] == pytest.approx(1e-6)


def test_widget_shows_a_finished_run(qtbot, physics_run):
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.follow(physics_run)
    qtbot.waitUntil(lambda: view._analysis_done(), timeout=10_000)
    view.update_views()
    x, y = view.current_curve.getData()
    assert x.size == 151 and np.nanmax(y) > 1  # contact spectrum in units of 2e^2/h
    drawn = [c for c in view.waterfall_curves if c.getData()[0] is not None
             and c.getData()[0].size]
    assert len(drawn) == 12
    assert view.map_image.image is not None and view.map_image.image.shape[1] == 151
    assert view.map_bar.levels() == (-1.0, 1.0)
    assert view.z_points.getData()[0].size == 19
    assert "finished: 19 spectra of 19" in view.status.text()
    assert "Δ" in view.gap_text.text()
    view.close_run()


def test_gaps_panel_shows_every_temperature_of_the_sweep(qtbot, physics_run):
    """Each of the 7 temperatures appears in the gaps-versus-temperature panel: as a Delta_c
    point where the analysis resolves the in-gap pair, as an open "not resolved" marker where
    it does not (near Tc the pair merges at zero bias); never silently left out."""
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.follow(physics_run)
    qtbot.waitUntil(lambda: view._analysis_done(), timeout=10_000)
    view._redraw()
    shown: set[float] = set()
    for item in view.gaps_plot.listDataItems():
        x, _ = item.getData()
        if x is not None and item is not view.eg_points:
            shown.update(np.round(x, 2).tolist())
    measured = view.model.temperatures_K()[view.model.temperature_rows()]
    assert sorted(shown) == sorted(np.round(measured, 2).tolist())
    assert len(shown) == 7
    view.close_run()


def test_browser_shows_a_new_run_without_refresh(qtbot, physics_run, tmp_path):
    """A run file that appears in the folder (or a new sub-folder) is listed by itself."""
    browser = BrowseWidget(tmp_path)
    qtbot.addWidget(browser)
    assert browser.table.rowCount() == 0
    (tmp_path / "first.h5").write_bytes(physics_run.read_bytes())
    qtbot.waitUntil(lambda: browser.table.rowCount() == 1, timeout=10_000)
    (tmp_path / "2026-12").mkdir()
    (tmp_path / "2026-12" / "second.h5").write_bytes(physics_run.read_bytes())
    qtbot.waitUntil(lambda: browser.table.rowCount() == 2, timeout=10_000)
    assert {browser.table.item(r, 2).text() for r in range(2)} == {"finished"}


def test_widget_follows_a_growing_run(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr("stm_andreev.gui.spectra_view.CURRENT_REDRAW_S", 0.0)
    rows = plan_rows(n_setpoints=5, temperatures_K=(0.065, 1.0, 1.4))
    bias = np.linspace(-1.5e-3, 1.5e-3, 101)
    writer = create_run(tmp_path / "live.h5", len(rows), n_bias=101)
    view = LiveSpectraWidget(interval_ms=20)
    qtbot.addWidget(view)
    view.follow(tmp_path / "live.h5")
    try:
        for i, row in enumerate(rows):
            append(writer, i, row, bias)
            qtbot.waitUntil(lambda i=i: view.model.n == i + 1, timeout=5_000)
            # the current spectrum is always the newest one
            assert view.current_curve.getData()[1] == pytest.approx(view.model.G_G0[i])
        qtbot.waitUntil(lambda: view.model.map_image() is not None, timeout=5_000)
        assert "running" in view.status.text()
    finally:
        writer.close("finished")
        view.close_run()


def test_widget_reads_an_engine_made_run(qtbot, engine_run):
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.follow(engine_run)
    assert view.model.n == 4
    assert len(view.model.waterfall()) == 4  # one setpoint sweep, four setpoints
    assert view.model.map_image() is None  # no temperature sweep in this run
    view.close_run()


def test_browser_lists_runs_and_opens_one(qtbot, physics_run, engine_run, tmp_path):
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    for src in (physics_run, engine_run):
        (tmp_path / "sub").mkdir(exist_ok=True)
        (tmp_path / "sub" / src.name).write_bytes(src.read_bytes())
    browser = BrowseWidget(tmp_path)
    qtbot.addWidget(browser)
    names = [browser.table.item(r, 0).text() for r in range(browser.table.rowCount())]
    assert sorted(names) == ["broken.h5", "engine.h5", "physics.h5"]
    assert describe_run(tmp_path / "broken.h5")[2].startswith("unreadable")
    assert describe_run(tmp_path / "sub" / "physics.h5")[2:4] == ("finished", "19/19")
    row = names.index("engine.h5")
    with qtbot.waitSignal(browser.open_requested) as signal:
        browser.open_row(row)
    assert signal.args == [str(tmp_path / "sub" / "engine.h5")]


def test_fast_arrivals_are_drawn_at_a_bounded_rate(qtbot, tmp_path, monkeypatch):
    """Several spectra within the redraw period: the view shows the newest, once."""
    monkeypatch.setattr("stm_andreev.gui.spectra_view.CURRENT_REDRAW_S", 3600.0)
    rows = plan_rows(n_setpoints=4, temperatures_K=())
    bias = np.linspace(-1.5e-3, 1.5e-3, 41)
    writer = create_run(tmp_path / "fast.h5", len(rows), n_bias=41)
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    append(writer, 0, rows[0], bias)
    view.follow(tmp_path / "fast.h5")  # first spectrum drawn at once
    assert view.current_curve.getData()[1] == pytest.approx(view.model.G_G0[0])
    for i in (1, 2, 3):
        append(writer, i, rows[i], bias)
        view.update_views()
    assert view.model.n == 4
    assert view.current_curve.getData()[1] == pytest.approx(view.model.G_G0[0])  # throttled
    view._current_due = 0.0  # the period is over
    view.update_views()
    assert view.current_curve.getData()[1] == pytest.approx(view.model.G_G0[3])
    writer.close("finished")
    view.close_run()


class _PaintCounter(QtCore.QObject):
    """Counts the paint events of the widget it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Paint:
            self.n += 1
        return False


def _deliver_posted_events() -> None:
    """Qt's repaints are posted events, and a paint may post another: deliver them all
    (no wall-clock wait)."""
    for _ in range(20):
        QtWidgets.QApplication.processEvents()


def test_each_new_spectrum_is_painted_once(qtbot, tmp_path, monkeypatch):
    """A new current spectrum costs one paint of the plots (pyqtgraph's range update inside
    the paint used to ask for a second one, for the axes), the plot shows the newest spectrum
    inside its range, and the text above the plots never makes them wider than the window."""
    monkeypatch.setattr("stm_andreev.gui.spectra_view.CURRENT_REDRAW_S", 0.0)
    monkeypatch.setattr("stm_andreev.gui.spectra_view.SUMMARY_REDRAW_S", 3600.0)
    rows = plan_rows(n_setpoints=9, temperatures_K=())
    bias = np.linspace(-1.5e-3, 1.5e-3, 101)
    writer = create_run(tmp_path / "paints.h5", len(rows), n_bias=101)
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    qtbot.waitExposed(view)
    append(writer, 0, rows[0], bias)
    view.follow(tmp_path / "paints.h5")
    view.timer.stop()  # this test drives the updates
    _deliver_posted_events()
    counter = _PaintCounter()
    view.graphics.viewport().installEventFilter(counter)
    paints = []
    try:
        for i in range(1, len(rows)):
            append(writer, i, rows[i], bias)
            before = counter.n
            view.update_views()
            _deliver_posted_events()
            paints.append(counter.n - before)
            V, G = view.current_curve.getData()
            assert G == pytest.approx(view.model.G_G0[i])  # the newest spectrum
            (x0, x1), (y0, y1) = view.current_plot.getViewBox().viewRange()
            assert x0 <= V.min() and V.max() <= x1
            assert y0 <= G.min() and G.max() <= y1
            assert view.width() <= 1200  # the text above the plots wraps
    finally:
        writer.close("finished")
        view.close_run()
    # one paint per redraw (a wider tick label than before may re-lay the plot out once)
    assert min(paints) == 1
    assert sum(paints) <= len(paints) + 1, paints


def test_waterfall_stays_exact_when_unchanged_curves_are_skipped(qtbot, tmp_path, monkeypatch):
    """Curves already drawn are not set again, yet every curve shows its spectrum at its
    place: a sweep towards lower setpoints shifts every earlier curve up by one offset."""
    monkeypatch.setattr("stm_andreev.gui.spectra_view.SUMMARY_REDRAW_S", 0.0)
    rows = plan_rows(n_setpoints=6, temperatures_K=())[::-1]  # highest setpoint first
    bias = np.linspace(-1.5e-3, 1.5e-3, 41)
    writer = create_run(tmp_path / "down.h5", len(rows), n_bias=41)
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    append(writer, 0, rows[0], bias)
    view.follow(tmp_path / "down.h5")
    view.timer.stop()
    try:
        for i in range(1, len(rows)):
            append(writer, i, rows[i], bias)
            view.update_views()
            expected = view.model.waterfall()
            assert len(expected) == i + 1
            for item, (V, g, _) in zip(view.waterfall_curves, expected, strict=False):
                x, y = item.getData()
                assert x == pytest.approx(V) and y == pytest.approx(g)
    finally:
        writer.close("finished")
        view.close_run()
