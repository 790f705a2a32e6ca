"""Renders the views to PNG and checks the pictures are real renderings; also
``stm-andreev gui --screenshot``.

With ``STM_ANDREEV_WRITE_SCREENSHOTS=1`` the pictures go to docs/screenshots/ (looked at by a
person and committed with the code); otherwise to a temporary folder, so running the suite
never changes tracked files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PyQt5 import QtGui

from stm_andreev.gui.cooldown import AlarmBand, SimulatedCooldown
from stm_andreev.gui.dashboard import CooldownDashboard
from stm_andreev.gui.run_control import RunControlWidget
from stm_andreev.gui.spectra_view import LiveSpectraWidget
from stm_andreev.service.launcher import RunHandle
from stm_andreev.service.queue_store import QueueItem, RunQueue
from stm_andreev.station import Station

from .physics_runs import write_physics_run

DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    if os.environ.get("STM_ANDREEV_WRITE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SHOTS
    return tmp_path_factory.mktemp("screenshots")
PAPER_TEMPERATURES_K = (0.065, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.45, 1.5,
                        1.55, 1.6)


def _check_png(path: Path, min_colours: int = 50) -> None:
    image = QtGui.QImage(str(path))
    assert not image.isNull() and image.width() > 600
    # a blank or single-colour grab would mean nothing was drawn
    sample = {image.pixel(x, y) for x in range(0, image.width(), 7)
              for y in range(0, image.height(), 7)}
    assert len(sample) >= min_colours, path


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """Physics spectra laid out like the paper-inO2 plan: 31 setpoints, 15 temperatures."""
    rows = [(0, float(I), 0.065) for I in np.geomspace(1e-9, 1e-6, 31)]
    rows += [(1, 1e-6, T) for T in PAPER_TEMPERATURES_K]
    path = tmp_path_factory.mktemp("paper") / "20261124-paper-inO2.h5"
    write_physics_run(path, rows, n_bias=301)
    return path


def test_screenshot_live_spectra_and_colour_map(qtbot, paper_run, shots):
    view = LiveSpectraWidget()
    qtbot.addWidget(view)
    view.resize(1600, 900)
    view.show()
    view.follow(paper_run)
    qtbot.waitUntil(view._analysis_done, timeout=20_000)
    view.update_views()
    view._redraw()
    with qtbot.waitSignal(view.fits.finished, timeout=120_000):
        view.fit_button.click()  # the graded fit of the current spectrum, in the header
    assert "grade" in view.fit_text.text()
    qtbot.wait(50)
    view.grab().save(str(shots / "live_spectra.png"))
    _check_png(shots / "live_spectra.png")
    graphics = view.graphics
    rect = graphics.mapFromScene(view.map_plot.sceneBoundingRect()).boundingRect()
    rect = rect.united(graphics.mapFromScene(view.map_bar.sceneBoundingRect()).boundingRect())
    graphics.grab(rect.adjusted(-4, -4, 4, 4)).save(str(shots / "colour_map.png"))
    _check_png(shots / "colour_map.png")
    view.close_run()


@pytest.mark.slow
def test_screenshot_cooldown_dashboard(qtbot, shots):
    with Station.load("simulated") as station:
        board = CooldownDashboard(
            SimulatedCooldown(station, seconds_per_tick=600.0),
            control_name="mixing_chamber",
            bands={"mixing_chamber": AlarmBand("mixing_chamber", high=2.0)},
        )
        qtbot.addWidget(board)
        board.resize(1400, 750)
        board.show()
        while station.clock.now() < 9 * 3600:  # from 300 K to base: ~8 h of fridge time
            board.tick_once()
        qtbot.wait(50)
        board.grab().save(str(shots / "cooldown_dashboard.png"))
    _check_png(shots / "cooldown_dashboard.png")
    assert board.history.latest("mixing_chamber") < 0.06
    assert "superconducting" in board.value_labels["film"].text()


class NoLaunch:
    def start(self, item):
        raise AssertionError("the screenshot starts no run")

    @staticmethod
    def attach(item):
        return RunHandle(Path(item.out_dir), None)


def test_screenshot_run_control_with_an_interlock(qtbot, tmp_path, shots):
    run = tmp_path / "interlocked.h5"
    writer = write_physics_run(run, n_written=9, close=False)
    writer.log_event("temperature", "going to 0.065 K", time_s=500.0, point_index=9)
    writer.log_event("safe_tip", "safe-tip event: the tip touched the film at I_sp = 1 uA",
                     time_s=560.0, point_index=9)
    writer.set_status("paused")
    writer.log_event("pause", "paused after safe_tip; resume when safe", time_s=561.0,
                     point_index=9)
    queue = RunQueue(tmp_path / "queue.json")
    done = queue.add(QueueItem("quick", "name: quick", "simulated", str(tmp_path / "a")))
    queue.update(done, state="finished", run_path=str(tmp_path / "a" / "quick.h5"),
                 message="exit code 0")
    queue.add(QueueItem("paper-inO2", "name: paper-inO2", "simulated", str(tmp_path / "b")))
    control = RunControlWidget(queue, NoLaunch(), runs_dir=tmp_path, interval_ms=50)
    qtbot.addWidget(control)
    control.resize(1400, 750)
    control.show()
    control.plan_combo.setCurrentText("paper-inO2")
    control.attach(run)
    qtbot.waitUntil(lambda: not control.banner.isHidden(), timeout=5_000)
    assert control.banner.text().startswith("INTERLOCK safe_tip at point 9")
    assert "9/19 spectra" in control.progress_label.text()
    assert "[safe_tip] #9" in control.event_log.toPlainText()
    control.grab().save(str(shots / "run_control.png"))
    _check_png(shots / "run_control.png", min_colours=10)
    writer.close("aborted")


def test_gui_command_screenshot_of_an_attached_run(tmp_path, physics_run):
    png = tmp_path / "window.png"
    result = subprocess.run(
        [sys.executable, "-m", "stm_andreev.cli", "gui", "--attach", str(physics_run),
         "--screenshot", str(png), "--queue", str(tmp_path / "q.json"), "--runs",
         str(tmp_path), "--timeout", "60"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    _check_png(png)


def test_screenshot_map_panel(qtbot, shots):
    """A 24 x 32 grid two-thirds done: E_g with its grades, a clicked pixel's real fit."""
    from stm_andreev.gui import map_source
    from stm_andreev.gui.map_view import MapPanel

    from .grid_cubes import make_cube, make_results

    cube = make_cube(24, 32, n_done=520, n_bias=151)
    rng = np.random.default_rng(3)
    done = np.argwhere(cube["done"].values)
    picks = done[rng.choice(len(done), 40, replace=False)]
    grades = {(int(iy), int(ix)): 2 if k < 12 else 1 for k, (iy, ix) in enumerate(picks)}
    results = make_results(cube, grades)
    panel = MapPanel(fitter=map_source._fit_pixel_here)
    qtbot.addWidget(panel)
    panel.resize(1500, 800)
    panel.show()
    panel.set_sources(lambda: cube, lambda: results, title="<b>grid-InO2.h5</b>: grid (running)")
    panel.quantity_box.setCurrentIndex(panel.quantity_box.findData("E_g"))
    with qtbot.waitSignal(panel.fit_shown, timeout=120_000):
        panel.select_pixel(8, 20)
    qtbot.wait(50)
    panel.grab().save(str(shots / "map_panel.png"))
    _check_png(shots / "map_panel.png")
    panel.stop()


def test_screenshot_ramp_samples(qtbot, tmp_path, continuous_run, shots):
    """The raw samples of the contact spectrum of a continuous run (engine, SR860 capture)."""
    from stm_andreev.gui.app import GuiOptions, build_gui

    gui = build_gui(GuiOptions(queue=str(tmp_path / "q.json"), runs=str(tmp_path)))
    window = gui.window
    qtbot.addWidget(window)
    try:
        window.open_run(str(continuous_run))
        view = window.ramp
        view.resize(1500, 750)
        view.show()
        qtbot.wait(50)
        view.grab().save(str(shots / "ramp_samples.png"))
        _check_png(shots / "ramp_samples.png", min_colours=20)
    finally:
        gui.close()
